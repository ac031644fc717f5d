"""Each detector of ``utils/detectors.py`` fires on its planted bug and stays silent on the correct
code of every model family the series has: a detector that always answered "fine", or always
"bug", fails here. The bugs are planted as in notebook 09, on tiny untrained models (a detector
needs no training: the bugs are in the wiring)."""
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F
from conftest import make_data
from test_contract import CONFIGS  # one small config of every model family of the series

from utils import transformer
from utils.build import build_model
from utils.detectors import (
    bleu_sanity,
    check_model,
    future_leak,
    loss_ignores_padding,
    padding_invariance,
    reorder_consistent,
    repeatable,
    source_matters,
    split_leak,
    steps_match_whole,
    teacher_forced,
    words_not_pieces,
)
from utils.metrics import corpus_bleu
from utils.models import Encoder, LuongDecoder, RNNConfig, VanillaDecoder
from utils.search import greedy_decode
from utils.seq2seq import Seq2Seq
from utils.train import sequence_loss
from utils.transformer import KVCache, TransformerConfig, TransformerDecoder

LUONG = RNNConfig(decoder="luong", emb_size=8, hidden_size=16)
TRANSFORMER = TransformerConfig(d_model=16, heads=2, ff_size=32, layers=2)


@pytest.fixture(scope="module")
def tiny(splits):
    data = make_data(splits)
    return data, data.batch(data.test[:4])     # four test pairs of different lengths: padding in the batch


def build(data, config, seed=0):
    torch.manual_seed(seed)
    return build_model(config, len(data.src_vocab), len(data.tgt_vocab)).eval()


# ----------------------------------------------------------------------------- the planted bugs
class LastColumnEncoder(Encoder):
    """BUG: the final state is read at the last column of the batch, a <pad> for every sentence
    shorter than the longest (what a GRU run over padding returns as its final state)."""

    def forward(self, src, src_mask):
        enc_out, _ = self.rnn(self.dropout(self.embedding(src)))
        return enc_out * src_mask.unsqueeze(-1), enc_out[:, -1][None].contiguous()


class UnmaskedLuongDecoder(LuongDecoder):
    """BUG: attention over the whole padded row: <pad> positions get weight."""

    def _predict(self, states, enc_out, src_mask, queries=None):
        return super()._predict(states, enc_out, torch.ones_like(src_mask), queries)


class OffByOne(Seq2Seq):
    """BUG: the decoder reads y_t, the word it must predict, instead of y_(t-1)."""

    def forward(self, src, src_mask, tgt_in, teacher_forcing=1.0, parallel=True):
        return super().forward(src, src_mask, tgt_in.roll(-1, 1), teacher_forcing, parallel)


class ForgetfulDecoder(VanillaDecoder):
    """BUG: the decoder starts from zeros (``hidden=None``): the encoder's state never reaches it."""

    def init_state(self, enc_hidden, enc_out):
        return torch.zeros_like(enc_hidden), torch.zeros_like(enc_hidden[-1])


class StaleCacheDecoder(TransformerDecoder):
    """BUG: reorder_state resizes the key/value cache to the new rows but does not move it: row i
    keeps the keys and values of whatever sat in row i."""

    @staticmethod
    def reorder_state(state, index):
        if not isinstance(state, KVCache):
            return TransformerDecoder.reorder_state(state, index)
        rows = torch.arange(len(index)).clamp(max=state.layers[0].k.size(0) - 1)
        return KVCache([cache.select(rows) for cache in state.layers], state.length)


class StuckPositionDecoder(TransformerDecoder):
    """BUG: the cached step forgets how many words the cache holds: every word gets position 0."""

    def step(self, y_prev, state, enc_out, src_mask):
        logits, new_state, weights = super().step(y_prev, state, enc_out, src_mask)
        return logits, (replace(new_state, length=0) if isinstance(new_state, KVCache) else new_state), weights


def with_parts(model, encoder=None, decoder=None, cls=None):
    """``model`` with a bugged encoder or decoder class (same weights) or another Seq2Seq class."""
    if encoder is not None:
        model.encoder.__class__ = encoder
    if decoder is not None:
        model.decoder.__class__ = decoder
    if cls is not None:
        model.__class__ = cls
    return model


# ----------------------------------------------------------------------------- silent on correct code
@pytest.mark.parametrize("family", list(CONFIGS))
def test_every_model_detector_is_silent_on_every_family(tiny, family):
    data, batch = tiny
    model = build(data, CONFIGS[family])
    if family == "transformer-uncached":
        model.decoder.kv_cache = False
    findings = check_model(model, batch)
    assert [f.detector for f in findings] == ["padding_invariance", "future_leak", "source_matters", "repeatable",
                                              "steps_match_whole", "reorder_consistent"]
    assert not any(f.bug for f in findings), "\n".join(map(str, findings))


def test_model_detectors_are_silent_with_dropout_in_eval_mode(tiny):
    data, batch = tiny
    model = build(data, replace(LUONG, dropout=0.5))
    assert not any(f.bug for f in check_model(model, batch))


# ----------------------------------------------------------------------------- each fires on its bug
def test_padding_invariance_fires_on_a_final_state_read_at_padding(tiny):
    data, batch = tiny
    assert not padding_invariance(build(data, LUONG), batch).bug
    assert padding_invariance(with_parts(build(data, LUONG), encoder=LastColumnEncoder), batch).bug


def test_padding_invariance_fires_on_attention_over_padding(tiny):
    data, batch = tiny
    assert padding_invariance(with_parts(build(data, LUONG), decoder=UnmaskedLuongDecoder), batch).bug


