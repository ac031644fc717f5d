"""The experiments the notebooks run on a trained model: scoring (evaluation), attention against
gold alignments (alignment), bottleneck probes (probes) and exposure bias — on tiny data, and on
fake models whose behaviour is known, so that each result can be checked exactly."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from conftest import make_data, tiny_model

from utils.alignment import attention_aer, teacher_forced_attention
from utils.corpus import generate_splits
from utils.evaluation import translate_and_score
from utils.exposure_bias import after_a_mistake, back_on_track, both_ways, gradient_agreement, regime_states
from utils.pairs import SentencePair
from utils.parallel_data import ParallelData
from utils.probes import gradient_by_source_position, gradient_to_last_output, probe_final_state
from utils.seq2seq import teacher_forced_loop
from utils.text import build_vocab


def known_words_data(splits):
    """The tiny splits with vocabularies from *all* of them, so every reference word has an id."""
    everything = splits["train"] + splits["valid"] + splits["test"]
    return ParallelData(splits["train"], splits["valid"], splits["test"],
                        build_vocab(p.src_tokens for p in everything), build_vocab(p.tgt_tokens for p in everything))


class OracleDecoder:
    """A fake decoder that knows the answers: at step ``t`` it writes word ``t`` of the reference
    of the sentence it reads (``answers`` maps source ids to target ids), then <eos>.

    It writes word ``t`` whatever it was fed, so after a wrong word it carries on with the
    reference (a replaced word: back on track) — unless ``derails``, when it writes <eos> as
    soon as it has been fed a word that is not the reference's."""

    has_attention = False

    def __init__(self, answers: dict, eos_id: int, vocab_size: int, derails: bool = False):
        self.answers, self.eos_id, self.vocab_size, self.derails = answers, eos_id, vocab_size, derails

    def init_state(self, enc_hidden, enc_out):
        ids = enc_out[..., 0].long().tolist()                # the oracle's "encoder states" are the ids
        targets = [self.answers[tuple(i for i in row if i != 0)] + [self.eos_id] for row in ids]
        width = max(map(len, targets)) + 100
        answers = torch.tensor([t + [self.eos_id] * (width - len(t)) for t in targets])   # [batch, width]
        return answers, 0, torch.zeros(len(targets), dtype=torch.bool)  # answers, step, derailed

    def step(self, y_prev, state, enc_out, src_mask):
        answers, t, derailed = state
        if t > 0:
            derailed = derailed | (y_prev != answers[:, t - 1])
        words = answers[:, t]
        if self.derails:
            words = torch.where(derailed, torch.full_like(words, self.eos_id), words)
        logits = nn.functional.one_hot(words, self.vocab_size).float()      # [batch, V]
        return logits, (answers, t + 1, derailed), None


class Oracle(nn.Module):
    """A fake :class:`Seq2Seq` around an :class:`OracleDecoder`."""

    def __init__(self, decoder: OracleDecoder):
        super().__init__()
        self.decoder = decoder
        self.dummy = nn.Parameter(torch.zeros(1))            # for next(model.parameters()).device

    @staticmethod
    def encoder(src, src_mask):                              # "encoder states": the source ids
        return src[..., None].float(), torch.zeros(1, src.size(0), 1)

    def forward(self, src, src_mask, tgt_in, teacher_forcing=1.0, parallel=True):
        enc_out, enc_hidden = self.encoder(src, src_mask)
        state = self.decoder.init_state(enc_hidden, enc_out)
        return teacher_forced_loop(self.decoder, tgt_in, state, enc_out, src_mask)


def oracle(data, rewrite=lambda src, tgt: tgt, derails=False):
    """An :class:`Oracle` for every pair of ``data``; ``rewrite(src_tokens, tgt_ids)`` changes its answers."""
    sv, tv = data.src_vocab, data.tgt_vocab
    answers = {tuple(sv.encode(p.src_tokens) + [sv.eos_id]): rewrite(p.src_tokens, tv.encode(p.tgt_tokens))
               for p in data.train + data.valid + data.test}
    return Oracle(OracleDecoder(answers, tv.eos_id, len(tv), derails))


