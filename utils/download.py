"""Finding data files: a mirror folder, the cache, or a download checked against its checksum.

:func:`fetch` looks in a *mirror* folder first (the environment variable ``SEQ2SEQ_DATA_MIRROR``),
then in the cache (``data/cache/``), then online; it checks the checksum when one is known.
:func:`find_tatoeba` finds (or downloads) the Tatoeba pairs of English and French, German or Spanish.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import urllib.request
import warnings
import zipfile
from pathlib import Path

from utils.languages import LANGUAGES, TATOEBA_CODES, language_name
from utils.paths import CACHE_DIR

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
          sha1: str | None = None, headers: dict[str, str] | None = None) -> Path:
    """Return a local path to ``filename``: from the mirror folder, the cache, or ``url``.

    ``mirror`` defaults to the environment variable ``SEQ2SEQ_DATA_MIRROR``; one that names no
    folder raises :class:`DataUnavailableError`. A downloaded file whose checksum differs from
    ``sha256`` (or ``sha1``, for sources that publish only that) is deleted and reported.
    ``headers`` are sent with the download request (a site may refuse urllib's User-Agent).
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
        request = urllib.request.Request(url, headers=headers) if headers else url
        with urllib.request.urlopen(request, timeout=30) as response, open(partial, "wb") as out:
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
MANYTHINGS_URL = "https://www.manythings.org/anki/{code}-eng.zip"
"""manythings.org's export for the other languages (``deu-eng.zip`` holds ``deu.txt``, 3 columns).
No checksum is published for these files, and they change as Tatoeba grows."""
USER_AGENT = "seq2seq-attention-tutorial (Python urllib)"
"""Sent with manythings.org downloads, in case the site refuses urllib's default ``Python-urllib/3.x``
(sites that block scrapers often do)."""


def tatoeba_files(lang: str = "fr") -> tuple[str, ...]:
    """The file names :func:`find_tatoeba` looks for in the mirror folder, in this order:
    ``deu.txt``, ``eng-deu.txt``, ``tatoeba-deu-eng-sample.tsv`` for ``"de"`` (:data:`TATOEBA_FILES`
    for French)."""
    code = _tatoeba_code(lang)
    return (f"{code}.txt", f"eng-{code}.txt", f"tatoeba-{code}-eng-sample.tsv")


def _tatoeba_code(lang: str) -> str:
    if language_name(lang) == "English":
        raise ValueError("English is the other side of every Tatoeba file: give the source language, "
                         f"one of {[code for code in LANGUAGES if code != 'en']}")
    return TATOEBA_CODES[lang]


def _tatoeba_source(lang: str) -> tuple[str, str | None, str]:
    """Where ``lang``'s pairs are downloaded from: the zip's URL, its SHA-1 (None: not published)
    and the file to extract from it."""
    if lang == "fr":
        return TATOEBA_URL, TATOEBA_SHA1, TATOEBA_MEMBER
    code = _tatoeba_code(lang)
    return MANYTHINGS_URL.format(code=code), None, f"{code}.txt"


def find_tatoeba(lang: str = "fr", mirror: str | Path | None = None, cache_dir: str | Path | None = None,
                 download: bool = True) -> Path:
    """A local Tatoeba file of English–``lang`` pairs (``English<TAB>other[<TAB>attribution]``).

    Looks in the mirror folder (``mirror``, default ``$SEQ2SEQ_DATA_MIRROR``) for one of
    :func:`tatoeba_files` (``lang``), then in the cache for ``fra.txt`` / ``deu.txt`` / ``spa.txt``;
    otherwise downloads the zip and extracts that file into the cache. French comes from
    :data:`TATOEBA_URL`, checked against :data:`TATOEBA_SHA1`; the other languages from
    :data:`MANYTHINGS_URL`, **without** a checksum (none is published, and the file changes as
    Tatoeba grows), with a warning that says so. Raises :class:`DataUnavailableError`, naming the
    language and how to get its file, when none of this works, and when the mirror names no folder.

    Called as ``find_tatoeba(folder)`` (the mirror first, as before languages), a path that is no
    language code is taken as the mirror, with a ``FutureWarning``.
    """
    if lang not in LANGUAGES and (isinstance(lang, os.PathLike) or Path(str(lang)).expanduser().is_dir()):
        warnings.warn(f"find_tatoeba({str(lang)!r}): the first argument is the language now; "
                      f"call find_tatoeba(mirror={str(lang)!r})", FutureWarning, stacklevel=2)
        lang, mirror = "fr", lang
    code, files = _tatoeba_code(lang), tatoeba_files(lang)
    folder = _mirror_folder(mirror)
    if folder is not None:
        for name in files:
            if (folder / name).is_file():
                return folder / name
    cache = Path(cache_dir or CACHE_DIR)
    text = cache / files[0]
    if text.exists():
        return text
    searched = (f"; the mirror {folder} holds none of {', '.join(files)}{_other_languages_in(folder, lang)}"
                if folder is not None else "")
    if not download:
        raise DataUnavailableError(_how_to_get_tatoeba(lang, cache, "downloads are switched off" + searched))
    url, sha1, member = _tatoeba_source(lang)
    try:
        archive = fetch(f"{code}-eng.zip", url, cache_dir=cache, mirror=folder, sha1=sha1,
                        headers=None if sha1 else {"User-Agent": USER_AGENT})
    except DataUnavailableError as error:
        first_line = str(error).splitlines()[0].rstrip(".")      # the reason goes on inside our parenthesis
        raise DataUnavailableError(_how_to_get_tatoeba(lang, cache, first_line + searched)) from None
    if sha1 is None:
        warnings.warn(f"{archive} (from {url}) was not checked against a checksum: manythings.org "
                      "publishes none", UserWarning, stacklevel=2)
    with zipfile.ZipFile(archive) as z, z.open(member) as source, open(text.with_suffix(".part"), "wb") as out:
        shutil.copyfileobj(source, out)
    text.with_suffix(".part").replace(text)
    return text


def _other_languages_in(folder: Path, lang: str) -> str:
    """``", but it holds fra.txt: the French pairs (find_tatoeba('fr'))"`` when the mirror has another
    language's file, so that a learner who asked for the wrong language sees what is there."""
    found = [(code, name) for code in TATOEBA_CODES if code not in ("en", lang)
             for name in tatoeba_files(code) if (folder / name).is_file()]
    if not found:
        return ""
    return ", but it holds " + ", ".join(f"{name}: the {language_name(code)} pairs (find_tatoeba({code!r}))"
                                         for code, name in found)


def tatoeba_origin(path: str | Path, mirror: str | Path | None = None) -> str:
    """Where :func:`find_tatoeba`'s file came from, in words and without an absolute path (for a
    notebook's output): ``"tatoeba-fra-eng-sample.tsv in the folder $SEQ2SEQ_DATA_MIRROR names"``,
    ``"data/cache/deu.txt"`` (the cache, inside the repository), else the file's name."""
    path = Path(path)
    folder = _mirror_folder(mirror)
    if folder is not None and path.parent.resolve() == folder.resolve():
        return f"{path.name} in the folder ${MIRROR_ENV} names"
    try:
        return path.resolve().relative_to(Path(CACHE_DIR).resolve().parents[1]).as_posix()
    except ValueError:
        return path.name


def _how_to_get_tatoeba(lang: str, cache: Path, reason: str) -> str:
    name, (full, tutorial, sample), (url, _, _) = language_name(lang), tatoeba_files(lang), _tatoeba_source(lang)
    return (f"The Tatoeba English–{name} pairs are not available ({reason}).\n"
            f"To get them, do one of:\n"
            f"  * run on a machine with internet access (the file is downloaded once, into {cache});\n"
            f"  * download {url} (with a browser), unzip it and put {full} in {cache};\n"
            f"  * put {full} (manythings.org/anki), {tutorial} (as the PyTorch tutorial names it) or\n"
            f"    {sample} in a folder and set {MIRROR_ENV}=/path/to/that/folder.")