def test_loss_ignores_padding_fires_on_a_loss_that_counts_padding(tiny):
    data, _ = tiny
    V = len(data.tgt_vocab)
    assert not loss_ignores_padding(lambda logits, targets: sequence_loss(logits, targets, pad_id=0), V).bug
    assert loss_ignores_padding(lambda logits, targets: F.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)),
                                V).bug
    assert loss_ignores_padding(lambda logits, targets: sequence_loss(logits, targets, pad_id=-1), V).bug


def test_future_leak_fires_without_a_causal_mask(tiny, monkeypatch):
    data, batch = tiny
    assert not future_leak(build(data, TRANSFORMER), batch).bug
    monkeypatch.setattr(transformer, "causal_mask", lambda T, device=None: torch.ones(T, T, dtype=torch.bool))
    assert future_leak(build(data, TRANSFORMER), batch).bug


def test_future_leak_fires_on_a_decoder_that_reads_the_word_it_predicts(tiny):
    data, batch = tiny
    assert future_leak(with_parts(build(data, LUONG), cls=OffByOne), batch).bug


def test_future_leak_fires_on_targets_not_shifted_in_the_training_step(tiny):
    data, batch = tiny

    def unshifted(model, batch):
        logits, _ = model(batch.src, batch.src_mask, batch.tgt[:, :-1])
        return logits, batch.tgt[:, :-1]       # BUG: the targets are the decoder's own inputs

    assert future_leak(build(data, LUONG), batch, training_step=teacher_forced).bug is False
    assert future_leak(build(data, LUONG), batch, training_step=unshifted).bug


def test_source_matters_fires_on_a_decoder_that_ignores_the_encoder(tiny):
    data, batch = tiny
    vanilla = RNNConfig(decoder="vanilla", emb_size=8, hidden_size=16)
    assert not source_matters(build(data, vanilla), batch).bug
    assert source_matters(with_parts(build(data, vanilla), decoder=ForgetfulDecoder), batch).bug


def test_repeatable_fires_when_dropout_is_left_on(tiny):
    data, batch = tiny
    model = build(data, replace(LUONG, dropout=0.3))

    def own_decode(eval_mode):
        def decode():
            model.train(not eval_mode)        # a loop of one's own: eval() called, or forgotten
            with torch.no_grad():
                return model(batch.src, batch.src_mask, batch.tgt[:, :-1])[0].argmax(-1)
        return decode

    assert repeatable(own_decode(eval_mode=False)).bug
    assert not repeatable(own_decode(eval_mode=True)).bug
    greedy = repeatable(lambda: greedy_decode(model, batch.src, batch.src_mask, 2, 3, 20)[0])   # sets eval()
    assert not greedy.bug and greedy.evidence == "0 of 4 outputs differ"


def test_steps_match_whole_fires_on_a_cache_with_stuck_positions(tiny):
    data, batch = tiny
    assert steps_match_whole(with_parts(build(data, TRANSFORMER), decoder=StuckPositionDecoder), batch).bug


def test_reorder_consistent_fires_on_a_stale_cache(tiny):
    data, batch = tiny
    stale = with_parts(build(data, TRANSFORMER), decoder=StaleCacheDecoder)
    assert reorder_consistent(stale, batch).bug
    assert not steps_match_whole(stale, batch).bug       # the cache is right until something moves


def test_detectors_reject_batches_they_cannot_judge(tiny):
    data, batch = tiny
    one = data.batch(data.test[:1])
    with pytest.raises(ValueError, match="at least two"):
        source_matters(build(data, LUONG), one)
    with pytest.raises(ValueError, match="at least two"):
        reorder_consistent(build(data, LUONG), one)
    with pytest.raises(ValueError, match="never changed"):
        future_leak(build(data, LUONG), batch, training_step=lambda m, b: (torch.zeros(4, 3, 5), torch.zeros(4, 3)))


# ----------------------------------------------------------------------------- scores and splits
REFERENCES = [s.split() for s in ("the small cat sleeps on the red mat today .",
                                  "my sister 's dog does not like the big house because it is blue .",
                                  "a bird sings .")]


def test_bleu_sanity_passes_the_series_bleu_and_fires_on_swapped_or_scaled():
    ok = bleu_sanity(corpus_bleu, REFERENCES)
    assert not ok.bug and ok.evidence.startswith("100.00 and ")
    assert bleu_sanity(lambda hyps, refs: corpus_bleu(refs, hyps), REFERENCES).bug            # arguments swapped
    assert bleu_sanity(lambda hyps, refs: corpus_bleu(hyps, refs) / 100, REFERENCES).bug      # 0–1, not 0–100
    with pytest.raises(ValueError, match="12 words or more"):
        bleu_sanity(corpus_bleu, [["a", "b"]])


def test_words_not_pieces():
    assert not words_not_pieces(REFERENCES).bug
    assert words_not_pieces([["▁the", "▁ca", "t"]]).bug                   # sentencepiece pieces
    assert words_not_pieces([["the", "ca@@", "t"]]).bug                   # BPE pieces
    assert words_not_pieces([[5, 17, 3]]).bug                             # ids
    assert words_not_pieces([["the", "cat", "<eos>", "<pad>"]]).bug       # specials left in


def test_split_leak():
    train = [("le chat dort.", "the cat sleeps."), ("Il pleut.", "It is raining.")]
    assert not split_leak(train, [("le chien dort.", "the dog sleeps.")]).bug
    found = split_leak(train, [("Le chat dort. ", "the cat is asleep."), ("il fait froid.", "It is raining.")])
    assert found.bug and found.evidence == "1 of 2 test sources and 1 test targets appear in training"
