"""Scoring a model's translations of a test set, overall and per source-length bucket."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from utils.corpus import LENGTH_BUCKETS
from utils.metrics import by_length, corpus_bleu, exact_match
from utils.parallel_data import ParallelData
from utils.seq2seq import Seq2Seq
from utils.translate import translate_tokens


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


def translate_and_score(model: Seq2Seq, data: ParallelData, split: str = "test") -> TestResults:
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
