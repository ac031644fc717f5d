"""Greedy decoding with stub and tiny real models; translate's handling of bad input."""
import math

import pytest
import torch
import torch.nn as nn

from utils.batching import collate
from utils.build import build_model
from utils.models import RNNConfig
from utils.search import beam_search, default_max_len, greedy_decode, length_penalty
from utils.text import build_vocab, tokenize
from utils.transformer import TransformerConfig
from utils.translate import Translation, TranslationWarning, beam_hypotheses, translate, translate_tokens

SOS, EOS, V = 2, 3, 12


class StubEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, src, src_mask):
        self.seen.append(src.clone())
        return torch.zeros(src.size(0), src.size(1), 2), torch.zeros(1, src.size(0), 2)


class ScriptDecoder(nn.Module):
    """Row b emits ``scripts[b]`` (then token 9 forever, which must never show up after <eos>).

    Attention: uniform over the real source positions."""

    has_attention = True

    def __init__(self, scripts, with_attention=True):
        super().__init__()
        self.scripts = scripts
        self.with_attention = with_attention
        self.fed = []

    def init_state(self, enc_hidden, enc_out):
        return 0

    def step(self, y_prev, state, enc_out, src_mask):
        self.fed.append(y_prev.tolist())
        logits = torch.zeros(y_prev.size(0), V)
        for b in range(y_prev.size(0)):
            script = self.scripts[b % len(self.scripts)]
            tok = script[state] if state < len(script) else 9
            logits[b, tok] = 1.0
        weights = src_mask.float() / src_mask.float().sum(-1, keepdim=True) if self.with_attention else None
        return logits, state + 1, weights


class Stub(nn.Module):
    def __init__(self, scripts, with_attention=True):
        super().__init__()
        self.encoder = StubEncoder()
        self.decoder = ScriptDecoder(scripts, with_attention)
        self.dummy = nn.Parameter(torch.zeros(1))


def stub_batch(n=2, length=4):
    src = torch.full((n, length), 5)
    lengths = torch.tensor([length - i for i in range(n)])
    mask = torch.arange(length)[None] < lengths[:, None]
    return src, mask


# ----------------------------------------------------------------------------- greedy_decode
def test_greedy_stops_at_eos_per_sentence():
    model = Stub([[5, 6, 7, EOS], [8, EOS], [EOS]])
    ids, attn = greedy_decode(model, *stub_batch(3), SOS, EOS, max_len=20)
    assert ids == [[5, 6, 7], [8], []]
    assert attn.shape == (3, 4, 4)  # stopped after the longest sentence's <eos>: 4 steps
    assert model.decoder.fed[0] == [SOS] * 3          # starts from <sos>
    assert model.decoder.fed[1] == [5, 8, EOS]        # then its own predictions
    assert not model.training


def test_greedy_stops_at_max_len():
    model = Stub([[5, 6, 7, 8, 6, 5, EOS]])
    ids, attn = greedy_decode(model, *stub_batch(1), SOS, EOS, max_len=3)
    assert ids == [[5, 6, 7]]
    # a fourth step forces <eos>: every sentence ends with one <eos> row of attention
    assert attn.shape == (1, 4, 4) and len(model.decoder.fed) == 4


def test_greedy_limits_per_sentence():
    model = Stub([[5, 6, 7, 8, 6, 5, EOS]])
    ids, attn = greedy_decode(model, *stub_batch(2), SOS, EOS, max_len=torch.tensor([2, 4]))
    assert ids == [[5, 6], [5, 6, 7, 8]]
    assert attn.shape[1] == 5


def test_greedy_never_predicts_sos_or_pad():
    PAD = 0
    model = Stub([[5, SOS, PAD, 6, EOS]])
    ids, _ = greedy_decode(model, *stub_batch(1), SOS, EOS, max_len=10, pad_id=PAD)
    assert SOS not in ids[0] and PAD not in ids[0] and len(ids[0]) == 4


