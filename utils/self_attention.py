"""What a trained Transformer's self-attention heads do, measured over a test set (notebook 07).

One sentence's heatmap shows a pattern; these numbers say how far it goes. For every layer and
head of the encoder (over the source words) and of the decoder (over the English words read so
far, teacher-forced), averaged over every real query word of every test sentence:

* the weight on the words at each offset (:func:`utils.metrics.weight_by_offset`: -1 the word
  before, 0 the word itself, +1 the word after), beside the same share for a head that spreads its
  weight evenly over every word it may see (:func:`utils.metrics.even_spread`, causal for the
  decoder: the baseline a head must clear before it can be said to prefer its neighbours);
* the entropy of its weights in nats (0: all on one word), the measure of how sharp it is, and
  its largest weight (1: all on one word).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from utils.metrics import attention_entropy, even_spread, weight_by_offset
from utils.parallel_data import ParallelData
from utils.seq2seq import Seq2Seq


@dataclass
class SelfAttentionStats:
    """Per side (``"encoder"``, ``"decoder"``): ``share [layers, h, len(offsets)]``, ``even
    [len(offsets)]`` (the even spread's share), ``entropy [layers, h]`` and ``peak [layers, h]``, each
    a mean over the real query words."""

    offsets: tuple[int, ...]
    share: dict[str, Tensor]
    even: dict[str, Tensor]
    entropy: dict[str, Tensor]
    peak: dict[str, Tensor]


@torch.no_grad()
def self_attention_statistics(model: Seq2Seq, data: ParallelData, offsets: Sequence[int] = (-1, 0, 1),
                              split: str = "test") -> SelfAttentionStats:
    """Self-attention of a Transformer ``model`` over ``data.<split>``, teacher-forced (see the module)."""
    model.eval()
    device = next(model.parameters()).device
    pad_id = data.tgt_vocab.pad_id
    sums = {side: {"share": 0.0, "even": 0.0, "entropy": 0.0, "peak": 0.0, "queries": 0}
            for side in ("encoder", "decoder")}
    for _, batch in data.batches(getattr(data, split)):
        batch = batch.to(device)
        enc_out, enc_maps = model.encoder.run(batch.src, batch.src_mask)                 # [B, layers, h, S, S]
        _, _, dec_maps = model.decoder.run(batch.tgt[:, :-1], enc_out, batch.src_mask, self_maps=True)
        read = batch.tgt[:, :-1] != pad_id                                               # the words the decoder reads
        for side, maps, mask in (("encoder", enc_maps, batch.src_mask), ("decoder", dec_maps, read)):
            n = int(mask.sum())
            real = mask[:, None, None, :].float()                                         # [B, 1, 1, L]
            s = sums[side]
            s["share"] = s["share"] + weight_by_offset(maps, mask, offsets) * n
            s["even"] = s["even"] + weight_by_offset(even_spread(mask, causal=side == "decoder"), mask, offsets) * n
            s["entropy"] = s["entropy"] + (attention_entropy(maps) * real).sum(-1).sum(0)  # [layers, h]
            s["peak"] = s["peak"] + (maps.amax(-1) * real).sum(-1).sum(0)
            s["queries"] += n
    return SelfAttentionStats(tuple(offsets), *({side: s[key] / s["queries"] for side, s in sums.items()}
                                                 for key in ("share", "even", "entropy", "peak")))
