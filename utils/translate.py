"""Translation on words: checked, for single sentences or lists of them (notebooks 05 and 06).

The functions that take vocabularies (:func:`translate`, :func:`translate_tokens`,
:func:`beam_hypotheses`) first check that they are the model's (:mod:`utils.provenance`), and
refuse an empty source sentence: a model always writes *some* sentence, so without a check both
would give a confident translation of nothing. The search itself is :mod:`utils.search`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import torch
import torch.nn as nn

from utils.batching import batched
from utils.provenance import check_vocabularies, trained_with
from utils.search import Hypothesis, batched_beam_search, default_max_len, greedy_decode
from utils.subwords import Subwords, word_attention
from utils.text import Vocab, tokenize


class TranslationWarning(UserWarning):
    """A translation that is probably wrong, and why (the source is longer than any the model was
    trained on, or has no word the model knows). Shown in notebooks like any Python warning; the
    same text is in :attr:`Translation.warnings`."""


def _prepare(model: nn.Module, sources: Sequence[Sequence[str]], src_vocab: Vocab, tgt_vocab: Vocab,
             reverse_source: bool | None) -> bool:
    """Check the inputs of a decoding function; return the source order to use.

    The vocabularies must be the model's; each source a non-empty list of tokens (a string would be
    read as a list of characters). ``reverse_source=None`` means the order the model was trained
    with (its :class:`~utils.provenance.TrainedWith` record), else forward; an explicit order that
    contradicts the record is an error: the model would read every sentence backwards.
    """
    check_vocabularies(model, src_vocab, tgt_vocab)
    if isinstance(sources, str):
        raise TypeError("expected a list of tokenised sentences, got a string; tokenise it first, e.g. "
                        "[tokenize(sentence, lang)], or use translate() for one sentence")
    for i, tokens in enumerate(sources):
        if isinstance(tokens, str) or not all(isinstance(t, str) for t in tokens):
            raise TypeError(f"sources[{i}] must be a list of tokens (strings), got {tokens!r:.60}; "
                            "tokenise sentences with utils.text.tokenize(sentence, lang)")
        if len(tokens) == 0:
            raise ValueError(f"sources[{i}] is empty: nothing to translate (a model always writes some "
                             "sentence, which would be a translation of nothing)")
    record = trained_with(model)
    trained = record.reverse_source if record is not None else None
    if reverse_source is None:
        return bool(trained)
    if trained is not None and reverse_source != trained:
        raise ValueError(f"reverse_source={reverse_source}, but this model was trained on "
                         f"{'reversed' if trained else 'forward'} sources; leave reverse_source out to use "
                         "the model's own order")
    return reverse_source


def _encode_sources(sources: list[list[str]], src_vocab: Vocab, reverse_source: bool) -> list[torch.Tensor]:
    return [torch.tensor(src_vocab.encode(toks[::-1] if reverse_source else toks) + [src_vocab.eos_id])
            for toks in sources]


@torch.no_grad()
def beam_hypotheses(model: nn.Module, sources: list[list[str]], src_vocab: Vocab, tgt_vocab: Vocab,
                    beam_size: int = 5, alpha: float = 0.6, device: torch.device | str | None = None,
                    reverse_source: bool | None = None, batch_size: int = 128) -> list[list[Hypothesis]]:
    """Beam search for each tokenised sentence: its finished beams, best first, with their
    scores. ``hypotheses[i][0]`` is sentence ``i``'s translation; ``beam_size=1`` is greedy
    decoding, with the model's log-probability of the result.

    The sentences are searched ``batch_size`` at a time, those of similar length together
    (:func:`~utils.search.batched_beam_search`: the hypotheses :func:`~utils.search.beam_search`
    finds for each sentence alone), and returned in input order.

    Raises ``VocabularyMismatchError`` for vocabularies that are not the model's, ``ValueError``
    for an empty sentence. ``reverse_source`` defaults to the order the model was trained with."""
    reverse_source = _prepare(model, sources, src_vocab, tgt_vocab, reverse_source)
    device = device if device is not None else next(model.parameters()).device
    out: list[list[Hypothesis]] = [[] for _ in sources]
    no_target = torch.tensor([0])
    encoded = _encode_sources(sources, src_vocab, reverse_source)
    for idx, batch in batched([(src, no_target) for src in encoded], batch_size, src_vocab.pad_id,
                              by_length=True):                   # similar lengths together
        batch = batch.to(device)
        limits = torch.tensor([default_max_len(n) for n in batch.src_lengths.tolist()], device=device)
        found = batched_beam_search(model, batch.src, batch.src_mask, tgt_vocab.sos_id, tgt_vocab.eos_id,
                                    limits, beam_size, alpha, tgt_vocab.pad_id)
        for i, hyps in zip(idx, found, strict=True):
            out[i] = hyps
    return out


@torch.no_grad()
def translate_tokens(model: nn.Module, sources: list[list[str]], src_vocab: Vocab, tgt_vocab: Vocab,
                     device: torch.device | str | None = None, batch_size: int = 128,
                     reverse_source: bool | None = None, beam_size: int = 1,
                     alpha: float = 0.6) -> tuple[list[list[str]], list[torch.Tensor | None]]:
    """Translations of tokenised sentences, in input order: greedy, or the best beam of
    :func:`beam_hypotheses` when ``beam_size > 1``; ``batch_size`` sentences at a time either way.

    Returns the output tokens and, per sentence, its attention ``[out_len + 1, src_len + 1]``
    (rows: output words then ``<eos>``; columns: source words then ``<eos>``), or None.
    ``device`` defaults to the model's; ``reverse_source`` to the order the model was trained with.
    Raises ``VocabularyMismatchError`` for vocabularies that are not the model's, ``ValueError``
    for an empty sentence.
    """
    reverse_source = _prepare(model, sources, src_vocab, tgt_vocab, reverse_source)
    device = device if device is not None else next(model.parameters()).device
    model.eval()
    if beam_size > 1:
        best = [h[0] for h in beam_hypotheses(model, sources, src_vocab, tgt_vocab, beam_size, alpha, device,
                                              reverse_source, batch_size)]
        return [tgt_vocab.decode(h.ids) for h in best], [h.attention for h in best]
    hyps: list[list[str]] = [[] for _ in sources]
    attentions: list[torch.Tensor | None] = [None for _ in sources]
    encoded = _encode_sources(sources, src_vocab, reverse_source)
    no_target = torch.tensor([0])
    for idx, batch in batched([(src, no_target) for src in encoded], batch_size, src_vocab.pad_id,
                              by_length=True):                   # similar lengths together
        batch = batch.to(device)
        limits = torch.tensor([default_max_len(n) for n in batch.src_lengths.tolist()], device=device)
        ids, attn = greedy_decode(model, batch.src, batch.src_mask, tgt_vocab.sos_id,
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
              reverse_source: bool | None = None, lang: str = "fr",
              subwords: tuple[Subwords, Subwords] | None = None) -> Translation:
    """Translate one sentence (a string) in language ``lang`` (French by default: the code
    :func:`utils.text.tokenize` takes, and the model's source language), with clear handling of
    bad input.

    * a non-string raises ``TypeError``; an empty sentence raises ``ValueError``, and so does one of
      punctuation only (``"..."``, ``"?!"``): it has no word to translate, and a model always writes
      some sentence, which could only be invented;
    * vocabularies that are not the model's raise ``VocabularyMismatchError`` (a ``ValueError``);
    * unknown words become ``<unk>`` and are listed in ``.unknown`` and ``.warnings``; when *no*
      word is known, the output is a guess, and a :class:`TranslationWarning` says so too;
    * ``subwords`` ``(source, target)`` (a subword model's ``data.src_subwords, data.tgt_subwords``):
      the words are split into pieces for the model, its pieces joined back into words, and its
      attention merged into a map over words (:func:`utils.subwords.word_attention`);
    * a sentence longer than ``max_src_len`` tokens is translated, with a :class:`TranslationWarning`
      (and a line in ``.warnings``) that quality will drop. ``max_src_len`` defaults to the longest
      training sentence, which a model from :func:`utils.checkpoints.train_or_load` (or a checkpoint
      it saved) knows; other models have no default limit.
    """
    if not isinstance(sentence, str):
        raise TypeError(f"translate expects a string, got {type(sentence).__name__}")
    tokens = tokenize(sentence, lang)
    if not tokens:
        raise ValueError("nothing to translate: the sentence is empty")
    words = [t for t in tokens if any(ch.isalnum() for ch in t)]
    if not words:
        raise ValueError(f"nothing to translate: {sentence.strip()!r} has no words, only punctuation "
                         "(a model always writes some sentence, which here could only be invented)")
    notes, loud = [], []
    units = subwords[0].encode(tokens) if subwords is not None else tokens
    unknown = src_vocab.unknown(units)
    if unknown:
        notes.append(f"unknown word(s) {unknown} were replaced by <unk>")
        if all(w in unknown for w in words):
            loud.append(f"none of the words {words} is in the model's vocabulary: it sees only <unk> in their "
                        "place, so the output is a guess")
    record = trained_with(model)
    if max_src_len is None and record is not None:
        max_src_len = record.max_src_len
    if max_src_len is not None and len(units) > max_src_len:
        loud.append(f"{len(units)} tokens is longer than the {max_src_len} the model was trained on: "
                    "expect a poor translation (often a short one)")
    (output,), (attention,) = translate_tokens(model, [units], src_vocab, tgt_vocab, device,
                                               reverse_source=reverse_source)
    if subwords is not None:
        if attention is not None:
            attention = word_attention(attention, units, output)
        output = subwords[1].decode(output)
    for message in loud:
        warnings.warn(message, TranslationWarning, stacklevel=2)
    return Translation(tokens, output, attention, unknown, notes + loud)
