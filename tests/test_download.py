"""fetch and find_tatoeba: mirror, cache, checksums, download (never the network)."""
import hashlib
import io
import os
import urllib.error
import urllib.request
import warnings
import zipfile
from pathlib import Path

import pytest

from utils import download
from utils.data import load_tatoeba
from utils.download import (
    MIRROR_ENV,
    TATOEBA_FILES,
    DataUnavailableError,
    fetch,
    find_tatoeba,
    tatoeba_files,
    tatoeba_origin,
)
from utils.paths import CACHE_DIR

SHARED_SAMPLE = Path(__file__).resolve().parents[2] / "shared" / "data" / "tatoeba-fra-eng-sample.tsv"
ORIGINAL_MIRROR = os.environ.get(MIRROR_ENV)  # read before any test changes it


# ----------------------------------------------------------------------------- fetch
@pytest.fixture
def no_network(monkeypatch):
    """Any download attempt fails like an offline machine; counts attempts."""
    attempts = []

    def offline(url, *args, **kwargs):
        attempts.append(url)
        raise urllib.error.URLError("no network in tests")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    return attempts


def serve(monkeypatch, payload: bytes):
    """A fake downloader that returns ``payload``; returns the list of requested urls."""
    urls = []

    def fake(url, *args, **kwargs):
        urls.append(url)
        return io.BytesIO(payload)

    monkeypatch.setattr(urllib.request, "urlopen", fake)
    return urls


def test_fetch_uses_the_mirror_first(tmp_path, monkeypatch, no_network):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "f.txt").write_text("from mirror")
    cache = tmp_path / "cache"
    (cache).mkdir()
    (cache / "f.txt").write_text("from cache")
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    path = fetch("f.txt", "https://example.invalid/f.txt", cache_dir=cache)
    assert path.read_text() == "from mirror"
    assert no_network == []
    # an explicit mirror argument works too
    monkeypatch.delenv(MIRROR_ENV)
    assert fetch("f.txt", "https://example.invalid/f.txt", cache_dir=cache, mirror=mirror) == mirror / "f.txt"


def test_fetch_cache_hit_needs_no_network(tmp_path, no_network):
    payload = b"cached bytes"
    (tmp_path / "f.txt").write_bytes(payload)
    sha = hashlib.sha256(payload).hexdigest()
    assert fetch("f.txt", "https://example.invalid/f.txt", sha256=sha, cache_dir=tmp_path) == tmp_path / "f.txt"
    assert fetch("f.txt", "https://example.invalid/f.txt", cache_dir=tmp_path) == tmp_path / "f.txt"
    assert no_network == []


def test_fetch_mirror_without_the_file_falls_back_to_cache(tmp_path, monkeypatch, no_network):
    (tmp_path / "empty").mkdir()
    (tmp_path / "f.txt").write_text("x")
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "empty"))
    assert fetch("f.txt", "https://example.invalid/f.txt", cache_dir=tmp_path) == tmp_path / "f.txt"


@pytest.mark.parametrize("make", ["missing", "file"])
def test_a_mirror_that_is_not_a_folder_is_an_error(tmp_path, monkeypatch, no_network, make):
    mirror = tmp_path / "mirorr"                               # a typo, or a file
    if make == "file":
        mirror.write_text("not a folder")
    (tmp_path / "f.txt").write_text("cached")
    problem = "does not exist" if make == "missing" else "is a file, not a folder"
    monkeypatch.setenv(MIRROR_ENV, str(mirror))
    for call in (lambda: fetch("f.txt", "https://example.invalid/f.txt", cache_dir=tmp_path),
                 lambda: find_tatoeba(cache_dir=tmp_path)):
        with pytest.raises(DataUnavailableError) as info:
            call()
        message = str(info.value)
        assert f"{MIRROR_ENV}={mirror}" in message and problem in message
    monkeypatch.delenv(MIRROR_ENV)
    with pytest.raises(DataUnavailableError, match=rf"mirror='.*mirorr'.*{problem}"):
        fetch("f.txt", "https://example.invalid/f.txt", cache_dir=tmp_path, mirror=mirror)
    assert no_network == []                                    # never went online instead


