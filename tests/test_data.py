"""Loaders, downloads (never the network), datasets, padding and batching."""
import hashlib
import io
import os
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest
import torch

from utils import data as data_mod
from utils.data import (MIRROR_ENV, TATOEBA_FILES, Batch, BucketBatchSampler, DataFormatError,
                        DataUnavailableError, TranslationDataset, collate, fetch, find_tatoeba, load_corpus,
                        load_synthetic, load_tatoeba, make_loader, pad, split_by_sentence)
from utils.text import build_vocab

FIXTURES = Path(__file__).resolve().parent / "fixtures"
SHARED_SAMPLE = Path("/work/shared/data/tatoeba-fra-eng-sample.tsv")
ORIGINAL_MIRROR = os.environ.get(MIRROR_ENV)  # read before any test changes it


# ----------------------------------------------------------------------------- files
def test_load_corpus_fixture():
    pairs = load_corpus(FIXTURES / "tiny_corpus.tsv")
    assert len(pairs) == 3  # the blank line is skipped
    assert pairs[1].fr == "la petite maison bleue."
    assert pairs[1].en == "the small blue house."
    assert pairs[1].alignment == ((0, 0), (1, 1), (2, 3), (3, 2), (4, 4))
    assert pairs[2].src_tokens == ["l'", "homme", "mange", "une", "pomme", "."]


def test_load_corpus_accepts_crlf(tmp_path):
    path = tmp_path / "crlf.tsv"
    path.write_bytes(b"le chat dort.\tthe cat sleeps.\t0-0 1-1 2-2 3-3\r\n")
    assert load_corpus(path)[0].alignment == ((0, 0), (1, 1), (2, 2), (3, 3))


GOOD = "le chat dort.\tthe cat sleeps.\t0-0 1-1 2-2 3-3"


@pytest.mark.parametrize("bad, words", [
    ("le chat dort.\tthe cat sleeps.", "3 tab-separated columns"),
    ("le chat dort.\tthe cat sleeps.\t0-0\textra", "3 tab-separated columns"),
    ("le chat dort.\tthe cat sleeps.\t0-0 9-1", "out of range"),
    ("le chat dort.\tthe cat sleeps.\t0-0 1-7", "out of range"),
    ("le chat dort.\tthe cat sleeps.\t0-0 a-1", "Pharaoh"),
    ("le chat dort.\tthe cat sleeps.\t0-0 1_1", "Pharaoh"),
])
def test_load_corpus_malformed_line_names_file_and_line(tmp_path, bad, words):
    path = tmp_path / "broken.tsv"
    path.write_text(f"{GOOD}\n\n{bad}\n{GOOD}\n", encoding="utf-8")
    with pytest.raises(DataFormatError) as info:
        load_corpus(path)
    message = str(info.value)
    assert f"{path}:3" in message  # the blank line still counts
    assert words in message
    assert isinstance(info.value, ValueError)


def test_load_corpus_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.tsv"):
        load_corpus(tmp_path / "nope.tsv")


def test_load_synthetic_split_names():
    with pytest.raises(ValueError, match="split"):
        load_synthetic("dev")
    pairs = load_synthetic("valid", FIXTURES.parent.parent / "data" / "synthetic")
    assert len(pairs) == 600


@pytest.mark.parametrize("name", ["tatoeba_2col.tsv", "tatoeba_3col.tsv"])
def test_load_tatoeba_two_and_three_columns(name):
    pairs = load_tatoeba(FIXTURES / name)
    assert pairs == [("Va !", "Go."), ("Je vois.", "I see.")]  # (French, English)


