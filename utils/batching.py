"""Sentence pairs as tensors: datasets, padding, length-bucketed loaders, and one way to batch.

Tensors are batch-first everywhere in this series: ``src`` is ``[batch, src_len]``. Training
reads a :class:`ParallelData`'s ``loader``; everything else that runs a model over many
sentences (decoding, probes, attention maps) goes through :func:`batched`.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from utils.corpus import SentencePair
from utils.data import load_synthetic
from utils.subwords import Subwords
from utils.text import Vocab, build_vocab, tokenize


class TranslationDataset(Dataset):
    """Token lists → id tensors. Targets get ``<sos>`` … ``<eos>``; sources get ``<eos>`` only.

    ``reverse_source=True`` feeds the source backwards (Sutskever et al., 2014).
    """

    def __init__(self, pairs: Sequence[tuple[list[str], list[str]]], src_vocab: Vocab,
                 tgt_vocab: Vocab, reverse_source: bool = False):
        if not pairs:
            raise ValueError("TranslationDataset needs at least one pair")
        self.pairs = list(pairs)
        self.src_vocab, self.tgt_vocab = src_vocab, tgt_vocab
        self.reverse_source = reverse_source

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        src, tgt = self.pairs[i]
        src = src[::-1] if self.reverse_source else src
        src_ids = self.src_vocab.encode(src) + [self.src_vocab.eos_id]
        tgt_ids = [self.tgt_vocab.sos_id] + self.tgt_vocab.encode(tgt) + [self.tgt_vocab.eos_id]
        return torch.tensor(src_ids), torch.tensor(tgt_ids)

    def src_lengths(self) -> list[int]:
        return [len(src) + 1 for src, _ in self.pairs]


@dataclass
class Batch:
    """A padded batch. ``tgt`` includes ``<sos>`` and ``<eos>``."""

    src: torch.Tensor          # [batch, src_len]  (padded with pad_id)
    src_lengths: torch.Tensor  # [batch]           (true lengths; ``to`` keeps them on the CPU, where Python reads them)
    tgt: torch.Tensor          # [batch, tgt_len]
    src_mask: torch.Tensor     # [batch, src_len]  True at real tokens, False at padding

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.src.to(device), self.src_lengths, self.tgt.to(device), self.src_mask.to(device))

    def __len__(self) -> int:
        return self.src.size(0)


def pad(sequences: Sequence[torch.Tensor], pad_id: int) -> torch.Tensor:
    """Right-pad 1-D tensors into ``[batch, max_len]``."""
    return torch.nn.utils.rnn.pad_sequence(list(sequences), batch_first=True, padding_value=pad_id)


def collate(items: Sequence[tuple[torch.Tensor, torch.Tensor]], src_pad: int = 0, tgt_pad: int = 0) -> Batch:
    """Turn ``(src_ids, tgt_ids)`` pairs into a :class:`Batch`."""
    srcs, tgts = zip(*items)
    src = pad(srcs, src_pad)                                   # [batch, src_len]
    lengths = torch.tensor([len(s) for s in srcs])             # [batch]
    mask = torch.arange(src.size(1))[None, :] < lengths[:, None]  # [batch, src_len]
    return Batch(src, lengths, pad(tgts, tgt_pad), mask)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar source length (less padding), in a shuffled order each epoch."""

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.lengths, self.batch_size, self.shuffle = list(lengths), batch_size, shuffle
        self.rng = random.Random(seed)

    def __iter__(self) -> Iterator[list[int]]:
        order = list(range(len(self.lengths)))
        if self.shuffle:
            self.rng.shuffle(order)  # random order within equal lengths
        order.sort(key=lambda i: self.lengths[i])
        batches = [order[i:i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.shuffle:
            self.rng.shuffle(batches)
        return iter(batches)

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size


def make_loader(dataset: TranslationDataset, batch_size: int = 64, shuffle: bool = True,
                seed: int = 0) -> DataLoader:
    """A DataLoader of length-bucketed :class:`Batch` es."""
    sampler = BucketBatchSampler(dataset.src_lengths(), batch_size, shuffle=shuffle, seed=seed)
    src_pad, tgt_pad = dataset.src_vocab.pad_id, dataset.tgt_vocab.pad_id
    return DataLoader(dataset, batch_sampler=sampler, collate_fn=lambda b: collate(b, src_pad, tgt_pad))


def batched(items: Sequence[tuple[torch.Tensor, torch.Tensor]], batch_size: int = 128, src_pad: int = 0,
            tgt_pad: int = 0, by_length: bool = False) -> Iterator[tuple[list[int], Batch]]:
    """Padded batches of ``(src_ids, tgt_ids)`` items for running a model outside training:
    yields ``(indices, batch)``, where row ``r`` of ``batch`` is ``items[indices[r]]``.

    In input order, or with ``by_length=True`` sorted by source length (less padding; the indices
    say where each row belongs).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    order = sorted(range(len(items)), key=lambda i: len(items[i][0])) if by_length else list(range(len(items)))
    for start in range(0, len(order), batch_size):
        indices = order[start:start + batch_size]
        yield indices, collate([items[i] for i in indices], src_pad, tgt_pad)


@dataclass(frozen=True)
class TextPair:
    """A real sentence pair: the two sentences and their tokens, tokenised once with the rules of
    their languages (:func:`utils.text.tokenize`). It has no gold alignment (``alignment`` is empty).

    ``fr`` and ``en`` are the source and the target under :class:`~utils.corpus.SentencePair`'s
    names, so code written for French–English reads any pair: ``p.fr`` is German text in a
    German–English corpus.
    """

    src: str
    tgt: str
    src_tokens: list[str] = field(repr=False)
    tgt_tokens: list[str] = field(repr=False)
    src_lang: str = "fr"
    tgt_lang: str = "en"
    alignment: tuple = ()

    @classmethod
    def tokenized(cls, src: str, tgt: str, src_lang: str = "fr", tgt_lang: str = "en") -> "TextPair":
        return cls(src, tgt, tokenize(src, src_lang), tokenize(tgt, tgt_lang), src_lang, tgt_lang)

    @property
    def src_words(self) -> list[str]:
        """The source's word tokens (``src_tokens`` are subword pieces in a subword corpus)."""
        return tokenize(self.src, self.src_lang)

    @property
    def tgt_words(self) -> list[str]:
        return tokenize(self.tgt, self.tgt_lang)

    @property
    def fr(self) -> str:
        return self.src

    @property
    def en(self) -> str:
        return self.tgt


@dataclass
class ParallelData:
    """A parallel corpus split three ways, its vocabularies and DataLoaders (the synthetic corpus,
    or real pairs through :meth:`from_text_pairs`; real pairs have no gold alignment).
    ``src_lang`` and ``tgt_lang`` are the languages' codes (:data:`utils.languages.LANGUAGES`)."""

    train: list[SentencePair | TextPair]
    valid: list[SentencePair | TextPair]
    test: list[SentencePair | TextPair]
    src_vocab: Vocab
    tgt_vocab: Vocab
    reverse_source: bool = False
    batch_size: int = 64
    src_lang: str = "fr"
    tgt_lang: str = "en"
    src_subwords: Subwords | None = None   # set by with_subwords(): tokens are then subword pieces
    tgt_subwords: Subwords | None = None

    @cached_property
    def longest_source(self) -> int:
        """Tokens in the longest training source sentence: the longest a model trained on this data
        has seen (computed once per object)."""
        return max(len(p.src_tokens) for p in self.train)

    def dataset(self, split: str) -> TranslationDataset:
        pairs = [(p.src_tokens, p.tgt_tokens) for p in getattr(self, split)]
        return TranslationDataset(pairs, self.src_vocab, self.tgt_vocab, self.reverse_source)

    def loader(self, split: str, shuffle: bool | None = None, seed: int = 0):
        shuffle = split == "train" if shuffle is None else shuffle
        return make_loader(self.dataset(split), self.batch_size, shuffle=shuffle, seed=seed)

    def batches(self, pairs: Sequence[SentencePair | TextPair],
                batch_size: int = 128) -> Iterator[tuple[list[int], Batch]]:
        """``pairs`` as padded batches in their order: ``(indices, batch)`` (see :func:`batched`)."""
        dataset = TranslationDataset([(p.src_tokens, p.tgt_tokens) for p in pairs], self.src_vocab,
                                     self.tgt_vocab, self.reverse_source)
        return batched([dataset[i] for i in range(len(dataset))], batch_size, self.src_vocab.pad_id,
                       self.tgt_vocab.pad_id)

    def batch(self, pairs: Sequence[SentencePair | TextPair]) -> Batch:
        """All of ``pairs`` as one padded batch (row ``i`` is ``pairs[i]``)."""
        ((_, batch),) = self.batches(pairs, batch_size=max(1, len(pairs)))
        return batch

    @classmethod
    def from_text_pairs(cls, train: list[tuple[str, str]], valid: list[tuple[str, str]],
                        test: list[tuple[str, str]], min_freq: int = 1, batch_size: int = 64,
                        src_lang: str = "fr", tgt_lang: str = "en") -> "ParallelData":
        """``(source, target)`` strings per split, in ``src_lang`` and ``tgt_lang`` (as
        :func:`utils.data.load_tatoeba` returns them), as :class:`TextPair` s tokenised with those
        languages' rules; vocabularies from the training split only, keeping words seen at least
        ``min_freq`` times (rarer ones become ``<unk>``)."""
        splits = [[TextPair.tokenized(src, tgt, src_lang, tgt_lang) for src, tgt in pairs]
                  for pairs in (train, valid, test)]
        if not splits[0]:
            raise ValueError("the training split is empty")
        src_vocab = build_vocab((p.src_tokens for p in splits[0]), min_freq=min_freq)
        tgt_vocab = build_vocab((p.tgt_tokens for p in splits[0]), min_freq=min_freq)
        return cls(*splits, src_vocab, tgt_vocab, batch_size=batch_size, src_lang=src_lang, tgt_lang=tgt_lang)

    def with_subwords(self, vocab_size: int) -> "ParallelData":
        """The same sentence pairs as subword pieces (:mod:`utils.subwords`): one sentencepiece model
        per language, learnt from the training split's words, ``vocab_size`` pieces each. The
        vocabularies are the pieces, so no word is unknown; ``p.src_words`` still gives the words."""
        if self.src_subwords is not None:
            raise ValueError("these pairs are subword pieces already")
        src_subwords = Subwords.train((p.src_tokens for p in self.train), vocab_size)
        tgt_subwords = Subwords.train((p.tgt_tokens for p in self.train), vocab_size)
        splits = [[replace(p, src_tokens=src_subwords.encode(p.src_tokens),
                           tgt_tokens=tgt_subwords.encode(p.tgt_tokens))
                   for p in split] for split in (self.train, self.valid, self.test)]
        return replace(self, train=splits[0], valid=splits[1], test=splits[2],
                       src_vocab=build_vocab([p.src_tokens for p in splits[0]] + [src_subwords.pieces()]),
                       tgt_vocab=build_vocab([p.tgt_tokens for p in splits[0]] + [tgt_subwords.pieces()]),
                       src_subwords=src_subwords, tgt_subwords=tgt_subwords)

    def source_units(self, words: Sequence[str]) -> list[str]:
        """Word tokens → what the model reads: the words themselves, or their subword pieces."""
        return self.src_subwords.encode(words) if self.src_subwords is not None else list(words)

    def target_words(self, units: Sequence[str]) -> list[str]:
        """What the model wrote (words, or subword pieces) → word tokens, for BLEU and for reading."""
        return self.tgt_subwords.decode(units) if self.tgt_subwords is not None else list(units)


def load_synthetic_data(batch_size: int = 64, reverse_source: bool = False, n_train: int | None = None) -> ParallelData:
    """Read ``data/synthetic/*.tsv`` and build vocabularies from the training split."""
    train = load_synthetic("train")[:n_train]
    src_vocab = build_vocab(p.src_tokens for p in train)
    tgt_vocab = build_vocab(p.tgt_tokens for p in train)
    return ParallelData(train, load_synthetic("valid"), load_synthetic("test"), src_vocab, tgt_vocab,
                         reverse_source, batch_size)
