"""What a model was trained with, and the check that it is used with the same.

A model's ids mean words only through the vocabularies it was trained with. Given other ones —
another corpus's, or source and target swapped — it translates garbage without a word, or, when a
vocabulary is larger than its embedding, fails deep inside torch with ``index out of range in
self``. So :func:`utils.checkpoints.train_or_load` and :func:`utils.checkpoints.load_checkpoint`
attach a :class:`TrainedWith` to the model they return (``model.trained_with``; checkpoints store
it), and the decoding functions of :mod:`utils.translate` call :func:`check_vocabularies` and read
the longest training sentence from it. A model without the record (built by ``build_model`` and
trained with ``fit``) still gets the size check.
"""
from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, fields

import torch.nn as nn

from utils.text import Vocab


def fingerprint(vocab: Vocab) -> str:
    """A short hash of the vocabulary's tokens in id order: equal for the same ids, and only then."""
    return hashlib.sha256("\n".join(vocab.itos).encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class TrainedWith:
    """The vocabularies a model was trained with (fingerprints and sizes) and its training sources."""

    src_fingerprint: str
    tgt_fingerprint: str
    src_size: int
    tgt_size: int
    max_src_len: int | None = None       # tokens in the longest training source (without <eos>); None: unknown
    reverse_source: bool | None = None   # trained on reversed sources; None: unknown

    @classmethod
    def of(cls, src_vocab: Vocab, tgt_vocab: Vocab, max_src_len: int | None = None,
           reverse_source: bool | None = None) -> "TrainedWith":
        return cls(fingerprint(src_vocab), fingerprint(tgt_vocab), len(src_vocab), len(tgt_vocab),
                   max_src_len, reverse_source)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainedWith":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


class VocabularyMismatchError(ValueError):
    """A model given vocabularies other than the ones it was trained with; says which side and how."""


def trained_with(model: nn.Module) -> TrainedWith | None:
    """The model's record, or None when it has none."""
    record = getattr(model, "trained_with", None)
    return record if isinstance(record, TrainedWith) else None


def _rows(layer: nn.Module | None) -> int | None:
    """Vocabulary rows of an embedding (or a module holding one, e.g. word + position) or an output layer."""
    if isinstance(layer, nn.Linear):
        return layer.out_features
    if isinstance(layer, nn.Module):
        for module in layer.modules():
            if isinstance(module, nn.Embedding):
                return module.num_embeddings
    return None


def check_vocabularies(model: nn.Module, src_vocab: Vocab, tgt_vocab: Vocab) -> None:
    """Raise :class:`VocabularyMismatchError` unless ``src_vocab`` and ``tgt_vocab`` are the model's.

    With a :class:`TrainedWith` record, the vocabularies must be the ones it names; without one,
    their sizes must match the model's source embedding, target embedding and output layer.
    """
    sizes = f"src_vocab has {len(src_vocab):,} tokens, tgt_vocab {len(tgt_vocab):,}"
    record = trained_with(model)
    if record is not None:
        given = fingerprint(src_vocab), fingerprint(tgt_vocab)
        expected = record.src_fingerprint, record.tgt_fingerprint
        if given == expected:
            return
        if given == expected[::-1]:
            raise VocabularyMismatchError(
                f"the source and target vocabularies are swapped: this model translates from a "
                f"{record.src_size:,}-token vocabulary into a {record.tgt_size:,}-token one ({sizes}); "
                "pass the source language's vocabulary (the one the model reads) first")
        side = "source" if given[0] != expected[0] else "target"
        trained = record.src_size if side == "source" else record.tgt_size
        raise VocabularyMismatchError(
            f"the {side} vocabulary is not the one this model was trained with (that one had {trained:,} "
            f"tokens; {sizes}); build it from the model's training data, or use the data object the model "
            "was trained on")
    encoder, decoder = getattr(model, "encoder", None), getattr(model, "decoder", None)
    src_rows = _rows(getattr(encoder, "embedding", None))
    tgt_rows = _rows(getattr(decoder, "out", None))
    swapped = src_rows == len(tgt_vocab) and tgt_rows == len(src_vocab)
    for what, rows, vocab, name in [("source embedding", src_rows, src_vocab, "src_vocab"),
                                    ("target embedding", _rows(getattr(decoder, "embedding", None)), tgt_vocab,
                                     "tgt_vocab"),
                                    ("output layer", tgt_rows, tgt_vocab, "tgt_vocab")]:
        if rows is not None and rows != len(vocab):
            raise VocabularyMismatchError(
                f"the model's {what} has {rows:,} rows but {name} has {len(vocab):,} tokens; "
                + (f"the source and target vocabularies look swapped ({sizes})" if swapped else
                   "these are not the vocabularies the model was built with"))
