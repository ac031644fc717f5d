"""Tokenisation, detokenisation and vocabularies."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils import text
from utils.text import EOS, PAD, SOS, SPECIALS, UNK, Vocab, build_vocab, detokenize, normalize, tokenize

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- tokenize
@pytest.mark.parametrize("sentence, tokens", [
    ("l'homme", ["l'", "homme"]),
    ("L'homme qu'il voit.", ["l'", "homme", "qu'", "il", "voit", "."]),
    ("Il n'aime pas l'école d'Anne !", ["il", "n'", "aime", "pas", "l'", "école", "d'", "anne", "!"]),
    ("Le chat, le chien et l’oiseau.", ["le", "chat", ",", "le", "chien", "et", "l'", "oiseau", "."]),
    ("Où est-ce ?", ["où", "est-ce", "?"]),
    ("le garçon\u00a0dort", ["le", "garçon", "dort"]),
])
def test_tokenize_french(sentence, tokens):
    assert tokenize(sentence, "fr") == tokens


@pytest.mark.parametrize("sentence, tokens", [
    ("My sister's cat doesn't run!", ["my", "sister", "'s", "cat", "does", "n't", "run", "!"]),
    ("The boys' dog sleeps.", ["the", "boys", "'", "dog", "sleeps", "."]),
    ("I can't, you won't.", ["i", "ca", "n't", ",", "you", "wo", "n't", "."]),
    ("my father’s car", ["my", "father", "'s", "car"]),
    ("well-known man", ["well-known", "man"]),
])
def test_tokenize_english(sentence, tokens):
    assert tokenize(sentence, "en") == tokens


def test_normalize_is_nfc_lowercase_and_straight_apostrophes():
    decomposed = "E\u0301cole"  # É as E + combining acute
    assert normalize(decomposed) == "école"
    assert normalize("  L’homme  ") == "l'homme"


@pytest.mark.parametrize("sentence, tokens", [
    ("Wie geht's?", ["wie", "geht", "'s", "?"]),                # 's = es goes right, as in English
    ("Grüß dich!", ["grüß", "dich", "!"]),
    ("Die Straße ist schön.", ["die", "straße", "ist", "schön", "."]),   # lower() keeps ß
    ("Ich hab' keine Zeit.", ["ich", "hab", "'", "keine", "zeit", "."]),
    ("Schreib mir eine E-Mail.", ["schreib", "mir", "eine", "e-mail", "."]),
])
def test_tokenize_german(sentence, tokens):
    assert tokenize(sentence, "de") == tokens


@pytest.mark.parametrize("sentence, tokens", [
    ("¿Verdad?", ["¿", "verdad", "?"]),
    ("¡Hola!", ["¡", "hola", "!"]),
    ("Sí, ¿cómo estás?", ["sí", ",", "¿", "cómo", "estás", "?"]),
    ("El niño habla con O'Brien.", ["el", "niño", "habla", "con", "o'brien", "."]),  # no clitics in Spanish
])
def test_tokenize_spanish(sentence, tokens):
    assert tokenize(sentence, "es") == tokens


@pytest.mark.parametrize("call", [tokenize, detokenize])
def test_an_unknown_language_is_an_error_naming_the_supported_ones(call):
    with pytest.raises(ValueError, match=r"unknown language 'it': supported are 'en' \(English\), 'fr' \(French\), "
                                         r"'de' \(German\), 'es' \(Spanish\)"):
        call("ciao", "it")


def test_tokenize_empty():
    assert tokenize("", "fr") == [] and tokenize("   ", "en") == []


@pytest.mark.parametrize("sentence, lang", [
    ("le chat de ma sœur dort.", "fr"),
    ("l'homme n'aime pas la pomme, mais il mange souvent des gâteaux.", "fr"),
    ("qu'il dort.", "fr"),
    ("my sister's cat does not sleep.", "en"),
    ("the man doesn't eat an apple, but he often eats cakes.", "en"),
    ("wie geht's? grüß dich!", "de"),
    ("die straße ist schön, ich hab' keine zeit.", "de"),
    ("sí, ¿verdad?", "es"),
    ("¡hola! ¿cómo estás, señor o'brien?", "es"),
])
def test_detokenize_round_trip(sentence, lang):
    assert detokenize(tokenize(sentence, lang), lang) == sentence


def test_detokenize_glues():
    assert detokenize(["l'", "homme", "dort", "."], "fr") == "l'homme dort."
    assert detokenize(["my", "sister", "'s", "cat", "does", "n't", "run", "!"], "en") == "my sister's cat doesn't run!"
    assert detokenize(["¿", "verdad", "?"], "es") == "¿verdad?"             # ¿ glues to the next word
    assert detokenize(["wie", "geht", "'s", "?"], "de") == "wie geht's?"     # 's to the word before


# ----------------------------------------------------------------------------- Vocab
def test_specials_come_first():
    assert SPECIALS == [PAD, UNK, SOS, EOS]
    v = build_vocab([["b", "a"]])
    assert (v.pad_id, v.unk_id, v.sos_id, v.eos_id) == (0, 1, 2, 3)
    assert v.itos[:4] == ["<pad>", "<unk>", "<sos>", "<eos>"]


def test_order_frequency_descending_ties_alphabetical():
    v = build_vocab([["c", "b", "a", "b"], ["d", "a", "b"], ["e"]])
    assert v.itos[4:] == ["b", "a", "c", "d", "e"]
    builtin = build_vocab([["c", "b", "a", "b"], ["d", "a", "b"], ["e"]], backend="builtin")
    assert builtin.itos == v.itos and builtin.backend == "builtin"


def test_min_freq_and_max_size():
    tokens = [["a", "a", "b", "b", "b", "c"], ["d", "a"]]
    assert build_vocab(tokens, min_freq=2).itos[4:] == ["a", "b"]  # a: 3, b: 3 → alphabetical
    assert build_vocab(tokens, min_freq=4).itos == SPECIALS
    assert build_vocab(tokens, max_size=1).itos == SPECIALS + ["a"]
    assert len(build_vocab(tokens)) == 4 + 4


def test_unknown_maps_to_unk():
    v = build_vocab([["chat", "chien"]])
    assert v["zèbre"] == v.unk_id == 1
    assert v.encode(["chat", "zèbre"]) == [v["chat"], 1]
    assert "chat" in v and "zèbre" not in v
    assert v.unknown(["chat", "zèbre", "lion"]) == ["zèbre", "lion"]


def test_encode_decode_round_trip():
    sentences = [tokenize("le chat de ma sœur dort.", "fr"), tokenize("l'homme voit la pomme.", "fr")]
    v = build_vocab(sentences)
    for s in sentences:
        assert v.decode(v.encode(s)) == s


def test_decode_strips_specials_and_stops_at_eos():
    v = build_vocab([["a", "b"]])
    a, b = v["a"], v["b"]
    ids = [v.sos_id, a, v.pad_id, b, v.eos_id, a]
    assert v.decode(ids) == ["a", "b"]
    assert v.decode(ids, strip_specials=False) == [SOS, "a", PAD, "b", EOS, "a"]
    import torch
    assert v.decode(torch.tensor([a, b, v.eos_id])) == ["a", "b"]


def test_vocab_validation_and_equality():
    with pytest.raises(ValueError, match="unique"):
        Vocab(SPECIALS + ["a", "a"])
    with pytest.raises(ValueError, match="special"):
        Vocab(["<pad>", "<unk>", "a"])
    assert Vocab(SPECIALS + ["a"]) == Vocab(SPECIALS + ["a"])
    assert Vocab(SPECIALS + ["a"]) != Vocab(SPECIALS + ["b"])
    assert "5 tokens" in repr(Vocab(SPECIALS + ["a"]))


def test_build_vocab_rejects_unknown_backend():
    with pytest.raises(ValueError, match="backend"):
        build_vocab([["a"]], backend="spacy")


def test_build_vocab_accepts_a_generator():
    v = build_vocab(t for t in [["x", "y"], ["y"]])
    assert v.itos[4:] == ["y", "x"]


# ----------------------------------------------------------------------------- backend
def _backend_in_subprocess(env_value):
    env = dict(os.environ)
    env.pop("SEQ2SEQ_TEXT_BACKEND", None)
    if env_value is not None:
        env["SEQ2SEQ_TEXT_BACKEND"] = env_value
    code = ("import utils.text as t; print(t.BACKEND); print(t.BACKEND_REASON); "
            "print(t.build_vocab([['b','a','b']]).backend)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def test_env_forces_builtin_backend():
    backend, reason, built = _backend_in_subprocess("builtin")
    assert backend == "builtin" and built == "builtin"
    assert "SEQ2SEQ_TEXT_BACKEND" in reason


def test_default_backend_in_a_fresh_interpreter_matches_this_one():
    if os.environ.get("SEQ2SEQ_TEXT_BACKEND"):
        pytest.skip("SEQ2SEQ_TEXT_BACKEND is set in this process")
    backend, reason, built = _backend_in_subprocess(None)
    assert backend == text.BACKEND == built                 # the backend announced is the one used
    assert "torchtext" in reason                            # the reason names it (its version, or what failed)


# ----------------------------------------------------------------------------- real French (Tatoeba)
@pytest.mark.parametrize("sentence, tokens", [
    ("Cours\u202f!", ["cours", "!"]),                                  # narrow no-break space before !
    ("Pourquoi\u00a0?", ["pourquoi", "?"]),
    ("Il a dit\u202f: «\u202fNon\u202f!\u202f»", ["il", "a", "dit", ":", "«", "non", "!", "»"]),
    ("Qu'est-ce qu'il veut ?!", ["qu'", "est-ce", "qu'", "il", "veut", "?", "!"]),
    ("Aujourd'hui, j'ai vu quelqu'un.", ["aujourd'hui", ",", "j'", "ai", "vu", "quelqu'", "un", "."]),
    ("C’est l’homme\u2009!", ["c'", "est", "l'", "homme", "!"]),       # typographic apostrophes, thin space
    ("Je suis ravi(e).", ["je", "suis", "ravi", "(", "e", ")", "."]),
    ("ÉCOUTE-MOI.", ["écoute-moi", "."]),
])
def test_tokenize_real_french(sentence, tokens):
    assert tokenize(sentence, "fr") == tokens


def test_tokenize_decomposed_accents_match_composed():
    # the same word typed two ways (é as one code point, or e + combining accent) is one token
    assert tokenize("Le cafe\u0301 est chaud.", "fr") == tokenize("Le café est chaud.", "fr")
    assert tokenize("Le cafe\u0301 est chaud.", "fr")[1] == "café"


def test_anchor_words_are_single_tokens_of_their_language_and_of_english():
    from utils.languages import ANCHOR_NAMES, ANCHOR_WORDS, LANGUAGES

    assert set(ANCHOR_WORDS) <= set(LANGUAGES) - {"en"}
    for lang, lexicon in ANCHOR_WORDS.items():
        assert len(lexicon) > ANCHOR_NAMES and list(lexicon)[0] == "tom"       # names first
        for word, english in lexicon.items():
            assert tokenize(word, lang) == [word] and tokenize(english, "en") == [english], (lang, word)


# ----------------------------------------------------------------------------- every language
def _languages():
    from utils.languages import LANGUAGES

    return sorted(LANGUAGES)


@pytest.mark.parametrize("lang", _languages())
def test_every_language_has_what_the_series_needs(lang):
    """A language joins the series by its entry in LANGUAGES; this test then says what else it needs."""
    from utils.languages import ANCHOR_NAMES, ANCHOR_WORDS, LANGUAGES, TATOEBA_CODES

    name = f"{lang!r} ({LANGUAGES[lang]})"
    assert lang in text._TOKEN, (f"{name} has no tokenisation rule: add its regular expression to _TOKEN in "
                                 "utils/text.py")
    assert lang in TATOEBA_CODES, (f"{name} has no Tatoeba file code: add its ISO 639-3 code (manythings.org's "
                                   "file name, e.g. 'ita' for ita-eng.zip) to TATOEBA_CODES in utils/languages.py")
    if lang != "en":    # a source language: notebooks 06 and 08 measure attention on its anchor words
        assert len(ANCHOR_WORDS.get(lang, {})) > ANCHOR_NAMES, (
            f"{name} has no anchor words: add its lexicon to ANCHOR_WORDS in utils/languages.py (the "
            f"{ANCHOR_NAMES} names first, then nouns, each with its one-word English translation)")
    assert tokenize("Tom?", lang) == ["tom", "?"]


def test_a_language_added_to_languages_alone_is_a_clear_error(monkeypatch):
    from utils import languages
    from utils.real_data import anchor_groups

    monkeypatch.setitem(languages.LANGUAGES, "it", "Italian")
    with pytest.raises(ValueError, match=r"'it' \(Italian\) is in utils.languages.LANGUAGES but has no tokenisation "
                                         r"rule: add its regular expression to _TOKEN in utils/text.py"):
        tokenize("Il gatto.", "it")
    with pytest.raises(ValueError, match=r"no anchor words for 'it': add .* to ANCHOR_WORDS in utils/languages.py"):
        anchor_groups("it")