@pytest.mark.parametrize("bad", ["Go.", "Go.\tVa !\tattr\tmore", "Go.\t  "])
def test_load_tatoeba_malformed(tmp_path, bad):
    path = tmp_path / "t.tsv"
    path.write_text(f"Hi.\tSalut.\n{bad}\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=rf"t\.tsv:2"):
        load_tatoeba(path)


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
    pairs = load_tatoeba(path)
    assert len(pairs) > 1000
    assert all(fr and en for fr, en in pairs)
    assert pairs[0] == ("Va !", "Go.")


def test_fetch_checks_sha1(tmp_path, monkeypatch):
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    payload = b"zip bytes"
    serve(monkeypatch, payload)
    good = hashlib.sha1(payload).hexdigest()
    assert fetch("z.zip", "https://example.invalid/z.zip", sha1=good.upper(), cache_dir=tmp_path).read_bytes() == payload
    with pytest.raises(DataUnavailableError, match="sha1"):
        fetch("y.zip", "https://example.invalid/y.zip", sha1=hashlib.sha1(b"other").hexdigest(), cache_dir=tmp_path)
    assert not (tmp_path / "y.zip").exists()


# ----------------------------------------------------------------------------- find_tatoeba
TATOEBA_LINES = "Go.\tVa !\nI see.\tJe vois.\n"


def fake_tatoeba_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(data_mod.TATOEBA_MEMBER, TATOEBA_LINES)
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
    monkeypatch.setattr(data_mod, "TATOEBA_SHA1", hashlib.sha1(archive).hexdigest())
    urls = serve(monkeypatch, archive)
    path = find_tatoeba(cache_dir=tmp_path)
    assert path == tmp_path / "fra.txt" and urls == [data_mod.TATOEBA_URL]
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
    for needle in (data_mod.TATOEBA_URL, str(tmp_path), MIRROR_ENV, "fra.txt", "eng-fra.txt", "URLError"):
        assert needle in message
    assert no_network == [data_mod.TATOEBA_URL]
    with pytest.raises(DataUnavailableError, match="switched off"):
        find_tatoeba(cache_dir=tmp_path, download=False)
    assert len(no_network) == 1


def test_find_tatoeba_reads_the_environment_mirror(tmp_path, monkeypatch, no_network):
    (tmp_path / "eng-fra.txt").write_text(TATOEBA_LINES)
    monkeypatch.setenv(MIRROR_ENV, str(tmp_path))
    assert find_tatoeba(cache_dir=tmp_path / "cache") == tmp_path / "eng-fra.txt"


# ----------------------------------------------------------------------------- split_by_sentence
def test_split_by_sentence_never_shares_a_sentence():
    pairs = [(f"fr {i}", f"en {i}") for i in range(200)]
    pairs += [(f"autre fr {i}", f"en {i}") for i in range(0, 200, 3)]      # English with two French
    pairs += [(f"fr {i}", f"EN {i} bis") for i in range(0, 200, 7)]        # French with two English
    pairs += [("Chaîne A.", "Chain 1."), ("Chaîne B.", "chain 1."), ("chaîne b.", "Chain 2.")]  # a chain
    train, valid, test = split_by_sentence(pairs, seed=3)
    assert sorted(train + valid + test) == sorted(pairs)
    from utils.text import normalize
    for side in (0, 1):
        seen = [{normalize(p[side]) for p in split} for split in (train, valid, test)]
        assert not (seen[0] & seen[1]) and not (seen[0] & seen[2]) and not (seen[1] & seen[2])
    chain = [k for k, split in enumerate((train, valid, test)) for p in split if p[0].lower().startswith("chaîne")]
    assert len(chain) == 3 and len(set(chain)) == 1                         # linked through a chain: together
    assert 0.7 < len(train) / len(pairs) < 0.9 and len(valid) > 0 and len(test) > 0


def test_split_by_sentence_is_seeded_and_keeps_order_inside_splits():
    pairs = [(f"fr {i}", f"en {i}") for i in range(100)]
    assert split_by_sentence(pairs, seed=1) == split_by_sentence(pairs, seed=1)
    assert split_by_sentence(pairs, seed=1) != split_by_sentence(pairs, seed=2)
    train, _, _ = split_by_sentence(pairs, (1.0, 0.0, 0.0))
    assert train == pairs


@pytest.mark.parametrize("fractions", [(0.5, 0.5), (0.8, 0.3, 0.1), (1.2, -0.1, -0.1)])
def test_split_by_sentence_rejects_bad_fractions(fractions):
    with pytest.raises(ValueError, match="fractions"):
        split_by_sentence([("a", "b")], fractions)


# ----------------------------------------------------------------------------- tensors
@pytest.fixture
def vocabs():
    src = build_vocab([["le", "chat", "dort", "."], ["la", "fille", "court", "."]])
    tgt = build_vocab([["the", "cat", "sleeps", "."], ["the", "girl", "runs", "."]])
    return src, tgt


def test_translation_dataset_adds_eos_and_sos(vocabs):
    src_v, tgt_v = vocabs
    ds = TranslationDataset([(["le", "chat", "dort"], ["the", "cat", "sleeps", "zzz"])], src_v, tgt_v)
    src, tgt = ds[0]
    assert src.tolist() == [src_v["le"], src_v["chat"], src_v["dort"], src_v.eos_id]
    assert tgt.tolist() == [tgt_v.sos_id, tgt_v["the"], tgt_v["cat"], tgt_v["sleeps"], tgt_v.unk_id, tgt_v.eos_id]
    assert src.dtype == torch.long and len(ds) == 1 and ds.src_lengths() == [4]


def test_translation_dataset_reverse_source(vocabs):
    src_v, tgt_v = vocabs
    ds = TranslationDataset([(["le", "chat", "dort"], ["the", "cat"])], src_v, tgt_v, reverse_source=True)
    src, tgt = ds[0]
    assert src.tolist() == [src_v["dort"], src_v["chat"], src_v["le"], src_v.eos_id]  # <eos> still last
    assert tgt.tolist() == [tgt_v.sos_id, tgt_v["the"], tgt_v["cat"], tgt_v.eos_id]


def test_translation_dataset_needs_pairs(vocabs):
    with pytest.raises(ValueError):
        TranslationDataset([], *vocabs)


def test_pad_and_collate():
    assert pad([torch.tensor([1, 2]), torch.tensor([3])], 9).tolist() == [[1, 2], [3, 9]]
    items = [(torch.tensor([5, 6, 3]), torch.tensor([2, 7, 3])),
             (torch.tensor([5, 3]), torch.tensor([2, 7, 8, 9, 3])),
             (torch.tensor([4, 5, 6, 7, 3]), torch.tensor([2, 3]))]
    b = collate(items, src_pad=0, tgt_pad=1)
    assert isinstance(b, Batch) and len(b) == 3
    assert b.src.shape == (3, 5) and b.tgt.shape == (3, 5)
    assert b.src_lengths.tolist() == [3, 2, 5]
    assert b.src.tolist() == [[5, 6, 3, 0, 0], [5, 3, 0, 0, 0], [4, 5, 6, 7, 3]]
    assert b.tgt[0].tolist() == [2, 7, 3, 1, 1]
    assert b.src_mask.dtype == torch.bool
    assert b.src_mask.tolist() == [[True] * 3 + [False] * 2, [True] * 2 + [False] * 3, [True] * 5]
    moved = b.to("cpu")
    assert torch.equal(moved.src, b.src) and torch.equal(moved.src_mask, b.src_mask)


def test_bucket_sampler_yields_every_index_once_in_similar_lengths():
    import random
    rng = random.Random(1)
    lengths = [rng.randint(3, 60) for _ in range(103)]
    sampler = BucketBatchSampler(lengths, batch_size=8, shuffle=True, seed=5)
    batches = list(sampler)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(103))
    assert len(batches) == len(sampler) == 13
    assert all(len(b) <= 8 for b in batches)
    # batches do not overlap in length: they are slices of the length-sorted order
    spans = sorted((min(lengths[i] for i in b), max(lengths[i] for i in b)) for b in batches)
    assert all(hi1 <= lo2 for (_, hi1), (lo2, _) in zip(spans, spans[1:]))
    # the spread within a batch is far below that of a random batch
    assert sum(hi - lo for lo, hi in spans) / len(spans) < 10


