"""The Transformer (Vaswani et al., 2017), built from the series' own attention.

Every attention here — the encoder's self-attention, the decoder's causal self-attention and its
cross-attention — is :func:`utils.attention.attend` with the scaled dot score, run once per head.
The model plugs into the rest of the series like the RNN models: the encoder maps
``(src, src_lengths)`` to ``(enc_out, None)`` (there is no final recurrent state), and the decoder
offers ``init_state``, ``step``, ``forward_teacher`` and ``reorder_state``.

**Pre-norm.** Each sub-layer (attention or feed-forward) reads a LayerNorm of its input and adds
its result back: ``x + sublayer(LayerNorm(x))``, with one more LayerNorm after the last layer.
The original Transformer normalises *after* the residual sum (post-norm,
``LayerNorm(x + sublayer(x))``), which needs a learning-rate warm-up to train stably; with the
norm inside the branch, the residual path from the embeddings to the output is an identity, the
gradients at the start of training stay well scaled, and it trains without warm-up (Xiong et al.,
2020; Nguyen & Salazar, 2019) — the series' ``fit`` has none. It is also what most current
Transformers use.

Shapes: ``B`` batch, ``S`` source length, ``T`` target length, ``d`` = ``d_model``, ``h`` heads.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import torch
import torch.nn as nn
from torch import Tensor

from utils.attention import ScaledDotScore, attend


class MultiHeadAttention(nn.Module):
    """``heads`` attentions of width ``d / heads`` side by side, each on its own learned projection
    of the queries, keys and values; their contexts are concatenated and mixed by ``W_o``.

    The same parameters and result as ``torch.nn.MultiheadAttention(d, heads, batch_first=True)``
    (a test copies the weights across): $4(d^2 + d)$ parameters, whatever the number of heads.
    """

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        if d_model % heads:
            raise ValueError(f"d_model {d_model} must be divisible by the number of heads {heads}")
        self.heads, self.d_head = heads, d_model // heads
        self.W_q, self.W_k, self.W_v, self.W_o = (nn.Linear(d_model, d_model) for _ in range(4))
        self.score = ScaledDotScore(self.d_head, self.d_head)

    def forward(self, query: Tensor, keys_values: Tensor,
                mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``query [B, T, d]`` attends to ``keys_values [B, S, d]`` (the same tensor for
        self-attention). ``mask``: ``[B, S]`` (padding) or ``[B, T, S]`` (per query, e.g. causal),
        True where attention is allowed. Returns ``[B, T, d]`` and the weights ``[B, h, T, S]``."""
        B, T, S = query.size(0), query.size(1), keys_values.size(1)

        def split(x: Tensor) -> Tensor:          # [B, L, d] → [B·h, L, d/h]: heads into the batch
            return x.view(B, x.size(1), self.heads, self.d_head).transpose(1, 2).reshape(B * self.heads, -1, self.d_head)

        q, k, v = split(self.W_q(query)), split(self.W_k(keys_values)), split(self.W_v(keys_values))
        if mask is not None:
            mask = mask.repeat_interleave(self.heads, dim=0)  # [B·h, S] or [B·h, T, S]
        context, weights = attend(q, k, v, mask, self.score)  # [B·h, T, d/h], [B·h, T, S]
        context = context.view(B, self.heads, T, self.d_head).transpose(1, 2).reshape(B, T, -1)  # heads side by side
        return self.W_o(context), weights.view(B, self.heads, T, S)


def sinusoidal_positions(length: int, d_model: int) -> Tensor:
    """$PE_{(p, 2i)} = \\sin(p / 10000^{2i/d})$, $PE_{(p, 2i+1)} = \\cos(p / 10000^{2i/d})$:
    ``[length, d]``, one row per position, added to the word embeddings."""
    if d_model % 2:
        raise ValueError(f"sinusoidal positions need an even d_model, got {d_model}")
    position = torch.arange(length, dtype=torch.float32)[:, None]                # [L, 1]
    frequency = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))  # [d/2]
    pe = torch.zeros(length, d_model)
    pe[:, 0::2] = torch.sin(position * frequency)
    pe[:, 1::2] = torch.cos(position * frequency)
    return pe


