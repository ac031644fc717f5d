"""The Transformer (Vaswani et al., 2017), built from the series' own attention.

Every attention here — the encoder's self-attention, the decoder's causal self-attention and its
cross-attention — is :func:`utils.attention.attend` with the scaled dot score, run once per head.
The model keeps the contract of :mod:`utils.seq2seq` like the RNN models: the encoder maps
``(src, src_mask)`` to ``(enc_out, None)`` (there is no final recurrent state), and the decoder
offers ``init_state``, ``step``, ``forward_teacher`` and ``reorder_state``.

**Residual blocks, pre- or post-norm.** Each sub-layer (attention or feed-forward) is wrapped in
a residual connection and a LayerNorm (:class:`Residual`). ``norm="pre"`` (the default, what
most current Transformers use) normalises the branch's input, ``x + sublayer(LayerNorm(x))``,
with one more LayerNorm after the last layer; ``norm="post"`` is the original Transformer's
``LayerNorm(x + sublayer(x))``. With pre-norm the residual path from the embeddings to the
output is an identity and the gradients at the start of training stay well scaled; post-norm
is known to need a learning-rate warm-up (Xiong et al., 2020). Notebook 07 measures both.

**Decoding with a key/value cache.** A decoding step feeds one new word. Without a cache
(:meth:`TransformerDecoder.step_uncached`) the decoder re-runs every layer over the whole prefix,
O(t) positions at step t; the causal mask guarantees that every earlier position's result is
the same as the step before, so a cache (:class:`KVCache`) keeps each layer's self-attention keys
and values and computes only the new position's, and the cross-attention keys and values are
computed once per source sentence. Same numbers, a fraction of the work.

Shapes: ``B`` batch, ``S`` source length, ``T`` target length, ``d`` = ``d_model``, ``h`` heads.
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor

from utils.attention import ScaledDotScore, attend


@dataclass
class TransformerConfig:
    """Everything needed to rebuild a Transformer (saved in checkpoints). Notebook 07."""

    d_model: int = 64           # width of every vector the layers pass on (embeddings, attention, residual stream)
    heads: int = 2              # attention heads per attention layer, each of width d_model / heads
    ff_size: int = 128          # hidden width of the position-wise feed-forward layer
    layers: int = 2             # layers in the encoder, and as many in the decoder
    dropout: float = 0.0        # on embeddings, attention outputs and feed-forward outputs
    norm: str = "pre"           # "pre": x + f(LayerNorm(x)); "post": LayerNorm(x + f(x)), the original
    scale_embeddings: bool = False  # multiply word embeddings by √d_model before adding positions (Vaswani et al. §3.4)
    tie_embeddings: bool = False    # the decoder's output layer reuses its word-embedding matrix (Press & Wolf, 2017)


class MultiHeadAttention(nn.Module):
    """``heads`` attentions of width ``d / heads`` side by side, each on its own learned projection
    of the queries, keys and values; their contexts are concatenated and mixed by ``W_o``.

    The same parameters and result as ``torch.nn.MultiheadAttention(d, heads, batch_first=True)``
    (a test copies the weights across): $4(d^2 + d)$ parameters, whatever the number of heads.

    Taught in notebook 07.
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
        return self.attend_heads(query, *self.keys_values(keys_values), mask)

    def keys_values(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Each head's keys and values of ``x [B, S, d]``: two ``[B, h, S, d/h]`` (what a cache keeps)."""
        return self._heads(self.W_k(x)), self._heads(self.W_v(x))

    def _heads(self, x: Tensor) -> Tensor:
        """``[B, L, d]`` → ``[B, h, L, d/h]``: the vector of each position cut into one slice per head."""
        return x.view(x.size(0), x.size(1), self.heads, self.d_head).transpose(1, 2)

    def attend_heads(self, query: Tensor, k: Tensor, v: Tensor,
                     mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``query [B, T, d]`` attends to keys and values already cut into heads, ``[B, h, S, d/h]``."""
        B, T, S = query.size(0), query.size(1), k.size(2)
        q = self._heads(self.W_q(query)).reshape(B * self.heads, T, self.d_head)   # heads into the batch
        k, v = k.reshape(B * self.heads, S, self.d_head), v.reshape(B * self.heads, S, self.d_head)
        if mask is not None:
            mask = mask.repeat_interleave(self.heads, dim=0)  # [B·h, S] or [B·h, T, S]
        context, weights = attend(q, k, v, mask, self.score)  # [B·h, T, d/h], [B·h, T, S]
        context = context.view(B, self.heads, T, self.d_head).transpose(1, 2).reshape(B, T, -1)  # heads side by side
        return self.W_o(context), weights.view(B, self.heads, T, S)


def sinusoidal_positions(length: int, d_model: int) -> Tensor:
    """$PE_{(p, 2i)} = \\sin(p / 10000^{2i/d})$, $PE_{(p, 2i+1)} = \\cos(p / 10000^{2i/d})$:
    ``[length, d]``, one row per position, added to the word embeddings.

    Taught in notebook 07.
    """
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
    """Word embedding plus sinusoidal position (``positions=False`` leaves the positions out).

    ``scale=True`` multiplies the word vectors by $\\sqrt{d}$ first, as Vaswani et al. do (§3.4: "we
    multiply those weights by $\\sqrt{d_{model}}$"); the paper gives no reason. A common reading: an
    embedding matrix shared with the output layer starts small (entries of about $1/\\sqrt{d}$), and
    the factor brings the words up to the scale of the positions. ``nn.Embedding`` starts at
    N(0, 1), already that scale, so the series leaves it off unless asked (notebook 07 measures it)."""

    def __init__(self, vocab_size: int, d_model: int, dropout: float = 0.0, pad_id: int = 0, positions: bool = True,
                 scale: bool = False):
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.positions = positions
        self.scale = math.sqrt(d_model) if scale else 1.0
        self.dropout = nn.Dropout(dropout)

    def forward(self, ids: Tensor, start: int = 0) -> Tensor:
        """``ids [B, L]`` at positions ``start … start + L - 1`` (a cached decoding step feeds one
        word at position ``start``) → ``[B, L, d]``."""
        x = self.tokens(ids) * self.scale                                     # [B, L, d]
        if self.positions:
            pe = sinusoidal_positions(start + ids.size(1), x.size(-1))[start:]  # same for every sentence
            x = x + pe.to(x.device)
        return self.dropout(x)


def feed_forward(d_model: int, ff_size: int, dropout: float) -> nn.Sequential:
    """The position-wise feed-forward layer: ``Linear(d, ff) → ReLU → Linear(ff, d)`` on each word
    alone, the same weights at every position. It transforms what attention gathered: attention's
    output is a weighted average of value vectors, linear in the values once the weights are fixed
    (the weights themselves are a softmax of the inputs)."""
    return nn.Sequential(nn.Linear(d_model, ff_size), nn.ReLU(), nn.Dropout(dropout), nn.Linear(ff_size, d_model))


class Residual(nn.Module):
    """A sub-layer's residual connection and its LayerNorm: ``x + f(LayerNorm(x))`` (pre-norm) or
    ``LayerNorm(x + f(x))`` (post-norm). ``f`` is called on the sub-layer's input — for attention,
    what its queries, keys and values are computed from — and returns ``(output, extra)``."""

    def __init__(self, d_model: int, dropout: float, norm: str):
        super().__init__()
        if norm not in ("pre", "post"):
            raise ValueError(f"norm must be 'pre' or 'post', got {norm!r}")
        self.pre = norm == "pre"
        self.norm = nn.LayerNorm(d_model)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, f) -> tuple[Tensor, object]:
        if self.pre:
            out, extra = f(self.norm(x))
            return x + self.dropout(out), extra
        out, extra = f(x)
        return self.norm(x + self.dropout(out)), extra


class EncoderLayer(nn.Module):
    """Self-attention over the source, then the feed-forward layer; each in a :class:`Residual`.

    Taught in notebook 07.
    """

    def __init__(self, d_model: int, heads: int, ff_size: int, dropout: float = 0.0, norm: str = "pre"):
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, heads)
        self.feed_forward = feed_forward(d_model, ff_size, dropout)
        self.residual1, self.residual2 = Residual(d_model, dropout, norm), Residual(d_model, dropout, norm)

    def forward(self, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        """``x [B, S, d]``, ``mask [B, S]`` → ``[B, S, d]`` and self-attention ``[B, h, S, S]``."""
        x, weights = self.residual1(x, lambda h: self.self_attention(h, h, mask))  # queries, keys, values: one sentence
        x, _ = self.residual2(x, lambda h: (self.feed_forward(h), None))
        return x, weights


class DecoderLayer(nn.Module):
    """Causal self-attention over the target so far, cross-attention to the source (notebook 02's
    attention: decoder queries, encoder keys and values), then the feed-forward layer.

    Taught in notebook 07.
    """

    def __init__(self, d_model: int, heads: int, ff_size: int, dropout: float = 0.0, norm: str = "pre"):
        super().__init__()
        self.self_attention = MultiHeadAttention(d_model, heads)
        self.cross_attention = MultiHeadAttention(d_model, heads)
        self.feed_forward = feed_forward(d_model, ff_size, dropout)
        self.residual1, self.residual2, self.residual3 = (Residual(d_model, dropout, norm) for _ in range(3))

    def forward(self, y: Tensor, enc_out: Tensor, causal: Tensor,
                src_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """``y [B, T, d]``, ``enc_out [B, S, d]``, ``causal [B, T, T]``, ``src_mask [B, S]`` →
        ``[B, T, d]``, the self-attention weights ``[B, h, T, T]`` and cross-attention ``[B, h, T, S]``."""
        y, self_weights = self.residual1(y, lambda h: self.self_attention(h, h, causal))
        y, weights = self.residual2(y, lambda h: self.cross_attention(h, enc_out, src_mask))
        y, _ = self.residual3(y, lambda h: (self.feed_forward(h), None))
        return y, self_weights, weights

    def step(self, y: Tensor, cache: "LayerCache", src_mask: Tensor) -> tuple[Tensor, "LayerCache", Tensor]:
        """One new position ``y [B, 1, d]`` with the cache of the earlier ones → ``[B, 1, d]``, the
        cache with this position's keys and values appended, and cross-attention ``[B, h, 1, S]``.

        Self-attention needs no mask: the cache holds only earlier positions (and this one)."""
        def self_attend(h: Tensor) -> tuple[Tensor, LayerCache]:
            k, v = self.self_attention.keys_values(h)                              # [B, h, 1, d/h] each
            grown = LayerCache(torch.cat([cache.k, k], dim=2), torch.cat([cache.v, v], dim=2),
                               cache.cross_k, cache.cross_v)                       # [B, h, t + 1, d/h]
            return self.self_attention.attend_heads(h, grown.k, grown.v)[0], grown

        y, cache = self.residual1(y, self_attend)
        y, weights = self.residual2(y, lambda h: self.cross_attention.attend_heads(h, cache.cross_k, cache.cross_v,
                                                                                   src_mask))
        y, _ = self.residual3(y, lambda h: (self.feed_forward(h), None))
        return y, cache, weights


class TransformerEncoder(nn.Module):
    """Embedding with positions, ``layers`` encoder layers, a final LayerNorm (pre-norm only: with
    post-norm every layer already ends in one)."""

    def __init__(self, vocab_size: int, d_model: int, heads: int, ff_size: int, layers: int,
                 dropout: float = 0.0, pad_id: int = 0, norm: str = "pre", scale_embeddings: bool = False):
        super().__init__()
        self.embedding = Embedding(vocab_size, d_model, dropout, pad_id, scale=scale_embeddings)
        self.layers = nn.ModuleList(EncoderLayer(d_model, heads, ff_size, dropout, norm) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()

    def forward(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, None]:
        """``src [B, S]``, ``src_mask [B, S]`` → ``enc_out [B, S, d]`` (zeros at padding) and
        ``None``: no recurrent state."""
        enc_out, _ = self.run(src, src_mask)
        return enc_out, None

    def run(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """:meth:`forward` plus every layer's and head's self-attention ``[B, layers, h, S, S]``."""
        x, maps = self.embedding(src), []
        for layer in self.layers:                      # every position at once: no recurrence
            x, weights = layer(x, src_mask)
            maps.append(weights)
        return self.norm(x) * src_mask.unsqueeze(-1), torch.stack(maps, dim=1)


@dataclass
class LayerCache:
    """One decoder layer's cache: the self-attention keys and values of the positions fed so far
    (``[B, h, t, d/h]``, growing by one per step) and the cross-attention keys and values of the
    source (``[B, h, S, d/h]``, computed once)."""

    k: Tensor
    v: Tensor
    cross_k: Tensor
    cross_v: Tensor

    def select(self, index: Tensor) -> "LayerCache":
        return LayerCache(*(t.index_select(0, index) for t in (self.k, self.v, self.cross_k, self.cross_v)))


@dataclass
class KVCache:
    """The cached decoder's state: one :class:`LayerCache` per layer and the number of words fed."""

    layers: list[LayerCache]
    length: int


class TransformerDecoder(nn.Module):
    """``layers`` decoder layers between an embedding with positions and the output layer.

    Free-running decoding comes in two forms with the same results (a test checks every step):

    * cached (``kv_cache = True``, the default): the state is a :class:`KVCache`, and each
      :meth:`step` runs the layers on the one new position — O(t) attention work at step t;
    * uncached (``kv_cache = False``): the state is the prefix of words fed so far ``[B, t]``, and
      each step re-runs the decoder over the whole prefix (:meth:`step_uncached`) — O(t²) in all
      positions' work. Simple and exact; the causal mask makes every earlier position's result the
      same as before, which is what makes the cache exact.

    The attention map it returns (for translations, plots and AER) is the cross-attention averaged
    over the heads of the last layer, or the one head set by :meth:`showing_head`.

    Taught in notebook 07.
    """

    has_attention = True
    parallel_teacher_forcing = True

    def __init__(self, vocab_size: int, d_model: int, heads: int, ff_size: int, layers: int,
                 dropout: float = 0.0, pad_id: int = 0, norm: str = "pre", scale_embeddings: bool = False,
                 tie_embeddings: bool = False):
        super().__init__()
        self.embedding = Embedding(vocab_size, d_model, dropout, pad_id, scale=scale_embeddings)
        self.layers = nn.ModuleList(DecoderLayer(d_model, heads, ff_size, dropout, norm) for _ in range(layers))
        self.norm = nn.LayerNorm(d_model) if norm == "pre" else nn.Identity()
        self.out = nn.Linear(d_model, vocab_size)
        if tie_embeddings:              # one [V, d] matrix reads words in and scores them out
            self.out.weight = self.embedding.tokens.weight
        self.attention_head: tuple[int, int] | None = None
        self.kv_cache = True

    def run(self, tgt_in: Tensor, enc_out: Tensor, src_mask: Tensor,
            self_maps: bool = False) -> tuple[Tensor, ...]:
        """``tgt_in [B, T]`` → ``logits [B, T, V]`` and every layer's and head's cross-attention
        ``[B, layers, h, T, S]`` (and, with ``self_maps``, self-attention ``[B, layers, h, T, T]``)."""
        B, T = tgt_in.shape
        causal = causal_mask(T, tgt_in.device)[None].expand(B, T, T)   # [B, T, T]
        y = self.embedding(tgt_in)                                      # [B, T, d]
        maps, selfs = [], []
        for layer in self.layers:
            y, self_weights, weights = layer(y, enc_out, causal, src_mask)
            maps.append(weights)
            selfs.append(self_weights)
        logits, maps = self.out(self.norm(y)), torch.stack(maps, dim=1)
        return (logits, maps, torch.stack(selfs, dim=1)) if self_maps else (logits, maps)

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

    def init_state(self, enc_summary: None, enc_out: Tensor) -> KVCache | Tensor:
        """No words yet: an empty cache holding the source's cross-attention keys and values (or,
        uncached, an empty prefix ``[B, 0]``)."""
        if not self.kv_cache:
            return torch.zeros(enc_out.size(0), 0, dtype=torch.long, device=enc_out.device)
        layers = []
        for layer in self.layers:
            cross_k, cross_v = layer.cross_attention.keys_values(enc_out)    # [B, h, S, d/h], once per sentence
            empty = cross_k[:, :, :0]                                        # [B, h, 0, d/h]
            layers.append(LayerCache(empty, empty, cross_k, cross_v))
        return KVCache(layers, 0)

    def forward_teacher(self, tgt_in: Tensor, state: KVCache | Tensor, enc_out: Tensor,
                        src_mask: Tensor) -> tuple[Tensor, Tensor]:
        """``tgt_in [B, T]`` → ``logits [B, T, V]``, ``weights [B, T, S]``: all positions in one call."""
        logits, maps = self.run(tgt_in, enc_out, src_mask)
        return logits, self._shown(maps)

    def step(self, y_prev: Tensor, state: KVCache | Tensor, enc_out: Tensor,
             src_mask: Tensor) -> tuple[Tensor, KVCache | Tensor, Tensor]:
        """``y_prev [B]`` → ``logits [B, V]``, the state with this word added, ``weights [B, S]``."""
        if not isinstance(state, KVCache):
            return self.step_uncached(y_prev, state, enc_out, src_mask)
        y = self.embedding(y_prev[:, None], start=state.length)        # [B, 1, d]: the new word at its position
        caches, maps = [], []
        for layer, cache in zip(self.layers, state.layers, strict=True):
            y, cache, weights = layer.step(y, cache, src_mask)
            caches.append(cache)
            maps.append(weights)
        logits = self.out(self.norm(y))[:, 0]                          # [B, V]
        return logits, KVCache(caches, state.length + 1), self._shown(torch.stack(maps, dim=1))[:, -1]

    def step_uncached(self, y_prev: Tensor, prefix: Tensor, enc_out: Tensor,
                      src_mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The step without a cache: ``y_prev [B]`` appended to ``prefix [B, t]``, the whole
        decoder re-run over the ``t + 1`` words, the last position's prediction kept."""
        prefix = torch.cat([prefix, y_prev[:, None]], dim=1)           # [B, t + 1]
        logits, maps = self.run(prefix, enc_out, src_mask)
        return logits[:, -1], prefix, self._shown(maps)[:, -1]

    @staticmethod
    def reorder_state(state: KVCache | Tensor, index: Tensor) -> KVCache | Tensor:
        """The caches (or prefixes) of the sentences or beams ``index`` — used by beam search."""
        if isinstance(state, KVCache):
            return KVCache([cache.select(index) for cache in state.layers], state.length)
        return state.index_select(0, index)
