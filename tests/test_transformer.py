"""The Transformer: multi-head attention vs torch's, the causal mask, positions, padding, shapes,
and the model through the series' own fit / greedy / beam / translate paths."""
import math

import pytest
import torch
import torch.nn as nn
from test_models import V_SRC, V_TGT, sentences  # the RNN models' test sentences: three pairs, padded in a batch
from test_train import SRC, TGT  # six short sentence pairs to fit

from utils.batching import TranslationDataset, collate, make_loader
from utils.build import build_model
from utils.search import beam_search, greedy_decode
from utils.seq2seq import Seq2Seq, count_parameters
from utils.text import build_vocab
from utils.train import evaluate, fit
from utils.transformer import (
    Embedding,
    EncoderLayer,
    MultiHeadAttention,
    TransformerConfig,
    TransformerDecoder,
    TransformerEncoder,
    causal_mask,
    sinusoidal_positions,
)
from utils.translate import translate_tokens

D, HEADS, LAYERS = 16, 4, 2
CONFIG = TransformerConfig(d_model=D, heads=HEADS, ff_size=32, layers=LAYERS)


def make(seed=0, config=CONFIG):
    torch.manual_seed(seed)
    return build_model(config, V_SRC, V_TGT).eval()


def torch_mha(ours: MultiHeadAttention) -> nn.MultiheadAttention:
    """``nn.MultiheadAttention`` with our weights copied in."""
    d = ours.W_q.in_features
    theirs = nn.MultiheadAttention(d, ours.heads, batch_first=True)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.cat([ours.W_q.weight, ours.W_k.weight, ours.W_v.weight]))
        theirs.in_proj_bias.copy_(torch.cat([ours.W_q.bias, ours.W_k.bias, ours.W_v.bias]))
        theirs.out_proj.weight.copy_(ours.W_o.weight)
        theirs.out_proj.bias.copy_(ours.W_o.bias)
    return theirs


# ----------------------------------------------------------------------------- multi-head attention
@pytest.mark.parametrize("padded", [False, True], ids=["no-mask", "key-padding-mask"])
def test_multi_head_attention_equals_torch(padded):
    torch.manual_seed(0)
    ours = MultiHeadAttention(D, HEADS)
    theirs = torch_mha(ours)
    query, keys = torch.randn(3, 5, D), torch.randn(3, 7, D)
    mask = torch.arange(7)[None] < torch.tensor([7, 4, 1])[:, None] if padded else None   # True = real
    out, weights = ours(query, keys, mask)
    ref_out, ref_weights = theirs(query, keys, keys, key_padding_mask=None if mask is None else ~mask,
                                  average_attn_weights=False)
    assert out.shape == (3, 5, D) and weights.shape == (3, HEADS, 5, 7)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(weights, ref_weights, atol=1e-5, rtol=1e-4)
    if padded:
        assert (weights[1, :, :, 4:] == 0).all() and (weights[2, :, :, 0] == 1).all()


def test_multi_head_self_attention_with_a_causal_mask_equals_torch():
    torch.manual_seed(0)
    ours = MultiHeadAttention(D, HEADS)
    x = torch.randn(2, 6, D)
    out, weights = ours(x, x, causal_mask(6)[None].expand(2, 6, 6))
    ref_out, ref_weights = torch_mha(ours)(x, x, x, attn_mask=~causal_mask(6), average_attn_weights=False)
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(weights, ref_weights, atol=1e-5, rtol=1e-4)
    assert (weights.triu(diagonal=1) == 0).all()


def test_multi_head_attention_parameters_do_not_depend_on_the_heads():
    counts = {h: count_parameters(MultiHeadAttention(D, h)) for h in (1, 2, 4, 8)}
    assert set(counts.values()) == {4 * (D * D + D)}


def test_heads_must_divide_d_model():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 4)


