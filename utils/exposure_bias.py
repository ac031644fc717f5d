"""Teacher forcing and exposure bias, measured (notebook 04): one sentence decoded both ways, how
consistently the training batches push the weights under each regime, the decoder states of both
regimes (what professor forcing's discriminator would see), and one mistake forced into a
translation to see whether the model gets back on track."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from utils.pairs import SentencePair
from utils.parallel_data import ParallelData
from utils.search import default_max_len, greedy_decode
from utils.seq2seq import Seq2Seq
from utils.train import sequence_loss


@torch.no_grad()
def both_ways(model: Seq2Seq, data: ParallelData,
              pair: SentencePair) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """One sentence decoded two ways, as ``(input word, predicted word)`` per output step:

    * teacher forcing: the input at step i is the *gold* word y_{i-1}, whatever was predicted;
    * free running (greedy): the input at step i is the model's *own* word at step i-1.

    Taught in notebook 04.
    """
    model.eval()
    device = next(model.parameters()).device
    b = data.batch([pair]).to(device)                                          # a batch of one
    itos, tv = data.tgt_vocab.itos, data.tgt_vocab
    logits, _ = model(b.src, b.src_mask, b.tgt[:, :-1])         # gold inputs: [1, T, V]
    gold_in = ["<sos>"] + pair.tgt_tokens
    forced = list(zip(gold_in, [itos[i] for i in logits[0].argmax(-1).tolist()], strict=True))
    (ids,), _ = greedy_decode(model, b.src, b.src_mask, tv.sos_id, tv.eos_id,
                              max_len=len(pair.tgt_tokens) + 5, pad_id=tv.pad_id)  # its own inputs
    own = [itos[i] for i in ids] + ["<eos>"]
    return forced, list(zip(["<sos>"] + own[:-1], own, strict=True))


def gradient_agreement(model: Seq2Seq, batches: list, pad_id: int = 0, **forward_args) -> tuple[float, float]:
    """How consistently do training batches push the weights? At the model's current weights (no
    update), the gradient of the loss on each batch; returns their mean norm and their
    **agreement** ``‖mean gradient‖ / mean ‖gradient‖``: 1 when every batch pushes the weights the
    same way, about ``1/√len(batches)`` when the directions are random. ``forward_args`` go to
    the model (``teacher_forcing=0.0`` feeds it its own words).

    Taught in notebook 04.
    """
    model.train()
    gradients = []
    for batch in batches:
        model.zero_grad()
        logits, _ = model(batch.src, batch.src_mask, batch.tgt[:, :-1], **forward_args)
        sequence_loss(logits, batch.tgt[:, 1:], pad_id).backward()
        gradients.append(torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten()
                                    for p in model.parameters()]))          # [n_parameters]
    model.zero_grad()
    gradients = torch.stack(gradients)                                       # [batches, n_parameters]
    norms = gradients.norm(dim=1)
    return norms.mean().item(), (gradients.mean(0).norm() / norms.mean()).item()


@torch.no_grad()
def regime_states(model: Seq2Seq, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """The decoder states of one batch decoded both ways, step by step: fed the gold words (teacher
    forcing) and fed its own greedy words (free running). Professor forcing (Lamb et al., 2016)
    trains a discriminator to tell these two sequences apart.

    Returns ``(forced, free)``, each ``[batch, T, H]``: the top RNN layer's state $s_t$ after each
    of the ``T`` steps (``T`` = the padded gold target length, without ``<sos>``). For the RNN
    decoders of notebooks 01–06 (a state that is ``[layers, batch, H]``, or a tuple that starts
    with it).

    Taught in notebook 04.
    """
    model.eval()
    enc_out, summary = model.encoder(batch.src, batch.src_mask)
    runs = []
    for own_words in (False, True):
        state, y_prev, states = model.decoder.init_state(summary, enc_out), batch.tgt[:, 0], []
        for t in range(batch.tgt.size(1) - 1):
            logits, state, _ = model.decoder.step(y_prev, state, enc_out, batch.src_mask)
            hidden = state[0] if isinstance(state, tuple) else state
            if not (isinstance(hidden, torch.Tensor) and hidden.dim() == 3):
                raise ValueError(f"regime_states reads an RNN decoder's state [layers, batch, H]; "
                                 f"{type(model.decoder).__name__} keeps {type(hidden).__name__}")
            states.append(hidden[-1])                                        # s_t: [batch, H]
            y_prev = logits.argmax(-1) if own_words else batch.tgt[:, t + 1]
        runs.append(torch.stack(states, dim=1))                              # [batch, T, H]
    return runs[0], runs[1]


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

    Taught in notebook 04.
    """
    if not 0.0 <= position < 1.0:
        raise ValueError(f"position is a fraction of the reference length in [0, 1), got {position}")
    model.eval()
    device = next(model.parameters()).device
    pairs = getattr(data, split)
    tv = data.tgt_vocab
    never = torch.tensor([tv.pad_id, tv.sos_id, tv.eos_id, tv.unk_id], device=device)
    positions, wrong, outputs, clean = [], [], [], []
    for chunk, batch in data.batches(pairs):
        batch = batch.to(device)
        logits, _ = model(batch.src, batch.src_mask, batch.tgt[:, :-1])  # [b, T, V]
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
        args = (model, batch.src, batch.src_mask, tv.sos_id, tv.eos_id, limits)
        ids, _ = greedy_decode(*args, pad_id=tv.pad_id, forced=forced)
        unforced, _ = greedy_decode(*args, pad_id=tv.pad_id)
        positions += ks.tolist()
        wrong += [tv.itos[m] for m in mistakes.tolist()]
        outputs += [[tv.itos[i] for i in row] for row in ids]
        clean += [[tv.itos[i] for i in row] == pairs[c].tgt_tokens for row, c in zip(unforced, chunk, strict=True)]
    refs = [p.tgt_tokens for p in pairs]
    recovered = [back_on_track(out, ref, k)
                 for out, ref, k, ok in zip(outputs, refs, positions, clean, strict=True) if ok]
    return MistakeResults(positions, wrong, outputs, refs, clean,
                          sum(recovered) / len(recovered) if recovered else float("nan"))


def back_on_track(output: list[str], reference: list[str], k: int) -> bool:
    """After a mistake at step ``k`` (``output[k]``), are the following words the reference's?

    Yes when they are the reference's words after ``k`` (the mistake replaced a word), from ``k``
    (it was an extra word), or, if ``output[k]`` is the reference's next word, after ``k + 1``
    (it skipped one).

    Taught in notebook 04.
    """
    rest = output[k + 1:]
    skipped = output[k:k + 1] == reference[k + 1:k + 2] and rest == reference[k + 2:]
    return rest == reference[k + 1:] or rest == reference[k:] or skipped