# ----------------------------------------------------------------------------- evaluation
def test_translate_and_score_on_a_model_that_drops_the_last_word_of_long_sentences(splits):
    data = known_words_data(splits)
    refs = [p.tgt_tokens for p in data.test]
    long = [len(p.src_tokens) > 50 for p in data.test]
    model = oracle(data, rewrite=lambda src, tgt: tgt[:-1] if len(src) > 50 else tgt)
    results = translate_and_score(model, data)
    assert results.sources == [p.src_tokens for p in data.test] and results.references == refs
    assert results.hypotheses == [r[:-1] if cut else r for r, cut in zip(refs, long, strict=True)]
    assert 0 < sum(long) < len(long)
    assert results.exact == pytest.approx(1 - sum(long) / len(long))
    assert results.exact_by_length == {"4–10": 1.0, "11–20": 1.0, "21–30": 1.0, "31–40": 1.0, "41–50": 1.0,
                                       "51–60": 0.0}
    # every n-gram of a shortened reference is in the reference: BLEU is the brevity penalty alone,
    # 100 · exp(1 - r / c) with c = r - (number of shortened sentences)
    r_all, r_long = sum(map(len, refs)), sum(len(r) for r, cut in zip(refs, long, strict=True) if cut)
    assert results.bleu == pytest.approx(100 * math.exp(1 - r_all / (r_all - sum(long))))
    assert results.bleu_by_length["51–60"] == pytest.approx(100 * math.exp(1 - r_long / (r_long - sum(long))))
    assert all(results.bleu_by_length[b] == pytest.approx(100.0) for b in ["4–10", "11–20", "21–30", "31–40",
                                                                          "41–50"])
    assert results.attentions == [None] * len(refs)


# ----------------------------------------------------------------------------- alignment
class DiagonalAttention(nn.Module):
    """A fake model whose attention we control: target word ``t`` attends only to source word
    ``t`` (or to the source's last token, <eos>, when the source is shorter)."""

    decoder = SimpleNamespace(has_attention=True)            # what teacher_forced_attention asks

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, src, src_mask, tgt_in, teacher_forcing=1.0, parallel=True):
        steps = torch.arange(tgt_in.size(1))[None, :]                       # [1, T]
        source = torch.minimum(steps, (src_mask.sum(1) - 1)[:, None])       # [batch, T]
        weights = nn.functional.one_hot(source, src.size(1)).float()        # [batch, T, S]
        return None, weights


HAND_MADE = [SentencePair.tokenized("le chat dort .", "the cat sleeps .", alignment=((0, 0), (1, 1), (2, 2), (3, 3))),
             SentencePair.tokenized("une voiture rouge .", "a red car .", alignment=((0, 0), (1, 2), (2, 1), (3, 3)))]


def test_teacher_forced_attention_and_aer_on_a_diagonal_model():
    vocab = build_vocab([p.src_tokens + p.tgt_tokens for p in HAND_MADE])
    data = ParallelData(HAND_MADE, HAND_MADE, HAND_MADE, vocab, vocab)
    weights = teacher_forced_attention(DiagonalAttention(), data)
    # rows: 4 words + <eos>; columns: 4 words + <eos>; the target <eos> looks at the source <eos>
    torch.testing.assert_close(weights[0], torch.eye(5))
    torch.testing.assert_close(weights[1], torch.eye(5))
    # the diagonal matches all 4 gold links of the first pair and 2 of the second's 4 (rouge/red and
    # voiture/car cross): AER = 1 - 2 · (4 + 2) / ((4 + 4) + (4 + 4))
    assert attention_aer(DiagonalAttention(), data) == pytest.approx(1 - 2 * 6 / 16)
    only_first = ParallelData(HAND_MADE, HAND_MADE, HAND_MADE[:1], vocab, vocab)
    assert attention_aer(DiagonalAttention(), only_first) == 0.0


