"""The model contract: what every encoder and decoder of the series offers, and ``Seq2Seq``.

Training (:func:`utils.train.fit`), search (:mod:`utils.search`), the attention studies and the
checkpoints use a model only through the methods below, so a new decoder (an LSTM, say, or the
Transformer with a key/value cache) plugs into all of them by offering these and nothing more.
``tests/test_contract.py`` runs every decoder the series has through the contract.

Shapes are batch-first: ``src [B, S]``, ``src_mask [B, S]`` (True at real tokens, built once by
:func:`utils.batching.collate`), ``tgt_in [B, T]`` (the gold target from ``<sos>``), ``V`` a
vocabulary size.
"""
from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn as nn
from torch import Tensor

from utils.provenance import TrainedWith


@runtime_checkable
class Encoder(Protocol):
    """Reads the whole source at once."""

    def __call__(self, src: Tensor, src_mask: Tensor) -> tuple[Tensor, Any]:
        """``src [B, S]``, ``src_mask [B, S]`` → ``enc_out [B, S, H]`` (zeros at padding) and a
        summary of the sentence for the decoder's first state (an RNN's final state ``[1, B, H]``;
        ``None`` for the Transformer, which has none)."""
        ...


@runtime_checkable
class Decoder(Protocol):
    """Writes the target one word at a time (``step``) or all at once under teacher forcing.

    ``State`` is whatever the decoder carries from one step to the next — an RNN state, or the
    Transformer's cache of keys and values. Search treats it as opaque: it only passes it back to
    ``step`` and reorders it with ``reorder_state``.
    """

    has_attention: bool             # step and forward_teacher return attention weights (else None)
    parallel_teacher_forcing: bool  # forward_teacher runs the whole target in one call (else a step loop)

    def init_state(self, enc_summary: Any, enc_out: Tensor) -> Any:
        """The state before the first word, from the encoder's two outputs."""
        ...

    def step(self, y_prev: Tensor, state: Any, enc_out: Tensor,
             src_mask: Tensor) -> tuple[Tensor, Any, Tensor | None]:
        """``y_prev [B]`` (the previous word) → ``logits [B, V]``, the new state and the attention
        weights ``[B, S]`` (``None`` without attention)."""
        ...

    def forward_teacher(self, tgt_in: Tensor, state: Any, enc_out: Tensor,
                        src_mask: Tensor) -> tuple[Tensor, Tensor | None]:
        """``tgt_in [B, T]`` → ``logits [B, T, V]`` and weights ``[B, T, S]`` (or ``None``): the
        same numbers as ``T`` calls of ``step`` fed the gold words."""
        ...

    def reorder_state(self, state: Any, index: Tensor) -> Any:
        """The states of the sentences (or beams) ``index [B']`` — beam search keeps the best."""
        ...


def teacher_forced_loop(decoder: Decoder, tgt_in: Tensor, state: Any, enc_out: Tensor, src_mask: Tensor,
                        teacher_forcing: float = 1.0) -> tuple[Tensor, Tensor | None]:
    """Run ``decoder`` one step at a time over ``tgt_in [batch, T]`` (from ``<sos>``).

    Step ``t + 1`` is fed the gold word ``tgt_in[:, t + 1]`` with probability ``teacher_forcing``
    (drawn per sentence and step), otherwise the model's own most likely word from step ``t``;
    1.0 is plain teacher forcing, 0.0 runs free. Returns ``logits [batch, T, V]`` and
    ``weights [batch, T, S]`` (None for a decoder without attention).

    Taught in notebook 04.
    """
    logits, weights = [], []
    y_prev = tgt_in[:, 0]                                                # <sos>: [batch]
    for t in range(tgt_in.size(1)):
        step_logits, state, step_weights = decoder.step(y_prev, state, enc_out, src_mask)
        logits.append(step_logits)                                       # [batch, V]
        weights.append(step_weights)                                     # [batch, S] or None
        if t + 1 < tgt_in.size(1):
            y_prev = tgt_in[:, t + 1]                                    # the gold word
            if teacher_forcing < 1.0:
                use_gold = torch.rand(tgt_in.size(0), device=tgt_in.device) < teacher_forcing  # [batch]
                y_prev = torch.where(use_gold, y_prev, step_logits.argmax(-1))
    stacked = torch.stack(weights, dim=1) if weights[0] is not None else None
    return torch.stack(logits, dim=1), stacked


class Seq2Seq(nn.Module):
    """Encoder + decoder. ``forward`` trains with a teacher-forcing ratio in [0, 1].

    ``config`` rebuilds the model (:func:`utils.build.build_model`); ``trained_with`` records the
    vocabularies and sources it was trained with (set by :func:`utils.checkpoints.train_or_load`
    and :func:`utils.checkpoints.load_checkpoint`; ``None`` for a model fresh from ``build_model``),
    which translation checks before it reads a sentence.

    Taught in notebook 04.
    """

    trained_with: TrainedWith | None

    def __init__(self, encoder: Encoder, decoder: Decoder, config: Any = None):
        super().__init__()
        self.encoder, self.decoder, self.config = encoder, decoder, config
        self.trained_with = None

    def forward(self, src: Tensor, src_mask: Tensor, tgt_in: Tensor,
                teacher_forcing: float = 1.0, parallel: bool = True) -> tuple[Tensor, Tensor | None]:
        """Args: ``src [batch, S]``, ``src_mask [batch, S]``, ``tgt_in [batch, T]`` (gold target
        from ``<sos>``, without the final token).

        ``teacher_forcing`` is the probability of feeding the gold previous word (per example and
        step); otherwise the model's own greedy prediction is fed. With 1.0 and ``parallel``,
        decoders that can run the whole target at once do so.

        Returns ``logits [batch, T, V]`` and attention ``[batch, T, S]`` (None for vanilla).
        """
        if not 0.0 <= teacher_forcing <= 1.0:
            raise ValueError(f"teacher_forcing must be in [0, 1], got {teacher_forcing}")
        enc_out, enc_summary = self.encoder(src, src_mask)
        state = self.decoder.init_state(enc_summary, enc_out)
        if teacher_forcing == 1.0 and parallel and self.decoder.parallel_teacher_forcing:
            return self.decoder.forward_teacher(tgt_in, state, enc_out, src_mask)
        return teacher_forced_loop(self.decoder, tgt_in, state, enc_out, src_mask, teacher_forcing)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)
