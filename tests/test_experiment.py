"""Checkpoints, the model cache of ``train_or_load``, and the analysis helpers (tiny data)."""
import math

import pytest
import torch

from utils import experiment
from utils.corpus import generate_splits
from utils.experiment import (ParallelData, SyntheticData, accuracy_by_source_position, attention_aer, load_checkpoint,
                              gradient_by_source_position, probe_final_state, save_checkpoint,
                              teacher_forced_attention, test_translations as run_test_translations,
                              train_or_load, after_a_mistake)
from utils.models import ModelConfig, build_model
from utils.text import build_vocab
from utils.train import History


TINY = dict(emb_size=8, hidden_size=16, attention_size=8)


@pytest.fixture(scope="module")
def splits():
    return generate_splits(seed=11, n_train=48, n_valid=6, n_test_per_bucket=2)


def make_data(splits, reverse_source=False, batch_size=16):
    src_v = build_vocab(p.src_tokens for p in splits["train"])
    tgt_v = build_vocab(p.tgt_tokens for p in splits["train"])
    return SyntheticData(splits["train"], splits["valid"], splits["test"], src_v, tgt_v, reverse_source, batch_size)


@pytest.fixture
def data(splits):
    return make_data(splits)


def tiny_model(data, decoder="luong", score="dot", seed=0):
    torch.manual_seed(seed)
    return build_model(ModelConfig(decoder=decoder, score=score, **TINY), len(data.src_vocab),
                       len(data.tgt_vocab), data.src_vocab.pad_id)


# ----------------------------------------------------------------------------- SyntheticData
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
    assert SyntheticData is ParallelData
    assert data.src_vocab.itos[4:] == [".", "dort", "le"] and data.tgt_vocab.itos[4:] == [".", "sleeps", "the"]
    assert "loup" not in data.src_vocab                        # vocabularies come from train only
    assert data.test[0].src_tokens == ["cours", "!"] and data.test[0].alignment == ()
    batch = next(iter(data.loader("valid")))
    assert batch.src[0].tolist() == [data.src_vocab["le"], data.src_vocab.unk_id, data.src_vocab["dort"],
                                     data.src_vocab["."], data.src_vocab.eos_id]
    assert len(ParallelData.from_text_pairs(train, valid, test).src_vocab) == 4 + 7  # le chat dort . chien va !
    with pytest.raises(ValueError, match="training split is empty"):
        ParallelData.from_text_pairs([], valid, test)


def test_train_or_load_validate_records_valid_loss(data, tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "MODEL_CACHE", tmp_path)
    config = ModelConfig(decoder="luong", **TINY)
    _, plain = train_or_load("tiny", config, data, epochs=2, progress=False, verbose=False)
    _, checked = train_or_load("tiny", config, data, epochs=2, validate=True, progress=False, verbose=False)
    assert plain.valid_loss == [] and len(checked.valid_loss) == 2
    assert len(list(tmp_path.glob("*.pt"))) == 2               # a separate cache entry
    assert checked.step_loss == plain.step_loss                # validating does not change training
    _, again = train_or_load("tiny", config, data, epochs=2, validate=True, progress=False, verbose=False)
    assert again.valid_loss == checked.valid_loss


# ----------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("decoder, score", [("vanilla", "dot"), ("luong", "general"), ("bahdanau", "concat")])
def test_checkpoint_round_trip(data, tmp_path, decoder, score, monkeypatch):
    model = tiny_model(data, decoder, score, seed=5)
    history = History(step_loss=[2.0, 1.5], epoch_loss=[1.75])
    path = tmp_path / "sub" / "m.pt"
    save_checkpoint(path, model, data.src_vocab, data.tgt_vocab, history, extra={"bleu": 12.5})
    assert path.exists()

    loads = []
    real_load = torch.load

    def spy(*args, **kwargs):
        loads.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded, loaded_history, extra = load_checkpoint(path, data.src_vocab, data.tgt_vocab)
    assert loads == [True]                                  # safe loading
    assert loaded.config == model.config
    assert type(loaded.decoder) is type(model.decoder)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert loaded_history == history and extra == {"bleu": 12.5}
    b = next(iter(data.loader("test")))
    loaded.eval(), model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(b.src, b.src_lengths, b.src_mask, b.tgt[:, :-1])[0],
                                   model(b.src, b.src_lengths, b.src_mask, b.tgt[:, :-1])[0])


