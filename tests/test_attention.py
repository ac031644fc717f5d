"""Score functions against references; attend's masking, shapes and errors."""
import math

import pytest
import torch
import torch.nn.functional as F

from utils.attention import SCORES, ConcatScore, DotScore, GeneralScore, ScaledDotScore, Score, attend, make_score

B, T, S, D = 3, 4, 5, 6


@pytest.fixture
def qkv():
    g = torch.Generator().manual_seed(0)
    q = torch.randn(B, T, D, generator=g)
    k = torch.randn(B, S, D, generator=g)
    v = torch.randn(B, S, 7, generator=g)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2, [True] + [False] * 4])
    return q, k, v, mask


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_scaled_dot_matches_torch_sdpa(qkv):
    q, k, v, _ = qkv
    score = make_score("scaled_dot", D, D)
    assert isinstance(score, ScaledDotScore)
    context, weights = attend(q, k, v, score=score)
    expected = F.scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(context, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(weights, torch.softmax(q @ k.transpose(1, 2) / math.sqrt(D), -1))


def test_scaled_dot_matches_torch_sdpa_with_a_boolean_mask(qkv):
    q, k, v, mask = qkv
    context, weights = attend(q, k, v, mask, make_score("scaled_dot", D, D))
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, :].expand(B, T, S))
    torch.testing.assert_close(context, expected, atol=1e-5, rtol=1e-5)


def test_a_mask_per_query_matches_torch_sdpa(qkv):
    """A ``[batch, T, S]`` mask (here: padding and a causal pattern together) masks each query's own keys."""
    q, k, v, mask = qkv
    causal = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)   # query i sees keys j <= i + S - T
    per_query = mask[:, None, :] & causal                               # [B, T, S]
    context, weights = attend(q, k, v, per_query, make_score("scaled_dot", D, D))
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=per_query)
    torch.testing.assert_close(context, expected, atol=1e-5, rtol=1e-5)
    assert (weights[~per_query] == 0).all()
    # the same mask for every query is the [batch, S] mask
    same = attend(q, k, v, mask[:, None, :].expand(B, T, S).contiguous())
    torch.testing.assert_close(same[1], attend(q, k, v, mask)[1])
    # a query left with nothing to attend to gets zero weights and context, the others are untouched
    blind = per_query.clone()
    blind[0, 1] = False
    context_blind, weights_blind = attend(q, k, v, blind, make_score("scaled_dot", D, D))
    assert (weights_blind[0, 1] == 0).all() and (context_blind[0, 1] == 0).all()
    torch.testing.assert_close(weights_blind[0, 0], weights[0, 0])
    torch.testing.assert_close(weights_blind[1:], weights[1:])


def test_dot_is_the_default_and_unscaled(qkv):
    q, k, v, mask = qkv
    default = attend(q, k, v, mask)
    dot = attend(q, k, v, mask, make_score("dot", D, D))
    torch.testing.assert_close(default[0], dot[0])
    torch.testing.assert_close(dot[1], torch.softmax((q @ k.transpose(1, 2)).masked_fill(~mask[:, None], -1e9), -1))
    scaled = attend(q, k, v, mask, make_score("scaled_dot", D, D))[1]
    assert not torch.allclose(scaled, dot[1])


def test_general_with_identity_equals_dot(qkv):
    q, k, _, _ = qkv
    general = make_score("general", D, D)
    assert isinstance(general, GeneralScore)
    with torch.no_grad():
        general.W.weight.copy_(torch.eye(D))
    torch.testing.assert_close(general(q, k), DotScore(D, D)(q, k))


def test_general_compares_different_sizes():
    general = make_score("general", 4, 9)
    q, k = torch.randn(2, 3, 4), torch.randn(2, 5, 9)
    scores = general(q, k)
    assert scores.shape == (2, 3, 5)
    torch.testing.assert_close(scores, torch.einsum("btq,qk,bsk->bts", q, general.W.weight, k))


def test_concat_identity_with_the_full_matrix():
    qs, ks, a = 4, 6, 5
    score = make_score("concat", qs, ks, attention_size=a)
    assert isinstance(score, ConcatScore)
    q, k = torch.randn(2, 3, qs), torch.randn(2, 7, ks)
    W = score.W
    assert W.shape == (a, qs + ks)
    v = score.v.weight[0]                                              # [a]
    expected = torch.empty(2, 3, 7)
    for b in range(2):
        for i in range(3):
            for j in range(7):
                expected[b, i, j] = v @ torch.tanh(W @ torch.cat([q[b, i], k[b, j]]))
    torch.testing.assert_close(score(q, k), expected, atol=1e-5, rtol=1e-5)


def test_concat_default_attention_size_is_key_size():
    score = make_score("concat", 4, 6)
    assert score.W.shape == (6, 10)