# ----------------------------------------------------------------------------- positions and the causal mask
def test_sinusoidal_positions_follow_the_formula():
    pe = sinusoidal_positions(50, 8)
    assert pe.shape == (50, 8)
    for p in (0, 1, 7, 49):
        for i in range(4):
            angle = p / 10000 ** (2 * i / 8)
            assert pe[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)
    assert len({tuple(row.tolist()) for row in pe}) == 50        # every position has its own code
    with pytest.raises(ValueError, match="even"):
        sinusoidal_positions(5, 7)


def test_causal_mask_is_lower_triangular():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True, True, True]]


def test_a_future_target_word_never_changes_an_earlier_step():
    model = make()
    b = collate(sentences(), 0, 0)
    tgt_in = b.tgt[:, :-1]
    logits, weights = model(b.src, b.src_mask, tgt_in)
    for k in range(1, tgt_in.size(1)):
        changed = tgt_in.clone()
        changed[:, k] = (changed[:, k] + 1 - 4) % (V_TGT - 4) + 4             # another real word at step k
        new_logits, new_weights = model(b.src, b.src_mask, changed)
        torch.testing.assert_close(new_logits[:, :k], logits[:, :k])            # earlier steps: identical
        torch.testing.assert_close(new_weights[:, :k], weights[:, :k])
        assert not torch.allclose(new_logits[:, k], logits[:, k])               # step k itself does change


def shuffled_self_attention(positions: bool):
    """An encoder layer's output for a sentence and for its shuffled words: (shuffled output, output)."""
    torch.manual_seed(0)
    embed, layer = Embedding(V_SRC, D, positions=positions), EncoderLayer(D, HEADS, 32)
    words = torch.tensor([[5, 9, 12, 7, 20, 3]])
    order = torch.tensor([3, 0, 5, 1, 4, 2])
    out, _ = layer(embed(words), None)
    out_shuffled, _ = layer(embed(words[:, order]), None)
    return out_shuffled, out[:, order]


def test_self_attention_without_positions_is_permutation_equivariant():
    shuffled, reordered = shuffled_self_attention(positions=False)
    torch.testing.assert_close(shuffled, reordered, atol=1e-5, rtol=1e-5)   # shuffle in, shuffled out


def test_positions_break_the_permutation_equivariance():
    shuffled, reordered = shuffled_self_attention(positions=True)
    assert not torch.allclose(shuffled, reordered, atol=1e-3)


# ----------------------------------------------------------------------------- the model
def run(model, items):
    b = collate(items, 0, 0)
    enc_out, hidden = model.encoder(b.src, b.src_mask)
    logits, weights = model(b.src, b.src_mask, b.tgt[:, :-1])
    return b, enc_out, hidden, logits, weights


def test_shapes_and_build_model():
    model = make()
    assert isinstance(model, Seq2Seq) and model.config == CONFIG
    assert isinstance(model.encoder, TransformerEncoder) and isinstance(model.decoder, TransformerDecoder)
    assert model.decoder.has_attention and model.decoder.parallel_teacher_forcing
    b, enc_out, hidden, logits, weights = run(model, sentences())
    S, T = b.src.size(1), b.tgt.size(1) - 1
    assert enc_out.shape == (3, S, D) and hidden is None
    assert logits.shape == (3, T, V_TGT) and weights.shape == (3, T, S)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, T))
    _, maps = model.decoder.run(b.tgt[:, :-1], enc_out, b.src_mask)
    assert maps.shape == (3, LAYERS, HEADS, T, S)
    torch.testing.assert_close(weights, maps[:, -1].mean(1))   # reported: the last layer's heads, averaged


def test_padding_never_changes_a_result():
    model = make()
    items = sentences()
    alone, batch = run(model, items[:1]), run(model, items)
    n_src, n_tgt = len(items[0][0]), len(items[0][1]) - 1
    assert batch[0].src.size(1) > n_src and batch[0].tgt.size(1) - 1 > n_tgt   # really padded on both sides
    torch.testing.assert_close(batch[1][0, :n_src], alone[1][0], atol=1e-5, rtol=1e-5)   # encoder states
    torch.testing.assert_close(batch[3][0, :n_tgt], alone[3][0], atol=1e-5, rtol=1e-5)   # logits
    torch.testing.assert_close(batch[4][0, :n_tgt, :n_src], alone[4][0], atol=1e-5, rtol=1e-5)
    assert (batch[1][0, n_src:] == 0).all() and (batch[4][0, :, n_src:] == 0).all()


