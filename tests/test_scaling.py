"""utils.scaling: the unrolled GRU is nn.GRU; graph depth and path length grow with n for the
recurrent layer only."""
import pytest
import torch

from utils.scaling import UnrolledGRU, path_length, self_attention_layer, sequential_operations

D = 8


def test_unrolled_gru_equals_nn_gru():
    torch.manual_seed(0)
    unrolled, gru = UnrolledGRU(D), torch.nn.GRU(D, D, batch_first=True)
    with torch.no_grad():
        for theirs, ours in [(gru.weight_ih_l0, unrolled.cell.weight_ih), (gru.weight_hh_l0, unrolled.cell.weight_hh),
                             (gru.bias_ih_l0, unrolled.cell.bias_ih), (gru.bias_hh_l0, unrolled.cell.bias_hh)]:
            theirs.copy_(ours)
    x = torch.randn(3, 7, D)
    torch.testing.assert_close(torch.stack(unrolled(list(x.unbind(1))), dim=1), gru(x)[0])


def test_recurrent_depth_grows_by_the_same_amount_per_word_attention_depth_does_not_grow():
    torch.manual_seed(0)
    gru, attention = UnrolledGRU(D), self_attention_layer(D, heads=2)
    g = [sequential_operations(gru, n, D) for n in (4, 8, 16)]
    a = [sequential_operations(attention, n, D) for n in (4, 8, 16)]
    assert (g[1] - g[0]) / 4 == (g[2] - g[1]) / 8 > 0
    assert a[0] == a[1] == a[2]


def test_path_lengths():
    torch.manual_seed(0)
    gru, attention = UnrolledGRU(D), self_attention_layer(D, heads=2)
    far = [path_length(gru, n, D, output=n - 1, word=0) for n in (4, 8)]
    assert far[1] > far[0] > path_length(gru, 8, D, output=7, word=7)
    short, long, own = (path_length(attention, 4, D, 3, 0), path_length(attention, 8, D, 7, 0),
                        path_length(attention, 8, D, 7, 7))
    assert short == long == own


def test_an_output_before_the_word_does_not_depend_on_it():
    with pytest.raises(ValueError):
        path_length(UnrolledGRU(D), 5, D, output=1, word=3)
