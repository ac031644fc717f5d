"""Finding data files: a mirror folder, the cache, or a download checked against its checksum.

:func:`fetch` looks in a *mirror* folder first (the environment variable ``SEQ2SEQ_DATA_MIRROR``),
then in the cache (``data/cache/``), then online; it checks the checksum when one is known.
:func:`find_tatoeba` finds (or downloads) the Tatoeba English–French pairs.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
import zipfile
from pathlib import Path

from utils.data import CACHE_DIR

MIRROR_ENV = "SEQ2SEQ_DATA_MIRROR"


class DataUnavailableError(RuntimeError):
    """A file that is neither in the mirror, nor cached, nor downloadable; says what to do."""


def _digest(path: Path, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checksum_ok(path: Path, sha256: str | None, sha1: str | None) -> bool:
    return ((sha256 is None or _digest(path, "sha256") == sha256.lower())
            and (sha1 is None or _digest(path, "sha1") == sha1.lower()))


def _mirror_folder(mirror: str | Path | None) -> Path | None:
    """The mirror folder: ``mirror``, else ``$SEQ2SEQ_DATA_MIRROR``, else None (no mirror).

    A mirror that names no folder is an error, not skipped: a typo in the path would otherwise
    send the loader online (or to a download error) without a word about the mirror.
    """
    given = mirror or os.environ.get(MIRROR_ENV)
    if not given:
        return None
    folder = Path(given).expanduser()
    if not folder.is_dir():
        setting = f"mirror={str(given)!r}" if mirror else f"{MIRROR_ENV}={given}"
        problem = "is a file, not a folder" if folder.exists() else "does not exist"
        raise DataUnavailableError(f"{setting}: the folder {folder} {problem}. Point {MIRROR_ENV} at the folder "
                                   f"that holds the data files, or unset it to use the cache ({CACHE_DIR}) "
                                   "and the download.")
    return folder


def fetch(filename: str, url: str, sha256: str | None = None,
          cache_dir: str | Path | None = None, mirror: str | Path | None = None,
          sha1: str | None = None) -> Path:
    """Return a local path to ``filename``: from the mirror folder, the cache, or ``url``.

    ``mirror`` defaults to the environment variable ``SEQ2SEQ_DATA_MIRROR``; one that names no
    folder raises :class:`DataUnavailableError`. A downloaded file whose checksum differs from
    ``sha256`` (or ``sha1``, for sources that publish only that) is deleted and reported.
    """
    folder = _mirror_folder(mirror)
    if folder is not None and (folder / filename).is_file():
        return folder / filename
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
    :class:`DataUnavailableError`, saying how to get the file, when none of this works, and when
    the mirror names no folder.
    """
    folder = _mirror_folder(mirror)
    if folder is not None:
        for name in TATOEBA_FILES:
            if (folder / name).is_file():
                return folder / name
    cache = Path(cache_dir or CACHE_DIR)
    text = cache / "fra.txt"
    if text.exists():
        return text
    searched = f"; the mirror {folder} holds none of {', '.join(TATOEBA_FILES)}" if folder is not None else ""
    if not download:
        raise DataUnavailableError(_how_to_get_tatoeba(cache, "downloads are switched off" + searched))
    try:
        archive = fetch("fra-eng.zip", TATOEBA_URL, sha1=TATOEBA_SHA1, cache_dir=cache, mirror=folder)
    except DataUnavailableError as error:
        raise DataUnavailableError(_how_to_get_tatoeba(cache, str(error).splitlines()[0] + searched)) from None
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
