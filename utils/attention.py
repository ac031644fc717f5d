"""Attention: score functions behind one interface, and ``attend``.

Notation (used in every notebook): decoder state (query) $s_i$, encoder states (keys = values)
$h_j$, score $e_{ij} = \\mathrm{score}(s_i, h_j)$, weights $\\alpha_{ij} = \\mathrm{softmax}_j(e_{ij})$,
context $c_i = \\sum_j \\alpha_{ij} h_j$.

Every score module maps ``query [batch, tgt_len, query_size]`` and
``keys [batch, src_len, key_size]`` to ``scores [batch, tgt_len, src_len]``. It does so in two
parts, ``prepare_keys`` (the work on the keys alone, e.g. $W h_j$) and ``compare``, so a decoder
that runs step by step can prepare the keys once per sentence instead of once per step.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn


class Score(nn.Module):
    """Base class: ``forward(query, keys) = compare(query, prepare_keys(keys))``."""

    def prepare_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return keys

    def compare(self, query: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, query: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        return self.compare(query, self.prepare_keys(keys))  # [batch, tgt_len, src_len]


class DotScore(Score):
    """Dot product: score(s, h) = sᵀh. No parameters; needs ``query_size == key_size``.

    Taught in notebook 03.
    """

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        if query_size != key_size:
            raise ValueError(f"dot score needs equal sizes, got query {query_size} and key {key_size}; "
                             "use 'general' or 'concat' to compare vectors of different sizes")

    def compare(self, query: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        return query @ prepared.transpose(1, 2)  # [batch, tgt_len, src_len]


class ScaledDotScore(DotScore):
    """Scaled dot product: score(s, h) = sᵀh / √d (Vaswani et al., 2017).

    If the entries of s and h have variance 1, sᵀh has variance d: for large d the scores spread
    far apart, the softmax becomes nearly one-hot (peaked) and its gradient vanishes. Dividing by
    √d keeps the variance at 1. It is a fixed softmax temperature of √d: for vectors bounded in
    (−1, 1) (a GRU's states, where |sᵀh| ≤ d) it caps every score at √d and makes the weights
    flatter, which a parameter-free score can only undo by growing its states (notebook 03).

    Taught in notebook 03.
    """

    def compare(self, query: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        return query @ prepared.transpose(1, 2) / math.sqrt(query.size(-1))  # [batch, tgt_len, src_len]


class GeneralScore(Score):
    """Generalised (bilinear) dot: score(s, h) = sᵀW h (Luong et al., 2015). W maps the key into
    the query's space, so the two may differ in size.

    Taught in notebook 03.
    """

    def __init__(self, query_size: int, key_size: int):
        super().__init__()
        self.W = nn.Linear(key_size, query_size, bias=False)  # W h: key space → query space

    def prepare_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return self.W(keys)                          # W h_j: [batch, src_len, query_size]

    def compare(self, query: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        return query @ prepared.transpose(1, 2)     # [batch, tgt_len, src_len]


class ConcatScore(Score):
    """Concatenation / additive (Bahdanau et al., 2015):
    score(s, h) = vᵀ tanh(W [s; h]) = vᵀ tanh(W1 s + W2 h).

    ``W`` is stored as its two halves ``W1`` (query) and ``W2`` (keys), so the keys' half is
    computed once per source sentence instead of once per (query, key) pair.

    Taught in notebook 03.
    """

    def __init__(self, query_size: int, key_size: int, attention_size: int | None = None):
        super().__init__()
        attention_size = attention_size or key_size
        self.W1 = nn.Linear(query_size, attention_size, bias=False)
        self.W2 = nn.Linear(key_size, attention_size, bias=False)
        self.v = nn.Linear(attention_size, 1, bias=False)

    def prepare_keys(self, keys: torch.Tensor) -> torch.Tensor:
        return self.W2(keys)                         # W2 h_j: [batch, src_len, attn]

    def compare(self, query: torch.Tensor, prepared: torch.Tensor) -> torch.Tensor:
        q = self.W1(query).unsqueeze(2)              # [batch, tgt_len, 1, attn]
        k = prepared.unsqueeze(1)                    # [batch, 1, src_len, attn]
        return self.v(torch.tanh(q + k)).squeeze(-1)  # [batch, tgt_len, src_len]

    @property
    def W(self) -> torch.Tensor:
        """The matrix of the concatenated form, W = [W1 W2]: ``[attn, query + key]``."""
        return torch.cat([self.W1.weight, self.W2.weight], dim=1)


SCORES = {"dot": DotScore, "scaled_dot": ScaledDotScore, "general": GeneralScore, "concat": ConcatScore}


def make_score(name: str, query_size: int, key_size: int, attention_size: int | None = None) -> Score:
    """A score module by name: ``dot``, ``scaled_dot``, ``general`` or ``concat``.
    ``attention_size`` is the width of the concat score's layer (default: ``key_size``)."""
    if name not in SCORES:
        raise ValueError(f"unknown score {name!r}; choose one of {sorted(SCORES)}")
    if name == "concat":
        return ConcatScore(query_size, key_size, attention_size)
    return SCORES[name](query_size, key_size)


def attend(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor,
           mask: torch.Tensor | None = None, score: Score | None = None,
           prepared_keys: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention(Q, K, V): score every key, softmax over the source, weighted sum of the values.

    Args:
        query:  ``[batch, tgt_len, query_size]`` (decoder states $s_i$)
        keys:   ``[batch, src_len, key_size]``   (encoder states $h_j$)
        values: ``[batch, src_len, value_size]`` (encoder states $h_j$ again)
        mask:   ``[batch, src_len]``, True at real tokens; padding gets exactly zero weight. Or
                ``[batch, tgt_len, src_len]``: a mask per query, e.g. a Transformer decoder's
                causal mask (query $i$ may see keys $j \\le i$ only).
                A row with no real token at all (an empty source) has nothing to attend to: it
                gets zero weights and a zero context — not the NaN a softmax over nothing gives —
                as PyTorch's ``scaled_dot_product_attention`` does since 2.5.
        score:  a score module (default: dot product)
        prepared_keys: ``score.prepare_keys(keys)`` computed earlier (optional, for step loops)
    Returns:
        context ``[batch, tgt_len, value_size]`` and weights ``[batch, tgt_len, src_len]`` (each
        row sums to 1, or to 0 where the mask leaves a query nothing to attend to).
    """
    if query.dim() != 3 or keys.dim() != 3 or values.dim() != 3:
        raise ValueError(f"attend expects 3-D tensors [batch, len, size]; got query {tuple(query.shape)}, "
                         f"keys {tuple(keys.shape)}, values {tuple(values.shape)}")
    if keys.shape[:2] != values.shape[:2]:
        raise ValueError(f"keys {tuple(keys.shape)} and values {tuple(values.shape)} differ in batch or length")
    if score is None:
        scores = query @ keys.transpose(1, 2)
    else:
        prepared = prepared_keys if prepared_keys is not None else score.prepare_keys(keys)
        scores = score.compare(query, prepared)
    if mask is not None:
        if mask.shape == keys.shape[:2]:
            mask = mask[:, None, :]                                      # [batch, 1, src_len]: every query alike
        elif mask.shape != scores.shape:
            raise ValueError(f"mask {tuple(mask.shape)} must be [batch, src_len] = {tuple(keys.shape[:2])} "
                             f"or [batch, tgt_len, src_len] = {tuple(scores.shape)}")
        scores = scores.masked_fill(~mask, float("-inf"))              # [batch, tgt_len, src_len]
    weights = torch.softmax(scores, dim=-1)  # [batch, tgt_len, src_len], rows sum to 1
    if mask is not None:
        empty = ~mask.any(dim=-1, keepdim=True)  # [batch, 1 or tgt_len, 1]: nothing to attend to (softmax gave NaN)
        weights = weights.masked_fill(empty, 0.0)
    context = weights @ values               # [batch, tgt_len, value_size]
    return context, weights
