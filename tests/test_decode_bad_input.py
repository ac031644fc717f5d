"""Decoding with bad input: wrong or swapped vocabularies, empty or word-less sources, sentences
longer than training, unknown words, the wrong source order — a clear error or a visible warning."""
import warnings
from contextlib import contextmanager

import pytest
from conftest import TINY, make_data, tiny_model

from utils import checkpoints
from utils.checkpoints import train_or_load
from utils.models import RNNConfig
from utils.provenance import TrainedWith, VocabularyMismatchError, fingerprint
from utils.text import Vocab, build_vocab
from utils.translate import TranslationWarning, beam_hypotheses, translate, translate_tokens


@pytest.fixture
def trained(data, tmp_path, monkeypatch):
    """A tiny model from train_or_load, as the notebooks get theirs."""
    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    model, _ = train_or_load("tiny", RNNConfig(decoder="luong", **TINY), data, epochs=1,
                             verbose=False)
    return model


@contextmanager
def quiet():
    """A block in which any TranslationWarning fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", TranslationWarning)
        yield


def decoders(model, data, src_vocab, tgt_vocab):
    """Every public decoding call, with the given vocabularies."""
    tokens = data.train[0].src_tokens
    return [lambda: translate(model, data.train[0].fr, src_vocab, tgt_vocab),
            lambda: translate_tokens(model, [tokens], src_vocab, tgt_vocab),
            lambda: translate_tokens(model, [tokens], src_vocab, tgt_vocab, beam_size=2),
            lambda: beam_hypotheses(model, [tokens], src_vocab, tgt_vocab, beam_size=2)]


# ----------------------------------------------------------------------------- vocabularies (cases 6, 9)
def test_swapped_vocabularies_are_refused(trained, data):
    for call in decoders(trained, data, data.tgt_vocab, data.src_vocab):
        with pytest.raises(VocabularyMismatchError, match="source and target vocabularies are swapped"):
            call()


def test_another_vocabulary_of_the_same_size_is_refused(trained, data):
    itos = data.src_vocab.itos
    shuffled = Vocab(itos[:4] + [itos[5], itos[4]] + itos[6:])  # the same tokens, two ids exchanged
    assert len(shuffled) == len(data.src_vocab) and fingerprint(shuffled) != fingerprint(data.src_vocab)
    for call in decoders(trained, data, shuffled, data.tgt_vocab):
        with pytest.raises(VocabularyMismatchError, match="source vocabulary is not the one this model was trained"):
            call()


def test_a_vocabulary_larger_than_the_embedding_is_a_clear_error(data):
    model = tiny_model(data)                                  # built directly: no record, sizes are checked
    bigger = build_vocab([p.src_tokens for p in data.train] + [["zèbre", "girafe"]])
    for call in decoders(model, data, bigger, data.tgt_vocab):
        with pytest.raises(VocabularyMismatchError) as info:
            call()
        assert f"source embedding has {len(data.src_vocab)} rows but src_vocab has {len(bigger)} tokens" \
            in str(info.value)
        assert info.traceback[-1].path.name == "provenance.py"   # raised by the check, not deep in torch


def test_swapped_vocabularies_of_a_model_without_record(data):
    model = tiny_model(data)
    assert len(data.src_vocab) != len(data.tgt_vocab)
    with pytest.raises(VocabularyMismatchError, match="look swapped"):
        translate(model, data.train[0].fr, data.tgt_vocab, data.src_vocab)


def test_a_smaller_target_vocabulary_is_refused(data):
    smaller = build_vocab([p.tgt_tokens for p in data.train[:5]])
    with pytest.raises(VocabularyMismatchError, match="tgt_vocab"):
        translate_tokens(tiny_model(data), [data.train[0].src_tokens], data.src_vocab, smaller)


# ----------------------------------------------------------------------------- empty sources (case 5)
def test_empty_token_lists_are_refused(trained, data):
    ok = data.train[0].src_tokens
    with pytest.raises(ValueError, match=r"sources\[1\] is empty"):
        beam_hypotheses(trained, [ok, []], data.src_vocab, data.tgt_vocab)
    with pytest.raises(ValueError, match=r"sources\[0\] is empty"):
        translate_tokens(trained, [[]], data.src_vocab, data.tgt_vocab)


def test_strings_instead_of_token_lists_are_refused(trained, data):
    with pytest.raises(TypeError, match="tokenise"):
        translate_tokens(trained, [data.train[0].fr], data.src_vocab, data.tgt_vocab)
    with pytest.raises(TypeError, match="tokenise"):
        beam_hypotheses(trained, data.train[0].fr, data.src_vocab, data.tgt_vocab)


@pytest.mark.parametrize("sentence", ["...", " ?! ", "« … »", "-"])
def test_punctuation_only_is_an_error(trained, data, sentence):
    with pytest.raises(ValueError, match="no words, only punctuation"):
        translate(trained, sentence, data.src_vocab, data.tgt_vocab)


def test_a_number_is_a_word(trained, data):
    with pytest.warns(TranslationWarning, match=r"none of the words \['2'\]"):   # unknown, but a word
        translate(trained, "2 .", data.src_vocab, data.tgt_vocab)


# ----------------------------------------------------------------------------- length (case 4)
def test_a_sentence_longer_than_training_warns_by_itself(trained, data):
    longest = max(len(p.src_tokens) for p in data.train)
    words = [w for w in data.src_vocab.itos[4:] if w.isalpha()]
    within = " ".join((words * longest)[:longest])
    with quiet():
        assert translate(trained, within, data.src_vocab, data.tgt_vocab).warnings == []
    too_long = " ".join((words * 500)[:500])
    with pytest.warns(TranslationWarning, match=f"500 tokens is longer than the {longest} the model was trained on"):
        result = translate(trained, too_long, data.src_vocab, data.tgt_vocab)
    assert len(result.warnings) == 1 and f"{longest} the model was trained on" in result.warnings[0]
    with quiet():                                             # an explicit limit still wins
        translate(trained, too_long, data.src_vocab, data.tgt_vocab, max_src_len=600)


def test_a_model_without_record_has_no_length_limit(data):
    long = " ".join(["le"] * 200)
    with quiet():
        assert translate(tiny_model(data), long, data.src_vocab, data.tgt_vocab).warnings == []


# ----------------------------------------------------------------------------- unknown words (case 8)
def test_a_sentence_of_unknown_words_warns_visibly(trained, data):
    with pytest.warns(TranslationWarning, match="none of the words") as record:
        result = translate(trained, "Zorglub blurp.", data.src_vocab, data.tgt_vocab)
    assert result.unknown == ["zorglub", "blurp"]                 # "." is known, but it is not a word
    assert any("none of the words" in note for note in result.warnings)
    assert record[0].filename == __file__                     # points at the caller's line


def test_some_unknown_words_are_noted_without_a_warning(trained, data):
    known = data.train[0].fr
    with quiet():
        result = translate(trained, "zorglub " + known, data.src_vocab, data.tgt_vocab)
    assert result.unknown == ["zorglub"] and len(result.warnings) == 1 and "<unk>" in result.warnings[0]


# ----------------------------------------------------------------------------- source language
def test_translate_tokenises_in_the_language_given():
    from utils.parallel_data import ParallelData

    german = ParallelData.from_text_pairs([("Wie geht's?", "How are you?"), ("Grüß dich!", "Hello!")], [], [],
                                          src_lang="de")
    model = tiny_model(german)
    with quiet():
        result = translate(model, "Wie geht's dir?", german.src_vocab, german.tgt_vocab, lang="de")
    assert result.source == ["wie", "geht", "'s", "dir", "?"] and result.unknown == ["dir"]
    as_french = translate(model, "Wie geht's?", german.src_vocab, german.tgt_vocab)     # French by default
    assert as_french.source == ["wie", "geht'", "s", "?"] and as_french.unknown == ["geht'", "s"]
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        translate(model, "Hallo", german.src_vocab, german.tgt_vocab, lang="xx")


# ----------------------------------------------------------------------------- source order (neighbour)
def test_the_source_order_comes_from_the_model(splits, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    data = make_data(splits, reverse_source=True)
    model, _ = train_or_load("reversed", RNNConfig(decoder="luong", **TINY), data, epochs=1,
                             verbose=False)
    sources = [p.src_tokens for p in data.test]
    default, _ = translate_tokens(model, sources, data.src_vocab, data.tgt_vocab)
    assert default == translate_tokens(model, sources, data.src_vocab, data.tgt_vocab, reverse_source=True)[0]
    model.trained_with = None                                 # the same model, without its record
    assert default == translate_tokens(model, [s[::-1] for s in sources], data.src_vocab, data.tgt_vocab)[0]
    assert default != translate_tokens(model, sources, data.src_vocab, data.tgt_vocab)[0]
    model.trained_with = TrainedWith.of(data.src_vocab, data.tgt_vocab, 99, True)
    with pytest.raises(ValueError, match="trained on reversed sources"):
        translate(model, data.test[0].fr, data.src_vocab, data.tgt_vocab, reverse_source=False)
    with pytest.raises(ValueError, match="trained on reversed sources"):
        beam_hypotheses(model, sources[:1], data.src_vocab, data.tgt_vocab, reverse_source=False)