def causal_mask(length: int, device: torch.device | str | None = None) -> Tensor:
    """``[T, T]``, True on and below the diagonal: position ``i`` may attend to ``j <= i`` only."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


class Embedding(nn.Module):
    """Word embedding plus sinusoidal position (``positions=False`` leaves the positions out)."""

    def __init__(self, vocab_size: int, d_model: int, dropout: float = 0.0, pad_id: int = 0, positions: bool = True):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.positions = positions
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: Tensor) -> Tensor:
        x = self.tokens(ids)                                                  # [B, L, d]
        if self.positions:
            x = x + sinusoidal_positions(ids.size(1), x.size(-1)).to(x.device)  # same for every sentence
        return self.dropout(x)


def feed_forward(d_model: int, ff_size: int, dropout: float) -> nn.Sequential:
    """The position-wise feed-forward layer: ``Linear(d, ff) → ReLU → Linear(ff, d)`` on each word alone."""
    return nn.Sequential(nn.Linear(d_model, ff_size), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff_size, d_model))


class EncoderLayer(nn.Module):
    """Self-attention over the source, then the feed-forward layer; pre-norm residual blocks."""

    def __init__(self, d_model: int, heads: int, ff_size: int, dropout: float = 0.0):
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, heads)
        self.feed_forward = feed_forward(d_model, ff_size, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """``x [B, S, d]``, ``mask [B, S]`` → ``[B, S, d]`` and self-attention ``[B, h, S, S]``."""
        h = self.norm1(x)
        attended, weights = self.self_attention(h, h, mask)        # queries, keys, values: one sentence
        x = x + self.dropout(attended)
        x = x + self.dropout(self.feed_forward(self.norm2(x)))
        return x, weights


class DecoderLayer(nn.Module):
    """Causal self-attention over the target so far, cross-attention to the source (notebook 02's
    attention: decoder queries, encoder keys and values), then the feed-forward layer."""

    def __init__(self, d_model: int, heads: int, ff_size: int, dropout: float = 0.0):
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, heads)
        self.cross_attention = MultiHeadAttention(d_model, heads)
        self.feed_forward = feed_forward(d_model, ff_size, dropout)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.dropout = nn.Dropout(dropout)

    def forward(self, y: Tensor, enc_out: Tensor, causal: Tensor,
                src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``y [B, T, d]``, ``enc_out [B, S, d]``, ``causal [B, T, T]``, ``src_mask [B, S]`` →
        ``[B, T, d]`` and the cross-attention weights ``[B, h, T, S]``."""
        h = self.norm1(y)
        y = y + self.dropout(self.self_attention(h, h, causal)[0])
        attended, weights = self.cross_attention(self.norm2(y), enc_out, src_mask)
        y = y + self.dropout(attended)
        y = y + self.dropout(self.feed_forward(self.norm3(y)))
        return y, weights


