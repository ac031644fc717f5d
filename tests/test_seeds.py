"""utils.seeds: paired differences over seeds, by hand."""
import pytest

from utils.seeds import paired_difference


def test_paired_difference_by_hand():
    d = paired_difference({0: 1.0, 1: 2.0, 2: 6.0, 3: 9.0}, {0: 0.0, 1: 1.0, 2: 3.0})   # seed 3 has no pair
    assert d.per_seed == {0: 1.0, 1: 1.0, 2: 3.0}
    assert d.mean == pytest.approx(5 / 3)
    assert d.noise == pytest.approx(2 * (4 / 3) ** 0.5 / 3 ** 0.5)                   # sd of (1, 1, 3) is √(4/3)
    assert d.beyond_noise                                                            # 1.67 > 1.33
    assert not paired_difference({0: 1.0, 1: -1.0, 2: 0.5}, {0: 0.0, 1: 0.0, 2: 0.0}).beyond_noise   # either sign


def test_paired_difference_needs_two_seeds_in_common():
    with pytest.raises(ValueError, match="two seeds"):
        paired_difference({0: 1.0, 1: 1.0}, {1: 0.0, 2: 0.0})