def test_greedy_without_attention():
    model = Stub([[5, EOS]], with_attention=False)
    ids, attn = greedy_decode(model, *stub_batch(2), SOS, EOS, max_len=5)
    assert ids == [[5], [5]] and attn is None


@pytest.mark.parametrize("max_len", [0, -3])
def test_greedy_rejects_bad_max_len(max_len):
    with pytest.raises(ValueError, match="max_len"):
        greedy_decode(Stub([[EOS]]), *stub_batch(1), SOS, EOS, max_len=max_len)


def test_default_max_len():
    assert default_max_len(10) == 20 and default_max_len(1) == 6


# ----------------------------------------------------------------------------- tiny real models
SENTENCES = ["le chat dort .", "la petite fille voit le grand chien bleu .", "il court .",
             "les hommes mangent une pomme rouge sous l' arbre ."]


@pytest.fixture(scope="module")
def vocabs():
    src = build_vocab([s.split() for s in SENTENCES])
    tgt = build_vocab([["the", "cat", "sleeps", ".", "girl", "sees", "dog", "a", "red", "apple"]])
    return src, tgt


# One model of every decoder of the series (test_every_decoder_is_searched_here checks none is missing).
MODELS = {"luong": RNNConfig(decoder="luong", score="general", emb_size=6, hidden_size=12, attention_size=6),
          "bahdanau": RNNConfig(decoder="bahdanau", score="concat", emb_size=6, hidden_size=12, attention_size=6),
          "vanilla": RNNConfig(decoder="vanilla", emb_size=6, hidden_size=12),
          "transformer": TransformerConfig(d_model=12, heads=2, ff_size=24, layers=2)}


@pytest.fixture(scope="module", params=list(MODELS))
def model(request, vocabs):
    torch.manual_seed(1)
    return build_model(MODELS[request.param], len(vocabs[0]), len(vocabs[1])).eval()


def test_every_decoder_is_searched_here():
    from test_contract import decoder_classes

    built = {type(build_model(config, 5, 5).decoder) for config in MODELS.values()}
    missing = sorted(cls.__name__ for cls in decoder_classes() if cls not in built)
    assert not missing, f"add a config that builds {', '.join(missing)} to MODELS in {__file__}"


def test_batched_greedy_equals_one_by_one(model, vocabs):
    src_v, tgt_v = vocabs
    items = [(torch.tensor(src_v.encode(s.split()) + [src_v.eos_id]), torch.tensor([0])) for s in SENTENCES]
    b = collate(items)
    ids, attn = greedy_decode(model, b.src, b.src_mask, tgt_v.sos_id, tgt_v.eos_id, 15)
    for i, item in enumerate(items):
        one = collate([item])
        ids_one, attn_one = greedy_decode(model, one.src, one.src_mask, tgt_v.sos_id,
                                          tgt_v.eos_id, 15)
        assert ids_one[0] == ids[i]
        if attn is not None:
            n_steps, n_src = attn_one.shape[1], len(item[0])
            torch.testing.assert_close(attn[i, :n_steps, :n_src], attn_one[0], atol=1e-5, rtol=1e-5)


def test_translate_tokens_keeps_input_order(model, vocabs):
    src_v, tgt_v = vocabs
    sources = [s.split() for s in SENTENCES]
    hyps, attns = translate_tokens(model, sources, src_v, tgt_v, batch_size=2)
    # the same batches (sorted by length) from the input in another order: same outputs, in input order
    shuffled = [3, 0, 2, 1]
    hyps2, _ = translate_tokens(model, [sources[i] for i in shuffled], src_v, tgt_v, batch_size=2)
    assert [hyps[i] for i in shuffled] == hyps2
    # the shortest sentence alone (it has its own batch when batch_size=1)
    alone, _ = translate_tokens(model, sources, src_v, tgt_v, batch_size=1)
    assert alone[2] == translate_tokens(model, [sources[2]], src_v, tgt_v)[0][0]
    assert len(attns) == len(sources)
    if model.decoder.has_attention:
        for s, h, a in zip(sources, hyps, attns, strict=True):
            assert a.shape[1] == len(s) + 1
            # rows: one per decoding step (exact shapes are checked with stubs below)
            assert 1 <= a.shape[0] == len(h) + 1 <= default_max_len(len(s) + 1) + 1
            torch.testing.assert_close(a.sum(-1), torch.ones(a.shape[0]))
    else:
        assert attns == [None] * len(sources)


