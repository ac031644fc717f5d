"""Encoder and decoders: shapes, padding invariance, parallel == step loop, errors."""
import dataclasses
import math

import pytest
import torch
import torch.nn as nn

from utils.attention import ConcatScore, DotScore
from utils.batching import collate
from utils.build import build_model
from utils.models import (
    BahdanauDecoder,
    BidirectionalEncoder,
    Encoder,
    LuongDecoder,
    RNNConfig,
    VanillaDecoder,
    gru_step,
)
from utils.seq2seq import Seq2Seq, count_parameters

V_SRC, V_TGT, E, H = 23, 19, 6, 12
CONFIGS = [
    RNNConfig(decoder="vanilla", emb_size=E, hidden_size=H),
    RNNConfig(decoder="luong", score="dot", emb_size=E, hidden_size=H),
    RNNConfig(decoder="luong", score="scaled_dot", emb_size=E, hidden_size=H),
    RNNConfig(decoder="luong", score="general", emb_size=E, hidden_size=H),
    RNNConfig(decoder="luong", score="concat", emb_size=E, hidden_size=H, attention_size=5),
    RNNConfig(decoder="bahdanau", score="concat", emb_size=E, hidden_size=H, attention_size=5),
    RNNConfig(decoder="bahdanau", score="dot", emb_size=E, hidden_size=H),
    RNNConfig(decoder="luong", score="dot", emb_size=E, hidden_size=H, bidirectional=True),
    RNNConfig(decoder="bahdanau", score="concat", emb_size=E, hidden_size=H, attention_size=5, bidirectional=True),
    RNNConfig(decoder="luong", score="concat", emb_size=E, hidden_size=H, attention_size=5, query="previous"),
]
IDS = [(f"{c.decoder}-{c.score}" if c.decoder != "vanilla" else "vanilla") + ("-bi" if c.bidirectional else "")
       + ("-previous" if c.query == "previous" else "") for c in CONFIGS]
PARALLEL = [(c, i) for c, i in zip(CONFIGS, IDS, strict=True) if c.decoder != "bahdanau"]   # a one-call path
BAHDANAU = [(c, i) for c, i in zip(CONFIGS, IDS, strict=True) if c.decoder == "bahdanau"]


def make(config, seed=0):
    torch.manual_seed(seed)
    return build_model(config, V_SRC, V_TGT).eval()


def sentences(seed=0):
    """Three (src, tgt) id pairs: the first is the shortest on both sides."""
    g = torch.Generator().manual_seed(seed)
    lens = [(3, 4), (7, 6), (5, 9)]
    return [(torch.cat([torch.randint(4, V_SRC, (s - 1,), generator=g), torch.tensor([3])]),
             torch.cat([torch.tensor([2]), torch.randint(4, V_TGT, (t - 2,), generator=g), torch.tensor([3])]))
            for s, t in lens]


def run(model, items, **kwargs):
    b = collate(items, 0, 0)
    enc_out, hidden = model.encoder(b.src, b.src_mask)
    logits, weights = model(b.src, b.src_mask, b.tgt[:, :-1], **kwargs)
    return b, enc_out, hidden, logits, weights


