"""Search: the words a model writes when nobody feeds it the gold ones (notebooks 01, 04 and 06).

:func:`greedy_decode` takes the most likely word at every step, for a batch at once;
:func:`beam_search` keeps the ``beam_size`` best partial translations of one sentence, ranked with
a length penalty (:func:`length_penalty`): the readable reference the notebooks teach.
:func:`batched_beam_search` runs the same search for many sentences at once, every open beam of
every sentence one row of a single decoder batch per step, and returns what :func:`beam_search`
returns for each sentence (``tests/test_batched_beam_search.py`` checks it for every decoder).
All drive any decoder of the model contract (:mod:`utils.seq2seq`) through ``init_state``,
``step`` and (beam search) ``reorder_state``, and return the attention the decoder reported. They
work on ids; :mod:`utils.translate` is the checked API on words.

**Ties.** Where candidates have exactly equal scores, both beam searches keep the one with the
lower index in the flattened ``beams × V`` table, that is the earlier beam (beams are in rank
order) and then the lower word id (:func:`top_candidates`); finished hypotheses of equal score keep
the order in which they finished. So the two searches break ties alike, and a beam of one takes
the first of equally likely words, as ``argmax`` (and so :func:`greedy_decode`) does.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
from torch import Tensor


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
        best, flat = top_candidates(total, min(width, int(torch.isfinite(total).sum())))  # [≤ width], best first
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


def top_candidates(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` highest of ``scores [L]`` (or of each row of ``scores [N, L]``), best first, and
    their indices. Of equal scores the lower index comes first (and wins the last place), so the
    result does not depend on how ``torch.topk`` orders ties."""
    if scores.dim() == 1:
        values, indices = top_candidates(scores[None], k)
        return values[0], indices[0]
    if k == 0:
        return scores[:, :0], scores[:, :0].long()
    values, indices = scores.topk(min(k + 1, scores.size(1)), dim=-1)   # [N, k + 1]: one more, to see ties
    if (values[:, 1:] < values[:, :-1]).all():
        return values[:, :k], indices[:, :k]                             # no tie: topk's answer is the one
    kth = values[:, k - 1:k]                                             # [N, 1] the k-th best score
    above = scores > kth                                                 # [N, L] surely among the k
    tied = scores == kth                                                 # [N, L] the first `need` of them are
    need = k - above.sum(-1, keepdim=True)                               # [N, 1]
    take = above | (tied & (tied.cumsum(-1) <= need))                    # exactly k per row
    indices = take.nonzero()[:, 1].view(-1, k)                           # [N, k] ascending
    values = scores.gather(1, indices)
    order = values.argsort(dim=-1, descending=True, stable=True)         # best first, ties by index
    return values.gather(1, order), indices.gather(1, order)


