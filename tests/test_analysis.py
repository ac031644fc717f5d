"""The experiments the notebooks run on a trained model: scoring (evaluation), attention against
gold alignments (alignment), bottleneck probes (probes) and exposure bias — on tiny data."""
import math

import pytest
import torch

from utils.alignment import attention_aer, teacher_forced_attention
from utils.evaluation import translate_and_score
from utils.exposure_bias import after_a_mistake, back_on_track
from utils.probes import gradient_by_source_position, probe_final_state
from conftest import make_data, tiny_model


# ----------------------------------------------------------------------------- analysis helpers
def test_test_translations(data):
    model = tiny_model(data)
    results = translate_and_score(model, data)
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
    assert back_on_track(output.split(), "a b c d e".split(), 2) is expected


@pytest.mark.parametrize("position", [-0.1, 1.0])
def test_after_a_mistake_rejects_bad_positions(data, position):
    with pytest.raises(ValueError, match="position"):
        after_a_mistake(tiny_model(data), data, position=position)
