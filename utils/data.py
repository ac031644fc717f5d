"""Datasets, padding and batching, loaders for corpus and Tatoeba files, downloads with a cache.

Tensors are batch-first everywhere in this series: ``src`` is ``[batch, src_len]``.

Downloads: :func:`fetch` looks in a *mirror* folder first (the environment variable
``SEQ2SEQ_DATA_MIRROR``), then in the cache (``data/cache/``), then online; it checks the
checksum when one is known. :func:`find_tatoeba` finds (or downloads) the Tatoeba
English–French pairs, and :func:`split_by_sentence` splits them without leaking a sentence.
"""
from __future__ import annotations

import hashlib
import os
import random
import shutil
import urllib.request
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from utils.corpus import SentencePair, from_pharaoh
from utils.text import Vocab, normalize, tokenize

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
CACHE_DIR = DATA_DIR / "cache"
MIRROR_ENV = "SEQ2SEQ_DATA_MIRROR"


class DataFormatError(ValueError):
    """A data file line that cannot be parsed; the message names the file and line number."""


class DataUnavailableError(RuntimeError):
    """A file that is neither in the mirror, nor cached, nor downloadable; says what to do."""


# ----------------------------------------------------------------------------- files
def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                raise DataFormatError(f"{path}:{lineno}: not UTF-8 text (byte {raw[error.start]:#04x} at "
                                      f"column {error.start + 1}); save the file as UTF-8") from None
            if lineno == 1:
                line = line.removeprefix("\ufeff")  # byte-order mark written by some Windows editors
            line = line.rstrip("\n").rstrip("\r")
            if line.strip():
                yield lineno, line


def load_corpus(path: str | Path) -> list[SentencePair]:
    """Read a synthetic-corpus file: ``French<TAB>English<TAB>Pharaoh alignment`` per line."""
    pairs = []
    for lineno, line in _read_lines(Path(path)):
        cols = line.split("\t")
        if len(cols) != 3:
            raise DataFormatError(f"{path}:{lineno}: expected 3 tab-separated columns "
                                  f"(French, English, alignment), found {len(cols)}")
        fr, en, align = cols
        try:
            links = from_pharaoh(align)
        except ValueError as error:
            raise DataFormatError(f"{path}:{lineno}: {error}") from None
        n_src, n_tgt = len(tokenize(fr, "fr")), len(tokenize(en, "en"))
        bad = [(s, t) for s, t in links if s >= n_src or t >= n_tgt]
        if bad:
            raise DataFormatError(f"{path}:{lineno}: alignment {bad[0]} is out of range for "
                                  f"{n_src} source and {n_tgt} target tokens")
        pairs.append(SentencePair(fr, en, links))
    return pairs