def test_translate_tokens_reverse_source(model, vocabs):
    src_v, tgt_v = vocabs
    sources = [s.split() for s in SENTENCES]
    reversed_hyps, _ = translate_tokens(model, sources, src_v, tgt_v, reverse_source=True)
    by_hand, _ = translate_tokens(model, [s[::-1] for s in sources], src_v, tgt_v)
    assert reversed_hyps == by_hand


def test_translate_tokens_feeds_the_source_reversed_with_eos_last():
    src_v = build_vocab([["a", "b", "c"]])
    tgt_v = build_vocab([["x"]])
    model = Stub([[tgt_v["x"], tgt_v.eos_id]])
    hyps, attns = translate_tokens(model, [["a", "b", "c"]], src_v, tgt_v, reverse_source=True)
    fed = model.encoder.seen[0][0].tolist()
    assert fed == [src_v["c"], src_v["b"], src_v["a"], src_v.eos_id]
    assert hyps == [["x"]]
    assert attns[0].shape == (2, 4)  # [out + 1, src + 1]
    torch.testing.assert_close(attns[0].sum(-1), torch.ones(2))


def test_translate_tokens_attention_shape_with_a_stub():
    src_v = build_vocab([["a", "b", "c", "d"]])
    tgt_v = build_vocab([["x", "y"]])
    x, y = tgt_v["x"], tgt_v["y"]
    model = Stub([[x, y, x, tgt_v.eos_id]])
    (hyp_long, hyp_short), (a_long, a_short) = translate_tokens(model, [["a", "b", "c", "d"], ["a"]], src_v, tgt_v)
    assert hyp_long == hyp_short == ["x", "y", "x"]
    assert a_long.shape == (4, 5) and a_short.shape == (4, 2)
    assert (a_short > 0).all()  # the batch's padding is sliced away


def test_translate_tokens_attention_rows_when_no_eos_is_produced():
    src_v = build_vocab([["a"]])
    tgt_v = build_vocab([["x"]])
    model = Stub([[tgt_v["x"]] * 100])  # never emits <eos>
    (hyp,), (att,) = translate_tokens(model, [["a"]], src_v, tgt_v)
    assert len(hyp) == default_max_len(2)
    assert att.shape == (len(hyp) + 1, 2)


def test_translate_tokens_output_limit_does_not_depend_on_the_batch():
    src_v = build_vocab([["a", "b"]])
    tgt_v = build_vocab([["x"]])
    model = Stub([[tgt_v["x"]] * 100])  # never emits <eos>
    alone, _ = translate_tokens(model, [["a"]], src_v, tgt_v)
    batched, _ = translate_tokens(model, [["a"], ["a", "b"] * 10], src_v, tgt_v)
    assert batched[0] == alone[0]


def test_translate_tokens_attention_rows_match_output_when_specials_are_emitted():
    src_v = build_vocab([["a"]])
    tgt_v = build_vocab([["x"]])
    model = Stub([[tgt_v["x"], tgt_v.pad_id, tgt_v["x"], tgt_v.eos_id]])
    (hyp,), (att,) = translate_tokens(model, [["a"]], src_v, tgt_v)
    assert att.shape[0] == len(hyp) + 1


