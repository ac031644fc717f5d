"""Decoding: batched greedy search and a safe ``translate`` for single sentences."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from utils.data import collate
from utils.text import Vocab, tokenize


@torch.no_grad()
def greedy_decode(model: nn.Module, src: torch.Tensor, src_lengths: torch.Tensor, src_mask: torch.Tensor,
                  sos_id: int, eos_id: int, max_len: int | torch.Tensor,
                  pad_id: int | None = None,
                  forced: torch.Tensor | None = None) -> tuple[list[list[int]], torch.Tensor | None]:
    """Feed the model its own most likely word until ``<eos>`` or ``max_len`` words.

    Args: ``src [batch, S]``, ``src_lengths [batch]``, ``src_mask [batch, S]``; ``max_len`` is
    one limit for all sentences or one per sentence ``[batch]``. A sentence that reaches its
    limit gets ``<eos>`` forced at the next step, so every sentence ends with exactly one
    ``<eos>`` step. ``<sos>`` (and ``<pad>`` when ``pad_id`` is given) are never predicted.
    Returns the token ids of each sentence (without ``<sos>``/``<eos>``) and the attention
    ``[batch, steps, S]`` (None for a decoder without attention); sentence ``b`` uses the
    first ``len(ids[b]) + 1`` steps (its words, then ``<eos>``).

    ``forced [batch, P]`` (optional) overrides the model: where ``forced[b, t] >= 0``, sentence
    ``b``'s word at step ``t`` is ``forced[b, t]`` whatever the model predicts, and it is fed
    back as usual (``-1`` leaves the step to the model). Notebook 04 forces a wrong word this
    way to watch what the model does after a mistake.
    """
    limits = torch.as_tensor(max_len, device=src.device).expand(src.size(0))   # [batch]
    if (limits < 1).any():
        raise ValueError("max_len must be at least 1")
    model.eval()
    enc_out, enc_hidden = model.encoder(src, src_lengths)
    state = model.decoder.init_state(enc_hidden, enc_out)
    never = [sos_id] + ([pad_id] if pad_id is not None else [])
    y_prev = torch.full((src.size(0),), sos_id, dtype=torch.long, device=src.device)  # [batch]
    finished = torch.zeros(src.size(0), dtype=torch.bool, device=src.device)          # [batch]
    outputs, weights = [], []
    for t in range(int(limits.max()) + 1):
        logits, state, step_weights = model.decoder.step(y_prev, state, enc_out, src_mask)
        logits[:, never] = float("-inf")
        y_prev = logits.argmax(-1)                    # [batch]
        if forced is not None and t < forced.size(1):
            y_prev = torch.where(forced[:, t] >= 0, forced[:, t], y_prev)
        y_prev = torch.where(limits <= t, torch.full_like(y_prev, eos_id), y_prev)  # limit reached
        outputs.append(torch.where(finished, torch.full_like(y_prev, eos_id), y_prev))
        weights.append(step_weights)
        finished |= y_prev == eos_id
        if finished.all():
            break
    ids = torch.stack(outputs, dim=1).tolist()        # [batch, steps]
    sentences = [row[:row.index(eos_id)] for row in ids]
    attention = torch.stack(weights, dim=1) if weights[0] is not None else None
    return sentences, attention


def default_max_len(src_len: int) -> int:
    """Output length limit: a little longer than the source (English runs ~10% longer here)."""
    return int(src_len * 1.5) + 5


@torch.no_grad()
def translate_tokens(model: nn.Module, sources: list[list[str]], src_vocab: Vocab, tgt_vocab: Vocab,
                     device: torch.device | str | None = None, batch_size: int = 128,
                     reverse_source: bool = False) -> tuple[list[list[str]], list[torch.Tensor | None]]:
    """Greedy translations of tokenised sentences, in input order.

    Returns the output tokens and, per sentence, its attention ``[out_len + 1, src_len + 1]``
    (rows: output words then ``<eos>``; columns: source words then ``<eos>``), or None.
    ``device`` defaults to the model's.
    """
    device = device if device is not None else next(model.parameters()).device
    model.eval()
    hyps: list[list[str]] = [[] for _ in sources]
    attentions: list[torch.Tensor | None] = [None for _ in sources]
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))  # similar lengths together
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        items = []
        for i in idx:
            toks = sources[i][::-1] if reverse_source else sources[i]
            items.append((torch.tensor(src_vocab.encode(toks) + [src_vocab.eos_id]), torch.tensor([0])))
        batch = collate(items, src_vocab.pad_id, 0).to(device)
        limits = torch.tensor([default_max_len(n) for n in batch.src_lengths.tolist()], device=device)
        ids, attn = greedy_decode(model, batch.src, batch.src_lengths, batch.src_mask, tgt_vocab.sos_id,
                                  tgt_vocab.eos_id, limits, pad_id=tgt_vocab.pad_id)
        for row, i in enumerate(idx):
            hyps[i] = tgt_vocab.decode(ids[row])
            if attn is not None:
                attentions[i] = attn[row, : len(ids[row]) + 1, : len(sources[i]) + 1].cpu()
    return hyps, attentions


@dataclass
class Translation:
    """The result of :func:`translate`."""

    source: list[str]
    output: list[str]
    attention: torch.Tensor | None          # [len(output) + 1, len(source) + 1] (with <eos>s)
    unknown: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return " ".join(self.output)


def translate(model: nn.Module, sentence: str, src_vocab: Vocab, tgt_vocab: Vocab,
              device: torch.device | str | None = None, max_src_len: int | None = None,
              reverse_source: bool = False) -> Translation:
    """Translate one French sentence (a string), with clear handling of bad input.

    * an empty sentence raises ``ValueError``;
    * unknown words become ``<unk>`` and are listed in ``.unknown`` and ``.warnings``;
    * a sentence longer than ``max_src_len`` (what the model was trained on) is translated,
      with a warning in ``.warnings`` that quality will drop.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"translate expects a string, got {type(sentence).__name__}")
    tokens = tokenize(sentence, "fr")
    if not tokens:
        raise ValueError("nothing to translate: the sentence is empty")
    notes = []
    unknown = src_vocab.unknown(tokens)
    if unknown:
        notes.append(f"unknown word(s) {unknown} were replaced by <unk>")
    if max_src_len is not None and len(tokens) > max_src_len:
        notes.append(f"{len(tokens)} tokens is longer than the {max_src_len} the model was trained on")
    (output,), (attention,) = translate_tokens(model, [tokens], src_vocab, tgt_vocab, device,
                                               reverse_source=reverse_source)
    return Translation(tokens, output, attention, unknown, notes)