def test_parallel_teacher_forcing_equals_the_step_loop():
    model = make()
    b = collate(sentences(1), 0, 0)
    args = (b.src, b.src_mask, b.tgt[:, :-1])
    par_logits, par_w = model(*args, parallel=True)
    loop_logits, loop_w = model(*args, parallel=False)
    torch.testing.assert_close(par_logits, loop_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(par_w, loop_w, atol=1e-5, rtol=1e-5)


def test_showing_one_head():
    model = make()
    b = collate(sentences(), 0, 0)
    enc_out, _ = model.encoder(b.src, b.src_mask)
    _, maps = model.decoder.run(b.tgt[:, :-1], enc_out, b.src_mask)
    with model.decoder.showing_head(0, 2):
        _, weights = model(b.src, b.src_mask, b.tgt[:, :-1])
    torch.testing.assert_close(weights, maps[:, 0, 2])
    assert model.decoder.attention_head is None                     # restored after the block
    with pytest.raises(ValueError, match="no head"):
        with model.decoder.showing_head(LAYERS, 0):
            pass


def test_reorder_state_picks_the_prefixes():
    state = torch.tensor([[2, 5], [2, 6], [2, 7]])
    assert TransformerDecoder.reorder_state(state, torch.tensor([2, 2, 0])).tolist() == [[2, 7], [2, 7], [2, 5]]


# ----------------------------------------------------------------------------- the key/value cache
@pytest.mark.parametrize("norm", ["pre", "post"])
def test_cached_steps_give_the_uncached_logits_at_every_step(norm):
    torch.manual_seed(1)
    model = build_model(TransformerConfig(d_model=D, heads=HEADS, ff_size=32, layers=LAYERS, norm=norm),
                        V_SRC, V_TGT).eval()
    b = collate(sentences(), 0, 0)                                   # three sentences, padded
    enc_out, _ = model.encoder(b.src, b.src_mask)
    decoder, tgt_in = model.decoder, b.tgt[:, :-1]
    cache, prefix = decoder.init_state(None, enc_out), torch.zeros(3, 0, dtype=torch.long)
    assert [layer.k.size(2) for layer in cache.layers] == [0] * LAYERS
    for t in range(tgt_in.size(1)):
        cached, cache, cached_w = decoder.step(tgt_in[:, t], cache, enc_out, b.src_mask)
        uncached, prefix, uncached_w = decoder.step_uncached(tgt_in[:, t], prefix, enc_out, b.src_mask)
        torch.testing.assert_close(cached, uncached, atol=1e-5, rtol=1e-4)
        torch.testing.assert_close(cached_w, uncached_w, atol=1e-5, rtol=1e-4)
        assert cache.length == prefix.size(1) == t + 1
        assert all(layer.k.size(2) == t + 1 for layer in cache.layers)   # one key per word fed, no more


@pytest.fixture(scope="module")
def synthetic_transformer():
    """A small Transformer fitted briefly on a tiny synthetic corpus, with its data."""
    from conftest import make_data

    from utils.corpus import generate_splits

    data = make_data(generate_splits(seed=11, n_train=400, n_valid=6, n_test_per_bucket=3))
    torch.manual_seed(0)
    model = build_model(TransformerConfig(d_model=32, heads=2, ff_size=64, layers=2),
                        len(data.src_vocab), len(data.tgt_vocab), data.src_vocab.pad_id)
    fit(model, data.loader("train"), epochs=6, lr=3e-3, pad_id=data.tgt_vocab.pad_id, verbose=False)
    return model.eval(), data


@pytest.mark.parametrize("beam_size", [None, 4], ids=["greedy", "beam-4"])
def test_cached_and_uncached_decoding_translate_the_test_set_alike(synthetic_transformer, beam_size):
    """Greedy and beam search give the same words with and without the cache. Beam search reorders
    the state at every step: a cache that went stale across a reorder (kept the keys of another
    beam) would change the beams' scores and so the words."""
    model, data = synthetic_transformer
    sources = [p.src_tokens for p in data.test]
    outputs = {}
    for cached in (True, False):
        model.decoder.kv_cache = cached
        outputs[cached] = translate_tokens(model, sources, data.src_vocab, data.tgt_vocab, beam_size=beam_size or 1)
    model.decoder.kv_cache = True
    assert outputs[True][0] == outputs[False][0]
    assert sum(len(h) for h in outputs[True][0]) > 3 * len(sources)  # real sentences, not empty ones
    for cached_map, uncached_map in zip(outputs[True][1], outputs[False][1], strict=True):
        torch.testing.assert_close(cached_map, uncached_map, atol=1e-5, rtol=1e-4)


def test_untrained_loss_is_about_log_v():
    model = make()
    b = collate(sentences(), 0, 0)
    logits, _ = model(b.src, b.src_mask, b.tgt[:, :-1])
    loss = nn.functional.cross_entropy(logits.reshape(-1, V_TGT), b.tgt[:, 1:].reshape(-1), ignore_index=0)
    assert abs(loss.item() - math.log(V_TGT)) < 0.5


# ----------------------------------------------------------------------------- fit and decode, unchanged
@pytest.fixture(scope="module")
def trained():
    """A small Transformer fitted on six sentence pairs with the series' ``fit``."""
    src_v, tgt_v = build_vocab(SRC), build_vocab(TGT)
    loader = make_loader(TranslationDataset(list(zip(SRC, TGT, strict=True)) * 4, src_v, tgt_v), batch_size=8, seed=0)
    torch.manual_seed(0)
    model = build_model(TransformerConfig(d_model=32, heads=4, ff_size=64, layers=1),
                        len(src_v), len(tgt_v), src_v.pad_id)
    before = evaluate(model, loader, pad_id=tgt_v.pad_id)
    history = fit(model, loader, epochs=25, lr=3e-3, pad_id=tgt_v.pad_id, verbose=False)
    return model.eval(), src_v, tgt_v, before, evaluate(model, loader, pad_id=tgt_v.pad_id), history


def test_trains_through_fit(trained):
    _, _, _, before, after, history = trained
    assert history.epoch_loss[-1] < 0.1 * history.epoch_loss[0]
    assert after["loss"] < 0.1 * before["loss"] and after["accuracy"] == 1.0


def test_decodes_through_translate_tokens(trained):
    model, src_v, tgt_v, *_ = trained
    hyps, attentions = translate_tokens(model, SRC, src_v, tgt_v, batch_size=4)       # greedy, in batches
    assert hyps == TGT
    for s, h, a in zip(SRC, hyps, attentions, strict=True):
        assert a.shape == (len(h) + 1, len(s) + 1)
    beams, _ = translate_tokens(model, SRC, src_v, tgt_v, beam_size=3)                # beam search
    assert beams == TGT


def test_beam_of_one_is_greedy(trained):
    model, src_v, tgt_v, *_ = trained
    for sentence in SRC + [["la", "fille", "voit", "le", "chien", "."]]:
        ids = torch.tensor([src_v.encode(sentence) + [src_v.eos_id]])
        b = collate([(ids[0], torch.tensor([0]))], src_v.pad_id, 0)
        args = (model, b.src, b.src_mask, tgt_v.sos_id, tgt_v.eos_id)
        (greedy,), greedy_att = greedy_decode(*args, max_len=12, pad_id=tgt_v.pad_id)
        (best,) = beam_search(*args, max_len=12, beam_size=1, pad_id=tgt_v.pad_id)
        assert best.ids == greedy
        torch.testing.assert_close(best.attention, greedy_att[0, :len(greedy) + 1])