def test_bucket_sampler_shuffles_per_epoch_and_seed():
    lengths = list(range(40))
    a, b = BucketBatchSampler(lengths, 4, seed=0), BucketBatchSampler(lengths, 4, seed=0)
    first = list(a)
    assert first == list(b)                                       # same seed, same order
    assert list(a) != first                                       # next epoch: a new order
    assert list(BucketBatchSampler(lengths, 4, seed=1)) != first  # other seed, other order
    fixed = list(BucketBatchSampler(lengths, 4, shuffle=False))
    assert fixed == [list(range(i, i + 4)) for i in range(0, 40, 4)]


def test_bucket_sampler_rejects_bad_batch_size():
    with pytest.raises(ValueError):
        BucketBatchSampler([1, 2], 0)


def test_make_loader(vocabs):
    src_v, tgt_v = vocabs
    pairs = [(["le", "chat"] * k, ["the", "cat"] * (k % 3 + 1)) for k in range(1, 11)]
    ds = TranslationDataset(pairs, src_v, tgt_v)
    loader = make_loader(ds, batch_size=3, shuffle=False)
    batches = list(loader)
    assert len(batches) == len(loader) == 4
    assert sum(len(b) for b in batches) == 10
    for b in batches:
        assert isinstance(b, Batch)
        assert int(b.src_lengths.max()) == b.src.size(1)
        assert torch.equal(b.src_mask, b.src != src_v.pad_id)
        assert (b.tgt[:, 0] == tgt_v.sos_id).all()
    # unshuffled: shortest sources first
    assert batches[0].src_lengths.tolist() == [3, 5, 7]
    again = [b.src.tolist() for b in make_loader(ds, batch_size=3, shuffle=True, seed=2)]
    assert again == [b.src.tolist() for b in make_loader(ds, batch_size=3, shuffle=True, seed=2)]


