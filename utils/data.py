"""Sentence pairs from files: the synthetic corpus, Tatoeba exports, and a split that cannot leak.

Readers are strict: a line that cannot be parsed raises :class:`DataFormatError` naming the
file and the line, and so does a file with no pair at all. Blank lines are skipped, and so is a
header line, with a :class:`DataWarning` that says so. Lines may end in ``\n``, ``\r\n`` or ``\r``.
Finding or downloading a file is :mod:`utils.download`'s job; turning pairs
into tensors is :mod:`utils.batching`'s.
"""
from __future__ import annotations

import random
import re
import shlex
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Iterator, Sequence

from utils.corpus import from_pharaoh
from utils.languages import ENGLISH_MARKERS, LANGUAGES, TATOEBA_CODES, language_name
from utils.pairs import SentencePair
from utils.paths import DATA_DIR
from utils.text import normalize


class DataFormatError(ValueError):
    """A data file that cannot be parsed; the message names the file (and the line, for a bad line)."""


class DataWarning(UserWarning):
    """A data file was read with something left out on purpose (a header line); says what and where."""


_ARCHIVES = {b"PK\x03\x04": "zip", b"\x1f\x8b": "gzip"}


def _read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """The non-blank lines of a UTF-8 text file, with their line numbers.

    A line ends at ``\n``, ``\r\n`` or a lone ``\r`` (as in Python's universal newlines), so a file
    saved with old Mac line endings is read line by line rather than as one long line.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a data file")
    with open(path, "rb") as f:
        start = f.read(4)
        kind = next((kind for magic, kind in _ARCHIVES.items() if start.startswith(magic)), None)
        if kind:
            raise DataFormatError(f"{path} is a {kind} archive, not a text file: extract the text file from it")
        f.seek(0)
        lineno = 0
        for raw in f:
            for part in raw.removesuffix(b"\n").removesuffix(b"\r").split(b"\r"):  # a lone \r ends a line
                lineno += 1
                try:
                    line = part.decode("utf-8")
                except UnicodeDecodeError as error:
                    raise DataFormatError(f"{path}:{lineno}: not UTF-8 text (byte {part[error.start]:#04x} at "
                                          f"column {error.start + 1}); save the file as UTF-8") from None
                if lineno == 1:
                    line = line.removeprefix("\ufeff")  # byte-order mark written by some Windows editors
                if line.strip():
                    yield lineno, line


HEADER_NAMES = frozenset({*(name.lower() for name in LANGUAGES.values()), *LANGUAGES, *TATOEBA_CODES.values(),
                          "fre", "ger", "source", "target", "src", "tgt", "alignment", "attribution", "license"})
"""Column names that make a first line a header (compared in lower case): a language's name or code
(``English``, ``de``, ``spa``), ``source``, ``target`` and the like."""


def _rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The tab-separated columns of each non-blank line of ``path``.

    The first non-blank line is skipped, with a :class:`DataWarning`, when it is a header: every
    column one of :data:`HEADER_NAMES` or a bare number (pandas writes ``0<TAB>1``). No sentence pair
    looks like that. A file without a single other line raises :class:`DataFormatError`.
    """
    count, skipped = 0, None
    for lineno, line in _read_lines(path):
        cols = line.split("\t")
        if count == 0 and skipped is None and all(c.strip().lower() in HEADER_NAMES or c.strip().isdigit()
                                                   for c in cols):
            skipped = lineno
            warnings.warn(f"{path}:{lineno}: skipped 1 header line ({line!r}); the other lines are read as "
                          "sentence pairs", DataWarning, stacklevel=3)
            continue
        count += 1
        yield lineno, cols
    if count == 0:
        what = f"only a header line (line {skipped})" if skipped else "empty or blank lines only"
        raise DataFormatError(f"{path}: no sentence pairs in the file: it is {what}")


def load_corpus(path: str | Path) -> list[SentencePair]:
    """Read a synthetic-corpus file: ``French<TAB>English<TAB>Pharaoh alignment`` per line.

    Blank lines and a header line are skipped (see :func:`_rows`); a file with no pair is an error.
    """
    pairs = []
    for lineno, cols in _rows(Path(path)):
        if len(cols) != 3:
            raise DataFormatError(f"{path}:{lineno}: expected 3 tab-separated columns "
                                  f"(French, English, alignment), found {len(cols)}")
        fr, en, align = cols
        try:
            links = from_pharaoh(align)
        except ValueError as error:
            raise DataFormatError(f"{path}:{lineno}: {error}") from None
        pair = SentencePair.tokenized(fr, en, alignment=links)
        n_src, n_tgt = len(pair.src_tokens), len(pair.tgt_tokens)
        bad = [(s, t) for s, t in links if s >= n_src or t >= n_tgt]
        if bad:
            raise DataFormatError(f"{path}:{lineno}: alignment {bad[0]} is out of range for "
                                  f"{n_src} source and {n_tgt} target tokens")
        pairs.append(pair)
    return pairs