class TransformerEncoder(nn.Module):
    """Embedding with positions, ``layers`` encoder layers, a final LayerNorm."""

    def __init__(self, vocab_size: int, d_model: int, heads: int, ff_size: int, layers: int,
                 dropout: float = 0.0, pad_id: int = 0):
        super().__init__()
        self.embedding = Embedding(vocab_size, d_model, dropout, pad_id)
        self.layers = nn.ModuleList(EncoderLayer(d_model, heads, ff_size, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)

    def forward(self, src: Tensor, src_lengths: Tensor) -> tuple[Tensor, None]:
        """``src [B, S]`` → ``enc_out [B, S, d]`` (zeros at padding) and ``None``: no recurrent state."""
        mask = torch.arange(src.size(1), device=src.device)[None, :] < src_lengths.to(src.device)[:, None]  # [B, S]
        x = self.embedding(src)
        for layer in self.layers:                      # every position at once: no recurrence
            x, _ = layer(x, mask)
        return self.norm(x) * mask.unsqueeze(-1), None


class TransformerDecoder(nn.Module):
    """``layers`` decoder layers between an embedding with positions and the output layer.

    The state of free-running decoding is the prefix of words fed so far, ``[B, t]``; each ``step``
    runs the decoder over the whole prefix (the causal mask makes every earlier position's result
    the same as before) and predicts from the last position. Simple and exact; a faster decoder
    would cache each layer's keys and values instead.

    The attention map it returns (for translations, plots and AER) is the cross-attention averaged
    over the heads of the last layer, or the one head set by :meth:`showing_head`.
    """

    has_attention = True
    parallel_teacher_forcing = True

    def __init__(self, vocab_size: int, d_model: int, heads: int, ff_size: int, layers: int,
                 dropout: float = 0.0, pad_id: int = 0):
        super().__init__()
        self.embedding = Embedding(vocab_size, d_model, dropout, pad_id)
        self.layers = nn.ModuleList(DecoderLayer(d_model, heads, ff_size, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model)
        self.out = nn.Linear(d_model, vocab_size)
        self.attention_head: tuple[int, int] | None = None

    def run(self, tgt_in: Tensor, enc_out: Tensor,
                        src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``tgt_in [B, T]`` → ``logits [B, T, V]`` and every layer's and head's cross-attention
        ``[B, layers, h, T, S]``."""
        B, T = tgt_in.shape
        causal = causal_mask(T, tgt_in.device)[None].expand(B, T, T)   # [B, T, T]
        y = self.embedding(tgt_in)                                      # [B, T, d]
        maps = []
        for layer in self.layers:
            y, weights = layer(y, enc_out, causal, src_mask)
            maps.append(weights)
        return self.out(self.norm(y)), torch.stack(maps, dim=1)

    def _shown(self, maps: Tensor) -> Tensor:
        """``[B, layers, h, T, S]`` → the map this decoder reports, ``[B, T, S]``."""
        if self.attention_head is None:
            return maps[:, -1].mean(dim=1)
        layer, head = self.attention_head
        return maps[:, layer, head]

    @contextmanager
    def showing_head(self, layer: int, head: int):
        """Within ``with decoder.showing_head(layer, head):`` the decoder reports that one head's
        cross-attention instead of the last layer's average (e.g. to score each head's AER)."""
        if not (0 <= layer < len(self.layers) and 0 <= head < self.layers[0].cross_attention.heads):
            raise ValueError(f"no head ({layer}, {head}) in {len(self.layers)} layers of "
                             f"{self.layers[0].cross_attention.heads} heads")
        previous, self.attention_head = self.attention_head, (layer, head)
        try:
            yield self
        finally:
            self.attention_head = previous

    def init_state(self, enc_hidden: None, enc_out: Tensor) -> Tensor:
        return torch.zeros(enc_out.size(0), 0, dtype=torch.long, device=enc_out.device)  # no words yet: [B, 0]

    def forward_teacher(self, tgt_in: Tensor, state: Tensor, enc_out: Tensor,
                        src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``tgt_in [B, T]`` → ``logits [B, T, V]``, ``weights [B, T, S]``: all positions in one call."""
        logits, maps = self.run(tgt_in, enc_out, src_mask)
        return logits, self._shown(maps)

    def step(self, y_prev: Tensor, state: Tensor, enc_out: Tensor,
             src_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``y_prev [B]`` → ``logits [B, V]``, the prefix ``[B, t + 1]``, ``weights [B, S]``."""
        prefix = torch.cat([state, y_prev[:, None]], dim=1)            # [B, t + 1]
        logits, maps = self.run(prefix, enc_out, src_mask)
        return logits[:, -1], prefix, self._shown(maps)[:, -1]

    @staticmethod
    def reorder_state(state: Tensor, index: Tensor) -> Tensor:
        """The prefixes of the sentences (or beams) ``index`` — used by beam search."""
        return state.index_select(0, index)
