"""torchtext when it works, the built-in Vocab otherwise — with identical ids.

`make test` sets SEQ2SEQ_EXPECT_BACKEND=builtin (the current stack has no torchtext) and
`make classic-test` sets it to torchtext, so each stack proves which backend it really used.
"""
import os

import pytest

from utils import text
from utils.data import load_synthetic_pairs


def test_backend_is_the_expected_one():
    expected = os.environ.get("SEQ2SEQ_EXPECT_BACKEND")
    if not expected:
        pytest.skip("SEQ2SEQ_EXPECT_BACKEND not set (run through `make test` or `make classic-test`)")
    assert text.BACKEND == expected, f"backend is {text.BACKEND} ({text.BACKEND_REASON}), expected {expected}"


@pytest.mark.skipif(text.BACKEND != "torchtext", reason="torchtext is not usable here: " + text.BACKEND_REASON)
@pytest.mark.parametrize("side", ["src", "tgt"])
def test_torchtext_and_builtin_give_identical_ids(side):
    pairs = load_synthetic_pairs("train")
    tokens = [p.src_tokens if side == "src" else p.tgt_tokens for p in pairs]
    with_torchtext = text.build_vocab(tokens)
    builtin = text.build_vocab(tokens, backend="builtin")
    assert with_torchtext.backend == "torchtext" and builtin.backend == "builtin"
    assert with_torchtext.itos == builtin.itos
    sample = tokens[0] + ["jamais-vu"]
    assert with_torchtext.encode(sample) == builtin.encode(sample)


@pytest.mark.skipif(text.BACKEND != "torchtext", reason="torchtext is not usable here")
@pytest.mark.parametrize("min_freq, max_size", [(2, None), (1, 5)])
def test_parity_with_frequency_cutoffs(min_freq, max_size):
    tokens = [["b", "a", "b", "c"], ["a", "d", "b"], ["e"]]
    assert (text.build_vocab(tokens, min_freq, max_size).itos
            == text.build_vocab(tokens, min_freq, max_size, backend="builtin").itos)


def test_forcing_torchtext_where_it_is_unusable_is_a_clear_error():
    if text.BACKEND == "torchtext":
        pytest.skip("torchtext works here")
    with pytest.raises(RuntimeError, match="torchtext is not usable"):
        text.build_vocab([["a"]], backend="torchtext")