@pytest.mark.parametrize("name", sorted(SCORES))
def test_prepare_keys_then_compare_equals_forward(name, qkv):
    q, k, v, mask = qkv
    score = make_score(name, D, D)
    prepared = score.prepare_keys(k)
    torch.testing.assert_close(score.compare(q, prepared), score(q, k))
    c1, w1 = attend(q, k, v, mask, score, prepared_keys=prepared)
    c2, w2 = attend(q, k, v, mask, score)
    torch.testing.assert_close(c1, c2)
    torch.testing.assert_close(w1, w2)


def test_attend_really_uses_prepared_keys(qkv):
    q, k, v, _ = qkv
    score = make_score("general", D, D)
    _, w_right = attend(q, k, v, score=score)
    _, w_wrong = attend(q, k, v, score=score, prepared_keys=torch.zeros(B, S, D))
    assert torch.allclose(w_wrong, torch.full_like(w_wrong, 1 / S))
    assert not torch.allclose(w_right, w_wrong)


@pytest.mark.parametrize("name", sorted(SCORES))
def test_masking_shapes_and_normalisation(name, qkv):
    q, k, v, mask = qkv
    context, weights = attend(q, k, v, mask, make_score(name, D, D))
    assert context.shape == (B, T, 7) and weights.shape == (B, T, S)
    assert (weights[~mask[:, None, :].expand(B, T, S)] == 0).all()    # exactly zero
    torch.testing.assert_close(weights.sum(-1), torch.ones(B, T))
    assert (weights >= 0).all()
    # a single real position takes all the weight, so the context is that value
    torch.testing.assert_close(weights[2, :, 0], torch.ones(T))
    torch.testing.assert_close(context[2], v[2, 0].expand(T, 7))


@pytest.mark.parametrize("name", sorted(SCORES))
def test_padding_values_never_matter(name, qkv):
    q, k, v, mask = qkv
    score = make_score(name, D, D)
    c1, w1 = attend(q, k, v, mask, score)
    k2, v2 = k.clone(), v.clone()
    k2[~mask] = 1e3
    v2[~mask] = -1e3
    c2, w2 = attend(q, k2, v2, mask, score)
    torch.testing.assert_close(c1, c2)
    torch.testing.assert_close(w1, w2)


@pytest.mark.parametrize("name", sorted(SCORES))
def test_a_source_with_no_real_token_gets_zero_weights_and_context(name, qkv):
    q, k, v, mask = qkv
    q.requires_grad_(True)
    score = make_score(name, D, D)
    empty = mask.clone()
    empty[1] = False                                          # sentence 1: nothing to attend to
    context, weights = attend(q, k, v, empty, score)
    assert (weights[1] == 0).all() and (context[1] == 0).all()  # not NaN
    full_context, full_weights = attend(q, k, v, mask, score)
    for row in (0, 2):                                        # the other sentences are untouched
        torch.testing.assert_close(weights[row], full_weights[row], atol=0, rtol=0)
        torch.testing.assert_close(context[row], full_context[row], atol=0, rtol=0)
    context.sum().backward()
    assert torch.isfinite(q.grad).all() and (q.grad[1] == 0).all()


def test_attend_rejects_bad_shapes(qkv):
    q, k, v, mask = qkv
    with pytest.raises(ValueError, match="3-D"):
        attend(q[:, 0], k, v)
    with pytest.raises(ValueError, match="3-D"):
        attend(q, k[0], v)
    with pytest.raises(ValueError, match="differ"):
        attend(q, k, v[:, :-1])
    with pytest.raises(ValueError, match="differ"):
        attend(q, k, v[:-1])
    with pytest.raises(ValueError, match="mask"):
        attend(q, k, v, mask[:, :-1])
    with pytest.raises(ValueError, match="mask"):            # a mask per query must be [batch, T, S]
        attend(q, k, v, mask[:, None, :].expand(B, T + 1, S))
    with pytest.raises(ValueError, match="mask"):
        attend(q, k, v, mask[:, :, None].expand(B, S, T))


def test_dot_scores_need_equal_sizes():
    with pytest.raises(ValueError, match="equal sizes"):
        make_score("dot", 4, 6)
    with pytest.raises(ValueError, match="equal sizes"):
        make_score("scaled_dot", 4, 6)
    assert isinstance(make_score("dot", 4, 4), DotScore)


def test_unknown_score_name():
    with pytest.raises(ValueError, match="unknown score 'cosine'"):
        make_score("cosine", 4, 4)


def test_base_score_is_abstract():
    with pytest.raises(NotImplementedError):
        Score()(torch.randn(1, 1, 2), torch.randn(1, 1, 2))


def test_parameter_counts():
    assert sum(p.numel() for p in make_score("dot", 4, 4).parameters()) == 0
    assert sum(p.numel() for p in make_score("general", 4, 6).parameters()) == 24
    assert sum(p.numel() for p in make_score("concat", 4, 6, 5).parameters()) == 4 * 5 + 6 * 5 + 5