@torch.no_grad()
def batched_beam_search(model: nn.Module, src: Tensor, src_mask: Tensor, sos_id: int, eos_id: int,
                        max_len: int | Tensor, beam_size: int = 5, alpha: float = 0.6,
                        pad_id: int | None = None) -> list[list[Hypothesis]]:
    """:func:`beam_search` for a batch of sentences at once: ``src [B, S]``, ``src_mask [B, S]``
    (right-padded), ``max_len`` one limit or one per sentence ``[B]``. Returns each sentence's
    finished hypotheses, best first — the same as :func:`beam_search` gives for the sentence alone
    (ties as the module says; floating-point sums can differ in the last bits).

    Every open beam of every sentence is one row of the decoder's batch. Each step, each sentence
    keeps its own ``width`` best extensions of its own beams (``beam_size`` minus its finished
    hypotheses), exactly as :func:`beam_search` does; the surviving rows are gathered — decoder
    state (``reorder_state``), encoder output and source mask alike — so a sentence whose beams have
    all finished leaves the batch, and the search stops when no row is left. The attention of a
    hypothesis covers its sentence's real source positions only (``[len(ids) + 1, length]``).
    """
    if src.dim() != 2 or src_mask.shape != src.shape:
        raise ValueError(f"expected src and src_mask of one shape [batch, S], got {tuple(src.shape)} and "
                         f"{tuple(src_mask.shape)}")
    if src.size(0) == 0:
        raise ValueError("an empty batch: no sentence to translate")
    if isinstance(beam_size, bool) or not isinstance(beam_size, int) or beam_size < 1:
        raise ValueError(f"beam_size must be an integer of at least 1, got {beam_size!r}")
    lengths = src_mask.sum(-1).tolist()                                  # each sentence's real length
    if min(lengths) == 0:
        raise ValueError(f"sentence {lengths.index(0)} of the batch is empty (its mask has no real token)")
    n_sentences, device = src.size(0), src.device
    limits = torch.as_tensor(max_len, device=device)
    if limits.shape not in ((), (n_sentences,)):
        raise ValueError(f"max_len must be one limit or one per sentence ({n_sentences}), got shape "
                         f"{tuple(limits.shape)}")
    limits = limits.expand(n_sentences)                                  # [B]
    if (limits < 1).any():
        raise ValueError("max_len must be at least 1")
    model.eval()
    decoder = model.decoder
    enc_out, enc_summary = model.encoder(src, src_mask)
    state = decoder.init_state(enc_summary, enc_out)                     # one row per sentence: its empty beam
    never = [sos_id] + ([pad_id] if pad_id is not None else [])
    finished: list[list[Hypothesis]] = [[] for _ in range(n_sentences)]
    n_finished = torch.zeros(n_sentences, dtype=torch.long, device=device)
    # The open beams, one row each, grouped by sentence and in rank order within a sentence.
    row_sentence = torch.arange(n_sentences, device=device)             # [rows] whose beam each row is
    row_logp = torch.zeros(n_sentences, device=device)                  # [rows] summed log-probability
    row_ids = torch.zeros(n_sentences, 0, dtype=torch.long, device=device)  # [rows, t] the words so far
    row_att = torch.zeros(n_sentences, 0, src.size(1), device=device)   # [rows, t, S] their attention rows
    y_prev = torch.full((n_sentences,), sos_id, dtype=torch.long, device=device)
    enc_rows, mask_rows = enc_out, src_mask                              # the source of each row
    ranks = torch.arange(beam_size, device=device)
    for t in range(int(limits.max()) + 1):
        # 1. One decoder step for every open beam of every sentence.
        logits, state, weights = decoder.step(y_prev, state, enc_rows, mask_rows)
        logp = torch.log_softmax(logits.float(), dim=-1)                 # [rows, V]
        vocab_size = logp.size(1)
        logp[:, never] = float("-inf")
        at_limit = limits[row_sentence] == t                             # [rows] the limit: <eos> only
        if at_limit.any():
            not_eos = torch.arange(vocab_size, device=device) != eos_id
            logp.masked_fill_(at_limit[:, None] & not_eos, float("-inf"))
        total = row_logp[:, None] + logp                                 # [rows, V]
        # 2. Each beam's `beam_size` best extensions (a sentence's best are among its beams' best).
        row_best, row_word = top_candidates(total, min(beam_size, vocab_size))   # [rows, k], best first
        # 3. Each open sentence's candidates side by side, [sentences, beam_size * k], in the order
        # of beam_search's flat index (beam, then word among equal scores); -inf where a sentence
        # has fewer beams. Its `width` best survive (never an impossible, -inf one).
        sentences, group, counts = torch.unique_consecutive(row_sentence, return_inverse=True,
                                                            return_counts=True)   # [A], [rows], [A]
        first = counts.cumsum(0) - counts                                # [A] each sentence's first row
        slot = torch.arange(len(row_sentence), device=device) - first[group]  # [rows] rank within the sentence
        k = row_best.size(1)
        table = total.new_full((len(sentences) * beam_size, k), float("-inf"))
        table[group * beam_size + slot] = row_best
        best, flat = top_candidates(table.view(len(sentences), beam_size * k), beam_size)  # [A, beam]
        width = beam_size - n_finished[sentences]                        # [A] places left in each beam
        survive = (ranks[None] < width[:, None]) & torch.isfinite(best)  # [A, beam]
        parent = first[:, None] + flat // k                              # [A, beam] the row each extends
        word = row_word[parent.clamp(max=len(row_sentence) - 1), flat % k]  # [A, beam] (clamped: -inf places)
        ends = survive & (word == eos_id)
        keep = survive & (word != eos_id)
        if weights is not None:
            att = torch.cat([row_att, weights[:, None]], dim=1)          # [rows, t + 1, S]
        # 4. The survivors that wrote <eos> are finished: a Hypothesis each, in rank order.
        if ends.any():
            which, rank = ends.nonzero(as_tuple=True)
            rows, done = parent[which, rank], sentences[which]
            n_finished.index_add_(0, done, torch.ones_like(done))
            penalty = length_penalty(t + 1, alpha)                       # every hypothesis ending now has t words
            maps = att[rows].cpu() if weights is not None else None     # [F, t + 1, S]
            for f, (s, ids, value) in enumerate(zip(done.tolist(), row_ids[rows].tolist(),
                                                    best[which, rank].tolist(), strict=True)):
                finished[s].append(Hypothesis(ids, value, value / penalty,
                                              maps[f, :, :lengths[s]] if maps is not None else None))
        # 5. The others are the next step's rows: decoder state, source, words and scores gathered.
        which, rank = keep.nonzero(as_tuple=True)                        # by sentence, then rank
        if len(which) == 0:                                              # no beam left open
            break
        index = parent[which, rank]                                      # [rows'] the row each continues
        state = decoder.reorder_state(state, index)
        y_prev, row_logp = word[which, rank], best[which, rank]
        if not torch.equal(sentences[which], row_sentence):             # (else each row reads the same source)
            row_sentence = sentences[which]
            enc_rows, mask_rows = enc_out.index_select(0, row_sentence), src_mask.index_select(0, row_sentence)
        row_ids = torch.cat([row_ids.index_select(0, index), y_prev[:, None]], dim=1)
        if weights is not None:
            row_att = att.index_select(0, index)
    return [sorted(hyps, key=lambda h: h.score, reverse=True) for hyps in finished]


def default_max_len(src_len: int) -> int:
    """Output length limit: a little longer than the source (English runs ~10% longer here)."""
    return int(src_len * 1.5) + 5