def test_checkpoint_without_history(data, tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, tiny_model(data), data.src_vocab, data.tgt_vocab)
    _, history, extra = load_checkpoint(path, data.src_vocab, data.tgt_vocab)
    assert history is None and extra == {}


def test_checkpoint_vocab_mismatch(data, tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, tiny_model(data), data.src_vocab, data.tgt_vocab)
    other = build_vocab([["completely", "different"]])
    with pytest.raises(ValueError, match="src vocabulary"):
        load_checkpoint(path, other, data.tgt_vocab)
    with pytest.raises(ValueError, match="tgt vocabulary"):
        load_checkpoint(path, data.src_vocab, other)


# ----------------------------------------------------------------------------- train_or_load
def test_train_or_load_uses_the_cache(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(experiment, "MODEL_CACHE", tmp_path)
    calls = []
    real_fit = experiment.fit

    def counting_fit(*args, **kwargs):
        calls.append(kwargs)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(experiment, "fit", counting_fit)
    config = ModelConfig(decoder="luong", **TINY)
    model1, history1 = train_or_load("tiny", config, data, epochs=1, progress=False)
    assert len(calls) == 1 and len(list(tmp_path.glob("*.pt"))) == 1
    assert len(history1.step_loss) == len(data.loader("train"))
    model2, history2 = train_or_load("tiny", config, data, epochs=1, progress=False)
    assert len(calls) == 1                                    # loaded, not trained again
    assert "loaded" in capsys.readouterr().out
    assert history2 == history1
    for a, b in zip(model1.state_dict().values(), model2.state_dict().values()):
        assert torch.equal(a, b)
    # anything that shapes the model is a different cache entry
    train_or_load("tiny", config, data, epochs=1, lr=5e-3, progress=False, verbose=False)
    assert len(calls) == 2 and len(list(tmp_path.glob("*.pt"))) == 2
    # use_cache=False trains and writes nothing
    train_or_load("tiny", config, data, epochs=1, use_cache=False, progress=False, verbose=False)
    assert len(calls) == 3 and len(list(tmp_path.glob("*.pt"))) == 2


def test_train_or_load_is_seeded(data, tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "MODEL_CACHE", tmp_path)
    config = ModelConfig(decoder="vanilla", **TINY)
    a, _ = train_or_load("a", config, data, epochs=1, use_cache=False, progress=False, verbose=False)
    b, _ = train_or_load("b", config, data, epochs=1, use_cache=False, progress=False, verbose=False)
    for x, y in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(x, y)


def test_train_or_load_schedule_needs_a_name(data, tmp_path, monkeypatch):
    monkeypatch.setattr(experiment, "MODEL_CACHE", tmp_path)
    with pytest.raises(ValueError, match="schedule_name"):
        train_or_load("x", ModelConfig(**TINY), data, teacher_forcing=lambda step: 0.5)


# ----------------------------------------------------------------------------- analysis helpers
def test_test_translations(data):
    model = tiny_model(data)
    results = run_test_translations(model, data)
    n = len(data.test)
    assert len(results.hypotheses) == len(results.references) == len(results.attentions) == n
    assert results.references[0] == data.test[0].tgt_tokens
    assert 0.0 <= results.bleu <= 100.0 and 0.0 <= results.exact <= 1.0
    assert list(results.bleu_by_length) == ["4–10", "11–20", "21–30", "31–40", "41–50", "51–60"]
    assert set(results.exact_by_length) == set(results.bleu_by_length)
    for src, hyp, att in zip(results.sources, results.hypotheses, results.attentions):
        assert att.shape[1] == len(src) + 1 and att.shape[0] in (len(hyp), len(hyp) + 1)


def test_teacher_forced_attention_and_aer(data):
    model = tiny_model(data, "luong", "general")
    weights = teacher_forced_attention(model, data)
    assert len(weights) == len(data.test)
    for w, p in zip(weights, data.test):
        assert w.shape == (len(p.tgt_tokens) + 1, len(p.src_tokens) + 1)
        torch.testing.assert_close(w.sum(-1), torch.ones(w.size(0)))
    aer = attention_aer(model, data)
    assert 0.0 <= aer <= 1.0
    assert aer > 0.5                                             # an untrained model aligns badly
    chosen = [data.test[3], data.valid[0]]                       # any pairs, not only a split
    for w, full in zip(teacher_forced_attention(model, data, pairs=chosen), [weights[3]]):
        torch.testing.assert_close(w, full)
    assert teacher_forced_attention(model, data, pairs=chosen)[1].shape == (
        len(data.valid[0].tgt_tokens) + 1, len(data.valid[0].src_tokens) + 1)


def test_teacher_forced_attention_refuses_vanilla_and_reversed(data, splits):
    with pytest.raises(ValueError, match="no attention"):
        teacher_forced_attention(tiny_model(data, "vanilla"), data)
    reversed_data = make_data(splits, reverse_source=True)
    with pytest.raises(ValueError, match="original order"):
        teacher_forced_attention(tiny_model(reversed_data), reversed_data)


def test_accuracy_by_source_position(data):
    acc = accuracy_by_source_position(tiny_model(data, "vanilla"), data, min_len=31, n_bins=4)
    assert len(acc) == 4 and all(0.0 <= a <= 1.0 for a in acc)
    with pytest.raises(ValueError, match="at least 999"):
        accuracy_by_source_position(tiny_model(data), data, min_len=999)


def test_gradient_by_source_position(data):
    model = tiny_model(data, "luong")
    model.train()
    norms = gradient_by_source_position(model, data, min_len=41, max_sentences=3)
    assert len(norms) == 41 and all(n >= 0 and math.isfinite(n) for n in norms)
    assert sum(norms) > 0
    assert model.training                                        # restored
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())
    with pytest.raises(ValueError):
        gradient_by_source_position(model, data, min_len=999)


