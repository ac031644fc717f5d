"""Attention against the gold alignments: the weights a model puts on each source word while it
reads the gold translation, their alignment error rate, and the vectors its score compares
(notebooks 02, 03, 05 and 06), and every head of a Transformer (notebook 07)."""
from __future__ import annotations

import torch

from utils.metrics import alignment_error_rate, attention_entropy, attention_links
from utils.pairs import SentencePair
from utils.parallel_data import ParallelData
from utils.seq2seq import Seq2Seq


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
    out = []
    for chunk, batch in data.batches(pairs):
        batch = batch.to(device)
        _, weights = model(batch.src, batch.src_mask, batch.tgt[:, :-1])
        for row, i in enumerate(chunk):
            n_src, n_tgt = len(pairs[i].src_tokens), len(pairs[i].tgt_tokens)
            w = weights[row, : n_tgt + 1, : n_src + 1].cpu()
            out.append(w)
    return out


@torch.no_grad()
def score_inputs(model: Seq2Seq, data: ParallelData, split: str = "test",
                 pairs: list[SentencePair] | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """What the attention score compares while the model reads the *gold* translation: for each
    pair, the queries ``[len(target) + 1, Q]`` (one per output step: $s_i$, or $s_{i-1}$ for a
    Bahdanau decoder) and the prepared keys ``[len(source) + 1, K]`` (``score.prepare_keys`` of the
    encoder states: $h_j$ itself for dot and scaled dot, $W h_j$ for general). Rows and columns
    match :func:`teacher_forced_attention`."""
    if not model.decoder.has_attention:
        raise ValueError("this model has no attention score (a vanilla decoder)")
    model.eval()
    device = next(model.parameters()).device
    pairs = getattr(data, split) if pairs is None else pairs
    score, calls = model.decoder.score, []

    def recording_compare(query, prepared):             # records what the score compares, then scores
        calls.append((query, prepared))
        return type(score).compare(score, query, prepared)

    score.compare = recording_compare                    # on this module only, until the end
    out = []
    try:
        for chunk, batch in data.batches(pairs):
            calls.clear()
            model(batch.to(device).src, batch.src_mask.to(device), batch.tgt[:, :-1].to(device))
            queries = torch.cat([query for query, _ in calls], dim=1)         # [batch, T, Q] (one call, or T steps)
            keys = calls[0][1]                                                # [batch, S, K]
            for row, i in enumerate(chunk):
                n_src, n_tgt = len(pairs[i].src_tokens), len(pairs[i].tgt_tokens)
                out.append((queries[row, : n_tgt + 1].cpu(), keys[row, : n_src + 1].cpu()))
    finally:
        del score.compare                                                     # the class's method again
    return out


def attention_aer(model: Seq2Seq, data: ParallelData, split: str = "test") -> float:
    """Alignment error rate of the model's attention against the corpus's gold alignments: each
    English word is linked to the French word it attends to most (teacher-forced), 0 = perfect."""
    pairs = getattr(data, split)
    predicted = [attention_links(w, len(p.src_tokens), len(p.tgt_tokens))
                 for w, p in zip(teacher_forced_attention(model, data, split), pairs, strict=True)]
    return alignment_error_rate(predicted, [set(p.alignment) for p in pairs])


@torch.no_grad()
def head_alignment(model: Seq2Seq, data: ParallelData,
                   split: str = "test") -> dict[tuple[int, int], tuple[float, float]]:
    """Every cross-attention head of a Transformer against the gold alignments (notebook 07), from
    one teacher-forced pass: ``{(layer, head): (AER, entropy)}``, layers and heads from 0. AER as
    in :func:`attention_aer` (each English word linked to the French word the head weighs most);
    entropy: the mean over sentences of the mean entropy, in nats, of the English words' rows
    (0 = all the weight on one word)."""
    if data.reverse_source:
        raise ValueError("attention against gold alignments needs the source in its original order")
    model.eval()
    device = next(model.parameters()).device
    pairs = getattr(data, split)
    links: dict[tuple[int, int], list] = {}
    entropy: dict[tuple[int, int], float] = {}
    for chunk, batch in data.batches(pairs):
        batch = batch.to(device)
        enc_out, _ = model.encoder(batch.src, batch.src_mask)
        _, maps = model.decoder.run(batch.tgt[:, :-1], enc_out, batch.src_mask)      # [B, layers, h, T, S]
        for row, i in enumerate(chunk):
            n_src, n_tgt = len(pairs[i].src_tokens), len(pairs[i].tgt_tokens)
            for layer in range(maps.size(1)):
                for head in range(maps.size(2)):
                    w = maps[row, layer, head, : n_tgt + 1, : n_src + 1].cpu()
                    links.setdefault((layer, head), []).append(attention_links(w, n_src, n_tgt))
                    entropy[layer, head] = entropy.get((layer, head), 0.0) + attention_entropy(w[:n_tgt]).mean().item()
    gold = [set(p.alignment) for p in pairs]
    return {key: (alignment_error_rate(predicted, gold), entropy[key] / len(pairs)) for key, predicted in links.items()}
