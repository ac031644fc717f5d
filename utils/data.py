"""Sentence pairs from files: the synthetic corpus, Tatoeba exports, and a split that cannot leak.

Readers are strict: a line that cannot be parsed raises :class:`DataFormatError` naming the
file and the line. Finding or downloading a file is :mod:`utils.download`'s job; turning pairs
into tensors is :mod:`utils.batching`'s.
"""
from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Iterator, Sequence

from utils.corpus import SentencePair, from_pharaoh
from utils.text import normalize, tokenize

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
CACHE_DIR = DATA_DIR / "cache"


class DataFormatError(ValueError):
    """A data file line that cannot be parsed; the message names the file and line number."""


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
