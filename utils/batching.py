"""Sentence pairs as tensors: datasets, padding and masks, length-bucketed loaders, one way to batch.

Tensors are batch-first everywhere in this series: ``src`` is ``[batch, src_len]``. Training
reads a :class:`~utils.parallel_data.ParallelData`'s ``loader``; everything else that runs a model
over many sentences (decoding, probes, attention maps) goes through :func:`batched`. The source
mask is built here, once (:func:`collate`), and every model takes it.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from utils.text import Vocab


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
    srcs, tgts = zip(*items, strict=True)
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
