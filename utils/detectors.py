"""Detectors: checks you run on your own model, batch or scores to find the classic bugs of a
translation model (notebook 09).

None of them needs a gold answer. Each compares the model (or the loss, or the BLEU function) with
itself under a change that must not matter — padding added, a later word changed, a second run, a
reordered batch — or under one that must matter: another source sentence. Each returns a
:class:`Finding`: ``bug`` is True when the property it tests does not hold.

The model detectors take a model of the series' contract (:mod:`utils.seq2seq`: ``model(src,
src_mask, tgt_in)``, ``model.encoder``, ``model.decoder.step`` …) and a padded
:class:`utils.batching.Batch`; :func:`check_model` runs them all. Shapes: ``src [B, S]``,
``tgt [B, T + 1]`` (``<sos>`` … ``<eos>``), logits ``[B, T, V]``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from utils.batching import Batch
from utils.search import greedy_decode
from utils.subwords import MARK
from utils.text import EOS, PAD, SOS, SPECIALS, normalize

PAD_ID, SOS_ID, EOS_ID = SPECIALS.index(PAD), SPECIALS.index(SOS), SPECIALS.index(EOS)  # every Vocab of the series
TrainingStep = Callable[[torch.nn.Module, Batch], tuple[Tensor, Tensor]]


@dataclass
class Finding:
    """What one detector found: ``claim`` is what a correct model does, ``bug`` whether it failed."""

    detector: str
    claim: str
    bug: bool
    evidence: str

    def __str__(self) -> str:
        return f"{'BUG' if self.bug else 'ok '}  {self.detector}: {self.claim}  ({self.evidence})"


def teacher_forced(model: torch.nn.Module, batch: Batch) -> tuple[Tensor, Tensor]:
    """The series' training step without its loss (:func:`utils.train.fit`): the decoder reads
    ``tgt[:, :-1]`` and predicts ``tgt[:, 1:]``. Returns ``logits [B, T, V]`` and the targets ``[B, T]``."""
    logits, _ = model(batch.src, batch.src_mask, batch.tgt[:, :-1])
    return logits, batch.tgt[:, 1:]


def _largest_change(a: Tensor, b: Tensor, where: Tensor) -> float:
    """The largest ``|a − b|`` over the positions ``where [B, T]`` (logits ``[B, T, V]``)."""
    return float((a - b).abs().amax(-1)[where].max()) if where.any() else 0.0


@torch.no_grad()
def padding_invariance(model: torch.nn.Module, batch: Batch, extra: int = 4, pad_id: int = PAD_ID,
                       tolerance: float = 1e-4) -> Finding:
    """Append ``extra`` ``<pad>`` to every source (the mask says so) and compare the predictions.

    Padding only fills a batch: it must change nothing. It does when the encoder's final state is
    read at a padded position, or when attention is not masked over padding — and then a sentence's
    translation depends on the batch it is in (and BLEU on the batch size)."""
    model.eval()
    logits, targets = teacher_forced(model, batch)
    src = F.pad(batch.src, (0, extra), value=pad_id)                       # [B, S + extra]
    mask = F.pad(batch.src_mask, (0, extra), value=False)
    padded, _ = teacher_forced(model, replace(batch, src=src, src_mask=mask))
    change = _largest_change(logits, padded, targets != pad_id)
    return Finding("padding_invariance", f"{extra} more <pad> in every source change no prediction",
                   change > tolerance, f"largest change of a logit {change:.1e}, tolerance {tolerance:g}")


def loss_ignores_padding(loss_fn: Callable[[Tensor, Tensor], Tensor], vocab_size: int, pad_id: int = PAD_ID,
                         extra: int = 3, tolerance: float = 1e-6) -> Finding:
    """``loss_fn(logits [B, T, V], targets [B, T])`` on random logits and targets, then on the same
    with ``extra`` more ``<pad>`` positions (random logits there): the loss must not move.

    A loss that counts padding (``F.cross_entropy`` without ``ignore_index``) grades the model on
    predicting ``<pad>`` after the sentence: an easy task that pulls the reported loss down and
    makes it depend on how much padding the batch has."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(4, 6, vocab_size, generator=generator)
    targets = torch.randint(len(SPECIALS), vocab_size, (4, 6), generator=generator)
    targets[1, 4:] = targets[2, 3:] = pad_id                              # sentences of different lengths
    more = torch.randn(4, extra, vocab_size, generator=generator)
    padded_targets = torch.cat([targets, torch.full((4, extra), pad_id)], dim=1)
    with torch.no_grad():
        loss, padded = float(loss_fn(logits, targets)), float(loss_fn(torch.cat([logits, more], 1), padded_targets))
    change = abs(padded - loss) / max(abs(loss), 1e-12)
    return Finding("loss_ignores_padding", f"{extra} more <pad> in the targets leave the loss unchanged",
                   change > tolerance, f"loss {loss:.4f} → {padded:.4f} with the extra padding")