# ----------------------------------------------------------------------------- translate
def test_translate_returns_a_translation(model, vocabs):
    src_v, tgt_v = vocabs
    t = translate(model, "Le chat dort.", src_v, tgt_v)
    assert isinstance(t, Translation)
    assert t.source == ["le", "chat", "dort", "."]
    assert t.unknown == [] and t.warnings == []
    assert str(t) == " ".join(t.output)
    assert t.output == translate_tokens(model, [t.source], src_v, tgt_v)[0][0]


@pytest.mark.parametrize("sentence", ["", "   "])
def test_translate_empty(model, vocabs, sentence):
    with pytest.raises(ValueError, match="empty"):
        translate(model, sentence, *vocabs)


@pytest.mark.parametrize("sentence", [None, 42, ["le", "chat"]])
def test_translate_non_string(model, vocabs, sentence):
    with pytest.raises(TypeError, match="string"):
        translate(model, sentence, *vocabs)


def test_translate_unknown_words(vocabs):
    src_v, tgt_v = vocabs
    model = Stub([[tgt_v["cat"], tgt_v.eos_id]])
    t = translate(model, "le zèbre dort avec Zorro.", src_v, tgt_v)
    assert t.unknown == ["zèbre", "avec", "zorro"]
    assert len(t.warnings) == 1 and "zèbre" in t.warnings[0] and "<unk>" in t.warnings[0]
    fed = model.encoder.seen[0][0].tolist()
    assert fed[1] == src_v.unk_id and fed[0] == src_v["le"]
    assert t.output == ["cat"]


def test_translate_too_long(vocabs):
    src_v, tgt_v = vocabs
    model = Stub([[tgt_v.eos_id]])
    sentence = "le chat dort ."
    assert translate(model, sentence, src_v, tgt_v, max_src_len=4).warnings == []
    with pytest.warns(TranslationWarning, match="4 tokens"):
        t = translate(model, sentence, src_v, tgt_v, max_src_len=3)
    assert len(t.warnings) == 1 and "4 tokens" in t.warnings[0] and "3" in t.warnings[0]
    assert t.output == [] and t.attention.shape == (1, 5)


def test_translate_reverse_source(vocabs):
    src_v, tgt_v = vocabs
    model = Stub([[tgt_v.eos_id]])
    t = translate(model, "le chat dort.", src_v, tgt_v, reverse_source=True)
    assert t.source == tokenize("le chat dort.", "fr")  # reported in reading order
    assert model.encoder.seen[0][0].tolist() == src_v.encode([".", "dort", "chat", "le"]) + [src_v.eos_id]


def test_greedy_forced_words_override_the_model_and_are_fed_back():
    model = Stub([[5, 6, 7, EOS]])
    forced = torch.tensor([[-1, 8, -1]])                # step 2 must write 8
    ids, _ = greedy_decode(model, *stub_batch(1), SOS, EOS, max_len=10, forced=forced)
    assert ids == [[5, 8, 7]]
    assert model.decoder.fed[2] == [8]                  # the forced word is the next input


# ----------------------------------------------------------------------------- beam search
def encode_batch(src_v, sentences):
    return collate([(torch.tensor(src_v.encode(s.split()) + [src_v.eos_id]), torch.tensor([0])) for s in sentences],
                   src_v.pad_id, 0)


def test_beam_of_one_is_greedy(model, vocabs):
    src_v, tgt_v = vocabs
    for sentence in SENTENCES:
        b = encode_batch(src_v, [sentence])
        (greedy,), greedy_att = greedy_decode(model, b.src, b.src_mask, tgt_v.sos_id, tgt_v.eos_id,
                                              max_len=12, pad_id=tgt_v.pad_id)
        (best,) = beam_search(model, b.src, b.src_mask, tgt_v.sos_id, tgt_v.eos_id, max_len=12,
                              beam_size=1, pad_id=tgt_v.pad_id)
        assert best.ids == greedy
        if greedy_att is not None:
            torch.testing.assert_close(best.attention, greedy_att[0, :len(greedy) + 1])


