"""Every plot function draws on the Agg backend and labels its axes."""
import os

os.environ.setdefault("MPLBACKEND", "Agg")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from utils.plots import (  # noqa: E402
    add_colorbar,
    plot_anchor_offsets,
    plot_attention,
    plot_by_length,
    plot_gradient_norms,
    plot_losses,
    plot_probe,
    smooth,
)
from utils.train import History  # noqa: E402


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def labels(ticks):
    return [t.get_text() for t in ticks]


# ----------------------------------------------------------------------------- heatmap
def test_plot_attention_heatmap():
    src, tgt = ["la", "maison", "bleue", "<eos>"], ["the", "blue", "house", "<eos>"]
    w = torch.softmax(torch.randn(4, 4), -1)
    ax = plot_attention(w, src, tgt, gold=[(0, 0), (1, 2), (2, 1)], title="an example", colorbar=True)
    assert isinstance(ax, matplotlib.axes.Axes) and isinstance(ax.figure, matplotlib.figure.Figure)
    assert labels(ax.get_xticklabels()) == src
    assert labels(ax.get_yticklabels()) == tgt
    assert ax.get_xlabel() == "source (French)" and ax.get_ylabel() == "output (English)"
    assert ax.get_title() == "an example"
    np.testing.assert_allclose(ax.images[0].get_array(), w.numpy(), rtol=1e-6)
    assert len(ax.patches) == 3                            # one box per gold link
    assert len(ax.figure.axes) == 2                        # the heatmap and its colorbar
    ax.figure.canvas.draw()


def test_plot_labels_name_the_languages_in_use():
    w = torch.full((2, 2), 0.5)
    ax = plot_attention(w, ["hallo", "<eos>"], ["hello", "<eos>"], source_language="de")
    assert ax.get_xlabel() == "source (German)" and ax.get_ylabel() == "output (English)"
    ax = plot_attention(w, ["hola", "<eos>"], ["hi", "<eos>"], source_language="Spanish", target_language="fr")
    assert ax.get_xlabel() == "source (Spanish)" and ax.get_ylabel() == "output (French)"
    ax = plot_probe({"a": {1: 0.5}}, {1: 0.1}, [1], source_language="de")
    assert ax.get_xlabel().startswith("German word, counted from the start")


def test_plot_attention_accepts_numpy_and_an_existing_axes():
    fig, (a, b) = plt.subplots(1, 2)
    out = plot_attention(np.eye(2), ["x", "y"], ["X", "Y"], ax=b)
    assert out is b and len(a.images) == 0 and len(b.images) == 1
    assert len(out.patches) == 0 and len(fig.axes) == 2


def test_one_colorbar_for_several_heatmaps():
    fig, axes = plt.subplots(1, 3)
    for ax in axes:
        plot_attention(np.eye(2) * 0.5, ["x", "y"], ["X", "Y"], ax=ax)
    fig.tight_layout()
    bar = add_colorbar(fig, axes)
    assert len(fig.axes) == 4 and bar.ax.get_ylabel() == "attention weight"
    assert bar.mappable.get_clim() == (0.0, 1.0)               # the heatmaps' shared scale
    fig.canvas.draw()


def test_plot_attention_shape_mismatch():
    with pytest.raises(ValueError, match="2 target and 3 source"):
        plot_attention(torch.zeros(3, 2), ["a", "b", "c"], ["x", "y"])


def test_plot_attention_does_not_need_grad_free_input():
    w = torch.rand(2, 2, requires_grad=True)
    plot_attention(w * 1.0, ["a", "b"], ["x", "y"])


# ----------------------------------------------------------------------------- curves
def test_plot_by_length():
    curves = {"vanilla": {"4–10": 90.0, "11–20": 60.0, "51–60": 5.0},
              "attention": {"4–10": 95.0, "11–20": 94.0, "51–60": 92.0}}
    ax = plot_by_length(curves, ylabel="BLEU", title="bottleneck")
    assert isinstance(ax, matplotlib.axes.Axes)
    assert [line.get_label() for line in ax.get_lines()] == ["vanilla", "attention"]
    assert list(ax.get_lines()[0].get_ydata()) == [90.0, 60.0, 5.0]
    assert ax.get_ylabel() == "BLEU" and "length" in ax.get_xlabel() and ax.get_title() == "bottleneck"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["vanilla", "attention"]
    assert ax.get_yscale() == "linear"
    ax.figure.canvas.draw()
    assert labels(ax.get_xticklabels()) == ["4–10", "11–20", "51–60"]


