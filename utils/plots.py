"""Plots used across the series (matplotlib only): attention heatmaps, metric-vs-length curves,
loss curves, gradient norms. Each returns the matplotlib Axes it drew on."""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as ticker
import numpy as np
import torch

from utils.languages import LANGUAGES


def _axes(ax, figsize):
    if ax is None:
        _, ax = plt.subplots(figsize=figsize)
    return ax


def _log_axis(ax) -> None:
    """A log-scale y axis with plain, readable tick labels (1.5, 2, 3 rather than 2×10⁰), as many
    as the range of the plotted data has room for. Call it after plotting."""
    ax.set_yscale("log")
    low, high = ax.dataLim.y0, ax.dataLim.y1                  # the data's range, whatever the margins
    span = high / low if low > 0 else float("inf")
    subs = (1.0,) if span > 1000 else (1.0, 2.0, 5.0) if span > 20 else (1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0)
    ax.yaxis.set_major_locator(ticker.LogLocator(subs=subs, numticks=30))
    ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda y, _: f"{y:g}"))
    ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _finish(ax, xlabel: str, ylabel: str, title: str | None, log: bool):
    """Labels, optional log scale, grid, legend and title: the common end of the line plots."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
    if log:
        _log_axis(ax)
    ax.grid(alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    return ax


def attention_figsize(n_src: int, n_tgt: int) -> tuple[float, float]:
    """Figure size (inches) that gives each source and output word of a heatmap room for its label."""
    return 0.32 * n_src + 2, 0.3 * n_tgt + 1.5


def plot_attention(weights, src_tokens: Sequence[str], tgt_tokens: Sequence[str], ax=None,
                   gold: Sequence[tuple[int, int]] | None = None, title: str | None = None,
                   colorbar: bool = False, fontsize: int = 9, source_language: str = "French",
                   target_language: str = "English"):
    """Heatmap of attention ``weights [len(tgt_tokens), len(src_tokens)]``: rows are output words,
    columns the source words they attended to. ``gold`` links (source, target) are drawn as boxes.
    The axis labels name the languages: a name (``"German"``) or a code (``"de"``)."""
    w = weights.detach().cpu().numpy() if isinstance(weights, torch.Tensor) else np.asarray(weights)
    if w.shape != (len(tgt_tokens), len(src_tokens)):
        raise ValueError(f"weights are {w.shape} but there are {len(tgt_tokens)} target and "
                         f"{len(src_tokens)} source tokens")
    ax = _axes(ax, attention_figsize(len(src_tokens), len(tgt_tokens)))
    image = ax.imshow(w, cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
    ax.set_xticks(range(len(src_tokens)), src_tokens, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(len(tgt_tokens)), tgt_tokens, fontsize=fontsize)
    ax.set_xlabel(f"source ({LANGUAGES.get(source_language, source_language)})")
    ax.set_ylabel(f"output ({LANGUAGES.get(target_language, target_language)})")
    for s, t in gold or []:
        ax.add_patch(plt.Rectangle((s - 0.5, t - 0.5), 1, 1, fill=False, edgecolor="darkorange", lw=1.5))
    if title:
        ax.set_title(title)
    if colorbar:
        ax.figure.colorbar(image, ax=ax, fraction=0.03, label="attention weight")
    return ax


def add_colorbar(fig, axes, label: str = "attention weight"):
    """One colorbar for several attention heatmaps drawn with :func:`plot_attention` (they share the
    0–1 colour scale), so their weights can be compared. Call it after ``fig.tight_layout()``."""
    axes = list(np.ravel(axes))
    return fig.colorbar(axes[0].images[0], ax=axes, fraction=0.025, pad=0.02, label=label)


def plot_by_length(curves: Mapping[str, Mapping[str, float]], ylabel: str = "BLEU", ax=None,
                   title: str | None = None, xlabel: str = "source sentence length (tokens)"):
    """One line per model: ``{"vanilla": {"4–10": 95.0, ...}, ...}`` (buckets in order)."""
    ax = _axes(ax, (7, 4))
    for name, scores in curves.items():
        ax.plot(list(scores), list(scores.values()), marker="o", label=name)
    return _finish(ax, xlabel, ylabel, title, log=False)


def smooth(values: Sequence[float], window: int = 20) -> np.ndarray:
    """Moving average (for noisy per-batch losses)."""
    values = np.asarray(values, dtype=float)
    if len(values) < window:
        return values
    return np.convolve(values, np.ones(window) / window, mode="valid")


OFFSET_LABELS = {-2: "2+ before", -1: "1 before", 0: "on the word", 1: "1 after", 2: "2+ after"}


def plot_anchor_offsets(offsets: Mapping[str, Sequence[int]], ax=None, title: str | None = None,
                        source_language: str = "French") -> dict[str, dict[int, float]]:
    """Grouped bars: for each group of anchor words (``{"names": [0, 0, -1, ...]}``, offsets as
    :func:`utils.metrics.anchor_offsets` gives them), the share whose attention peaks on the
    translation, one word before or after it, or further (offsets beyond ±2 count as ±2).
    Returns those shares, ``{group: {offset: share}}``."""
    ax = _axes(ax, (7, 3))
    shares = {}
    width = 0.8 / max(1, len(offsets))
    for k, (group, values) in enumerate(offsets.items()):
        clipped = [max(-2, min(2, o)) for o in values]
        shares[group] = {o: clipped.count(o) / max(1, len(values)) for o in OFFSET_LABELS}
        shift = (k - (len(offsets) - 1) / 2) * width
        ax.bar([o + shift for o in OFFSET_LABELS], list(shares[group].values()), width=width,
               label=f"{group} ({len(values)})")
    ax.set_xticks(list(OFFSET_LABELS), list(OFFSET_LABELS.values()))
    language = LANGUAGES.get(source_language, source_language)
    ax.set(xlabel=f"where the peak lies, relative to the anchor's {language} translation",
           ylabel="share of anchor words")
    if title:
        ax.set_title(title)
    ax.legend()
    return shares


def plot_losses(histories: Mapping[str, object], x: str = "step", ax=None, title: str | None = None,
                window: int = 20, log: bool = True):
    """Training-loss curves of several :class:`utils.train.History` objects against ``x``
    (``"step"`` or ``"time"``, wall-clock seconds), smoothed over ``window`` batches."""
    if x not in ("step", "time"):
        raise ValueError("x must be 'step' or 'time'")
    ax = _axes(ax, (7, 4))
    for name, h in histories.items():
        y = smooth(h.step_loss, window)
        xs = np.arange(len(h.step_loss)) + 1 if x == "step" else np.asarray(h.step_time)
        ax.plot(xs[len(xs) - len(y):], y, label=name)
    return _finish(ax, "training step (batches)" if x == "step" else "wall-clock time (s)",
                   "training loss", title, log)


def plot_gradient_norms(norms: Mapping[str, Sequence[float]], ax=None, title: str | None = None, log: bool = True):
    """Gradient norm per source position, one line per model."""
    ax = _axes(ax, (7, 4))
    for name, values in norms.items():
        ax.plot(np.arange(1, len(values) + 1), values, marker=".", label=name)
    return _finish(ax, "source position (1 = first word)", "‖∂loss / ∂x_j‖", title, log)


def _ordinal(position: int) -> str:
    """1 → "1st", 22 → "22nd", -2 → "2nd-last"."""
    n = abs(position)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}" + ("" if position > 0 else "-last" if n > 1 else "")


def plot_probe(curves: Mapping[str, Mapping[int, float]], baseline: Mapping[int, float], positions: Sequence[int],
               ax=None, title: str | None = None, source_language: str = "French"):
    """Probe accuracy per source position (see :func:`utils.probes.probe_final_state`) as grouped
    bars, one colour per model, with the most-common-word baseline as a black tick on each group.
    The positions are categories (1st, 2nd, …, 2nd-last), not a scale: a bar chart says so.
    ``source_language`` (a name or a code) names the words counted on the x axis."""
    ax = _axes(ax, (9, 3.5))
    x = np.arange(len(positions))
    width = 0.8 / len(curves)
    for k, (name, accuracy) in enumerate(curves.items()):
        ax.bar(x - 0.4 + width * (k + 0.5), [accuracy[p] for p in positions], width, label=name)
    ax.hlines([baseline[p] for p in positions], x - 0.42, x + 0.42, colors="black", lw=2,
              label="baseline: most common word")
    ax.set_xticks(x, [_ordinal(p) for p in positions])
    ax.set_xlabel(f"{LANGUAGES.get(source_language, source_language)} word, counted from the start, "
                  "then from the end (categories, not to scale)")
    ax.set_ylabel("probe accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3, axis="y")
    ax.legend()
    if title:
        ax.set_title(title)
    return ax
