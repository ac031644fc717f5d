"""The real-data pipeline of notebooks 06 and 08 and ``scripts/real_data_recipes.py``, in one place.

Tatoeba pairs → the short pairs a CPU budget allows (:func:`select_pairs`) → a split that cannot
leak (:func:`real_splits`) → words or subword pieces (:func:`real_corpora`) → the test sentences
with all their references (:func:`grouped_references`) → multi-reference BLEU on words, greedy or
beam (:func:`decode_and_score`) → where attention peaks on anchor words (:func:`word_maps`,
:func:`anchor_statistics`). :data:`RECIPES` holds the trained models' settings, the script's
defaults (a test checks the notebooks write the same).
"""
from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from utils.alignment import teacher_forced_attention
from utils.build import Config, config_to_dict
from utils.data import load_tatoeba, split_by_sentence
from utils.download import find_tatoeba
from utils.languages import ANCHOR_NAMES, ANCHOR_WORDS
from utils.metrics import AttentionPeaks, attention_peaks, multi_reference_bleu
from utils.models import RNNConfig
from utils.pairs import SentencePair
from utils.parallel_data import ParallelData
from utils.seq2seq import Seq2Seq
from utils.subwords import word_attention
from utils.text import normalize, tokenize
from utils.transformer import TransformerConfig
from utils.translate import beam_hypotheses, translate_tokens

MAX_TOKENS = 10            # at most this many tokens on each side of a pair
N_PAIRS = 18_000           # keep this many pairs, those with the shortest English sentences
SPLIT = (0.8, 0.1, 0.1)    # train, valid, test shares (by sentence: see utils.data.split_by_sentence)
SPLIT_SEED = 0
MIN_FREQ = 2               # a word enters the word vocabulary when seen this often in training
SUBWORDS = 2000            # subword pieces per language
BATCH_SIZE = 64
BEAM_SIZE, ALPHA = 5, 0.6  # beam search: beams, length penalty


@dataclass(frozen=True)
class Recipe:
    """A model and how it is trained: :func:`utils.checkpoints.train_or_load`'s settings."""

    config: Config
    epochs: int
    lr: float
    lr_decay: float = 1.0
    coverage: float = 0.0
    warmup: int = 0
    label_smoothing: float = 0.0

    def training(self) -> dict:
        """The keyword arguments of ``train_or_load`` (besides config and data)."""
        settings = {k: v for k, v in asdict(self).items() if k != "config"}
        return {k: v for k, v in settings.items() if v or k in ("epochs", "lr", "lr_decay")}

    def record(self) -> dict:
        """The recipe as the results file records it: ``{"config": {...}, "training": {...}}``."""
        return {"config": config_to_dict(self.config),
                "training": {k: v for k, v in asdict(self).items() if k != "config"}}


def settings_of(record: dict) -> dict:
    """A run's model and training settings as one dict, from a results-file row or
    :meth:`Recipe.record`: two runs with equal settings trained the same recipe."""
    return {**record["config"], **record["training"]}


def recipe_runs(runs: list[dict], model: str, lang: str = "fr", units: str = "subwords") -> dict[int, dict]:
    """The results-file rows among ``runs`` that trained exactly ``RECIPES[model]`` on ``lang`` with
    ``units``, by seed (in seed order). Filter ``runs`` by code fingerprint first."""
    wanted = settings_of(RECIPES[model].record())
    found = {r["seed"]: r for r in runs
             if r["model"] == model and r["lang"] == lang and r["units"] == units and settings_of(r) == wanted}
    return dict(sorted(found.items()))


RECIPES: dict[str, Recipe] = {
    # notebook 06's model: Luong attention (dot) on a bidirectional GRU, with the coverage penalty
    "rnn": Recipe(RNNConfig(decoder="luong", score="dot", emb_size=128, hidden_size=192, dropout=0.1,
                            bidirectional=True), epochs=8, lr=3e-3, lr_decay=1.0, coverage=1.0),
    # the same encoder and sizes, and a decoder without attention (notebook 01's), no coverage (no attention)
    "vanilla": Recipe(RNNConfig(decoder="vanilla", emb_size=128, hidden_size=192, dropout=0.1,
                                bidirectional=True), epochs=8, lr=3e-3, lr_decay=1.0),
    # notebook 08's Transformer: post-norm, chosen by the ablation in results/real_data_recipes.jsonl (notebook 08, §3)
    "transformer": Recipe(TransformerConfig(d_model=128, heads=4, ff_size=256, layers=2, dropout=0.1, norm="post"),
                          epochs=8, lr=2e-3, lr_decay=0.1, warmup=200, label_smoothing=0.1),
}
"""The recipes of notebooks 06 (``"rnn"``) and 08 (all three), and the script's defaults."""


