"""Teacher-forcing schedules, the masked loss, fit (a few steps) and evaluate."""
import math

import pytest
import torch
import torch.nn.functional as F

from utils import train
from utils.batching import TranslationDataset, collate, make_loader
from utils.build import build_model
from utils.models import RNNConfig
from utils.text import build_vocab
from utils.train import (
    History,
    constant,
    evaluate,
    exponential_decay,
    fit,
    inverse_sigmoid_decay,
    linear_decay,
    sequence_loss,
)


# ----------------------------------------------------------------------------- schedules
def test_constant():
    s = constant(0.3)
    assert [s(i) for i in (0, 10, 10_000)] == [0.3, 0.3, 0.3]


def test_linear_decay():
    s = linear_decay(k=1.0, c=0.01, eps=0.2)
    assert s(0) == pytest.approx(1.0)
    assert s(30) == pytest.approx(0.7)
    assert s(79) == pytest.approx(0.21)
    assert s(80) == pytest.approx(0.2)
    assert s(1000) == pytest.approx(0.2)          # floored at eps
    assert linear_decay(k=0.9, c=0.1)(20) == 0.0  # default eps = 0


def test_exponential_decay():
    s = exponential_decay(0.99)
    assert s(0) == 1.0
    assert s(1) == pytest.approx(0.99)
    assert s(100) == pytest.approx(0.99 ** 100)
    assert s(100) == pytest.approx(0.36603, abs=1e-5)