def test_data_module_constants():
    assert data_mod.MIRROR_ENV == "SEQ2SEQ_DATA_MIRROR"
    assert data_mod.CACHE_DIR == data_mod.DATA_DIR / "cache"


# ----------------------------------------------------------------------------- encodings
def test_non_utf8_file_names_file_and_line(tmp_path):
    path = tmp_path / "latin1.tsv"
    path.write_bytes("Hi.\tSalut.\nI see.\tJe vois l'école.\n".encode("latin-1"))
    with pytest.raises(DataFormatError, match=r"latin1\.tsv:2"):
        load_tatoeba(path)


def test_byte_order_mark_is_ignored(tmp_path):
    path = tmp_path / "bom.tsv"
    path.write_bytes("\ufeffle chat dort.\tthe cat sleeps.\t0-0 1-1 2-2 3-3\n".encode("utf-8"))
    assert load_corpus(path)[0].src_tokens == ["le", "chat", "dort", "."]


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
    monkeypatch.setattr(data_mod, "find_tatoeba", unavailable)
    conftest.pytest_collection_modifyitems(None, items)
    assert [len(item.markers) for item in items] == [1, 1, 0]
    marker = items[0].markers[0]
    assert marker.name == "skip" and "SEQ2SEQ_DATA_MIRROR" in marker.kwargs["reason"]
    # with the data reachable, nothing is skipped
    monkeypatch.setattr(data_mod, "find_tatoeba", lambda *a, **k: Path("fra.txt"))
    fresh = [Item(conftest.REAL_DATA_NOTEBOOK)]
    conftest.pytest_collection_modifyitems(None, fresh)
    assert fresh[0].markers == []
