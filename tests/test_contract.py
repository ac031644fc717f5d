"""Every encoder and decoder the series has, run through the contract of ``utils/seq2seq.py``.

A new decoder joins the series by passing this file: add its config to ``CONFIGS`` (a test fails,
naming it, while a decoder class of ``utils`` is built by none of them). Every attention score
registered in :data:`utils.attention.SCORES` runs in both attention decoders."""
import importlib
import inspect
import pkgutil

import pytest
import torch
import torch.nn as nn
from test_models import V_SRC, V_TGT, sentences  # three pairs of different lengths, padded in a batch

import utils
from utils.attention import SCORES
from utils.batching import collate
from utils.build import build_model
from utils.models import RNNConfig
from utils.seq2seq import Decoder, Encoder, Seq2Seq
from utils.transformer import TransformerConfig

CONFIGS = {
    "vanilla": RNNConfig(decoder="vanilla", emb_size=6, hidden_size=12),
    **{f"luong-{score}": RNNConfig(decoder="luong", score=score, emb_size=6, hidden_size=12) for score in SCORES},
    **{f"bahdanau-{score}": RNNConfig(decoder="bahdanau", score=score, emb_size=6, hidden_size=12) for score in SCORES},
    "luong-concat-previous": RNNConfig(decoder="luong", score="concat", emb_size=6, hidden_size=12, query="previous"),
    "luong-bidirectional": RNNConfig(decoder="luong", emb_size=6, hidden_size=12, bidirectional=True),
    "transformer-pre": TransformerConfig(d_model=16, heads=4, ff_size=32, layers=2),
    "transformer-post": TransformerConfig(d_model=16, heads=2, ff_size=32, layers=2, norm="post"),
    "transformer-uncached": TransformerConfig(d_model=16, heads=4, ff_size=32, layers=2),
}


@pytest.fixture(params=list(CONFIGS), ids=list(CONFIGS))
def model(request):
    torch.manual_seed(0)
    model = build_model(CONFIGS[request.param], V_SRC, V_TGT).eval()
    if request.param == "transformer-uncached":
        model.decoder.kv_cache = False
    return model


def encoded(model):
    b = collate(sentences(), 0, 0)
    enc_out, summary = model.encoder(b.src, b.src_mask)
    return b, enc_out, summary


def test_the_parts_declare_the_contract(model):
    assert isinstance(model, Seq2Seq) and model.trained_with is None     # declared, unset until trained
    assert isinstance(model.encoder, Encoder) and isinstance(model.decoder, Decoder)
    assert isinstance(model.decoder.has_attention, bool) and isinstance(model.decoder.parallel_teacher_forcing, bool)


def test_encoder_output_is_zero_at_padding(model):
    b, enc_out, _ = encoded(model)
    assert enc_out.shape[:2] == b.src.shape
    assert (enc_out[~b.src_mask] == 0).all()


def test_steps_equal_forward_teacher(model):
    """``T`` calls of ``step`` fed the gold words give what ``forward_teacher`` gives in one."""
    b, enc_out, summary = encoded(model)
    tgt_in = b.tgt[:, :-1]
    decoder = model.decoder
    logits, weights = decoder.forward_teacher(tgt_in, decoder.init_state(summary, enc_out), enc_out, b.src_mask)
    state, step_logits, step_weights = decoder.init_state(summary, enc_out), [], []
    for t in range(tgt_in.size(1)):
        out, state, w = decoder.step(tgt_in[:, t], state, enc_out, b.src_mask)
        assert out.shape == (3, V_TGT)
        step_logits.append(out)
        step_weights.append(w)
    torch.testing.assert_close(torch.stack(step_logits, 1), logits, atol=1e-5, rtol=1e-4)
    assert (weights is None) == (not decoder.has_attention) == (step_weights[0] is None)
    if decoder.has_attention:
        torch.testing.assert_close(torch.stack(step_weights, 1), weights, atol=1e-5, rtol=1e-4)
        assert weights.shape == (3, tgt_in.size(1), b.src.size(1))
        assert (weights[~b.src_mask[:, None, :].expand_as(weights)] == 0).all()   # no weight on padding


def test_reorder_state_moves_each_sentence_with_its_state(model):
    """After ``reorder_state(state, index)``, row ``i`` continues sentence ``index[i]``: the next
    step's logits are that sentence's, and the encoder output fed with it is reordered the same way."""
    b, enc_out, summary = encoded(model)
    decoder, tgt_in = model.decoder, b.tgt[:, :-1]
    state = decoder.init_state(summary, enc_out)
    for t in range(2):
        _, state, _ = decoder.step(tgt_in[:, t], state, enc_out, b.src_mask)
    expected, _, _ = decoder.step(tgt_in[:, 2], state, enc_out, b.src_mask)
    index = torch.tensor([2, 0, 0])
    moved = decoder.reorder_state(state, index)
    got, _, _ = decoder.step(tgt_in[index, 2], moved, enc_out[index], b.src_mask[index])
    torch.testing.assert_close(got, expected[index], atol=1e-5, rtol=1e-4)


def decoder_classes() -> dict[type, str]:
    """Every class in a module of ``utils`` that is a decoder (an ``nn.Module`` with the methods of
    the :class:`~utils.seq2seq.Decoder` protocol) → its module."""
    found = {}
    for info in pkgutil.iter_modules(utils.__path__):
        module = importlib.import_module(f"utils.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, nn.Module) and cls.__module__ == module.__name__
                    and all(callable(getattr(cls, m, None)) for m in ("init_state", "step", "forward_teacher",
                                                                       "reorder_state"))):
                found[cls] = module.__name__
    return found


def test_every_decoder_of_utils_is_run_through_the_contract():
    classes = decoder_classes()
    assert len(classes) >= 4          # vanilla, Luong, Bahdanau, Transformer: the search finds them
    built = {type(build_model(config, V_SRC, V_TGT).decoder) for config in CONFIGS.values()}
    missing = [f"{cls.__name__} ({module})" for cls, module in classes.items() if cls not in built]
    assert not missing, (f"no config in CONFIGS of tests/test_contract.py builds {', '.join(missing)}: give "
                         "build_model its config, and add one here")