# ----------------------------------------------------------------------------- encoder
def test_encoder_shapes_and_equality_with_packed_gru():
    torch.manual_seed(0)
    enc = Encoder(V_SRC, E, H)
    b = collate(sentences(), 0, 0)
    enc_out, hidden = enc(b.src, b.src_mask)
    assert enc_out.shape == (3, 7, H) and hidden.shape == (1, 3, H)
    ref_out, ref_hidden = enc.forward_packed(b.src, b.src_mask)     # pack_padded_sequence
    torch.testing.assert_close(enc_out, ref_out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(hidden, ref_hidden, atol=1e-6, rtol=1e-5)
    assert (enc_out[~b.src_mask] == 0).all()


def test_bidirectional_encoder_equals_packed_bidirectional_gru():
    torch.manual_seed(0)
    enc = BidirectionalEncoder(V_SRC, E, H).eval()
    b = collate(sentences(), 0, 0)
    states, final = enc.states(b.src, b.src_mask)
    ref_states, ref_final = enc.states_packed(b.src, b.src_mask)   # one packed bidirectional nn.GRU
    torch.testing.assert_close(states, ref_states, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(final, ref_final, atol=1e-6, rtol=1e-5)
    enc_out, hidden = enc(b.src, b.src_mask)
    ref_out, ref_hidden = enc.forward_packed(b.src, b.src_mask)
    torch.testing.assert_close(enc_out, ref_out, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(hidden, ref_hidden, atol=1e-6, rtol=1e-5)
    assert enc_out.shape == (3, 7, H) and hidden.shape == (1, 3, H)     # projected back to H
    assert (enc_out[~b.src_mask] == 0).all()
    torch.testing.assert_close(hidden[0], torch.tanh(enc.project_hidden(final)))


def test_bidirectional_states_read_the_sentence_both_ways():
    # one sentence, no padding: the backward half is the backward GRU run over the reversed words
    torch.manual_seed(0)
    enc = BidirectionalEncoder(V_SRC, E, H).eval()
    src = sentences()[1][0][None]                                         # [1, 7]
    states, final = enc.states(src, torch.ones(1, 7, dtype=torch.bool))
    embedded = enc.embedding(src)
    forward, _ = enc.rnn(embedded)
    backward, _ = enc.rnn_backward(embedded.flip(1))
    torch.testing.assert_close(states[..., :H], forward, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(states[..., H:], backward.flip(1), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(final, torch.cat([forward[:, -1], backward[:, -1]], -1), atol=1e-6, rtol=1e-5)


def test_bidirectional_state_sees_the_words_after_it():
    torch.manual_seed(0)
    one_way, two_way = Encoder(V_SRC, E, H), BidirectionalEncoder(V_SRC, E, H)
    a = torch.tensor([[5, 6, 7, 3]])
    b = torch.tensor([[5, 6, 9, 3]])                                      # differs at the third word
    for enc, changes in ((one_way, False), (two_way, True)):
        first_a = enc(a, torch.ones(1, 4, dtype=torch.bool))[0][0, 0]
        first_b = enc(b, torch.ones(1, 4, dtype=torch.bool))[0][0, 0]
        assert (not torch.allclose(first_a, first_b)) == changes


def test_encoder_final_state_is_at_the_last_real_token():
    torch.manual_seed(0)
    enc = Encoder(V_SRC, E, H)
    b = collate(sentences(), 0, 0)
    enc_out, hidden = enc(b.src, b.src_mask)
    for i, n in enumerate(b.src_lengths.tolist()):
        torch.testing.assert_close(hidden[0, i], enc_out[i, n - 1])


# ----------------------------------------------------------------------------- padding
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_padding_invariance(config):
    model = make(config)
    items = sentences()
    alone = run(model, items[:1])
    batch = run(model, items)
    n_src, n_tgt = len(items[0][0]), len(items[0][1]) - 1
    b = batch[0]
    assert b.src.size(1) > n_src and b.tgt.size(1) - 1 > n_tgt  # really padded on both sides
    torch.testing.assert_close(batch[1][0, :n_src], alone[1][0], atol=1e-5, rtol=1e-5)   # encoder states
    torch.testing.assert_close(batch[2][:, 0], alone[2][:, 0], atol=1e-5, rtol=1e-5)     # final hidden
    torch.testing.assert_close(batch[3][0, :n_tgt], alone[3][0], atol=1e-5, rtol=1e-5)   # logits
    if config.decoder == "vanilla":
        assert batch[4] is None and alone[4] is None
    else:
        torch.testing.assert_close(batch[4][0, :n_tgt, :n_src], alone[4][0], atol=1e-5, rtol=1e-5)
        assert (batch[4][0, :, n_src:] == 0).all()


# ----------------------------------------------------------------------------- forward paths
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_shapes(config):
    model = make(config)
    b, _, _, logits, weights = run(model, sentences())
    T = b.tgt.size(1) - 1
    assert logits.shape == (3, T, V_TGT)
    if config.decoder == "vanilla":
        assert weights is None
    else:
        assert weights.shape == (3, T, b.src.size(1))
        torch.testing.assert_close(weights.sum(-1), torch.ones(3, T))


@pytest.mark.parametrize("config", [c for c, _ in PARALLEL], ids=[i for _, i in PARALLEL])
def test_parallel_teacher_forcing_equals_the_step_loop(config):
    model = make(config)
    assert model.decoder.parallel_teacher_forcing
    b = collate(sentences(1), 0, 0)
    args = (b.src, b.src_mask, b.tgt[:, :-1])
    par_logits, par_w = model(*args, parallel=True)
    loop_logits, loop_w = model(*args, parallel=False)
    torch.testing.assert_close(par_logits, loop_logits, atol=1e-5, rtol=1e-5)
    if par_w is not None:
        torch.testing.assert_close(par_w, loop_w, atol=1e-5, rtol=1e-5)


def bahdanau_step_by_hand(decoder, y_prev, s_prev, enc_out, src_mask):
    """One Bahdanau step written from the equations with the decoder's weights — no ``attend``,
    no ``gru_step``: ``y_prev [b]``, ``s_prev [b, H]`` → logits ``[b, V]``, ``s_i [b, H]``, ``α_i [b, S]``."""
    score = decoder.score
    if isinstance(score, ConcatScore):                     # e_ij = v · tanh(W1 s_{i-1} + W2 h_j)
        e = torch.tanh(score.W1(s_prev)[:, None, :] + score.W2(enc_out)) @ score.v.weight[0]
    else:                                                  # e_ij = s_{i-1} · h_j
        assert isinstance(score, DotScore)
        e = (enc_out * s_prev[:, None, :]).sum(-1)
    alpha = torch.softmax(e.masked_fill(~src_mask, float("-inf")), dim=-1)    # [b, S]
    c = (alpha[:, :, None] * enc_out).sum(1)                                  # c_i = Σ_j α_ij h_j
    rnn_in = torch.cat([decoder.embedding(y_prev), c], dim=-1)[:, None]       # [previous word; c_i]
    _, s = decoder.rnn(rnn_in, s_prev[None])                                  # plain nn.GRU call
    s = s[0]
    logits = decoder.out(torch.tanh(decoder.combine(torch.cat([c, s], dim=-1))))
    return logits, s, alpha


@pytest.mark.parametrize("config", [c for c, _ in BAHDANAU], ids=[i for _, i in BAHDANAU])
def test_bahdanau_decoder_equals_its_equations(config):
    model = make(config)
    assert not model.decoder.parallel_teacher_forcing       # each step needs the previous context
    b = collate(sentences(1), 0, 0)
    logits, weights = model(b.src, b.src_mask, b.tgt[:, :-1])
    enc_out, hidden = model.encoder(b.src, b.src_mask)
    s = hidden[0]                                           # s_0: the encoder's final state
    for t in range(b.tgt.size(1) - 1):
        ref_logits, s, ref_alpha = bahdanau_step_by_hand(model.decoder, b.tgt[:, t], s, enc_out, b.src_mask)
        torch.testing.assert_close(logits[:, t], ref_logits, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(weights[:, t], ref_alpha, atol=1e-5, rtol=1e-5)


def test_luong_forward_teacher_is_really_parallel(monkeypatch):
    model = make(CONFIGS[1])
    calls = []
    original = model.decoder.step
    monkeypatch.setattr(model.decoder, "step", lambda *a: calls.append(1) or original(*a))
    b = collate(sentences(), 0, 0)
    model(b.src, b.src_mask, b.tgt[:, :-1])
    assert calls == []
    model(b.src, b.src_mask, b.tgt[:, :-1], parallel=False)
    assert len(calls) == b.tgt.size(1) - 1


def test_teacher_forcing_ratio_is_the_share_of_gold_words_fed(monkeypatch):
    model = make(CONFIGS[1])
    b = collate(sentences() * 40, 0, 0)                    # 120 sentences: about 1000 choices
    fed, predicted = [], []
    original = model.decoder.step

    def spy(y_prev, *rest):
        out = original(y_prev, *rest)
        fed.append(y_prev)
        predicted.append(out[0].argmax(-1))
        return out

    monkeypatch.setattr(model.decoder, "step", spy)
    torch.manual_seed(0)
    model(b.src, b.src_mask, b.tgt[:, :-1], teacher_forcing=0.3)
    gold = b.tgt[:, :-1]
    took_gold = took_own = 0
    for t in range(1, gold.size(1)):
        is_gold, is_own = fed[t] == gold[:, t], fed[t] == predicted[t - 1]
        assert (is_gold | is_own).all()                    # always the gold word or the model's own
        differ = gold[:, t] != predicted[t - 1]            # where the two choices can be told apart
        took_gold += int((is_gold & differ).sum())
        took_own += int((is_own & differ).sum())
    assert took_gold + took_own > 500
    assert 0.23 < took_gold / (took_gold + took_own) < 0.37  # 0.3 ± 4 standard deviations


def test_luong_query_previous_attends_with_the_state_before_the_step():
    """query="previous" changes only the query: s_{i-1} instead of s_i (s_0 = the encoder's h_T)."""
    current = make(RNNConfig(decoder="luong", score="dot", emb_size=E, hidden_size=H))
    previous = make(RNNConfig(decoder="luong", score="dot", emb_size=E, hidden_size=H, query="previous"))
    previous.load_state_dict(current.state_dict())                    # same weights, same parameters
    b = collate(sentences(), 0, 0)
    enc_out, hidden = current.encoder(b.src, b.src_mask)
    states, _ = current.decoder.rnn(current.decoder.embedding(b.tgt[:, :-1]), hidden)  # s_1 … s_T
    queries = torch.cat([hidden.transpose(0, 1), states[:, :-1]], dim=1)            # s_0 … s_{T-1}
    expected = torch.softmax((queries @ enc_out.transpose(1, 2)).masked_fill(~b.src_mask[:, None], float("-inf")), -1)
    _, weights = previous(b.src, b.src_mask, b.tgt[:, :-1])
    _, weights_current = current(b.src, b.src_mask, b.tgt[:, :-1])
    torch.testing.assert_close(weights, expected, atol=1e-5, rtol=1e-5)
    assert not torch.allclose(weights, weights_current)
    with pytest.raises(ValueError, match="query"):
        make(RNNConfig(decoder="luong", emb_size=E, hidden_size=H, query="next"))


@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[1], CONFIGS[5]], ids=["vanilla", "luong", "bahdanau"])
def test_free_running_with_teacher_forcing_zero(config):
    model = make(config)
    b = collate(sentences(), 0, 0)
    torch.manual_seed(0)
    logits, _ = model(b.src, b.src_mask, b.tgt[:, :-1], teacher_forcing=0.0)
    assert logits.shape == (3, b.tgt.size(1) - 1, V_TGT)
    # step t+1 is fed the model's own argmax at step t, not the gold word: replay it by hand
    enc_out, hidden = model.encoder(b.src, b.src_mask)
    state = model.decoder.init_state(hidden, enc_out)
    y = b.tgt[:, 0]
    for t in range(logits.size(1)):
        step_logits, state, _ = model.decoder.step(y, state, enc_out, b.src_mask)
        torch.testing.assert_close(step_logits, logits[:, t], atol=1e-5, rtol=1e-5)
        y = step_logits.argmax(-1)


@pytest.mark.parametrize("ratio", [-0.1, 1.5])
def test_teacher_forcing_outside_unit_interval(ratio):
    model = make(CONFIGS[1])
    b = collate(sentences(), 0, 0)
    with pytest.raises(ValueError, match="teacher_forcing"):
        model(b.src, b.src_mask, b.tgt[:, :-1], teacher_forcing=ratio)


def test_gru_step_equals_nn_gru():
    torch.manual_seed(0)
    rnn = nn.GRU(5, 7, batch_first=True)
    x, h = torch.randn(3, 1, 5), torch.randn(1, 3, 7)
    _, ref = rnn(x, h)
    out = gru_step(rnn, x, h)
    assert out.shape == (1, 3, 7)
    torch.testing.assert_close(out, ref, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[1], CONFIGS[5]], ids=["vanilla", "luong", "bahdanau"])
def test_untrained_loss_is_about_log_v(config):
    model = make(config)
    b = collate(sentences(), 0, 0)
    logits, _ = model(b.src, b.src_mask, b.tgt[:, :-1])
    loss = nn.functional.cross_entropy(logits.reshape(-1, V_TGT), b.tgt[:, 1:].reshape(-1), ignore_index=0)
    assert abs(loss.item() - math.log(V_TGT)) < 0.3


# ----------------------------------------------------------------------------- dropout
DROPOUT = [CONFIGS[0], CONFIGS[1], CONFIGS[5], CONFIGS[7]]


@pytest.mark.parametrize("config", DROPOUT, ids=["vanilla", "luong", "bahdanau", "luong-bi"])
def test_dropout_is_random_in_training_and_off_in_evaluation(config):
    model = make(dataclasses.replace(config, dropout=0.3))   # notebook 06 trains with 0.3
    b = collate(sentences(1), 0, 0)
    args = (b.src, b.src_mask, b.tgt[:, :-1])
    model.train()
    first, second = model(*args)[0], model(*args)[0]
    assert not torch.allclose(first, second)                 # a new dropout mask on every call
    model.eval()
    logits, weights = model(*args)
    torch.testing.assert_close(model(*args)[0], logits, atol=0, rtol=0)
    # in evaluation, dropout 0.3 is no dropout at all: the same weights without it agree
    without = make(dataclasses.replace(config, dropout=0.0))
    without.load_state_dict(model.state_dict())
    torch.testing.assert_close(without(*args)[0], logits, atol=1e-6, rtol=1e-5)
    # and the fast paths still equal the textbook ones
    torch.testing.assert_close(model(*args, parallel=False)[0], logits, atol=1e-5, rtol=1e-5)
    packed_out = model.encoder.forward_packed(b.src, b.src_mask)
    for fast, packed in zip(model.encoder(b.src, b.src_mask), packed_out, strict=True):
        torch.testing.assert_close(fast, packed, atol=1e-6, rtol=1e-5)


# ----------------------------------------------------------------------------- build / count
def test_build_model_types():
    assert isinstance(make(CONFIGS[0]).decoder, VanillaDecoder)
    assert isinstance(make(CONFIGS[1]).decoder, LuongDecoder)
    assert isinstance(make(CONFIGS[5]).decoder, BahdanauDecoder)
    model = make(CONFIGS[3])
    assert isinstance(model, Seq2Seq) and model.config == CONFIGS[3]
    assert model.decoder.has_attention and not make(CONFIGS[0]).decoder.has_attention
    assert type(make(CONFIGS[1]).encoder) is Encoder
    assert isinstance(make(RNNConfig(emb_size=E, hidden_size=H, bidirectional=True)).encoder, BidirectionalEncoder)


def test_build_model_unknown_decoder():
    with pytest.raises(ValueError, match="unknown decoder 'lstm'"):
        build_model(RNNConfig(decoder="lstm"), 10, 10)


def test_build_model_unknown_score():
    with pytest.raises(ValueError, match="unknown score"):
        build_model(RNNConfig(decoder="luong", score="cosine", emb_size=4, hidden_size=8), 10, 10)


def test_padding_embedding_is_zero():
    model = make(CONFIGS[1])
    assert (model.encoder.embedding.weight[0] == 0).all()
    assert (model.decoder.embedding.weight[0] == 0).all()


def test_count_parameters():
    assert count_parameters(nn.Linear(3, 2)) == 8
    enc = Encoder(V_SRC, E, H)
    gru = 3 * H * E + 3 * H * H + 2 * 3 * H
    assert count_parameters(enc) == V_SRC * E + gru
    enc.embedding.weight.requires_grad_(False)
    assert count_parameters(enc) == gru
    luong, vanilla = make(CONFIGS[1]), make(CONFIGS[0])
    decoder = V_TGT * E + gru + (2 * H * H + H) + (H * V_TGT + V_TGT)   # embedding, GRU, W_c, W_o
    assert count_parameters(luong) == (V_SRC * E + gru) + decoder      # the dot score has no weights
    # the vanilla decoder's GRU also reads the context: H more inputs per gate
    assert count_parameters(vanilla) - count_parameters(luong) == 3 * H * H


def test_luong_decoder_can_start_from_zeros():
    config = RNNConfig(decoder="luong", emb_size=8, hidden_size=16, decoder_init="zeros")
    model = build_model(config, 20, 20)
    hidden = torch.randn(1, 3, 16)
    assert torch.equal(model.decoder.init_state(hidden, torch.randn(3, 5, 16)), torch.zeros(1, 3, 16))
    default = build_model(RNNConfig(decoder="luong", emb_size=8, hidden_size=16), 20, 20)
    assert default.decoder.init_state(hidden, None) is hidden            # the series' default: the encoder's state
    with pytest.raises(ValueError, match="init"):
        build_model(RNNConfig(decoder="luong", decoder_init="mean"), 20, 20)
