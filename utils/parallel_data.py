"""A parallel corpus ready to train on: its splits, vocabularies and settings (:class:`ParallelData`),
and the synthetic corpus loaded in one call.

Its pairs are :class:`utils.pairs.SentencePair` s, synthetic (with gold alignments) or real.
Turning pairs into tensors is :mod:`utils.batching`'s job.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from typing import Iterator, Sequence

from utils.batching import Batch, TranslationDataset, batched, make_loader
from utils.data import load_synthetic_pairs
from utils.pairs import SentencePair
from utils.subwords import Subwords
from utils.text import Vocab, build_vocab


@dataclass
class ParallelData:
    """A parallel corpus split three ways, its vocabularies and DataLoaders (the synthetic corpus,
    or real pairs through :meth:`from_text_pairs`; real pairs have no gold alignment).
    ``src_lang`` and ``tgt_lang`` are the languages' codes (:data:`utils.languages.LANGUAGES`)."""

    train: list[SentencePair]
    valid: list[SentencePair]
    test: list[SentencePair]
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

    def batches(self, pairs: Sequence[SentencePair],
                batch_size: int = 128) -> Iterator[tuple[list[int], Batch]]:
        """``pairs`` as padded batches in their order: ``(indices, batch)`` (see :func:`batched`)."""
        dataset = TranslationDataset([(p.src_tokens, p.tgt_tokens) for p in pairs], self.src_vocab,
                                     self.tgt_vocab, self.reverse_source)
        return batched([dataset[i] for i in range(len(dataset))], batch_size, self.src_vocab.pad_id,
                       self.tgt_vocab.pad_id)

    def batch(self, pairs: Sequence[SentencePair]) -> Batch:
        """All of ``pairs`` as one padded batch (row ``i`` is ``pairs[i]``)."""
        ((_, batch),) = self.batches(pairs, batch_size=max(1, len(pairs)))
        return batch

    @classmethod
    def from_text_pairs(cls, train: list[tuple[str, str]], valid: list[tuple[str, str]],
                        test: list[tuple[str, str]], min_freq: int = 1, batch_size: int = 64,
                        src_lang: str = "fr", tgt_lang: str = "en") -> "ParallelData":
        """``(source, target)`` strings per split, in ``src_lang`` and ``tgt_lang`` (as
        :func:`utils.data.load_tatoeba` returns them), as :class:`~utils.pairs.SentencePair` s tokenised with those
        languages' rules; vocabularies from the training split only, keeping words seen at least
        ``min_freq`` times (rarer ones become ``<unk>``)."""
        splits = [[SentencePair.tokenized(src, tgt, src_lang, tgt_lang) for src, tgt in pairs]
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
    train = load_synthetic_pairs("train")[:n_train]
    src_vocab = build_vocab(p.src_tokens for p in train)
    tgt_vocab = build_vocab(p.tgt_tokens for p in train)
    return ParallelData(train, load_synthetic_pairs("valid"), load_synthetic_pairs("test"), src_vocab, tgt_vocab,
                         reverse_source, batch_size)