@torch.no_grad()
def future_leak(model: torch.nn.Module, batch: Batch, training_step: TrainingStep = teacher_forced,
                positions: int = 6, tolerance: float = 1e-5) -> Finding:
    """Change one word of the target sentence at a time and see which predictions move.

    The prediction of a word may depend on the words before it, never on that word itself or a
    later one: if it does, training can copy the answer (a decoder without a causal mask, targets
    not shifted against the decoder's input): the loss falls far below a correct model's and
    translation, which has no answer to copy, is nonsense. ``training_step(model, batch) →
    (logits, targets)`` is how your training computes them (default: the series',
    :func:`teacher_forced`); the changed target position is found by comparing the targets, so
    any convention works. ``positions`` target words are tried, spread over the sentence."""
    model.eval()
    logits, targets = training_step(model, batch)
    vocab_size = logits.size(-1)
    worst, tried = 0.0, 0
    for p in torch.linspace(1, batch.tgt.size(1) - 1, positions).round().long().unique().tolist():
        word = batch.tgt[:, p]
        rows = word != PAD_ID                                              # sentences that have a word there
        changed_tgt = batch.tgt.clone()
        changed_tgt[:, p] = torch.where(word < vocab_size - 1, word + 1, word - 1)   # another word
        changed_logits, changed_targets = training_step(model, replace(batch, tgt=changed_tgt))
        moved = (changed_targets != targets) & rows[:, None]               # [B, T]: where the changed word is a target
        if not moved.any():
            continue
        first = moved.float().argmax(1)                                    # [B]: its (first) target position
        target_positions = torch.arange(targets.size(1), device=targets.device)
        at_or_before = (target_positions[None, :] <= first[:, None]) & moved.any(1, keepdim=True)  # [B, T]
        worst = max(worst, _largest_change(logits, changed_logits, at_or_before))
        tried += 1
    if tried == 0:
        raise ValueError("changing the target words never changed the training step's targets: "
                         "does training_step return the targets it computes the loss against?")
    return Finding("future_leak", "no prediction changes with the word it predicts or a later word",
                   worst > tolerance, f"largest change of such a prediction {worst:.1e} over {tried} "
                   f"changed positions, tolerance {tolerance:g}")


@torch.no_grad()
def source_matters(model: torch.nn.Module, batch: Batch, tolerance: float = 1e-4) -> Finding:
    """Give every sentence of the batch another one's source (the batch rolled by one) and keep its
    target: the predictions must change. A decoder that never receives the encoder's output (its
    state started from zeros, ``hidden=None``) writes the same sentence for every input."""
    if len(batch) < 2:
        raise ValueError("source_matters needs a batch of at least two sentences to swap their sources")
    model.eval()
    logits, targets = teacher_forced(model, batch)
    swapped = replace(batch, src=batch.src.roll(1, 0), src_mask=batch.src_mask.roll(1, 0),
                      src_lengths=batch.src_lengths.roll(1, 0))
    other, _ = teacher_forced(model, swapped)
    real = targets != PAD_ID
    change = _largest_change(logits, other, real)
    words = float((logits.argmax(-1) != other.argmax(-1))[real].float().mean())
    return Finding("source_matters", "the predictions change when the source sentence changes",
                   change <= tolerance, f"largest change of a logit {change:.1e}; {words:.0%} of the "
                   "predicted words changed")


def repeatable(decode: Callable[[], object]) -> Finding:
    """Call ``decode()`` twice and compare what it returns (lists of ids or words, or tensors).

    Translation in eval mode is deterministic. Two runs that differ mean something random is still
    on: dropout, because ``model.eval()`` was forgotten (or a functional ``F.dropout`` ignores it)."""
    first, second = decode(), decode()
    if isinstance(first, Tensor):
        differ = int((first != second).reshape(first.size(0), -1).any(1).sum()) if first.shape == second.shape \
            else first.size(0)
        total = first.size(0)
    else:
        first, second = list(first), list(second)
        differ, total = sum(a != b for a, b in zip(first, second, strict=True)), len(first)
    return Finding("repeatable", "two decodes of the same sentences agree", differ > 0,
                   f"{differ} of {total} outputs differ")


@torch.no_grad()
def steps_match_whole(model: torch.nn.Module, batch: Batch, tolerance: float = 1e-4) -> Finding:
    """Decode the gold target one word at a time, as translation does (``decoder.step``, with the
    Transformer's key/value cache), and compare with the whole-sentence pass of training. Cached
    and uncached decoding must agree: a cache that stores the wrong keys, or a mask that is wrong
    only on the cached path, breaks this."""
    model.eval()
    logits, targets = teacher_forced(model, batch)
    enc_out, summary = model.encoder(batch.src, batch.src_mask)
    state, steps = model.decoder.init_state(summary, enc_out), []
    for t in range(targets.size(1)):
        step_logits, state, _ = model.decoder.step(batch.tgt[:, t], state, enc_out, batch.src_mask)
        steps.append(step_logits)
    change = _largest_change(logits, torch.stack(steps, 1), targets != PAD_ID)
    return Finding("steps_match_whole", "decoding word by word gives the logits of the whole-sentence pass",
                   change > tolerance, f"largest difference {change:.1e}, tolerance {tolerance:g}")