@pytest.mark.parametrize("x", ["step", "time"])
def test_plot_losses(x):
    h1 = History(step_loss=list(np.linspace(4, 1, 50)), step_time=list(np.linspace(0.1, 5, 50)))
    h2 = History(step_loss=[3.0, 2.0, 1.5], step_time=[1.0, 2.0, 3.0])   # shorter than the window
    ax = plot_losses({"a": h1, "b": h2}, x=x, window=10, title="losses")
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == ["a", "b"]
    assert len(lines[0].get_ydata()) == 41 and len(lines[1].get_ydata()) == 3
    assert ax.get_yscale() == "log" and "log" in ax.get_ylabel()
    if x == "step":
        assert lines[0].get_xdata()[-1] == 50 and "step" in ax.get_xlabel()
    else:
        assert lines[0].get_xdata()[-1] == pytest.approx(5.0) and "time" in ax.get_xlabel()
    ax.figure.canvas.draw()


def test_log_loss_axis_labels_every_tick_it_draws():
    """A loss from 4.2 down to 1.3 spans less than one decade: its ticks must still say where it is."""
    h = History(step_loss=list(np.linspace(4.2, 1.3, 100)), step_time=list(np.linspace(0.1, 5, 100)))
    ax = plot_losses({"a": h}, window=1)
    ax.figure.canvas.draw()
    low, high = ax.get_ylim()
    shown = [(t.get_loc(), t.label1.get_text()) for t in ax.yaxis.get_major_ticks() if low <= t.get_loc() <= high]
    assert len(shown) >= 3 and all(text for _, text in shown)
    assert [text for _, text in shown] == [f"{loc:g}" for loc, _ in shown]
    assert not any(t.label1.get_text() for t in ax.yaxis.get_minor_ticks())


def test_log_loss_axis_over_three_decades_labels_more_than_the_decades():
    h = History(step_loss=list(np.geomspace(5, 0.007, 200)), step_time=list(range(200)))
    fig, (left, right) = plt.subplots(1, 2)
    for ax in (left, right):                                   # as notebook 04 draws it
        plot_losses({"a": h}, ax=ax, window=1)
    fig.canvas.draw()
    low, high = right.get_ylim()
    shown = [t.label1.get_text() for t in right.yaxis.get_major_ticks() if low <= t.get_loc() <= high]
    assert {"0.01", "0.02", "0.05", "0.1", "0.5", "1"} <= set(shown)


def test_plot_losses_linear_and_bad_x():
    ax = plot_losses({"a": History(step_loss=[2.0, 1.0], step_time=[0.5, 1.0])}, log=False)
    assert ax.get_yscale() == "linear" and "log" not in ax.get_ylabel()
    with pytest.raises(ValueError, match="'step' or 'time'"):
        plot_losses({}, x="epoch")


def test_plot_gradient_norms():
    ax = plot_gradient_norms({"vanilla": [1e-4, 1e-3, 1e-1], "attention": [0.1, 0.2, 0.3]}, title="grads")
    assert [line.get_label() for line in ax.get_lines()] == ["vanilla", "attention"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]
    assert ax.get_yscale() == "log" and "position" in ax.get_xlabel()
    ax.figure.canvas.draw()
    assert plot_gradient_norms({"x": [1.0, 2.0]}, log=False).get_yscale() == "linear"


def test_plot_probe_draws_categories():
    positions = [1, 2, 3, 10, -3, -2]
    accuracy = {p: 0.5 for p in positions}
    ax = plot_probe({"a": accuracy, "b": accuracy}, {p: 0.1 for p in positions}, positions, title="probe")
    ax.figure.canvas.draw()
    assert labels(ax.get_xticklabels()) == ["1st", "2nd", "3rd", "10th", "3rd-last", "2nd-last"]
    assert len(ax.patches) == 2 * len(positions)                 # bars, not a line across positions
    assert ax.get_lines() == [] and "not to scale" in ax.get_xlabel() and ax.get_xlabel().startswith("French word")


def test_smooth():
    np.testing.assert_allclose(smooth([1, 2, 3, 4, 5], window=2), [1.5, 2.5, 3.5, 4.5])
    np.testing.assert_allclose(smooth([1, 2], window=5), [1, 2])
    assert len(smooth(list(range(100)), window=20)) == 81


def test_plot_anchor_offsets_labels_both_axes_and_returns_the_shares():
    shares = plot_anchor_offsets({"names": [0, 0, 0, -1], "nouns": [0, 1, 5, -3]}, title="peaks", source_language="de")
    ax = plt.gca()
    assert ax.get_xlabel() == "where the peak lies, relative to the anchor's German translation"
    assert ax.get_ylabel() == "share of anchor words" and ax.get_title() == "peaks"
    assert labels(ax.get_xticklabels()) == ["2+ before", "1 before", "on the word", "1 after", "2+ after"]
    assert shares["names"][0] == 0.75 and shares["names"][-1] == 0.25
    assert shares["nouns"] == {-2: 0.25, -1: 0.0, 0: 0.25, 1: 0.25, 2: 0.25}     # ±3 and 5 count as ±2
    assert len(ax.patches) == 10
    ax.figure.canvas.draw()