def test_probe_final_state(data):
    accuracy, baseline = probe_final_state(tiny_model(data, "vanilla"), data, positions=[1, -1],
                                           min_len=11, steps=5)
    assert set(accuracy) == set(baseline) == {1, -1}
    assert all(0.0 <= v <= 1.0 for v in list(accuracy.values()) + list(baseline.values()))
    assert baseline[-1] == 1.0                                   # every sentence ends with "."


# ----------------------------------------------------------------------------- exposure bias
def test_after_a_mistake_forces_gold_prefix_then_a_wrong_word(data):
    model = tiny_model(data)
    result = after_a_mistake(model, data, position=0.5)
    assert len(result.outputs) == len(data.test)
    for k, wrong, out, ref in zip(result.positions, result.wrong_words, result.outputs, result.references):
        assert k == int(len(ref) * 0.5)
        assert out[:k] == ref[:k]                       # the gold words were forced
        assert out[k] == wrong != ref[k]                # then a word that is not the gold one
        assert wrong not in ("<pad>", "<sos>", "<eos>", "<unk>")
    assert len(result.clean) == len(data.test)
    assert math.isnan(result.recovered) or 0.0 <= result.recovered <= 1.0


@pytest.mark.parametrize("output, expected", [
    ("a b X d e", True),      # X replaced c
    ("a b X c d e", True),    # X was an extra word
    ("a b d e", True),        # d came one word early: c was skipped
    ("a b X e", False),       # X replaced c and d was lost
    ("a b X d e e", False),   # a doubled word later on
    ("a b X", False),         # stopped after the mistake
])
def test_back_on_track(output, expected):
    assert experiment.back_on_track(output.split(), "a b c d e".split(), 2) is expected


@pytest.mark.parametrize("position", [-0.1, 1.0])
def test_after_a_mistake_rejects_bad_positions(data, position):
    with pytest.raises(ValueError, match="position"):
        after_a_mistake(tiny_model(data), data, position=position)