def is_short(pair: tuple[str, str], lang: str = "fr", max_tokens: int = MAX_TOKENS) -> bool:
    """Whether both sides of ``(source, english)`` have at most ``max_tokens`` tokens."""
    src, en = pair
    return len(tokenize(src, lang)) <= max_tokens and len(tokenize(en, "en")) <= max_tokens


def shortest(pairs: list[tuple[str, str]], n_pairs: int = N_PAIRS) -> list[tuple[str, str]]:
    """The ``n_pairs`` pairs with the shortest English sentences in characters (a stable sort:
    ties keep the file's order)."""
    return sorted(pairs, key=lambda pair: len(pair[1]))[:n_pairs]


def select_pairs(raw: list[tuple[str, str]], lang: str = "fr", max_tokens: int = MAX_TOKENS,
                 n_pairs: int = N_PAIRS) -> list[tuple[str, str]]:
    """The pairs notebooks 06 and 08 train on: short on both sides, then the shortest English."""
    return shortest([pair for pair in raw if is_short(pair, lang, max_tokens)], n_pairs)


def real_splits(lang: str = "fr", path: str | Path | None = None, max_tokens: int = MAX_TOKENS,
                n_pairs: int = N_PAIRS) -> tuple[list, list, list]:
    """Train, valid and test ``(source, english)`` pairs of the Tatoeba data for ``lang`` (the file
    at ``path``, else :func:`utils.download.find_tatoeba`'s), selected (:func:`select_pairs`) and
    split as the notebooks do."""
    pairs = select_pairs(load_tatoeba(path if path is not None else find_tatoeba(lang), lang), lang, max_tokens,
                         n_pairs)
    return split_by_sentence(pairs, SPLIT, seed=SPLIT_SEED)


def real_corpus(splits: tuple[list, list, list], lang: str = "fr", units: str = "subwords",
                subwords: int = SUBWORDS, min_freq: int = MIN_FREQ, batch_size: int = BATCH_SIZE) -> ParallelData:
    """The splits as ``units``: ``"words"`` (a word enters the vocabulary when seen ``min_freq``
    times in training) or ``"subwords"`` (``subwords`` pieces per language, learnt from the
    training split's words)."""
    if units not in ("words", "subwords"):
        raise ValueError(f"units={units!r}: choose 'words' or 'subwords'")
    words = ParallelData.from_text_pairs(*splits, min_freq=min_freq, batch_size=batch_size, src_lang=lang)
    return words.with_subwords(subwords) if units == "subwords" else words


def real_corpora(splits: tuple[list, list, list], lang: str = "fr", subwords: int = SUBWORDS,
                 batch_size: int = BATCH_SIZE) -> dict[str, ParallelData]:
    """The splits as words and as subword pieces (:func:`real_corpus`, both from the same word
    pairs): ``{"words": ..., "subwords": ...}``."""
    words = real_corpus(splits, lang, "words", batch_size=batch_size)
    return {"words": words, "subwords": words.with_subwords(subwords)}


def grouped_references(test: list[SentencePair]) -> tuple[list[list[str]], list[list[list[str]]]]:
    """Each *distinct* test source sentence once (its word tokens) and all its English
    references (word tokens): several translations of one sentence all count as correct."""
    groups, sources = defaultdict(list), {}
    for p in test:
        key = normalize(p.src)
        groups[key].append(p.tgt_words)
        sources.setdefault(key, p.src_words)
    return [sources[key] for key in groups], list(groups.values())


