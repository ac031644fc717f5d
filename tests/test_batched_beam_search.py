"""``batched_beam_search`` against the one-sentence reference ``beam_search``, for every decoder.

Tie rule (``utils/search.py``): of candidates with exactly equal scores, the lower index of the
flattened ``beams × V`` table wins (the earlier beam, then the lower word id); finished hypotheses of
equal score keep the order in which they finished. Both searches follow it, so they agree even on
ties; elsewhere they agree up to floating-point sums (a batch of rows, padding), compared here with
a tolerance of 1e-5 on log-probabilities and attention.
"""
import math

import pytest
import torch
import torch.nn as nn

from utils.attention import SCORES
from utils.batching import collate
from utils.build import build_model
from utils.models import RNNConfig
from utils.search import batched_beam_search, beam_search, greedy_decode, top_candidates
from utils.transformer import TransformerConfig

V_SRC, V_TGT, PAD, SOS, EOS = 17, 15, 0, 2, 3
SIZES = dict(emb_size=6, hidden_size=12, attention_size=5)
DECODERS = {
    "vanilla": RNNConfig(decoder="vanilla", **SIZES),
    **{f"luong-{score}": RNNConfig(decoder="luong", score=score, **SIZES) for score in SCORES},
    "luong-general-previous-bidirectional": RNNConfig(decoder="luong", score="general", query="previous",
                                                      bidirectional=True, **SIZES),
    **{f"bahdanau-{score}": RNNConfig(decoder="bahdanau", score=score, **SIZES) for score in SCORES},
    "transformer-pre": TransformerConfig(d_model=16, heads=4, ff_size=32, layers=2),
    "transformer-post": TransformerConfig(d_model=16, heads=2, ff_size=32, layers=2, norm="post"),
    "transformer-uncached": TransformerConfig(d_model=16, heads=4, ff_size=32, layers=2),
}
LENGTHS = [5, 1, 9, 3, 9, 2, 6]   # one padded batch: the longest 9 tokens, the shortest 1


@pytest.fixture(scope="module", params=list(DECODERS), ids=list(DECODERS))
def model(request):
    torch.manual_seed(0)
    model = build_model(DECODERS[request.param], V_SRC, V_TGT, PAD).eval()
    if request.param == "transformer-uncached":
        model.decoder.kv_cache = False
    # Sharper than at initialisation, so that beams end at different steps (as a trained model's do).
    with torch.no_grad():
        model.decoder.out.weight.mul_(4)
    return model


def sources(seed=0):
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(4, V_SRC, (n,), generator=generator) for n in LENGTHS]


def padded(srcs):
    batch = collate([(s, torch.tensor([0])) for s in srcs], PAD, PAD)
    return batch.src, batch.src_mask