def load_synthetic(split: str, directory: str | Path | None = None) -> list[SentencePair]:
    """The committed synthetic corpus: ``split`` is ``"train"``, ``"valid"`` or ``"test"``."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be 'train', 'valid' or 'test', not {split!r}")
    return load_corpus(Path(directory or DATA_DIR / "synthetic") / f"{split}.tsv")


def load_tatoeba(path: str | Path) -> list[tuple[str, str]]:
    """Read a Tatoeba export: ``English<TAB>French[<TAB>attribution]`` per line.

    Returns ``(french, english)`` pairs (source first, as everywhere in this series).
    """
    pairs = []
    for lineno, line in _read_lines(Path(path)):
        cols = line.split("\t")
        if len(cols) not in (2, 3) or not cols[0].strip() or not cols[1].strip():
            raise DataFormatError(f"{path}:{lineno}: expected 'English<TAB>French' with an "
                                  f"optional third attribution column, found {len(cols)} column(s)")
        pairs.append((cols[1].strip(), cols[0].strip()))
    return pairs


# ----------------------------------------------------------------------------- downloads
def _digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum_ok(path: Path, sha256: str | None, sha1: str | None) -> bool:
    return ((sha256 is None or _digest(path, "sha256") == sha256.lower())
            and (sha1 is None or _digest(path, "sha1") == sha1.lower()))


def fetch(filename: str, url: str, sha256: str | None = None,
          cache_dir: str | Path | None = None, mirror: str | Path | None = None,
          sha1: str | None = None) -> Path:
    """Return a local path to ``filename``: from the mirror folder, the cache, or ``url``.

    ``mirror`` defaults to the environment variable ``SEQ2SEQ_DATA_MIRROR``. A downloaded file
    whose checksum differs from ``sha256`` (or ``sha1``, for sources that publish only that)
    is deleted and reported.
    """
    mirror = mirror or os.environ.get(MIRROR_ENV)
    if mirror:
        candidate = Path(mirror).expanduser() / filename
        if candidate.exists():
            return candidate
    cache = Path(cache_dir or CACHE_DIR)
    target = cache / filename
    if target.exists() and _checksum_ok(target, sha256, sha1):
        return target
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=30) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise DataUnavailableError(
            f"Could not download {url} ({error.__class__.__name__}: {error}).\n"
            f"Either download it by hand and save it as {target},\n"
            f"or put '{filename}' in a folder and set {MIRROR_ENV}=/path/to/that/folder."
        ) from None
    if not _checksum_ok(partial, sha256, sha1):
        partial.unlink()
        expected = f"sha256 {sha256}" if sha256 else f"sha1 {sha1}"
        raise DataUnavailableError(f"{url}: checksum mismatch (expected {expected}); "
                                   "the file was deleted. Try again, or use a mirror.")
    partial.replace(target)
    return target


# ----------------------------------------------------------------------------- Tatoeba
TATOEBA_URL = "https://d2l-data.s3-accelerate.amazonaws.com/fra-eng.zip"
"""The Tatoeba English–French pairs (manythings.org export, 2 columns) as packaged by d2l.ai."""
TATOEBA_SHA1 = "94646ad1522d915e7b0f9296181140edcf86a4f5"
"""The SHA-1 that d2l.ai publishes for that zip (its ``DATA_HUB['fra-eng']``)."""
TATOEBA_MEMBER = "fra-eng/fra.txt"
TATOEBA_FILES = ("fra.txt", "eng-fra.txt", "tatoeba-fra-eng-sample.tsv")
"""File names looked for in the mirror folder, in this order: the full corpus as manythings.org
or d2l.ai (``fra.txt``) and the PyTorch tutorial (``eng-fra.txt``) name it, then a sample."""


def find_tatoeba(mirror: str | Path | None = None, cache_dir: str | Path | None = None,
                 download: bool = True) -> Path:
    """A local Tatoeba English–French file (``English<TAB>French[<TAB>attribution]``).

    Looks in the mirror folder (``mirror``, default ``$SEQ2SEQ_DATA_MIRROR``) for one of
    :data:`TATOEBA_FILES`, then in the cache; otherwise downloads :data:`TATOEBA_URL` (checked
    against :data:`TATOEBA_SHA1`) and extracts ``fra.txt`` into the cache. Raises
    :class:`DataUnavailableError`, saying how to get the file, when none of this works.
    """
    mirror = mirror or os.environ.get(MIRROR_ENV)
    if mirror:
        for name in TATOEBA_FILES:
            if (Path(mirror).expanduser() / name).exists():
                return Path(mirror).expanduser() / name
    cache = Path(cache_dir or CACHE_DIR)
    text = cache / "fra.txt"
    if text.exists():
        return text
    if not download:
        raise DataUnavailableError(_how_to_get_tatoeba(cache, "downloads are switched off"))
    try:
        archive = fetch("fra-eng.zip", TATOEBA_URL, sha1=TATOEBA_SHA1, cache_dir=cache, mirror=mirror)
    except DataUnavailableError as error:
        raise DataUnavailableError(_how_to_get_tatoeba(cache, str(error).splitlines()[0])) from None
    with zipfile.ZipFile(archive) as z, z.open(TATOEBA_MEMBER) as member, open(text.with_suffix(".part"), "wb") as out:
        shutil.copyfileobj(member, out)
    text.with_suffix(".part").replace(text)
    return text


def _how_to_get_tatoeba(cache: Path, reason: str) -> str:
    return (f"The Tatoeba English–French pairs are not available ({reason}).\n"
            f"To get them, do one of:\n"
            f"  * run on a machine with internet access (the file is downloaded once, into {cache});\n"
            f"  * download {TATOEBA_URL}, unzip it and put fra.txt in {cache};\n"
            f"  * put fra.txt (manythings.org/anki), eng-fra.txt (the PyTorch tutorial's data.zip) or\n"
            f"    tatoeba-fra-eng-sample.tsv in a folder and set {MIRROR_ENV}=/path/to/that/folder.")


def split_by_sentence(pairs: Sequence[tuple[str, str]], fractions: tuple[float, float, float] = (0.8, 0.1, 0.1),
                      seed: int = 0) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Split ``(source, target)`` pairs into train/valid/test so that **no sentence, on either
    side, appears in two splits**.

    Tatoeba repeats sentences: one English sentence has several French translations and one French
    sentence several English ones. Pairs that share a sentence (after :func:`normalize`) — directly
    or through a chain — form a group, and groups are assigned whole, in a random order (``seed``),
    until each split holds its fraction of the pairs. Within a split, pairs keep their order.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    parent: dict[tuple[str, str], tuple[str, str]] = {}

    def root(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for src, tgt in pairs:
        a, b = root(("src", normalize(src))), root(("tgt", normalize(tgt)))
        if a != b:
            parent[a] = b
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (src, _) in enumerate(pairs):
        groups[root(("src", normalize(src)))].append(i)
    order = sorted(groups.values())           # deterministic before shuffling
    random.Random(seed).shuffle(order)
    limits = [fractions[0] * len(pairs), (fractions[0] + fractions[1]) * len(pairs)]
    which = [0] * len(pairs)
    done = 0
    for members in order:
        k = 0 if done < limits[0] else 1 if done < limits[1] else 2
        for i in members:
            which[i] = k
        done += len(members)
    splits: tuple[list, list, list] = ([], [], [])
    for pair, k in zip(pairs, which):       # each split keeps the corpus order
        splits[k].append(pair)
    return splits


# ----------------------------------------------------------------------------- tensors
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
    src_lengths: torch.Tensor  # [batch]           (true lengths, on the CPU for packing)
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
