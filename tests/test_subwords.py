"""Subword units (utils/subwords.py): no unknown words, words back exactly, maps merged into words."""
import pickle

import pytest
import torch

from utils.subwords import MARK, Subwords, word_attention, word_index
from utils.text import tokenize

FRENCH = ["je cours .", "tu cours !", "il court .", "nous courons .", "vous courez !", "cours !",
          "je mange une pomme .", "tu manges une pomme ?", "elle mange du pain .", "nous mangeons .",
          "l'homme mange .", "la femme court .", "serrez-moi dans vos bras !", "appelez-moi !"] * 3


@pytest.fixture(scope="module")
def subwords():
    return Subwords.train([tokenize(s, "fr") for s in FRENCH], vocab_size=60)


def test_words_come_back_exactly(subwords):
    for sentence in FRENCH + ["courez-vous ?", "mangerons-nous ?"]:
        tokens = tokenize(sentence, "fr")
        assert subwords.decode(subwords.encode(tokens)) == tokens


def test_an_unseen_word_is_spelled_from_known_pieces(subwords):
    pieces = subwords.encode(["mangeront"])
    assert len(pieces) > 1 and pieces[0].startswith(MARK)            # split, the first piece marks the word
    assert all(subwords._sp.piece_to_id(p) != subwords._sp.unk_id() for p in pieces)


def test_frequent_words_stay_whole(subwords):
    assert subwords.encode(["cours", "."]) == [MARK + "cours", MARK + "."]


def test_training_is_deterministic():
    a = Subwords.train([tokenize(s, "fr") for s in FRENCH], vocab_size=60)
    b = Subwords.train([tokenize(s, "fr") for s in FRENCH], vocab_size=60)
    assert a.model_proto == b.model_proto


def test_round_trips_through_a_weights_only_checkpoint(subwords, tmp_path):
    """Checkpoints hold the model as a uint8 tensor: torch 2.3's weights-only loader refuses bytes."""
    torch.save({"subwords": subwords.to_tensor()}, tmp_path / "blob.pt")
    again = Subwords.from_tensor(torch.load(tmp_path / "blob.pt", weights_only=True)["subwords"])
    assert again.model_proto == subwords.model_proto and again.encode(["courez"]) == subwords.encode(["courez"])
    with pytest.raises(TypeError, match="uint8 tensor"):
        Subwords.from_tensor(subwords.model_proto)
    with pytest.raises(TypeError, match="float32"):
        Subwords.from_tensor(subwords.to_tensor().float())


def test_pickles_with_its_model(subwords):
    again = pickle.loads(pickle.dumps(subwords))
    assert again.encode(["courez"]) == subwords.encode(["courez"]) and len(again) == len(subwords)


def test_bad_arguments_are_clear():
    with pytest.raises(ValueError, match="vocab_size"):
        Subwords.train([["a"]], vocab_size=3)
    with pytest.raises(ValueError, match="no sentences"):
        Subwords.train([[]], vocab_size=50)


def test_word_index():
    assert word_index([MARK + "ser", "rez", "-", "moi", MARK + "!"]) == [0, 0, 0, 0, 1]


def test_word_attention_sums_source_pieces_and_averages_target_pieces():
    src = [MARK + "ser", "rez", MARK + "!"]                           # 2 words, plus <eos>
    tgt = [MARK + "hu", "g", MARK + "me"]                             # 2 words, plus <eos>
    w = torch.tensor([[0.5, 0.3, 0.1, 0.1],
                      [0.1, 0.1, 0.7, 0.1],
                      [0.0, 0.2, 0.2, 0.6],
                      [0.0, 0.0, 0.0, 1.0]])
    merged = word_attention(w, src, tgt)
    expected = torch.tensor([[(0.8 + 0.2) / 2, (0.1 + 0.7) / 2, (0.1 + 0.1) / 2],
                             [0.2, 0.2, 0.6],
                             [0.0, 0.0, 1.0]])
    assert torch.allclose(merged, expected)
    assert torch.allclose(merged.sum(1), torch.ones(3))               # still a distribution per row


# ----------------------------------------------------------------------------- subword corpora
PAIRS = [("je cours .", "i run ."), ("tu cours !", "you run !"), ("il court .", "he runs ."),
         ("nous courons .", "we run ."), ("je mange .", "i eat ."), ("tu manges !", "you eat !")] * 4


@pytest.fixture(scope="module")
def word_data():
    from utils.parallel_data import ParallelData

    return ParallelData.from_text_pairs(PAIRS, [("vous courez !", "you run !")], [("ils mangent .", "they eat .")])


def test_with_subwords_reads_pieces_and_keeps_the_words(word_data):
    data = word_data.with_subwords(40)
    pair = data.test[0]
    assert pair.src_words == ["ils", "mangent", "."] and pair.tgt_words == ["they", "eat", "."]
    assert data.src_subwords.decode(pair.src_tokens) == pair.src_words
    assert not data.src_vocab.unknown(pair.src_tokens)                   # a word never seen, yet no <unk>
    assert word_data.src_vocab.unknown(word_data.test[0].src_tokens)     # the word vocabulary had one
    assert data.target_words(pair.tgt_tokens) == pair.tgt_words
    assert data.source_units(["courez"]) == data.src_subwords.encode(["courez"])
    assert word_data.target_words(["i", "run"]) == ["i", "run"]          # word data: the identity
    with pytest.raises(ValueError, match="already"):
        data.with_subwords(40)


def test_translate_a_subword_model_gives_words_and_a_word_map(word_data):
    from utils.build import build_model
    from utils.models import RNNConfig
    from utils.translate import translate

    data = word_data.with_subwords(40)
    torch.manual_seed(0)
    model = build_model(RNNConfig(emb_size=8, hidden_size=16), len(data.src_vocab), len(data.tgt_vocab))
    result = translate(model, "Vous courez !", data.src_vocab, data.tgt_vocab,
                       subwords=(data.src_subwords, data.tgt_subwords))
    assert result.source == ["vous", "courez", "!"]
    assert not any(word.startswith(MARK) for word in result.output)      # pieces were joined into words
    assert result.attention.shape == (len(result.output) + 1, len(result.source) + 1)
    assert torch.allclose(result.attention.sum(1), torch.ones(len(result.output) + 1))