def test_fetch_downloads_into_the_cache(tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    payload = b"hello\tbonjour\n"
    urls = serve(monkeypatch, payload)
    sha = hashlib.sha256(payload).hexdigest()
    path = fetch("g.txt", "https://example.invalid/g.txt", sha256=sha, cache_dir=tmp_path / "c")
    assert path == tmp_path / "c" / "g.txt" and path.read_bytes() == payload
    assert urls == ["https://example.invalid/g.txt"]
    assert not (tmp_path / "c" / "g.txt.part").exists()


def test_fetch_redownloads_a_corrupt_cached_file(tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    payload = b"good"
    (tmp_path / "g.txt").write_bytes(b"corrupt")
    urls = serve(monkeypatch, payload)
    path = fetch("g.txt", "https://example.invalid/g.txt", sha256=hashlib.sha256(payload).hexdigest(),
                 cache_dir=tmp_path)
    assert path.read_bytes() == payload and len(urls) == 1


def test_fetch_checksum_mismatch_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    serve(monkeypatch, b"tampered")
    expected = hashlib.sha256(b"original").hexdigest()
    with pytest.raises(DataUnavailableError) as info:
        fetch("g.txt", "https://example.invalid/g.txt", sha256=expected, cache_dir=tmp_path)
    message = str(info.value)
    assert "checksum" in message and expected in message and "example.invalid/g.txt" in message
    assert list(tmp_path.iterdir()) == []  # nothing half-downloaded or wrong is left behind


def test_fetch_offline_without_mirror_says_what_to_do(tmp_path, no_network):
    with pytest.raises(DataUnavailableError) as info:
        fetch("eng-fra.txt", "https://example.invalid/eng-fra.txt", cache_dir=tmp_path)
    message = str(info.value)
    assert "https://example.invalid/eng-fra.txt" in message
    assert str(tmp_path / "eng-fra.txt") in message          # where to save it by hand
    assert MIRROR_ENV in message and "eng-fra.txt" in message  # or how to set the mirror
    assert no_network == ["https://example.invalid/eng-fra.txt"]
    assert not (tmp_path / "eng-fra.txt.part").exists() and not (tmp_path / "eng-fra.txt").exists()


def test_shared_tatoeba_sample_through_the_mirror(tmp_path, monkeypatch, no_network):
    mirror = ORIGINAL_MIRROR
    folder = None
    if mirror and (Path(mirror) / SHARED_SAMPLE.name).exists():
        folder = Path(mirror)
    elif SHARED_SAMPLE.exists():
        folder = SHARED_SAMPLE.parent
    if folder is None:
        pytest.skip("no Tatoeba sample available offline")
    monkeypatch.setenv(MIRROR_ENV, str(folder))
    path = fetch(SHARED_SAMPLE.name, "https://example.invalid/fra-eng.zip", cache_dir=tmp_path)
    assert path.parent == folder and no_network == []
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # the real file: no header, no odd line
        pairs = load_tatoeba(path)
    assert len(pairs) > 1000
    assert all(fr and en for fr, en in pairs)
    assert pairs[0] == ("Va !", "Go.")


def test_fetch_checks_sha1(tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    payload = b"zip bytes"
    serve(monkeypatch, payload)
    good = hashlib.sha1(payload).hexdigest()
    fetched = fetch("z.zip", "https://example.invalid/z.zip", sha1=good.upper(), cache_dir=tmp_path)
    assert fetched.read_bytes() == payload
    with pytest.raises(DataUnavailableError, match="sha1"):
        fetch("y.zip", "https://example.invalid/y.zip", sha1=hashlib.sha1(b"other").hexdigest(), cache_dir=tmp_path)
    assert not (tmp_path / "y.zip").exists()


# ----------------------------------------------------------------------------- find_tatoeba
TATOEBA_LINES = "Go.\tVa !\nI see.\tJe vois.\n"


def fake_tatoeba_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(download.TATOEBA_MEMBER, TATOEBA_LINES)
        z.writestr("fra-eng/_about.txt", "about")
    return buffer.getvalue()


def test_find_tatoeba_prefers_the_full_corpus_in_the_mirror(tmp_path, no_network):
    for name in reversed(TATOEBA_FILES):
        (tmp_path / name).write_text(TATOEBA_LINES)
        assert find_tatoeba(mirror=tmp_path, cache_dir=tmp_path / "cache") == tmp_path / name
    assert TATOEBA_FILES[0] == "fra.txt" and TATOEBA_FILES[-1] == "tatoeba-fra-eng-sample.tsv"
    assert no_network == []


def test_find_tatoeba_downloads_checks_and_extracts_once(tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    archive = fake_tatoeba_zip()
    monkeypatch.setattr(download, "TATOEBA_SHA1", hashlib.sha1(archive).hexdigest())
    urls = serve(monkeypatch, archive)
    path = find_tatoeba(cache_dir=tmp_path)
    assert path == tmp_path / "fra.txt" and urls == [download.TATOEBA_URL]
    assert load_tatoeba(path) == [("Va !", "Go."), ("Je vois.", "I see.")]
    assert find_tatoeba(cache_dir=tmp_path) == path and len(urls) == 1   # cached: no second download
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fra-eng.zip", "fra.txt"]


def test_find_tatoeba_rejects_a_tampered_download(tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    serve(monkeypatch, fake_tatoeba_zip())          # its SHA-1 is not the published one
    with pytest.raises(DataUnavailableError, match="checksum"):
        find_tatoeba(cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_find_tatoeba_offline_says_how_to_get_it(tmp_path, no_network):
    with pytest.raises(DataUnavailableError) as info:
        find_tatoeba(cache_dir=tmp_path)
    message = str(info.value)
    for needle in (download.TATOEBA_URL, str(tmp_path), MIRROR_ENV, "fra.txt", "eng-fra.txt", "URLError"):
        assert needle in message
    assert no_network == [download.TATOEBA_URL]
    with pytest.raises(DataUnavailableError, match="switched off"):
        find_tatoeba(cache_dir=tmp_path, download=False)
    assert len(no_network) == 1


def test_find_tatoeba_offline_says_the_mirror_lacks_the_files(tmp_path, monkeypatch, no_network):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "fra-eng.txt").write_text(TATOEBA_LINES)   # not one of the names looked for
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path / "mirror"))
    with pytest.raises(DataUnavailableError) as info:
        find_tatoeba(cache_dir=tmp_path / "cache")
    assert f"the mirror {tmp_path / 'mirror'} holds none of fra.txt, eng-fra.txt" in str(info.value)


def test_find_tatoeba_reads_the_environment_mirror(tmp_path, monkeypatch, no_network):
    (tmp_path / "eng-fra.txt").write_text(TATOEBA_LINES)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    assert find_tatoeba(cache_dir=tmp_path / "cache") == tmp_path / "eng-fra.txt"


# ----------------------------------------------------------------------------- other languages
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def test_find_tatoeba_german_in_the_mirror(tmp_path, no_network):
    assert tatoeba_files("de") == ("deu.txt", "eng-deu.txt", "tatoeba-deu-eng-sample.tsv")
    assert tatoeba_files("fr") == TATOEBA_FILES and tatoeba_files("es")[0] == "spa.txt"
    (tmp_path / "fra.txt").write_text(TATOEBA_LINES)              # French is no answer to German
    for name in reversed(tatoeba_files("de")):
        (tmp_path / name).write_bytes((FIXTURES / "tatoeba_deu_sample.tsv").read_bytes())
        assert find_tatoeba("de", mirror=tmp_path, cache_dir=tmp_path / "cache") == tmp_path / name
    assert load_tatoeba(find_tatoeba("de", mirror=tmp_path), "de")[1] == ("Wie geht's?", "How are you?")
    assert find_tatoeba(mirror=tmp_path) == tmp_path / "fra.txt"   # French stays the default
    assert no_network == []


def test_find_tatoeba_german_offline_says_how_to_get_it(tmp_path, no_network):
    (tmp_path / "mirror").mkdir()
    (tmp_path / "mirror" / "fra.txt").write_text(TATOEBA_LINES)
    with pytest.raises(DataUnavailableError) as info:
        find_tatoeba("de", mirror=tmp_path / "mirror", cache_dir=tmp_path / "cache")
    message = str(info.value)
    for needle in ("English–German", "https://www.manythings.org/anki/deu-eng.zip", "put deu.txt in",
                   str(tmp_path / "cache"), "eng-deu.txt", "tatoeba-deu-eng-sample.tsv", MIRROR_ENV,
                   "holds none of deu.txt"):
        assert needle in message
    # the mirror's French file is named as what it is, so a learner who asked for German sees what is there
    assert "but it holds fra.txt: the French pairs (find_tatoeba('fr'))" in message
    assert ").;" not in message and ".;" not in message                   # the download's reason, no stray stop
    assert [getattr(url, "full_url", url) for url in no_network] == ["https://www.manythings.org/anki/deu-eng.zip"]


def test_find_tatoeba_downloads_spanish_unchecked_and_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:                        # manythings.org's layout: no folder
        z.writestr("spa.txt", (FIXTURES / "tatoeba_spa_sample.tsv").read_text(encoding="utf-8"))
        z.writestr("_about.txt", "about")
    requests = serve(monkeypatch, buffer.getvalue())
    with pytest.warns(UserWarning, match="was not checked against a checksum"):
        path = find_tatoeba("es", cache_dir=tmp_path)
    assert path == tmp_path / "spa.txt" and load_tatoeba(path, "es")[1] == ("¿Verdad?", "Really?")
    (request,) = requests
    assert request.full_url == "https://www.manythings.org/anki/spa-eng.zip"
    assert request.get_header("User-agent") == download.USER_AGENT
    assert find_tatoeba("es", cache_dir=tmp_path) == path and len(requests) == 1   # cached


@pytest.mark.parametrize("lang, words", [("en", "English is the other side"), ("it", "unknown language 'it'")])
def test_find_tatoeba_rejects_a_language_it_cannot_find(tmp_path, no_network, lang, words):
    with pytest.raises(ValueError, match=words):
        find_tatoeba(lang, cache_dir=tmp_path)


def test_find_tatoeba_still_takes_the_mirror_first(tmp_path, no_network):
    (tmp_path / "eng-fra.txt").write_text(TATOEBA_LINES)
    with pytest.warns(FutureWarning, match="the first argument is the language now"):
        assert find_tatoeba(tmp_path, cache_dir=tmp_path / "cache") == tmp_path / "eng-fra.txt"


def test_notebook_06_is_skipped_with_the_reason_when_no_data(monkeypatch):
    import conftest

    class Item:
        def __init__(self, name):
            self.path, self.markers = Path("notebooks") / name, []

        def add_marker(self, marker):
            self.markers.append(marker)

    def unavailable(*args, **kwargs):
        raise DataUnavailableError("no data here; set SEQ2SEQ_DATA_MIRROR")

    items = [Item(conftest.REAL_DATA_NOTEBOOK), Item(conftest.REAL_DATA_NOTEBOOK), Item("05_other.ipynb")]
    monkeypatch.setattr(download, "find_tatoeba", unavailable)
    conftest.pytest_collection_modifyitems(None, items)
    assert [len(item.markers) for item in items] == [1, 1, 0]
    marker = items[0].markers[0]
    assert marker.name == "skip" and "SEQ2SEQ_DATA_MIRROR" in marker.kwargs["reason"]
    # with the data reachable, nothing is skipped
    monkeypatch.setattr(download, "find_tatoeba", lambda *a, **k: Path("fra.txt"))
    fresh = [Item(conftest.REAL_DATA_NOTEBOOK)]
    conftest.pytest_collection_modifyitems(None, fresh)
    assert fresh[0].markers == []


def test_tatoeba_origin_says_where_the_pairs_came_from_without_an_absolute_path(tmp_path, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    assert tatoeba_origin(tmp_path / "deu.txt") == "deu.txt in the folder $SEQ2SEQ_DATA_MIRROR names"
    monkeypatch.delenv(MIRROR_ENV)
    assert tatoeba_origin(CACHE_DIR / "deu.txt") == "data/cache/deu.txt"       # the cache: inside the repository
    assert tatoeba_origin(tmp_path / "elsewhere" / "spa.txt") == "spa.txt"
