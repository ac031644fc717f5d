"""Why the Transformer scales, measured on one layer (notebook 07): the cost of a recurrent layer and
of a self-attention layer, counted, and their time on this machine, measured by sentence length.

Vaswani et al.'s Table 1 (and d2l's section 11.6) compare one layer of each kind over ``n`` words of
width ``d``: a GRU layer costs $6nd^2$ multiply-adds (three gates, each a $d \\times d$ product of
the input and one of the state) and needs ``n`` steps one after the other; self-attention costs
$4nd^2 + 2n^2d$ and has no step that waits for another. What that buys depends on the hardware:
:func:`forward_backward_ms` times it.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor
from torch.utils.flop_counter import FlopCounterMode

from utils.timing import time_interleaved


def multiply_adds(run: Callable[[], Any]) -> dict[str, int]:
    """The multiply-adds of one call of ``run``, by PyTorch operation (``"aten.addmm"``: the linear
    layers' products; ``"aten.bmm"``: attention's scores and weighted sums), counted by
    ``torch.utils.flop_counter`` (one multiply-add = 2 FLOPs)."""
    with FlopCounterMode(display=False) as counter:
        run()
    return {str(op): count // 2 for op, count in counter.get_flop_counts()["Global"].items()}


def forward_backward_ms(layers: dict[str, Callable[[Tensor], Tensor]], lengths: Sequence[int], d: int,
                        batch: int = 16, repeats: int = 5, seed: int = 0) -> dict[str, list[float]]:
    """Milliseconds of one forward and backward pass of each layer (``x [batch, n, d]`` → ``[batch, n, d]``)
    on random sentences of each length ``n``: for each length, the layers run interleaved, after
    one untimed round, and each one's median of ``repeats`` is kept (:func:`utils.timing.time_interleaved`).
    Returns ``{name: [ms at each length]}``. Numbers to print, never to assert."""
    generator = torch.Generator().manual_seed(seed)
    times: dict[str, list[float]] = {name: [] for name in layers}
    for n in lengths:
        x = torch.randn(batch, n, d, generator=generator).requires_grad_()

        def forward_backward(layer):
            return lambda: layer(x).sum().backward()

        seconds, _ = time_interleaved({name: forward_backward(layer) for name, layer in layers.items()},
                                      repeats=repeats, warmup=True)
        for name in layers:
            times[name].append(1000 * seconds[name])
    return times
