"""Glue for the notebooks: the synthetic data as tensors, checkpoints, and ``train_or_load``.

Models are cached in ``data/cache/models/`` (git-ignored), keyed by everything that shapes them,
so a later notebook reuses an earlier one's model and a notebook alone in Colab trains its own.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch

from utils.corpus import LENGTH_BUCKETS, SentencePair
from utils.data import CACHE_DIR, TranslationDataset, collate, load_synthetic, make_loader
from utils.decode import default_max_len, greedy_decode, translate_tokens
from utils.metrics import alignment_error_rate, attention_links, by_length, corpus_bleu, exact_match
from utils.models import ModelConfig, Seq2Seq, build_model
from utils.runtime import seed_everything
from utils.text import Vocab, build_vocab
from utils.train import History, fit

MODEL_CACHE = CACHE_DIR / "models"


@dataclass
class ParallelData:
    """A parallel corpus split three ways, its vocabularies and DataLoaders (the synthetic corpus,
    or real pairs through :meth:`from_text_pairs`; real pairs have no gold alignment)."""

    train: list[SentencePair]
    valid: list[SentencePair]
    test: list[SentencePair]
    src_vocab: Vocab
    tgt_vocab: Vocab
    reverse_source: bool = False
    batch_size: int = 64

    def dataset(self, split: str) -> TranslationDataset:
        pairs = [(p.src_tokens, p.tgt_tokens) for p in getattr(self, split)]
        return TranslationDataset(pairs, self.src_vocab, self.tgt_vocab, self.reverse_source)

    def loader(self, split: str, shuffle: bool | None = None, seed: int = 0):
        shuffle = split == "train" if shuffle is None else shuffle
        return make_loader(self.dataset(split), self.batch_size, shuffle=shuffle, seed=seed)

    @classmethod
    def from_text_pairs(cls, train: list[tuple[str, str]], valid: list[tuple[str, str]],
                        test: list[tuple[str, str]], min_freq: int = 1, batch_size: int = 64) -> "ParallelData":
        """``(french, english)`` strings per split; vocabularies from the training split only, keeping
        words seen at least ``min_freq`` times (rarer ones become ``<unk>``)."""
        splits = [[SentencePair(fr, en, ()) for fr, en in pairs] for pairs in (train, valid, test)]
        if not splits[0]:
            raise ValueError("the training split is empty")
        src_vocab = build_vocab((p.src_tokens for p in splits[0]), min_freq=min_freq)
        tgt_vocab = build_vocab((p.tgt_tokens for p in splits[0]), min_freq=min_freq)
        return cls(*splits, src_vocab, tgt_vocab, batch_size=batch_size)


SyntheticData = ParallelData  # the name notebooks 01–05 and older code use


def load_synthetic_data(batch_size: int = 64, reverse_source: bool = False, n_train: int | None = None) -> ParallelData:
    """Read ``data/synthetic/*.tsv`` and build vocabularies from the training split."""
    train = load_synthetic("train")[:n_train]
    src_vocab = build_vocab(p.src_tokens for p in train)
    tgt_vocab = build_vocab(p.tgt_tokens for p in train)
    return ParallelData(train, load_synthetic("valid"), load_synthetic("test"), src_vocab, tgt_vocab,
                         reverse_source, batch_size)


# ----------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: str | Path, model: Seq2Seq, src_vocab: Vocab, tgt_vocab: Vocab,
                    history: History | None = None, extra: dict | None = None) -> None:
    """Weights, config, both vocabularies and the training history in one file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": asdict(model.config), "state_dict": model.state_dict(),
                "src_itos": src_vocab.itos, "tgt_itos": tgt_vocab.itos,
                "history": history.to_dict() if history else None, "extra": extra or {}}, path)


def load_checkpoint(path: str | Path, src_vocab: Vocab, tgt_vocab: Vocab,
                    device: torch.device | str = "cpu") -> tuple[Seq2Seq, History | None, dict]:
    """Rebuild a model saved by :func:`save_checkpoint` (``torch.load(weights_only=True)``).

    Raises ``ValueError`` if the checkpoint was trained with other vocabularies: its ids would
    mean other words.
    """
    blob = torch.load(path, map_location=device, weights_only=True)
    for side, vocab in (("src", src_vocab), ("tgt", tgt_vocab)):
        if blob[f"{side}_itos"] != vocab.itos:
            raise ValueError(f"{path}: checkpoint's {side} vocabulary ({len(blob[f'{side}_itos'])} tokens) "
                             f"differs from the one given ({len(vocab)} tokens); rebuild the vocabulary "
                             "from the data the model was trained on")
    model = build_model(ModelConfig(**blob["config"]), len(src_vocab), len(tgt_vocab), src_vocab.pad_id)
    model.load_state_dict(blob["state_dict"])
    history = History.from_dict(blob["history"]) if blob["history"] else None
    return model.to(device), history, blob["extra"]


def train_or_load(name: str, config: ModelConfig, data: ParallelData, *, epochs: int = 3, lr: float = 1e-2,
                  lr_decay: float = 0.1,
                  teacher_forcing: float | Callable[[int], float] = 1.0, schedule_name: str = "",
                  seed: int = 0, device: torch.device | str = "cpu", use_cache: bool = True,
                  validate: bool = False, verbose: bool = True, progress: bool = True) -> tuple[Seq2Seq, History]:
    """Train a model on ``data`` (or load the identical one from the cache).

    The defaults are the series' standard recipe, measured to train every model here well within
    the CPU budget: Adam, learning rate 1e-2 decaying linearly to 1e-3, batches of 64, 3 epochs.

    The cache key covers the config, training settings, vocabularies, corpus size, source
    reversal and torch version. ``schedule_name`` must describe a callable ``teacher_forcing``.
    ``validate=True`` records the validation loss after every epoch (``history.valid_loss``).
    """
    if callable(teacher_forcing) and not schedule_name:
        raise ValueError("give schedule_name when teacher_forcing is a schedule (it keys the cache)")
    key = json.dumps([asdict(config), epochs, lr, lr_decay, schedule_name or teacher_forcing, seed, data.reverse_source,
                      data.batch_size, len(data.train), data.src_vocab.itos, data.tgt_vocab.itos,
                      torch.__version__] + (["validate"] if validate else []), sort_keys=True)
    path = MODEL_CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"  # same setup, same file
    if use_cache and path.exists():
        model, history, _ = load_checkpoint(path, data.src_vocab, data.tgt_vocab, device)
        if verbose:
            print(f"{name}: loaded the model trained earlier in this series (delete data/cache/ to retrain)")
        return model, history
    seed_everything(seed)
    model = build_model(config, len(data.src_vocab), len(data.tgt_vocab), data.src_vocab.pad_id)
    start = time.perf_counter()
    history = fit(model, data.loader("train", seed=seed), epochs, lr=lr, lr_decay=lr_decay, teacher_forcing=teacher_forcing,
                  valid_loader=data.loader("valid") if validate else None,
                  device=device, pad_id=data.tgt_vocab.pad_id, verbose=verbose, progress=progress)
    if verbose:
        print(f"{name}: trained {epochs} epochs in {time.perf_counter() - start:.0f} s")
    if use_cache:
        save_checkpoint(path, model, data.src_vocab, data.tgt_vocab, history)
    return model, history


# ----------------------------------------------------------------------------- evaluation
@dataclass
class TestResults:
    """Greedy translations of a test set and their scores (BLEU on 0–100, exact match 0–1)."""

    sources: list[list[str]]
    references: list[list[str]]
    hypotheses: list[list[str]]
    attentions: list[torch.Tensor | None]
    bleu: float
    exact: float
    bleu_by_length: dict[str, float]
    exact_by_length: dict[str, float]


def test_translations(model: Seq2Seq, data: ParallelData, split: str = "test") -> TestResults:
    """Translate ``data.<split>`` greedily and score it overall and per source-length bucket."""
    pairs = getattr(data, split)
    sources = [p.src_tokens for p in pairs]
    refs = [p.tgt_tokens for p in pairs]
    hyps, attentions = translate_tokens(model, sources, data.src_vocab, data.tgt_vocab,
                                        reverse_source=data.reverse_source)
    lengths = [len(s) for s in sources]
    return TestResults(sources, refs, hyps, attentions, corpus_bleu(hyps, refs), exact_match(hyps, refs),
                       by_length(lengths, hyps, refs, LENGTH_BUCKETS),
                       by_length(lengths, hyps, refs, LENGTH_BUCKETS, exact_match))


test_translations.__test__ = False  # a helper, not a pytest test


@torch.no_grad()
def accuracy_by_source_position(model: Seq2Seq, data: ParallelData, min_len: int = 31,
                                n_bins: int = 5, split: str = "test") -> list[float]:
    """Where is information lost? Teacher-forced next-word accuracy of English words, grouped by
    the *relative position in the French sentence* of the word they translate (gold alignment).

    Only sentences with at least ``min_len`` source tokens. Returns one accuracy per bin, from the
    first fifth of the source sentence (bin 0) to the last (with the default ``n_bins=5``).
    """
    model.eval()
    device = next(model.parameters()).device
    pairs = [p for p in getattr(data, split) if len(p.src_tokens) >= min_len]
    if not pairs:
        raise ValueError(f"no {split} sentences with at least {min_len} source tokens")
    dataset = TranslationDataset([(p.src_tokens, p.tgt_tokens) for p in pairs], data.src_vocab,
                                 data.tgt_vocab, data.reverse_source)
    correct, total = [0] * n_bins, [0] * n_bins
    for start in range(0, len(pairs), data.batch_size):
        chunk = range(start, min(start + data.batch_size, len(pairs)))
        batch = collate([dataset[i] for i in chunk], data.src_vocab.pad_id, data.tgt_vocab.pad_id).to(device)
        logits, _ = model(batch.src, batch.src_lengths, batch.src_mask, batch.tgt[:, :-1])
        hits = (logits.argmax(-1) == batch.tgt[:, 1:]).cpu()          # [batch, T]
        for row, i in enumerate(chunk):
            n_src = len(pairs[i].src_tokens)
            first_link: dict[int, int] = {}
            for s, t in sorted(pairs[i].alignment):
                first_link.setdefault(t, s)
            for t, s in first_link.items():                             # English word t ↔ French word s
                b = min(n_bins - 1, s * n_bins // n_src)
                correct[b] += int(hits[row, t])
                total[b] += 1
    return [c / n if n else float("nan") for c, n in zip(correct, total)]


@torch.no_grad()
def _final_states(model: Seq2Seq, data: ParallelData, pairs: list[SentencePair]) -> torch.Tensor:
    """The encoder's last hidden state $h_T$ for each pair: ``[len(pairs), H]``."""
    device = next(model.parameters()).device
    dataset = TranslationDataset([(p.src_tokens, p.tgt_tokens) for p in pairs], data.src_vocab,
                                 data.tgt_vocab, data.reverse_source)
    states = []
    for start in range(0, len(pairs), 256):
        batch = collate([dataset[i] for i in range(start, min(start + 256, len(pairs)))],
                        data.src_vocab.pad_id, data.tgt_vocab.pad_id).to(device)
        _, hidden = model.encoder(batch.src, batch.src_lengths)      # [1, batch, H]
        states.append(hidden[-1].cpu())
    return torch.cat(states)


def probe_final_state(model: Seq2Seq, data: ParallelData, positions: list[int], min_len: int = 41,
                      steps: int = 100, seed: int = 0) -> tuple[dict[int, float], dict[int, float]]:
    """What does the single vector $h_T$ still know about each source word?

    For each position (1 = first French word, -1 = last; positions in the *original* order even
    when the model reads the source reversed), a linear classifier (a "probe") is trained on the
    training sentences' $h_T$ to name the word at that position, and tested on the validation and
    test sentences. Only sentences with at least ``min_len`` tokens. Returns the probe's accuracy
    and the accuracy of always guessing the most common word there (the baseline), per position.
    """
    def split(pairs):
        pairs = [p for p in pairs if len(p.src_tokens) >= min_len]
        states = _final_states(model, data, pairs)
        words = {pos: torch.tensor([data.src_vocab.stoi.get(p.src_tokens[pos - 1 if pos > 0 else pos],
                                                             data.src_vocab.unk_id) for p in pairs])
                 for pos in positions}
        return states, words

    (x_train, y_train), (x_test, y_test) = split(data.train), split(data.valid + data.test)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    accuracy, baseline = {}, {}
    for pos in positions:
        torch.manual_seed(seed)
        probe = torch.nn.Linear(x_train.size(1), len(data.src_vocab))
        optimizer = torch.optim.Adam(probe.parameters(), lr=0.1)
        for _ in range(steps):                                    # full-batch training, a few seconds
            loss = torch.nn.functional.cross_entropy(probe(x_train), y_train[pos])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            accuracy[pos] = (probe(x_test).argmax(-1) == y_test[pos]).float().mean().item()
        most_common = torch.bincount(y_train[pos]).argmax()
        baseline[pos] = (y_test[pos] == most_common).float().mean().item()
    return accuracy, baseline


def gradient_by_source_position(model: Seq2Seq, data: ParallelData, min_len: int = 51,
                                max_sentences: int = 64, split: str = "test") -> list[float]:
    """How strongly does the training signal reach each source word?

    For up to ``max_sentences`` sentences with at least ``min_len`` source tokens, computes the
    teacher-forced loss (summed over target words) and the norm of its gradient with respect to
    each source word's embedding $x_j$ (the encoder's input), averaged over sentences. Returns
    one value per position $1 \\dots$ ``min_len`` (positions in the order the encoder reads).
    """
    device = next(model.parameters()).device
    pairs = [p for p in getattr(data, split) if len(p.src_tokens) >= min_len][:max_sentences]
    if not pairs:
        raise ValueError(f"no {split} sentences with at least {min_len} source tokens")
    dataset = TranslationDataset([(p.src_tokens, p.tgt_tokens) for p in pairs], data.src_vocab,
                                 data.tgt_vocab, data.reverse_source)
    batch = collate([dataset[i] for i in range(len(pairs))], data.src_vocab.pad_id,
                    data.tgt_vocab.pad_id).to(device)
    captured = {}

    def keep(module, inputs, output):                    # the embeddings x_j, [batch, S, E]
        output.retain_grad()
        captured["x"] = output

    handle = model.encoder.embedding.register_forward_hook(keep)
    was_training = model.training
    try:
        model.eval()                                     # no dropout; gradients still flow
        model.zero_grad()
        # cuDNN's RNN backward refuses eval mode; the native kernels compute the same gradients.
        with torch.backends.cudnn.flags(enabled=False):
            logits, _ = model(batch.src, batch.src_lengths, batch.src_mask, batch.tgt[:, :-1])
            loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), batch.tgt[:, 1:],
                                                     ignore_index=data.tgt_vocab.pad_id, reduction="sum")
            loss.backward()
    finally:
        handle.remove()
        model.zero_grad()
        model.train(was_training)
    norms = captured["x"].grad.norm(dim=-1)[:, :min_len]  # [batch, min_len]
    return (norms.mean(0)).tolist()


@torch.no_grad()
def teacher_forced_attention(model: Seq2Seq, data: ParallelData, split: str = "test",
                             pairs: list[SentencePair] | None = None) -> list[torch.Tensor]:
    """Attention weights while the model reads the *gold* translation (teacher forcing), one
    ``[len(target) + 1, len(source) + 1]`` tensor per pair (rows: target words then ``<eos>``;
    columns: source words then ``<eos>``). Comparable with the gold alignments word for word.
    ``pairs`` (default: ``data.<split>``) picks the sentence pairs."""
    if not model.decoder.has_attention:
        raise ValueError("this model has no attention weights (a vanilla decoder)")
    if data.reverse_source:
        raise ValueError("attention against gold alignments needs the source in its original order")
    model.eval()
    device = next(model.parameters()).device
    pairs = getattr(data, split) if pairs is None else pairs
    dataset = TranslationDataset([(p.src_tokens, p.tgt_tokens) for p in pairs], data.src_vocab,
                                 data.tgt_vocab, data.reverse_source)
    out = []
    for start in range(0, len(pairs), 128):
        chunk = range(start, min(start + 128, len(pairs)))
        batch = collate([dataset[i] for i in chunk], data.src_vocab.pad_id, data.tgt_vocab.pad_id).to(device)
        _, weights = model(batch.src, batch.src_lengths, batch.src_mask, batch.tgt[:, :-1])
        for row, i in enumerate(chunk):
            n_src, n_tgt = len(pairs[i].src_tokens), len(pairs[i].tgt_tokens)
            w = weights[row, : n_tgt + 1, : n_src + 1].cpu()
            out.append(w)
    return out


def attention_aer(model: Seq2Seq, data: ParallelData, split: str = "test") -> float:
    """Alignment error rate of the model's attention against the corpus's gold alignments: each
    English word is linked to the French word it attends to most (teacher-forced), 0 = perfect."""
    pairs = getattr(data, split)
    predicted = [attention_links(w, len(p.src_tokens), len(p.tgt_tokens))
                 for w, p in zip(teacher_forced_attention(model, data, split), pairs)]
    return alignment_error_rate(predicted, [set(p.alignment) for p in pairs])


# ----------------------------------------------------------------------------- exposure bias
@dataclass
class MistakeResults:
    """What a model writes after one forced mistake (see :func:`after_a_mistake`)."""

    positions: list[int]             # the output step k whose word was replaced, per sentence
    wrong_words: list[str]           # the word forced at step k
    outputs: list[list[str]]         # the whole output: gold words before k, the wrong word, the model's rest
    references: list[list[str]]
    clean: list[bool]                # translated exactly when nothing is forced
    recovered: float                 # share of the clean sentences that got back on track after the mistake


@torch.no_grad()
def after_a_mistake(model: Seq2Seq, data: ParallelData, split: str = "test",
                    position: float = 0.5) -> MistakeResults:
    """Force one plausible mistake into each translation and let the model carry on.

    For each pair, the decoder is fed the gold words up to output step ``k = ⌊position · len⌋``;
    at step ``k`` it must write the word it finds most likely *other than* the gold one (its own
    likeliest mistake); from then on it runs free (greedy). Did it get back on track
    (:func:`back_on_track`)? Only sentences the model translates exactly when nothing is forced
    count, so that ``recovered`` measures the effect of the mistake, not the model's other errors.
    """
    if not 0.0 <= position < 1.0:
        raise ValueError(f"position is a fraction of the reference length in [0, 1), got {position}")
    model.eval()
    device = next(model.parameters()).device
    pairs = getattr(data, split)
    sv, tv = data.src_vocab, data.tgt_vocab
    dataset = TranslationDataset([(p.src_tokens, p.tgt_tokens) for p in pairs], sv, tv, data.reverse_source)
    never = torch.tensor([tv.pad_id, tv.sos_id, tv.eos_id, tv.unk_id], device=device)
    positions, wrong, outputs, clean = [], [], [], []
    for start in range(0, len(pairs), 128):
        chunk = list(range(start, min(start + 128, len(pairs))))
        batch = collate([dataset[i] for i in chunk], sv.pad_id, tv.pad_id).to(device)
        logits, _ = model(batch.src, batch.src_lengths, batch.src_mask, batch.tgt[:, :-1])  # [b, T, V]
        ks = torch.tensor([int(len(pairs[i].tgt_tokens) * position) for i in chunk], device=device)
        rows = torch.arange(len(chunk), device=device)
        step_logits = logits[rows, ks].clone()                              # [b, V]
        step_logits[:, never] = float("-inf")
        step_logits[rows, batch.tgt[rows, ks + 1]] = float("-inf")          # not the gold word
        mistakes = step_logits.argmax(-1)                                   # [b]
        forced = torch.full((len(chunk), int(ks.max()) + 1), -1, dtype=torch.long, device=device)
        for row, k in enumerate(ks.tolist()):
            forced[row, :k] = batch.tgt[row, 1:k + 1]
            forced[row, k] = mistakes[row]
        limits = torch.tensor([default_max_len(n) for n in batch.src_lengths.tolist()], device=device)
        limits = torch.maximum(limits, ks + 1)
        args = (model, batch.src, batch.src_lengths, batch.src_mask, tv.sos_id, tv.eos_id, limits)
        ids, _ = greedy_decode(*args, pad_id=tv.pad_id, forced=forced)
        unforced, _ = greedy_decode(*args, pad_id=tv.pad_id)
        positions += ks.tolist()
        wrong += [tv.itos[m] for m in mistakes.tolist()]
        outputs += [[tv.itos[i] for i in row] for row in ids]
        clean += [[tv.itos[i] for i in row] == pairs[c].tgt_tokens for row, c in zip(unforced, chunk)]
    refs = [p.tgt_tokens for p in pairs]
    recovered = [back_on_track(out, ref, k) for out, ref, k, ok in zip(outputs, refs, positions, clean) if ok]
    return MistakeResults(positions, wrong, outputs, refs, clean,
                          sum(recovered) / len(recovered) if recovered else float("nan"))


def back_on_track(output: list[str], reference: list[str], k: int) -> bool:
    """After a mistake at step ``k`` (``output[k]``), are the following words the reference's?

    Yes when they are the reference's words after ``k`` (the mistake replaced a word), from ``k``
    (it was an extra word), or, if ``output[k]`` is the reference's next word, after ``k + 1``
    (it skipped one)."""
    rest = output[k + 1:]
    skipped = output[k:k + 1] == reference[k + 1:k + 2] and rest == reference[k + 2:]
    return rest == reference[k + 1:] or rest == reference[k:] or skipped