def test_inverse_sigmoid_decay():
    k = 10.0
    s = inverse_sigmoid_decay(k)
    for i in (0, 5, 20, 50):
        assert s(i) == pytest.approx(k / (k + math.exp(i / k)))
    assert s(0) == pytest.approx(10 / 11)
    assert s(50) == pytest.approx(10 / (10 + math.exp(5)))
    values = [s(i) for i in range(0, 200, 10)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert 0.0 <= inverse_sigmoid_decay(1.0)(10 ** 9) < 1e-100   # no OverflowError far out


# ----------------------------------------------------------------------------- loss
def test_sequence_loss_ignores_padding():
    torch.manual_seed(0)
    pad_id = 0
    logits = torch.randn(2, 4, 7)
    tgt = torch.tensor([[3, 5, 2, 0], [4, 0, 0, 0]])
    real = tgt != pad_id
    expected = F.cross_entropy(logits[real], tgt[real])               # mean over the 4 real tokens
    assert sequence_loss(logits, tgt, pad_id) == pytest.approx(expected.item())
    changed = logits.clone()
    changed[~real] = torch.randn(int((~real).sum()), 7) * 100         # garbage at padding
    assert sequence_loss(changed, tgt, pad_id) == pytest.approx(expected.item())
    # a different pad id changes which tokens count
    assert sequence_loss(logits, tgt, pad_id=5) != pytest.approx(expected.item())


# ----------------------------------------------------------------------------- fit
SRC = [["le", "chat", "dort", "."], ["la", "fille", "court", "."], ["le", "chien", "mange", "une", "pomme", "."],
       ["la", "femme", "voit", "le", "chat", "."], ["le", "garçon", "chante", "."],
       ["la", "maison", "est", "bleue", "."]]
TGT = [["the", "cat", "sleeps", "."], ["the", "girl", "runs", "."], ["the", "dog", "eats", "an", "apple", "."],
       ["the", "woman", "sees", "the", "cat", "."], ["the", "boy", "sings", "."], ["the", "house", "is", "blue", "."]]


@pytest.fixture(scope="module")
def tiny():
    src_v, tgt_v = build_vocab(SRC), build_vocab(TGT)
    ds = TranslationDataset(list(zip(SRC, TGT, strict=True)) * 4, src_v, tgt_v)
    return ds, src_v, tgt_v


def tiny_model(tiny, decoder="luong", seed=0, **kw):
    _, src_v, tgt_v = tiny
    torch.manual_seed(seed)
    return build_model(RNNConfig(decoder=decoder, emb_size=8, hidden_size=16, **kw), len(src_v), len(tgt_v))


def test_fit_lowers_the_loss(tiny):
    ds, _, tgt_v = tiny
    model = tiny_model(tiny, "luong")
    loader = make_loader(ds, batch_size=8, shuffle=True, seed=0)
    before = evaluate(model, loader, pad_id=tgt_v.pad_id)
    history = fit(model, loader, epochs=8, lr=2e-2, pad_id=tgt_v.pad_id, verbose=False)
    after = evaluate(model, loader, pad_id=tgt_v.pad_id)
    assert len(history.step_loss) == 8 * len(loader) == 24
    assert len(history.epoch_loss) == len(history.epoch_time) == 8
    assert history.epoch_loss[-1] < 0.5 * history.epoch_loss[0]
    assert after["loss"] < 0.5 * before["loss"]
    assert after["accuracy"] > before["accuracy"]
    assert history.step_time == sorted(history.step_time)
    assert history.valid_loss == []
    assert history.step_ratio == [1.0] * 24


@pytest.mark.parametrize("decoder", ["vanilla", "bahdanau"])
def test_fit_lowers_the_loss_of_the_other_decoders(tiny, decoder):
    ds, _, tgt_v = tiny
    model = tiny_model(tiny, decoder)
    loader = make_loader(ds, batch_size=8, shuffle=True, seed=0)
    history = fit(model, loader, epochs=6, lr=2e-2, pad_id=tgt_v.pad_id, verbose=False)
    assert history.epoch_loss[-1] < 0.7 * history.epoch_loss[0]


def test_fit_with_a_schedule_validation_and_callback(tiny, capsys):
    ds, _, tgt_v = tiny
    model = tiny_model(tiny, "luong")
    loader = make_loader(ds, batch_size=12, shuffle=False)
    steps_seen = []
    history = fit(model, loader, epochs=2, teacher_forcing=linear_decay(1.0, 0.25), valid_loader=loader,
                  pad_id=tgt_v.pad_id, verbose=True,
                  on_step_end=lambda step, m: steps_seen.append((step, m is model)))
    assert history.step_ratio == [1.0, 0.75, 0.5, 0.25]
    assert len(history.valid_loss) == 2 and all(v > 0 for v in history.valid_loss)
    assert steps_seen == [(1, True), (2, True), (3, True), (4, True)]
    out = capsys.readouterr().out
    assert "epoch  1" in out and "valid loss" in out and "epoch  2" in out


def test_fit_quiet_prints_nothing(tiny, capsys):
    ds, _, tgt_v = tiny
    fit(tiny_model(tiny), make_loader(ds, 24), epochs=1, pad_id=tgt_v.pad_id, verbose=False)
    assert capsys.readouterr().out == ""


def test_fit_is_reproducible_with_a_seed(tiny):
    ds, _, tgt_v = tiny

    def once():
        model = tiny_model(tiny, "luong", seed=3)
        torch.manual_seed(3)
        return fit(model, make_loader(ds, 8, seed=1), epochs=1, teacher_forcing=0.5, pad_id=tgt_v.pad_id,
                   verbose=False).step_loss

    assert once() == once()


def test_fit_rejects_zero_epochs(tiny):
    ds, _, tgt_v = tiny
    with pytest.raises(ValueError, match="epochs"):
        fit(tiny_model(tiny), make_loader(ds, 8), epochs=0, verbose=False)


def test_fit_clips_the_gradient_norm(tiny, monkeypatch):
    ds, _, tgt_v = tiny
    seen = []

    class Recording(torch.optim.Adam):
        def step(self, *args, **kwargs):     # the gradient the optimizer is about to use
            norms = [p.grad.norm() for group in self.param_groups for p in group["params"] if p.grad is not None]
            seen.append(torch.stack(norms).norm().item())    # the norm of all gradients as one vector
            return super().step(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", Recording)
    loader = make_loader(ds, batch_size=8)

    def huge_gradients():                    # logits × 1000: a loss in the thousands, steep gradients
        model = tiny_model(tiny, "luong")
        with torch.no_grad():
            model.decoder.out.weight.mul_(1000.0)
        return model

    monkeypatch.setattr(train, "CLIP_NORM", float("inf"))
    fit(huge_gradients(), loader, epochs=1, pad_id=tgt_v.pad_id, verbose=False)
    assert min(seen) > 100                   # without clipping the optimizer sees them whole
    seen.clear()
    monkeypatch.setattr(train, "CLIP_NORM", 1.0)
    fit(huge_gradients(), loader, epochs=1, pad_id=tgt_v.pad_id, verbose=False)
    assert len(seen) == len(loader) and max(seen) <= 1.0 + 1e-4


def test_lr_decay_reaches_lr_times_decay_at_the_last_step(tiny, monkeypatch):
    ds, _, tgt_v = tiny
    seen = []

    class Recording(torch.optim.Adam):
        def step(self, *args, **kwargs):
            seen.append(self.param_groups[0]["lr"])
            return super().step(*args, **kwargs)

    monkeypatch.setattr(torch.optim, "Adam", Recording)
    loader = make_loader(ds, batch_size=8)                              # 3 batches
    fit(tiny_model(tiny), loader, epochs=2, lr=0.01, lr_decay=0.1, pad_id=tgt_v.pad_id, verbose=False)
    assert len(seen) == 6
    assert seen[0] == pytest.approx(0.01)
    assert seen[-1] == pytest.approx(0.001)
    steps = [0.01 - 0.009 * i / 5 for i in range(6)]                     # linear in between
    assert seen == pytest.approx(steps)
    seen.clear()
    fit(tiny_model(tiny), loader, epochs=1, lr=0.01, pad_id=tgt_v.pad_id, verbose=False)
    assert seen == pytest.approx([0.01] * 3)                             # no decay by default
    seen.clear()
    fit(tiny_model(tiny), loader, epochs=2, lr=0.01, lr_decay=0.1, warmup=2, pad_id=tgt_v.pad_id, verbose=False)
    assert seen == pytest.approx([0.005, 0.01,                          # warm-up: up to lr in 2 steps
                                  0.01, 0.007, 0.004, 0.001])            # then linear decay to lr * lr_decay


def test_label_smoothing_moves_the_target_off_one_word():
    logits = torch.tensor([[[8.0, -4.0, -4.0, -4.0]]])                 # confident in word 0, the right one
    target = torch.tensor([[0]])
    plain = sequence_loss(logits, target, pad_id=3)
    smoothed = sequence_loss(logits, target, pad_id=3, label_smoothing=0.3)
    assert smoothed > plain                                              # confidence is now penalised
    log_p = torch.log_softmax(logits[0, 0], -1)
    assert smoothed == pytest.approx(-(0.7 * log_p[0] + 0.3 * log_p.mean()).item(), rel=1e-5)


# ----------------------------------------------------------------------------- evaluate
def test_evaluate_matches_a_manual_computation(tiny):
    ds, src_v, tgt_v = tiny
    model = tiny_model(tiny, "luong", seed=1)
    items = [ds[i] for i in range(6)]
    loader = [collate(items[:4], src_v.pad_id, tgt_v.pad_id), collate(items[4:], src_v.pad_id, tgt_v.pad_id)]
    result = evaluate(model, loader, pad_id=tgt_v.pad_id)
    assert set(result) == {"loss", "accuracy"}
    losses, correct, total = [], 0, 0
    with torch.no_grad():
        for src, tgt in items:                                         # one sentence at a time
            logits, _ = model(src[None], torch.ones(1, len(src), dtype=torch.bool),
                              tgt[None, :-1])
            gold = tgt[1:]
            losses.append(F.cross_entropy(logits[0], gold, reduction="sum").item())
            correct += int((logits[0].argmax(-1) == gold).sum())
            total += len(gold)
    assert result["loss"] == pytest.approx(sum(losses) / total, rel=1e-5)
    assert result["accuracy"] == pytest.approx(correct / total)
    assert not model.training


# ----------------------------------------------------------------------------- History
def test_history_round_trip():
    h = History(step_loss=[3.0, 2.5], step_time=[0.1, 0.2], step_ratio=[1.0, 0.9], epoch_loss=[2.75],
                valid_loss=[2.6], epoch_time=[0.2])
    d = h.to_dict()
    assert set(d) == {"step_loss", "step_time", "step_ratio", "epoch_loss", "valid_loss", "epoch_time"}
    assert History.from_dict(d) == h
    d["step_loss"].append(9.0)               # the dict's lists are copies: the history is unchanged
    assert h.step_loss == [3.0, 2.5]
    again = History.from_dict(d)
    d["step_loss"].append(10.0)              # and from_dict copies them again
    assert again.step_loss == [3.0, 2.5, 9.0]
    assert History.from_dict(History().to_dict()) == History()


def test_fit_calls_on_step_end_after_every_update_in_training_mode(tiny):
    ds, _, tgt_v = tiny
    model, pad_id = tiny_model(tiny, "luong"), tgt_v.pad_id
    loader = make_loader(ds, batch_size=8, shuffle=True, seed=0)
    seen = []

    def snapshot(step, m):
        seen.append((step, m.training))
        m.eval()                                         # fit must switch training mode back on

    fit(model, loader, epochs=2, verbose=False, pad_id=pad_id, on_step_end=snapshot)
    assert [s for s, _ in seen] == list(range(1, 2 * len(loader) + 1))
    assert all(training for _, training in seen)


def test_pairs_per_second_measures_without_changing_the_model_unless_asked(tiny):
    from utils.train import pairs_per_second

    ds, _, tgt_v = tiny
    model = tiny_model(tiny)
    batches = list(make_loader(ds, batch_size=8, shuffle=False))[:2]
    before = [p.detach().clone() for p in model.parameters()]
    speed = pairs_per_second(model, batches, tgt_v.pad_id)
    assert speed > 0
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))   # no optimizer: no update
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())      # and no gradients left
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    pairs_per_second(model, batches, tgt_v.pad_id, optimizer)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))   # with one: trained