def load_synthetic_pairs(split: str, directory: str | Path | None = None) -> list[SentencePair]:
    """The committed synthetic corpus: ``split`` is ``"train"``, ``"valid"`` or ``"test"``."""
    if split not in ("train", "valid", "test"):
        raise ValueError(f"split must be 'train', 'valid' or 'test', not {split!r}")
    return load_corpus(Path(directory or DATA_DIR / "synthetic") / f"{split}.tsv")


ATTRIBUTION = re.compile(r"CC-BY|Attribution|tatoeba\.org", re.IGNORECASE)
"""What a real third column mentions: manythings.org writes ``CC-BY 2.0 (France) Attribution:
tatoeba.org #2877272 (CM) & #1158250 (Wittydev)`` on every line of its 3-column files."""


def load_tatoeba(path: str | Path, lang: str | None = None) -> list[tuple[str, str]]:
    """Read a Tatoeba export: ``English<TAB>other language[<TAB>attribution]`` per line.

    Returns ``(other, english)`` pairs (source first, as everywhere in this series): ``(french,
    english)`` for ``fra.txt``, ``(german, english)`` for ``deu.txt``. ``lang`` (``"de"``) only
    names the language in error messages; the file is read the same way for every language.

    Two layouts exist: 2 columns (the d2l.ai and PyTorch-tutorial files) and 3 (manythings.org's,
    whose third column is the attribution). A third column counts as an attribution only if it
    looks like one (it matches :data:`ATTRIBUTION`); otherwise the line has a tab *inside* a
    sentence, which would silently cut that sentence in two, so it is a :class:`DataFormatError`
    naming the file and line, like any line with another number of columns or an empty side.
    A header line is skipped with a :class:`DataWarning`; an empty file is an error. Nothing else
    is skipped: a malformed line stops the reading, so no pair is lost without a word.
    """
    other = language_name(lang) if lang is not None else "other language"
    pairs = []
    for lineno, cols in _rows(Path(path)):
        if len(cols) not in (2, 3) or not cols[0].strip() or not cols[1].strip():
            line = "\t".join(cols)
            found = ("no tab (1 column)" if len(cols) == 1 else f"{len(cols)} columns" if len(cols) > 3
                     else "an empty English column" if not cols[0].strip() else f"an empty {other} column")
            raise DataFormatError(f"{path}:{lineno}: expected 'English<TAB>{other}' with an optional third "
                                  f"attribution column, found {found}: {line[:80]!r}{'…' if len(line) > 80 else ''}")
        if len(cols) == 3 and not ATTRIBUTION.search(cols[2]):
            raise DataFormatError(f"{path}:{lineno}: 3 columns, but the third ({cols[2]!r}) is not a Tatoeba "
                                  "attribution ('CC-BY 2.0 (France) Attribution: tatoeba.org #…'): is there a tab "
                                  "inside a sentence? Replace it with a space")
        pairs.append((cols[1].strip(), cols[0].strip()))
    _check_english_column(path, pairs, other)
    return pairs


def english_share(sentences: Sequence[str]) -> float:
    """The share of ``sentences`` that contain a common English word (:data:`ENGLISH_MARKERS`)."""
    if not sentences:
        return 0.0
    return sum(bool(ENGLISH_MARKERS.intersection(re.findall(r"[a-z]+", s.lower()))) for s in sentences) / len(sentences)


def _check_english_column(path, pairs: Sequence[tuple[str, str]], other: str, sample: int = 2000) -> None:
    """Stop with a :class:`DataFormatError` when the *first* column reads as the other language
    and the second as English: a ``German<TAB>English`` file read as ``English<TAB>German``
    would train a model that translates the wrong way while every label says the opposite.
    Looks at up to ``sample`` pairs spread over the file; decides only when one side has at least
    five sentences with a common English word."""
    spread = pairs[::max(1, len(pairs) // sample)]
    english = english_share([en for _, en in spread])
    source = english_share([src for src, _ in spread])
    if max(english, source) * len(spread) >= 5 and source > 2 * english and source - english > 0.2:
        raise DataFormatError(
            f"{path}: its columns seem swapped: this loader reads 'English<TAB>{other}' (manythings.org's "
            f"layout), but the second column looks like English ({source:.0%} of sampled sentences have a word "
            f"such as 'the', 'you' or 'is'; in the first column, {english:.0%}). Swap the first two columns "
            f"into a file of the same name in another folder ({SWAP_COLUMNS} {shlex.quote(str(path))} > "
            "FOLDER/" + Path(path).name + ") and point SEQ2SEQ_DATA_MIRROR at that folder, or get the file from "
            "manythings.org/anki")


SWAP_COLUMNS = "awk -F'\\t' -v OFS='\\t' '{sub(/\\r$/, \"\"); t = $1; $1 = $2; $2 = t; print}'"
"""The command that swaps the first two columns of a tab-separated file (a POSIX ``awk``); it drops
a Windows line ending first, which would otherwise end up inside the line."""


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
    if not pairs:
        raise ValueError("split_by_sentence got no pairs to split")
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
    for pair, k in zip(pairs, which, strict=True):       # each split keeps the corpus order
        splits[k].append(pair)
    return splits