@dataclass
class Decoded:
    """A model's translations of the test sentences: ``words[i]`` sentence ``i``'s as English
    words, the BLEU, the seconds decoding took and how (``"greedy, in batches"`` or ``"beam k, in batches"``)."""

    words: list[list[str]]
    bleu: float
    seconds: float
    search: str

    @property
    def sentences_per_second(self) -> float:
        return len(self.words) / self.seconds


def decode_and_score(model: Seq2Seq, corpus: ParallelData, sources: list[list[str]],
                     references: list[list[list[str]]], beam_size: int = BEAM_SIZE, alpha: float = ALPHA) -> Decoded:
    """Translate word-token ``sources`` with ``model`` (trained on ``corpus``'s units) and score the
    words against all ``references`` (:func:`utils.metrics.multi_reference_bleu`).

    ``beam_size=1`` is greedy search, run in batches of 128 sentences (the same words as one at a
    time: ``tests/test_search_and_translate.py::test_batched_greedy_equals_one_by_one`` checks it for
    every decoder); a beam search runs in batches of 128 sentences too
    (:func:`utils.search.batched_beam_search`, whose hypotheses equal :func:`utils.search.beam_search`'s
    for each sentence alone: ``tests/test_batched_beam_search.py`` checks it for every decoder)."""
    start = time.perf_counter()
    units = [corpus.source_units(s) for s in sources]
    if beam_size == 1:
        hyps, _ = translate_tokens(model, units, corpus.src_vocab, corpus.tgt_vocab)
        search = "greedy, in batches"
    else:
        hyps = [corpus.tgt_vocab.decode(h[0].ids) for h in beam_hypotheses(model, units, corpus.src_vocab,
                                                                           corpus.tgt_vocab, beam_size=beam_size,
                                                                           alpha=alpha)]
        search = f"beam {beam_size}, in batches"
    words = [corpus.target_words(h) for h in hyps]
    seconds = time.perf_counter() - start
    return Decoded(words, multi_reference_bleu(words, references), seconds, search)


def word_maps(model: Seq2Seq, corpus: ParallelData, pairs: list[SentencePair],
              head: tuple[int, int] | None = None) -> list[torch.Tensor]:
    """Teacher-forced attention on ``pairs``, one ``[English words + 1, source words + 1]`` map per
    pair (pieces merged into words, :func:`utils.subwords.word_attention`). ``head=(layer, h)``: a
    Transformer's one cross-attention head instead of the map its decoder reports."""
    if head is None:
        maps = teacher_forced_attention(model, corpus, pairs=pairs)
    else:
        with model.decoder.showing_head(*head):
            maps = teacher_forced_attention(model, corpus, pairs=pairs)
    if corpus.src_subwords is None:
        return maps
    return [word_attention(w, p.src_tokens, p.tgt_tokens) for p, w in zip(pairs, maps, strict=True)]


def anchor_groups(lang: str = "fr") -> dict[str, dict[str, str]]:
    """The anchor lexicon of ``lang`` (:data:`utils.languages.ANCHOR_WORDS`) in its two groups,
    ``{"names": {...}, "nouns": {...}}``: source word → its one-word English translation."""
    if lang not in ANCHOR_WORDS:
        raise ValueError(f"no anchor words for {lang!r}: add its lexicon (names first, then nouns, each with its "
                         "one-word English translation) to ANCHOR_WORDS in utils/languages.py")
    lexicon = ANCHOR_WORDS[lang]
    names = list(lexicon)[:ANCHOR_NAMES]
    return {"names": {w: lexicon[w] for w in names}, "nouns": {w: lexicon[w] for w in lexicon if w not in names}}


def anchor_statistics(maps: list[torch.Tensor], pairs: list[SentencePair], lang: str = "fr") -> AttentionPeaks:
    """Where word-level ``maps`` (as :func:`word_maps` gives) peak on ``pairs``: how many English
    words peak on the source ``<eos>``, and each anchor word's offset from its translation
    (:func:`utils.metrics.attention_peaks` with :func:`anchor_groups`)."""
    return attention_peaks(maps, [p.src_words for p in pairs], [p.tgt_words for p in pairs], anchor_groups(lang))


RESULTS = Path(__file__).resolve().parents[1] / "results" / "real_data_recipes.jsonl"
"""Where ``scripts/real_data_recipes.py`` appends one JSON line per trained model."""