def test_beams_are_sorted_distinct_and_end_once(model, vocabs):
    src_v, tgt_v = vocabs
    b = encode_batch(src_v, [SENTENCES[0]])
    hyps = beam_search(model, b.src, b.src_mask, tgt_v.sos_id, tgt_v.eos_id, max_len=8,
                       beam_size=4, alpha=0.6, pad_id=tgt_v.pad_id)
    assert len(hyps) == 4
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    assert len({tuple(h.ids) for h in hyps}) == 4
    for h in hyps:
        assert len(h.ids) <= 8 and tgt_v.eos_id not in h.ids and tgt_v.sos_id not in h.ids
        # the model, reading the hypothesis under teacher forcing, gives it the same probability
        tgt = torch.tensor([[tgt_v.sos_id] + h.ids + [tgt_v.eos_id]])
        logits, weights = model(b.src, b.src_mask, tgt[:, :-1])
        log_prob = torch.log_softmax(logits[0], -1).gather(1, tgt[0, 1:, None]).sum()
        assert h.log_prob == pytest.approx(log_prob.item(), abs=1e-4)
        if model.decoder.has_attention:
            torch.testing.assert_close(h.attention, weights[0], atol=1e-5, rtol=1e-4)


class TableDecoder(nn.Module):
    """Next-word probabilities that depend on the previous word only: ``table[previous word]``
    maps next words to probabilities (every other word gets 1e-9); a word not in the table is
    followed by <eos>."""

    has_attention = False

    def __init__(self, table):
        super().__init__()
        self.table = table

    def init_state(self, enc_hidden, enc_out):
        return torch.zeros(1, enc_out.size(0), 1)

    def step(self, y_prev, state, enc_out, src_mask):
        probs = torch.full((y_prev.size(0), V), 1e-9)
        for row, y in enumerate(y_prev.tolist()):
            for word, p in self.table.get(y, {EOS: 1.0}).items():
                probs[row, word] = p
        return probs.log(), state, None

    @staticmethod
    def reorder_state(state, index):
        return state.index_select(1, index)


# <sos> → 5 (0.6) or 6 (0.4); 5 → one of 7..11 (0.2 each); then <eos>.
# Greedy takes 5 (0.6 · 0.2 = 0.12); the best sentence is 6 <eos> (0.4).
PREFIX = {SOS: {5: 0.6, 6: 0.4}, 5: {w: 0.2 for w in range(7, 12)}}


def table_model(table):
    model = Stub([[EOS]])
    model.decoder = TableDecoder(table)
    return model


def test_beam_search_finds_a_sentence_greedy_misses():
    model = table_model(PREFIX)
    args = (*stub_batch(1), SOS, EOS)
    (greedy,), _ = greedy_decode(model, *args, max_len=5)
    hyps = beam_search(model, *args, max_len=5, beam_size=2, alpha=0.0)
    assert greedy == [5, 7]
    assert hyps[0].ids == [6] and hyps[0].log_prob == pytest.approx(math.log(0.4), abs=1e-5)
    assert hyps[1].ids[0] == 5 and hyps[1].log_prob == pytest.approx(math.log(0.12), abs=1e-5)


def test_length_penalty_by_hand():
    assert length_penalty(1, 1.0) == pytest.approx(1.0)          # ((5 + 1) / 6)^1
    assert length_penalty(7, 1.0) == pytest.approx(2.0)          # ((5 + 7) / 6)^1
    assert length_penalty(7, 0.5) == pytest.approx(math.sqrt(2))
    assert length_penalty(30, 0.0) == 1.0                        # alpha 0: no penalty