def test_teacher_forced_attention_of_a_real_model(data):
    model = tiny_model(data, "luong", "general")
    weights = teacher_forced_attention(model, data)
    assert len(weights) == len(data.test)
    for w, p in zip(weights, data.test, strict=True):
        assert w.shape == (len(p.tgt_tokens) + 1, len(p.src_tokens) + 1)
        torch.testing.assert_close(w.sum(-1), torch.ones(w.size(0)))  # nothing on the padding
    chosen = [data.test[3], data.valid[0]]                       # any pairs, not only a split
    picked = teacher_forced_attention(model, data, pairs=chosen)
    torch.testing.assert_close(picked[0], weights[3])
    assert picked[1].shape == (len(data.valid[0].tgt_tokens) + 1, len(data.valid[0].src_tokens) + 1)


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


class FinalState(nn.Module):
    """A fake model whose encoder's final state is the one-hot vector of the source word at
    ``position`` (it knows that word), or a random vector (it knows nothing)."""

    def __init__(self, vocab_size: int, position: int | None):
        super().__init__()
        self.encoder, self.vocab_size, self.position = self._encode, vocab_size, position
        self.random = torch.Generator().manual_seed(0)
        self.dummy = nn.Parameter(torch.zeros(1))

    def _encode(self, src, src_mask):
        if self.position is None:
            return None, torch.randn(1, src.size(0), 16, generator=self.random)
        return None, nn.functional.one_hot(src[:, self.position - 1], self.vocab_size).float()[None]


def test_probe_final_state_finds_a_word_the_state_holds_and_no_word_in_noise():
    # notebook 01 concludes from a failed probe that h_T has lost a word; that is only evidence if
    # the probe *would* find a word that is there
    data = make_data(generate_splits(seed=11, n_train=300, n_valid=30, n_test_per_bucket=5))
    knows, _ = probe_final_state(FinalState(len(data.src_vocab), position=2), data, positions=[2], min_len=4)
    noise, baseline = probe_final_state(FinalState(len(data.src_vocab), position=None), data, positions=[2],
                                        min_len=4)
    assert baseline[2] < 0.1                                     # many different words come second
    assert knows[2] > 0.85                                       # misses only words unseen in training
    assert noise[2] <= baseline[2] + 0.05


def test_probe_final_state_keeps_to_the_length_range(data, monkeypatch):
    from utils import probes

    seen = []
    real = probes._final_states
    monkeypatch.setattr(probes, "_final_states", lambda m, d, pairs: seen.append(pairs) or real(m, d, pairs))
    probe_final_state(tiny_model(data, "vanilla"), data, positions=[1], min_len=11, max_len=20, steps=1)
    assert seen and all(11 <= len(p.src_tokens) <= 20 for pairs in seen for p in pairs)
    with pytest.raises(ValueError, match="no sentences"):
        probe_final_state(tiny_model(data, "vanilla"), data, positions=[1], min_len=30, max_len=29)


# ----------------------------------------------------------------------------- exposure bias
def test_after_a_mistake_forces_gold_prefix_then_a_wrong_word(data):
    model = tiny_model(data)
    result = after_a_mistake(model, data, position=0.5)
    assert len(result.outputs) == len(data.test)
    for k, wrong, out, ref in zip(result.positions, result.wrong_words, result.outputs, result.references, strict=True):
        assert k == int(len(ref) * 0.5)
        assert out[:k] == ref[:k]                       # the gold words were forced
        assert out[k] == wrong != ref[k]                # then a word that is not the gold one
        assert wrong not in ("<pad>", "<sos>", "<eos>", "<unk>")
    assert len(result.clean) == len(data.test)


@pytest.mark.parametrize("derails, recovered", [(False, 1.0), (True, 0.0)])
def test_after_a_mistake_measures_recovery(splits, derails, recovered):
    data = known_words_data(splits)
    result = after_a_mistake(oracle(data, derails=derails), data, position=0.5)
    assert all(result.clean)                                     # it translates every sentence exactly
    for k, wrong, out, ref in zip(result.positions, result.wrong_words, result.outputs, result.references, strict=True):
        assert out[:k + 1] == ref[:k] + [wrong] and wrong != ref[k]
        assert out[k + 1:] == ([] if derails else ref[k + 1:])   # stopped, or carried on with the reference
    assert result.recovered == recovered


