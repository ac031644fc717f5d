"""utils.scaling: multiply-adds counted as the formulas say; every layer timed at every length."""
import torch

from utils.scaling import forward_backward_ms, multiply_adds
from utils.transformer import MultiHeadAttention


def test_multiply_adds_of_a_gru_and_of_self_attention():
    n, d = 5, 8
    gru, attention = torch.nn.GRU(d, d, batch_first=True), MultiHeadAttention(d, heads=2)
    x = torch.randn(1, n, d)
    assert sum(multiply_adds(lambda: gru(x)).values()) == 6 * n * d * d                  # 3 gates, input and state
    counts = multiply_adds(lambda: attention(x, x))
    assert counts == {"aten.addmm": 4 * n * d * d, "aten.bmm": 2 * n * n * d}          # projections; scores + sums


def test_forward_backward_ms_times_every_layer_at_every_length():
    gru = torch.nn.GRU(4, 4, batch_first=True)
    times = forward_backward_ms({"gru": lambda x: gru(x)[0], "linear": torch.nn.Linear(4, 4)}, [2, 3], d=4,
                                batch=2, repeats=1)
    assert set(times) == {"gru", "linear"} and all(len(v) == 2 and min(v) > 0 for v in times.values())