@torch.no_grad()
def reorder_consistent(model: torch.nn.Module, batch: Batch, steps: int = 3, tolerance: float = 1e-4) -> Finding:
    """Beam search moves each partial translation to a new row (``decoder.reorder_state``). After a
    reorder, row ``i`` must continue exactly the sentence it was given, as if nothing had moved: a
    key/value cache that keeps a row's old entries (a stale cache) fails this."""
    if len(batch) < 2:
        raise ValueError("reorder_consistent needs a batch of at least two sentences to reorder")
    model.eval()
    decoder = model.decoder
    enc_out, summary = model.encoder(batch.src, batch.src_mask)
    state = decoder.init_state(summary, enc_out)
    steps = min(steps, batch.tgt.size(1) - 2)                               # words fed before the reorder
    for t in range(steps):
        _, state, _ = decoder.step(batch.tgt[:, t], state, enc_out, batch.src_mask)
    index = torch.arange(len(batch) - 1, -1, -1, device=batch.src.device)  # the rows, last first
    expected, _, _ = decoder.step(batch.tgt[:, steps], state, enc_out, batch.src_mask)
    moved, _, _ = decoder.step(batch.tgt[index, steps], decoder.reorder_state(state, index), enc_out[index],
                               batch.src_mask[index])
    real = (batch.tgt[index, steps] != PAD_ID)[:, None]                     # [B, 1]
    change = _largest_change(expected[index][:, None], moved[:, None], real)
    return Finding("reorder_consistent", "after reorder_state each row continues the sentence it was given",
                   change > tolerance, f"largest difference {change:.1e}, tolerance {tolerance:g}")


def bleu_sanity(bleu: Callable[[list, list], float], references: Sequence[Sequence[str]]) -> Finding:
    """``bleu(hypotheses, references)`` (lists of token lists) on two cases whose answer is known.

    The references against themselves score 100 (not 1.0: BLEU is on 0–100 here). As hypotheses,
    the first third of each reference has every n-gram right and is too short, so BLEU is exactly
    its brevity penalty, $100 \\cdot e^{1 - r/c}$ ($r$, $c$: reference and hypothesis words); with
    the arguments swapped it is not (the precisions fall to about a third, the penalty goes)."""
    references = [list(r) for r in references]
    if not any(len(r) >= 12 for r in references):
        raise ValueError("bleu_sanity needs a reference of 12 words or more (its first third has a 4-gram)")
    thirds = [r[: max(1, len(r) // 3)] for r in references]
    identical = float(bleu(references, references))
    expected = 100 * math.exp(1 - sum(map(len, references)) / sum(map(len, thirds)))
    third = float(bleu(thirds, references))
    bug = abs(identical - 100) > 0.01 or abs(third - expected) > 0.1
    return Finding("bleu_sanity", "references score 100 against themselves; a third of each scores its brevity "
                   "penalty", bug, f"{identical:.2f} and {third:.2f}; expected 100 and {expected:.2f}")


def words_not_pieces(sentences: Sequence[Sequence[object]], marker: str = MARK) -> Finding:
    """The tokens BLEU is about to read: words, not subword pieces (sentencepiece's ``▁``, BPE's
    ``@@``), ids or ``<pad>``/``<sos>``/``<eos>``. BLEU on pieces counts half-right words as
    matches and is not comparable with BLEU on words."""
    bad = [t for s in sentences for t in s
           if not isinstance(t, str) or t.startswith(marker) or t.endswith("@@") or t in (PAD, SOS, EOS)]
    total = sum(len(s) for s in sentences)
    example = f", e.g. {bad[0]!r}" if bad else ""
    return Finding("words_not_pieces", "BLEU reads words: no pieces, ids or <pad>/<sos>/<eos>", bool(bad),
                   f"{len(bad)} of {total} tokens are not words{example}")


def split_leak(train: Sequence[tuple[str, str]], test: Sequence[tuple[str, str]]) -> Finding:
    """``(source, target)`` sentence pairs of two splits: no test sentence, on either side, may
    appear in training (compared after :func:`utils.text.normalize`). Tatoeba translates one
    sentence several ways; a random split of *pairs* puts one translation in training and another
    in the test set, and BLEU then rewards memory (notebook 06, :func:`utils.data.split_by_sentence`)."""
    seen = [{normalize(pair[side]) for pair in train} for side in (0, 1)]
    found = [sum(normalize(pair[side]) in seen[side] for pair in test) for side in (0, 1)]
    return Finding("split_leak", "no test sentence, source or target, appears in training", sum(found) > 0,
                   f"{found[0]} of {len(test)} test sources and {found[1]} test targets appear in training")


def check_model(model: torch.nn.Module, batch: Batch) -> list[Finding]:
    """Every model detector on ``model`` and ``batch`` (at least two sentences of different
    lengths): padding, future leak, source, repeatability of greedy decoding, word-by-word decoding
    and reordering."""
    limit = batch.src.size(1) + 5

    def decode():
        return greedy_decode(model, batch.src, batch.src_mask, SOS_ID, EOS_ID, limit)[0]

    return [padding_invariance(model, batch), future_leak(model, batch), source_matters(model, batch),
            repeatable(decode), steps_match_whole(model, batch), reorder_consistent(model, batch)]