def test_after_a_mistake_counts_only_the_clean_sentences(splits):
    data = known_words_data(splits)
    long = [len(p.src_tokens) > 50 for p in data.test]
    model = oracle(data, rewrite=lambda src, tgt: tgt[:-1] if len(src) > 50 else tgt, derails=True)
    result = after_a_mistake(model, data, position=0.5)
    assert result.clean == [not cut for cut in long]
    assert result.recovered == 0.0
    model.decoder.derails = False
    # shortened sentences still end early after the mistake; they are not clean, so they do not count
    assert after_a_mistake(model, data, position=0.5).recovered == 1.0


def test_both_ways_feeds_gold_words_then_its_own(data):
    model = tiny_model(data)
    pair = data.test[0]
    forced, free = both_ways(model, data, pair)
    assert [word for word, _ in forced] == ["<sos>"] + pair.tgt_tokens         # gold inputs, one per step
    assert len(forced) == len(pair.tgt_tokens) + 1
    assert free[0][0] == "<sos>" and free[-1][1] == "<eos>"
    assert all(free[i + 1][0] == free[i][1] for i in range(len(free) - 1))   # its own previous word
    b = data.batch([pair])
    with torch.no_grad():
        logits, _ = model(b.src, b.src_mask, b.tgt[:, :-1])
    assert [p for _, p in forced] == [data.tgt_vocab.itos[i] for i in logits[0].argmax(-1).tolist()]


@pytest.mark.parametrize("decoder, score", [("luong", "dot"), ("bahdanau", "concat"), ("vanilla", "dot")])
def test_regime_states_are_the_states_of_each_regime(data, decoder, score):
    model = tiny_model(data, decoder, score)
    batch = next(iter(data.loader("test")))
    forced, free = regime_states(model, batch)
    T = batch.tgt.size(1) - 1
    assert forced.shape == free.shape == (batch.tgt.size(0), T, model.decoder.rnn.hidden_size)

    def top(state):
        return (state[0] if isinstance(state, tuple) else state)[-1]

    with torch.no_grad():
        enc_out, summary = model.encoder(batch.src, batch.src_mask)
        gold = own = model.decoder.init_state(summary, enc_out)
        y_own = batch.tgt[:, 0]
        for t in range(T):
            _, gold, _ = model.decoder.step(batch.tgt[:, t], gold, enc_out, batch.src_mask)   # fed the gold word
            logits, own, _ = model.decoder.step(y_own, own, enc_out, batch.src_mask)           # fed its own
            y_own = logits.argmax(-1)
            assert torch.equal(forced[:, t], top(gold)) and torch.equal(free[:, t], top(own))
    assert torch.equal(forced[:, 0], free[:, 0])                     # both regimes read <sos> first
    assert not torch.equal(forced, free)                             # an untrained model soon goes its own way


def test_regime_states_refuses_a_decoder_without_an_rnn_state(data):
    model = tiny_model(data)
    real_step = model.decoder.step
    model.decoder.step = lambda *args: (real_step(*args)[0], {"not": "a tensor"}, None)
    with pytest.raises(ValueError, match="RNN decoder's state"):
        regime_states(model, next(iter(data.loader("test"))))


def test_gradient_agreement(data):
    model = tiny_model(data)
    batches = list(data.loader("train"))
    norm, agreement = gradient_agreement(model, batches, data.tgt_vocab.pad_id)
    assert norm > 0 and 0 < agreement <= 1 + 1e-6
    _, same = gradient_agreement(model, [batches[0]] * 3, data.tgt_vocab.pad_id)
    assert same == pytest.approx(1.0, abs=1e-5)                      # identical batches agree fully
    _, free = gradient_agreement(model, batches, data.tgt_vocab.pad_id, teacher_forcing=0.0)
    assert 0 < free <= 1 + 1e-6
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


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


# ----------------------------------------------------------------------------- score inputs
@pytest.mark.parametrize("decoder, score", [("luong", "dot"), ("luong", "scaled_dot"), ("luong", "general"),
                                            ("bahdanau", "concat")])