def test_length_penalty_can_change_the_winner():
    # <sos> → 5; then <eos> (0.55), or 6 (0.45) and surely 7 8 9 10 11 <eos>.
    # short "5":               log 0.55 = -0.598;  with alpha 1: -0.598 / (7/6)  = -0.512
    # long "5 6 7 8 9 10 11":  log 0.45 = -0.799;  with alpha 1: -0.799 / (13/6) = -0.369
    chain = {SOS: {5: 1.0}, 5: {EOS: 0.55, 6: 0.45}, **{w: {w + 1: 1.0} for w in range(6, 11)}}
    model = table_model(chain)
    short, long = [5], [5, 6, 7, 8, 9, 10, 11]
    no_penalty = beam_search(model, *stub_batch(1), SOS, EOS, max_len=10, beam_size=2, alpha=0.0)
    penalty = beam_search(model, *stub_batch(1), SOS, EOS, max_len=10, beam_size=2, alpha=1.0)
    assert [h.ids for h in no_penalty] == [short, long]
    assert [h.ids for h in penalty] == [long, short]
    assert [h.log_prob for h in penalty] == pytest.approx([math.log(0.45), math.log(0.55)], abs=1e-5)
    assert [h.score for h in penalty] == pytest.approx([math.log(0.45) * 6 / 13, math.log(0.55) * 6 / 7], abs=1e-5)


def test_beam_search_forces_eos_at_the_limit():
    model = Stub([[5] * 50])                      # never writes <eos>
    model.decoder.reorder_state = lambda state, index: state
    hyps = beam_search(model, *stub_batch(1), SOS, EOS, max_len=4, beam_size=3)
    assert all(len(h.ids) == 4 for h in hyps)


def test_beam_search_rejects_bad_arguments():
    model = Stub([[EOS]])
    with pytest.raises(ValueError, match="one sentence"):
        beam_search(model, *stub_batch(2), SOS, EOS, max_len=5)
    with pytest.raises(ValueError, match="beam_size"):
        beam_search(model, *stub_batch(1), SOS, EOS, max_len=5, beam_size=0)


def test_translate_tokens_with_beams(model, vocabs):
    src_v, tgt_v = vocabs
    sources = [s.split() for s in SENTENCES]
    hyps, attns = translate_tokens(model, sources, src_v, tgt_v, beam_size=3)
    assert len(hyps) == len(sources)
    for s, h, a in zip(sources, hyps, attns, strict=True):
        if model.decoder.has_attention:
            assert a.shape == (len(h) + 1, len(s) + 1)


def test_translate_tokens_with_beams_returns_the_best_beam_not_the_greedy_output():
    src_v = build_vocab([["a"]])
    tgt_v = build_vocab([[f"w{i:02d}"] for i in range(4, V)])     # ids 4..11 are w04..w11
    model = table_model(PREFIX)
    assert translate_tokens(model, [["a"]], src_v, tgt_v)[0] == [["w05", "w07"]]     # greedy
    assert translate_tokens(model, [["a"]], src_v, tgt_v, beam_size=2)[0] == [["w06"]]


def test_beam_hypotheses_scores_and_greedy(model, vocabs):
    src_v, tgt_v = vocabs
    sources = [s.split() for s in SENTENCES]
    ones = beam_hypotheses(model, sources, src_v, tgt_v, beam_size=1)
    assert [tgt_v.decode(h[0].ids) for h in ones] == translate_tokens(model, sources, src_v, tgt_v)[0]
    fives = beam_hypotheses(model, sources, src_v, tgt_v, beam_size=5, alpha=0.6)
    for one, five in zip(ones, fives, strict=True):
        assert len(one) == 1 and 1 <= len(five) <= 5
        assert [h.score for h in five] == sorted((h.score for h in five), reverse=True)
        assert one[0].log_prob <= 0
    reversed_ = beam_hypotheses(model, sources[:1], src_v, tgt_v, beam_size=1, reverse_source=True)
    assert tgt_v.decode(reversed_[0][0].ids) == translate_tokens(model, sources[:1], src_v, tgt_v,
                                                                 reverse_source=True)[0][0]
