"""Search: the words a model writes when nobody feeds it the gold ones (notebooks 01, 04 and 06).

:func:`greedy_decode` takes the most likely word at every step, for a batch at once;
:func:`beam_search` keeps the ``beam_size`` best partial translations of one sentence, ranked with
a length penalty (:func:`length_penalty`). Both drive any decoder of the model contract
(:mod:`utils.seq2seq`) through ``init_state``, ``step`` and (beam search) ``reorder_state``, and
return the attention the decoder reported. They work on ids; :mod:`utils.translate` is the checked
API on words.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn


@torch.no_grad()
def greedy_decode(model: nn.Module, src: torch.Tensor, src_mask: torch.Tensor,
                  sos_id: int, eos_id: int, max_len: int | torch.Tensor,
                  pad_id: int | None = None,
                  forced: torch.Tensor | None = None) -> tuple[list[list[int]], torch.Tensor | None]:
    """Feed the model its own most likely word until ``<eos>`` or ``max_len`` words.

    Args: ``src [batch, S]``, ``src_mask [batch, S]``; ``max_len`` is
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
    enc_out, enc_hidden = model.encoder(src, src_mask)
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


@dataclass
class Hypothesis:
    """One finished beam: token ids (without ``<sos>``/``<eos>``), scores, attention."""

    ids: list[int]
    log_prob: float                  # sum of the log-probabilities of the words and <eos>
    score: float                     # log_prob / length_penalty: what the beams are ranked by
    attention: torch.Tensor | None   # [len(ids) + 1, S] (rows: words then <eos>) or None


def length_penalty(length: int, alpha: float) -> float:
    """Wu et al. (2016): $((5 + |Y|) / 6)^\\alpha$. Dividing a log-probability by it keeps beam
    search from preferring short outputs (every extra word lowers the log-probability); 0 turns
    it off."""
    return ((5 + length) / 6) ** alpha


@torch.no_grad()
def beam_search(model: nn.Module, src: torch.Tensor, src_mask: torch.Tensor,
                sos_id: int, eos_id: int, max_len: int, beam_size: int = 5, alpha: float = 0.6,
                pad_id: int | None = None) -> list[Hypothesis]:
    """Beam search for *one* sentence (``src [1, S]``): keep the ``beam_size`` best partial
    translations at every step instead of the single best.

    A beam ends when it writes ``<eos>``; after ``max_len`` words ``<eos>`` is forced (as in
    :func:`greedy_decode`). The search stops when ``beam_size`` beams have ended. Returns them
    best first by ``log_prob / length_penalty(len + 1, alpha)``. With ``beam_size=1`` the result
    is the greedy translation.

    One step: the open beams (one row each in the decoder's batch) take a decoder step together.
    Each beam's log-probability plus each next word's gives the score of every one-word
    extension (``beams × V`` candidates). The ``width`` best survive, where ``width`` is
    ``beam_size`` minus the beams already finished. A survivor that ends with ``<eos>`` is
    *finished* (a :class:`Hypothesis`, ranked by its length-penalised score at the end); the
    others stay open (``keep``) for the next step. So the beam shrinks by one for every
    hypothesis that finishes, and the search stops when no beam is left open.
    """
    if src.size(0) != 1:
        raise ValueError(f"beam_search translates one sentence at a time, got a batch of {src.size(0)}")
    if beam_size < 1:
        raise ValueError("beam_size must be at least 1")
    if max_len < 1:
        raise ValueError("max_len must be at least 1")
    model.eval()
    decoder = model.decoder
    enc_out, enc_hidden = model.encoder(src, src_mask)
    state = decoder.init_state(enc_hidden, enc_out)                         # one row: the empty beam
    never = [sos_id] + ([pad_id] if pad_id is not None else [])
    # The open beams, one entry each: the words so far, their attention rows, the summed log-probability.
    alive_ids: list[list[int]] = [[]]
    alive_att: list[list[torch.Tensor]] = [[]]
    alive_logp = torch.zeros(1, device=src.device)                          # [beams]
    y_prev = torch.tensor([sos_id], device=src.device)                      # each beam's last word
    finished: list[Hypothesis] = []                                         # the beams that wrote <eos>
    for t in range(max_len + 1):
        # 1. One decoder step for all open beams at once (the source repeated once per beam).
        n = len(alive_ids)
        logits, state, weights = decoder.step(y_prev, state, enc_out.expand(n, -1, -1), src_mask.expand(n, -1))
        logp = torch.log_softmax(logits.float(), dim=-1)                   # [beams, V]
        logp[:, never] = float("-inf")
        if t == max_len:                                                   # the limit: <eos> only
            logp[:, [i for i in range(logp.size(1)) if i != eos_id]] = float("-inf")
        # 2. The score of every one-word extension of every beam; flat index = beam * V + word.
        total = (alive_logp[:, None] + logp).flatten()                     # [beams * V]
        # 3. The `width` best extensions survive (never an impossible, -inf one).
        width = beam_size - len(finished)                                  # places left in the beam
        best, flat = total.topk(min(width, int(torch.isfinite(total).sum())))  # [≤ width], best first
        keep = []                                  # (beam, word, log_prob, attention rows): the new open beams
        for value, index in zip(best.tolist(), flat.tolist(), strict=True):
            beam, word = divmod(index, logp.size(1))
            att = alive_att[beam] + ([weights[beam]] if weights is not None else [])
            if word == eos_id:                     # it ends here: finished, and the beam shrinks by one
                ids = alive_ids[beam]
                finished.append(Hypothesis(ids, value, value / length_penalty(len(ids) + 1, alpha),
                                           torch.stack(att).cpu() if att else None))
            else:
                keep.append((beam, word, value, att))
        if not keep:                               # no beam left open
            break
        # 4. The open beams become the next step's batch: their decoder states, words and scores.
        index = torch.tensor([b for b, _, _, _ in keep], device=src.device)
        state = decoder.reorder_state(state, index)
        alive_ids = [alive_ids[b] + [w] for b, w, _, _ in keep]
        alive_att = [att for _, _, _, att in keep]
        alive_logp = torch.tensor([v for _, _, v, _ in keep], device=src.device)
        y_prev = torch.tensor([w for _, w, _, _ in keep], device=src.device)
    return sorted(finished, key=lambda h: h.score, reverse=True)


def default_max_len(src_len: int) -> int:
    """Output length limit: a little longer than the source (English runs ~10% longer here)."""
    return int(src_len * 1.5) + 5