def test_score_inputs_reproduce_the_attention_weights(data, decoder, score):
    from utils.alignment import score_inputs

    model = tiny_model(data, decoder, score)
    inputs = score_inputs(model, data)
    weights = teacher_forced_attention(model, data)
    assert len(inputs) == len(weights) == len(data.test)
    for (queries, keys), w in zip(inputs, weights, strict=True):
        assert queries.shape[0] == w.shape[0] and keys.shape[0] == w.shape[1]
        recomputed = torch.softmax(model.decoder.score.compare(queries[None], keys[None])[0], dim=-1)
        torch.testing.assert_close(recomputed, w, atol=1e-5, rtol=1e-4)
    assert "compare" not in vars(model.decoder.score)                   # the spy is gone
    with pytest.raises(ValueError, match="no attention"):
        score_inputs(tiny_model(data, "vanilla"), data)


# ----------------------------------------------------------------------------- tests that a deliberate break fails
class FirstWordOnly(nn.Module):
    """A fake model whose every prediction depends on the first source word's embedding alone."""

    def __init__(self, vocab_size: int, tgt_vocab_size: int):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.embedding = nn.Embedding(vocab_size, 4)
        self.out = nn.Linear(4, tgt_vocab_size)

    def forward(self, src, src_mask, tgt_in, teacher_forcing=1.0, parallel=True):
        x = self.encoder.embedding(src)                                     # [batch, S, 4]: the hook's tensor
        return self.out(x[:, :1]).expand(-1, tgt_in.size(1), -1), None      # [batch, T, V] from word 1 only


def test_gradient_by_source_position_puts_each_norm_at_its_position(data):
    # notebook 02's plot reads position 1 as the first word the encoder reads: a list returned
    # backwards would move the first word's gradient to the last position
    torch.manual_seed(0)
    norms = gradient_by_source_position(FirstWordOnly(len(data.src_vocab), len(data.tgt_vocab)), data, min_len=30,
                                        max_sentences=3)
    assert norms[0] > 0 and all(n == 0 for n in norms[1:])


def test_probe_baseline_guesses_the_most_common_training_word(data):
    # the baseline may only know the training sentences: a baseline that picked the most common
    # *test* word would use the answers it is scored on
    long = "le chat voit la fille sous les arbres du jardin ."             # 11 tokens: above min_len
    other = long.replace("le ", "un ", 1)
    train = [SentencePair.tokenized(long, "x")] * 9 + [SentencePair.tokenized(other, "x")]
    test = [SentencePair.tokenized(other, "x")] * 4 + [SentencePair.tokenized(long, "x")]
    fake = make_data({"train": train, "valid": test[:1], "test": test[1:]})
    _, baseline = probe_final_state(FinalState(len(fake.src_vocab), position=None), fake, positions=[1], min_len=5,
                                    steps=1)
    assert baseline[1] == pytest.approx(1 / 5)                           # "le", the training majority, is right once


def test_batches_read_the_source_in_the_order_the_data_says(splits):
    # notebook 01's reversed-source probe goes through ParallelData.batches
    pairs = splits["test"][:3]
    forward, backward = make_data(splits).batch(pairs), make_data(splits, reverse_source=True).batch(pairs)
    for row, pair in enumerate(pairs):
        n = len(pair.src_tokens)
        assert forward.src[row, :n].tolist() == backward.src[row, :n].flip(0).tolist()
        assert forward.src[row, n] == backward.src[row, n]                # <eos> stays last