# ----------------------------------------------------------------------------- coverage penalty
def test_coverage_penalty_is_zero_when_every_position_is_read_equally_and_large_for_a_collapse():
    from utils.train import coverage_penalty

    real = torch.ones(1, 4, dtype=torch.bool)
    assert coverage_penalty(torch.eye(4)[None], real, real) == pytest.approx(0.0)
    collapsed = torch.zeros(1, 4, 4)
    collapsed[..., -1] = 1.0                                             # every target word reads the last position
    assert coverage_penalty(collapsed, real, real) == pytest.approx((3 * 1 + 3 ** 2) / 4)


def test_coverage_penalty_ignores_padding_and_scales_with_lengths():
    from utils.train import coverage_penalty

    weights = torch.full((1, 3, 4), 0.0)
    weights[0, :, :2] = 0.5                                              # 3 target words over 2 real positions
    src_mask = torch.tensor([[True, True, False, False]])
    tgt_mask = torch.tensor([[True, True, False]])                       # the third row is padding
    assert coverage_penalty(weights, src_mask, tgt_mask) == pytest.approx(0.0)   # each position gets T/S = 1
    weights[0, 2] = torch.tensor([0.0, 0.0, 1.0, 0.0])                   # padding rows and columns change nothing
    assert coverage_penalty(weights, src_mask, tgt_mask) == pytest.approx(0.0)


def test_fit_with_coverage_spreads_attention(tiny):
    from utils.train import coverage_penalty

    ds, _, tgt_v = tiny
    loader = make_loader(ds, batch_size=8)

    def penalty_after(coverage):
        model = tiny_model(tiny)
        fit(model, loader, epochs=4, lr=0.01, coverage=coverage, pad_id=tgt_v.pad_id, verbose=False)
        model.eval()
        with torch.no_grad():
            batch = next(iter(make_loader(ds, batch_size=len(ds), shuffle=False)))
            _, weights = model(batch.src, batch.src_mask, batch.tgt[:, :-1])
            return coverage_penalty(weights, batch.src_mask, batch.tgt[:, 1:] != tgt_v.pad_id).item()

    assert penalty_after(coverage=5.0) < penalty_after(coverage=0.0)


def test_coverage_without_attention_is_a_clear_error(tiny):
    ds, _, tgt_v = tiny
    with pytest.raises(ValueError, match="needs a model with attention"):
        fit(tiny_model(tiny, decoder="vanilla"), make_loader(ds, batch_size=8), epochs=1, coverage=1.0,
            pad_id=tgt_v.pad_id, verbose=False)