def assert_same(batched, reference):
    """The same hypotheses in the same order; scores and attention equal up to float sums."""
    assert [h.ids for h in batched] == [h.ids for h in reference]
    for b, r in zip(batched, reference, strict=True):
        assert b.log_prob == pytest.approx(r.log_prob, abs=1e-5)
        assert b.score == pytest.approx(r.score, abs=1e-5)
        assert (b.attention is None) == (r.attention is None)
        if r.attention is not None:
            assert b.attention.shape == r.attention.shape
            torch.testing.assert_close(b.attention, r.attention, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("beam_size", [2, 5])
def test_batched_equals_one_sentence_at_a_time(model, beam_size):
    srcs = sources()
    limits = torch.tensor([n + 3 for n in LENGTHS])                  # one output limit per sentence
    found = batched_beam_search(model, *padded(srcs), SOS, EOS, limits, beam_size, 0.6, PAD)
    assert len(found) == len(srcs)
    ended_at = set()
    for src, limit, hyps in zip(srcs, limits.tolist(), found, strict=True):
        alone = beam_search(model, src[None], torch.ones(1, len(src), dtype=torch.bool), SOS, EOS, limit,
                            beam_size, 0.6, PAD)
        assert len(hyps) == beam_size
        assert_same(hyps, alone)
        ended_at |= {len(h.ids) for h in hyps}
    assert len(ended_at) > 3     # hypotheses of many lengths: beams finished at different steps


def test_a_beam_of_one_is_greedy(model):
    src, mask = padded(sources(1))
    found = batched_beam_search(model, src, mask, SOS, EOS, 12, beam_size=1, pad_id=PAD)
    ids, attention = greedy_decode(model, src, mask, SOS, EOS, 12, pad_id=PAD)
    assert [hyps[0].ids for hyps in found] == ids
    for row, ((best,), n) in enumerate(zip(found, LENGTHS, strict=True)):
        if attention is not None:
            torch.testing.assert_close(best.attention, attention[row, :len(ids[row]) + 1, :n], atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------------------- ties
def test_top_candidates_breaks_ties_by_lower_index():
    scores = torch.tensor([[0.0, 2.0, 1.0, 2.0, 2.0, -math.inf],
                           [-math.inf, 1.0, -math.inf, 1.0, 3.0, 1.0]])
    values, indices = top_candidates(scores, 3)
    assert indices.tolist() == [[1, 3, 4], [4, 1, 3]]
    assert values.tolist() == [[2.0, 2.0, 2.0], [3.0, 1.0, 1.0]]
    values, indices = top_candidates(scores[1], 6)                   # -inf ties too, and one row alone
    assert indices.tolist() == [4, 1, 3, 5, 0, 2]
    values, indices = top_candidates(torch.tensor([[0.5, 0.25]]), 2)  # no tie: topk's answer
    assert indices.tolist() == [[0, 1]]


class StubEncoder(nn.Module):
    """``enc_out [B, S, 1]``: each sentence's first token, so a decoder can tell sentences apart."""

    def forward(self, src, src_mask):
        return src[:, :, None].float() * src_mask[:, :, None], None


class TableDecoder(nn.Module):
    """Next-word probabilities from the previous word and the sentence's first token:
    ``tables[first token][previous word]`` maps words to probabilities (every other word is
    impossible, -inf); a previous word not in the table is followed by <eos>. Records its batch
    size at every step."""

    has_attention = False

    def __init__(self, tables):
        super().__init__()
        self.tables = tables
        self.rows = []

    def init_state(self, enc_summary, enc_out):
        return torch.zeros(1, enc_out.size(0), 1)

    def step(self, y_prev, state, enc_out, src_mask):
        self.rows.append(y_prev.size(0))
        logits = torch.full((y_prev.size(0), V_TGT), -math.inf)
        for row, (y, first) in enumerate(zip(y_prev.tolist(), enc_out[:, 0, 0].long().tolist(), strict=True)):
            for word, p in self.tables[first].get(y, {EOS: 1.0}).items():
                logits[row, word] = math.log(p)
        return logits, state, None

    @staticmethod
    def reorder_state(state, index):
        return state.index_select(1, index)


class TableModel(nn.Module):
    def __init__(self, tables):
        super().__init__()
        self.encoder, self.decoder = StubEncoder(), TableDecoder(tables)


# Sentence "4": <sos> → 5, 6, 7 or 8 (0.25 each, a four-way tie), then 9 or <eos> (0.5 each).
# Sentence "10": <sos> → <eos> only: its one hypothesis is the empty sentence, and it leaves the batch.
TIES = {4: {SOS: {5: 0.25, 6: 0.25, 7: 0.25, 8: 0.25}, **{w: {9: 0.5, EOS: 0.5} for w in (5, 6, 7, 8)}},
        10: {SOS: {EOS: 1.0}}}


def test_ties_go_to_the_earlier_beam_and_the_lower_word_in_both_searches():
    model = TableModel(TIES)
    src = torch.tensor([[4, 1], [10, 1]])
    tied, alone = batched_beam_search(model, src, torch.ones(2, 2, dtype=torch.bool), SOS, EOS, 5, beam_size=3,
                                      alpha=0.0)
    reference = beam_search(model, src[:1], torch.ones(1, 2, dtype=torch.bool), SOS, EOS, 5, beam_size=3, alpha=0.0)
    # Step 1: 5, 6, 7, 8 tie; the three lower words survive. Step 2: <eos> and 9 tie after each of
    # them; the earlier beams' candidates win, <eos> (id 3) before 9 within a beam: "5 <eos>", "5 9",
    # "6 <eos>". Step 3: "5 9 <eos>" (probability 1). All three have probability 0.125: with
    # alpha = 0 their scores tie too, and they stay in the order they finished.
    assert [h.ids for h in tied] == [[5], [6], [5, 9]]
    assert [h.log_prob for h in tied] == pytest.approx([math.log(0.125)] * 3)
    assert [h.ids for h in reference] == [h.ids for h in tied]
    assert [h.ids for h in alone] == [[]]


def test_a_finished_sentence_leaves_the_batch():
    model = TableModel(TIES)
    src = torch.tensor([[4, 1], [10, 1]])
    batched_beam_search(model, src, torch.ones(2, 2, dtype=torch.bool), SOS, EOS, 5, beam_size=3, alpha=0.0)
    # step 0: one row per sentence; sentence "10" is done after it, sentence "4" keeps 3 open beams,
    # then 2 ("5 <eos>" finished), then 1 ("6 <eos>" finished) for its last step.
    assert model.decoder.rows == [2, 3, 1]


def test_the_limit_forces_eos_per_sentence():
    never_ends = {first: {w: {5: 0.5, 6: 0.4, EOS: 0.1} for w in (SOS, 5, 6)} for first in (4, 7)}   # <eos> never wins
    model = TableModel(never_ends)
    src = torch.tensor([[4], [7]])
    found = batched_beam_search(model, src, torch.ones(2, 1, dtype=torch.bool), SOS, EOS, torch.tensor([2, 4]),
                                beam_size=2)
    assert {len(h.ids) for h in found[0]} == {2} and {len(h.ids) for h in found[1]} == {4}


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("change, message", [
    (dict(src=torch.zeros(0, 3, dtype=torch.long), src_mask=torch.zeros(0, 3, dtype=torch.bool)), "empty batch"),
    (dict(beam_size=0), "beam_size"), (dict(beam_size=-2), "beam_size"), (dict(beam_size=2.5), "beam_size"),
    (dict(max_len=0), "max_len"), (dict(max_len=torch.tensor([3, 0])), "max_len"),
    (dict(max_len=torch.tensor([3, 4, 5])), "one per sentence"),
    (dict(src_mask=torch.tensor([[True, True], [False, False]])), "sentence 1 of the batch is empty"),
    (dict(src_mask=torch.ones(2, 3, dtype=torch.bool)), "one shape"),
])
def test_bad_input_gets_a_clear_error(change, message):
    args = dict(src=torch.tensor([[4, 1], [10, 1]]), src_mask=torch.ones(2, 2, dtype=torch.bool), max_len=5,
                beam_size=2)
    args.update(change)
    with pytest.raises(ValueError, match=message):
        batched_beam_search(TableModel(TIES), args["src"], args["src_mask"], SOS, EOS, args["max_len"],
                            args["beam_size"])
