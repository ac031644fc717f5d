"""Why the Transformer scales, measured on one layer: a recurrent layer against a self-attention
layer (notebook 07, in the spirit of d2l's table of sequential operations, path lengths and cost).

Both layers map ``n`` words, each ``[B, d]``, to ``n`` outputs ``[B, d]``. The recurrent one is the series'
GRU, here written out step by step (:class:`UnrolledGRU`, the same numbers as ``nn.GRU``) so that
its steps are visible in the computation graph; the self-attention one is
:class:`utils.transformer.MultiHeadAttention` with queries, keys and values from the stacked words.
The words go in and the outputs come out one by one, so that each has its own node in the graph
(held in one tensor, all of them would hang on the same node, and every path would find a false
short cut through it).

The graph that autograd records is the layer's computation: each node one operation, each edge
"needs the result of". Two properties of that graph are d2l's first two columns:

* :func:`sequential_operations` — the longest chain of operations that must run one after the
  other (the graph's depth): what no amount of parallel hardware can shorten;
* :func:`path_length` — the operations on the shortest path from input word ``j`` to output
  position ``i``: how far the training signal travels between two words.
"""
from __future__ import annotations

from collections import deque
from typing import Callable, Sequence

import torch
import torch.nn as nn
from torch import Tensor

from utils.transformer import MultiHeadAttention

Layer = Callable[[Sequence[Tensor]], list[Tensor]]


class UnrolledGRU(nn.Module):
    """A GRU layer as a loop over positions: $h_t = \\mathrm{GRUCell}(x_t, h_{t-1})$, $h_0 = 0$.
    Each step needs the one before it. ``words``: ``n`` tensors ``[B, d]`` → the ``n`` states
    $h_1, ..., h_n$, each ``[B, d]``."""

    def __init__(self, d: int):
        super().__init__()
        self.cell = nn.GRUCell(d, d)

    def forward(self, words: Sequence[Tensor]) -> list[Tensor]:
        h, states = words[0].new_zeros(words[0].size(0), self.cell.hidden_size), []
        for x_t in words:                          # one step per word, in order
            h = self.cell(x_t, h)                  # [B, d]
            states.append(h)
        return states


def self_attention_layer(d: int, heads: int) -> Layer:
    """``n`` words ``[B, d]`` → ``n`` outputs ``[B, d]``: every position attends to every position."""
    attention = MultiHeadAttention(d, heads)

    def layer(words: Sequence[Tensor]) -> list[Tensor]:
        x = torch.stack(list(words), dim=1)        # [B, n, d]: one operation that needs every word
        return list(attention(x, x)[0].unbind(1))  # n outputs [B, d], all computed at once
    return layer


def _graph(layer: Layer, n: int, d: int) -> tuple[list[Tensor], list[Tensor]]:
    """The layer run on ``n`` random input words ``[1, d]``: its ``n`` outputs and the words."""
    words = [torch.randn(1, d, requires_grad=True) for _ in range(n)]
    return layer(words), words


def _inputs(node) -> list:
    return [child for child, _ in node.next_functions if child is not None]


def sequential_operations(layer: Layer, n: int, d: int) -> int:
    """The depth of the layer's computation graph on ``n`` words: the longest chain of
    operations of which each needs the previous one's result."""
    outputs, _ = _graph(layer, n, d)
    depth, stack = {}, [(out.grad_fn, False) for out in outputs]
    while stack:                                   # depth-first, children before their parent
        node, ready = stack.pop()
        if node in depth:
            continue
        if ready:
            depth[node] = 1 + max((depth[c] for c in _inputs(node)), default=0)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in _inputs(node) if c not in depth)
    return max(depth[out.grad_fn] for out in outputs)


def path_length(layer: Layer, n: int, d: int, output: int, word: int) -> int:
    """The number of operations on the shortest path from input word ``word`` to output
    position ``output`` (0-based), found by breadth-first search back through the graph."""
    outputs, words = _graph(layer, n, d)
    start = outputs[output].grad_fn
    distance, queue = {start: 0}, deque([start])
    while queue:
        node = queue.popleft()
        if getattr(node, "variable", None) is words[word]:   # reached the word's own input
            return distance[node]
        for child in _inputs(node):
            if child not in distance:
                distance[child] = distance[node] + 1
                queue.append(child)
    raise ValueError(f"output {output} does not depend on word {word}")