def test_gradient_to_last_output_vanishes_through_a_recurrence_not_through_attention(data):
    # the path argument: a GRU reaches its first word from the last output only through every step
    # in between; a self-attention encoder in one hop. Untrained, on the longest test sentences.
    from utils.build import build_model
    from utils.models import RNNConfig
    from utils.transformer import TransformerConfig

    longest = max(len(p.src_tokens) for p in data.test)
    torch.manual_seed(0)
    gru = build_model(RNNConfig(decoder="vanilla", emb_size=8, hidden_size=8), len(data.src_vocab), len(data.tgt_vocab))
    attention = build_model(TransformerConfig(d_model=8, heads=2, ff_size=16, layers=1), len(data.src_vocab),
                            len(data.tgt_vocab))
    gru.train()
    first, last = gradient_to_last_output(gru, data, min_len=longest, max_sentences=2)
    assert 0 < first < 1e-6 * last
    first, last = gradient_to_last_output(attention, data, min_len=longest, max_sentences=2)
    assert 0.1 * last < first < 10 * last
    assert gru.training and all(p.grad is None or not p.grad.any() for p in gru.parameters())
    with pytest.raises(ValueError):
        gradient_to_last_output(gru, data, min_len=999)


def test_gradient_to_last_output_reads_each_sentences_last_word(data):
    # the last word is each sentence's own (padding differs): an encoder whose output at each position
    # is the input one position back has, at <eos>, all its gradient on the last word, none on the first
    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(len(data.src_vocab), 4)

        def forward(self, src, src_mask):
            x = self.embedding(src)                                            # [batch, S, 4]
            return torch.cat([torch.zeros_like(x[:, :1]), x[:, :-1]], dim=1), None

    model = nn.Module()
    model.encoder = Encoder()
    first, last = gradient_to_last_output(model, data, min_len=20, max_sentences=4)    # 20, 29, 22, 33 tokens
    u = torch.randn(4, 4, generator=torch.Generator().manual_seed(0))                    # the projection it reads
    assert first == 0 and last == pytest.approx(u.norm(dim=-1).mean().item())          # |∂(u·x_last)/∂x_last| = |u|


def test_layer_gradient_norms(data):
    from utils.build import build_model
    from utils.probes import layer_gradient_norms
    from utils.transformer import TransformerConfig

    torch.manual_seed(0)
    model = build_model(TransformerConfig(d_model=8, heads=2, ff_size=16, layers=2), len(data.src_vocab),
                        len(data.tgt_vocab))
    norms = layer_gradient_norms(model, next(iter(data.loader("train"))), data.tgt_vocab.pad_id)
    assert list(norms) == ["encoder layer 1", "encoder layer 2", "decoder layer 1", "decoder layer 2", "output layer"]
    assert all(v > 0 for v in norms.values())
    assert all(p.grad is None or not p.grad.any() for p in model.parameters())


def test_self_attention_statistics(data):
    from utils.build import build_model
    from utils.self_attention import self_attention_statistics
    from utils.transformer import TransformerConfig

    torch.manual_seed(0)
    model = build_model(TransformerConfig(d_model=8, heads=2, ff_size=16, layers=2), len(data.src_vocab),
                        len(data.tgt_vocab))
    stats = self_attention_statistics(model, data, offsets=(-1, 0, 1))
    for side in ("encoder", "decoder"):
        assert stats.share[side].shape == (2, 2, 3) and stats.entropy[side].shape == (2, 2)
        assert (stats.entropy[side] > 0).all() and ((stats.peak[side] > 0) & (stats.peak[side] <= 1)).all()
    assert (stats.peak["decoder"] > stats.peak["encoder"]).all()              # fewer words to spread over
    assert (stats.share["decoder"][..., 2] == 0).all() and stats.even["decoder"][2] == 0   # the causal mask
    assert stats.even["decoder"][:2].sum() > stats.even["encoder"][:2].sum() > 0        # fewer words to share


def test_head_alignment_scores_each_head_as_attention_aer_does(data):
    from utils.alignment import head_alignment
    from utils.build import build_model
    from utils.transformer import TransformerConfig

    torch.manual_seed(0)
    model = build_model(TransformerConfig(d_model=8, heads=2, ff_size=16, layers=2), len(data.src_vocab),
                        len(data.tgt_vocab))
    scores = head_alignment(model, data)
    assert sorted(scores) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for (layer, head), (aer, entropy) in scores.items():
        with model.decoder.showing_head(layer, head):                   # the model reports this head's map
            assert aer == pytest.approx(attention_aer(model, data))
        assert entropy > 0
