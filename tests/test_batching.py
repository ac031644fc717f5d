"""Datasets, padding, length-bucketed loaders, ParallelData and the one way to batch."""
import pytest
import torch
from conftest import make_data

from utils.batching import Batch, BucketBatchSampler, TranslationDataset, batched, collate, make_loader, pad
from utils.parallel_data import ParallelData
from utils.text import build_vocab


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
    assert all(hi1 <= lo2 for (_, hi1), (lo2, _) in zip(spans, spans[1:], strict=False))
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


# ----------------------------------------------------------------------------- ParallelData
def test_synthetic_data_loaders(data):
    ds = data.dataset("train")
    assert len(ds) == 48
    batches = list(data.loader("valid"))
    assert sum(len(b) for b in batches) == 6
    assert batches[0].src_lengths.tolist() == sorted(batches[0].src_lengths.tolist())  # unshuffled
    assert data.loader("train").batch_sampler.shuffle and not data.loader("test").batch_sampler.shuffle


def test_synthetic_data_reverse_source(splits):
    data = make_data(splits, reverse_source=True)
    src, _ = data.dataset("test")[0]
    tokens = data.test[0].src_tokens
    assert src.tolist() == data.src_vocab.encode(tokens[::-1]) + [data.src_vocab.eos_id]


def test_parallel_data_from_text_pairs():
    train = [("Le chat dort.", "The cat sleeps."), ("Le chien dort.", "The dog sleeps."), ("Va !", "Go.")]
    valid, test = [("Le loup dort.", "The wolf sleeps.")], [("Cours\u202f!", "Run!")]
    data = ParallelData.from_text_pairs(train, valid, test, min_freq=2, batch_size=2)
    assert data.src_vocab.itos[4:] == [".", "dort", "le"] and data.tgt_vocab.itos[4:] == [".", "sleeps", "the"]
    assert "loup" not in data.src_vocab                        # vocabularies come from train only
    assert data.test[0].src_tokens == ["cours", "!"] and data.test[0].alignment == ()
    batch = next(iter(data.loader("valid")))
    assert batch.src[0].tolist() == [data.src_vocab["le"], data.src_vocab.unk_id, data.src_vocab["dort"],
                                     data.src_vocab["."], data.src_vocab.eos_id]
    assert len(ParallelData.from_text_pairs(train, valid, test).src_vocab) == 4 + 7  # le chat dort . chien va !
    with pytest.raises(ValueError, match="training split is empty"):
        ParallelData.from_text_pairs([], valid, test)


def test_from_text_pairs_tokenises_with_the_languages_given():
    train = [("Wie geht's?", "How are you?"), ("Grüß dich!", "Hello!")]
    valid, test = [("Die Straße ist lang.", "The street is long.")], [("Wer ist das?", "Who is that?")]
    data = ParallelData.from_text_pairs(train, valid, test, src_lang="de")
    assert (data.src_lang, data.tgt_lang) == ("de", "en")
    pair = data.train[0]
    assert pair.src_tokens == ["wie", "geht", "'s", "?"] and "geht" in data.src_vocab   # not French's "geht'"
    assert pair.tgt_tokens == ["how", "are", "you", "?"] and (pair.src_lang, pair.tgt_lang) == ("de", "en")
    assert pair.fr == pair.src == "Wie geht's?" and pair.en == pair.tgt == "How are you?"   # the old names still read
    assert data.valid[0].src_tokens == ["die", "straße", "ist", "lang", "."]
    french = ParallelData.from_text_pairs(train, valid, test)                               # French by default
    assert french.src_lang == "fr" and french.train[0].src_tokens == ["wie", "geht'", "s", "?"]
    with pytest.raises(ValueError, match="unknown language 'deu'"):
        ParallelData.from_text_pairs(train, valid, test, src_lang="deu")


def test_batched_keeps_every_item_once_and_says_where_it_belongs():
    items = [(torch.arange(n) + 1, torch.tensor([7, n])) for n in (5, 2, 4, 1, 3)]
    seen = []
    for indices, batch in batched(items, batch_size=2, src_pad=0, tgt_pad=0):
        for row, i in enumerate(indices):
            n = len(items[i][0])
            assert batch.src[row, :n].tolist() == items[i][0].tolist() and batch.src_lengths[row] == n
            assert batch.tgt[row].tolist() == items[i][1].tolist()
        seen += indices
    assert seen == [0, 1, 2, 3, 4]                              # input order
    by_length = [indices for indices, _ in batched(items, batch_size=2, by_length=True)]
    assert by_length == [[3, 1], [4, 2], [0]]                   # shortest first: less padding
    with pytest.raises(ValueError, match="batch_size"):
        next(batched(items, batch_size=0))


def test_parallel_data_batches_match_the_dataset(data):
    pairs = data.test[:5]
    rows = {}
    for indices, batch in data.batches(pairs, batch_size=2):
        for row, i in enumerate(indices):
            rows[i] = batch.src[row, :batch.src_lengths[row]].tolist()
    assert rows == {i: data.dataset("test")[i][0].tolist() for i in range(5)}
    one = data.batch(pairs)
    assert len(one) == 5 and one.src_lengths.tolist() == [len(p.src_tokens) + 1 for p in pairs]
