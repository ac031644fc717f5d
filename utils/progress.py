"""Progress bars that leave plain text behind.

In a notebook a live progress bar is a widget, and a notebook that is saved keeps a reference to
every widget view it showed. When the notebook is opened again (a new kernel, the widgets gone)
each of those references reads "Error displaying widget: model not found" — a closed tqdm bar
with ``leave=False`` is hidden on screen but still saved that way. So :class:`Progress` shows its
bar through a *display handle* and, when the bar closes, replaces that same output with one line
of plain text (``"training: 282 batches in 12.3 s, epoch 3/3, loss 0.123"``) before it closes
the widgets.
What a saved notebook keeps is that line.

Outside a notebook (a terminal, a script) it is a plain tqdm bar on stderr that vanishes when it
closes. ``TQDM_DISABLE=1`` turns every bar off (that is how the committed notebooks are run).
"""
from __future__ import annotations

import os
import sys
import time
from typing import Any, Iterable, Iterator

from tqdm.std import tqdm as text_bar

__all__ = ["Progress", "bars_disabled", "in_notebook"]


def bars_disabled() -> bool:
    """True when the environment turns progress bars off (``TQDM_DISABLE`` set and not ``0``)."""
    return os.environ.get("TQDM_DISABLE", "") not in ("", "0")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (JupyterLab, Colab, nbclient) that can show ipywidgets."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or getattr(shell, "kernel", None) is None:
        return False
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return False
    return True


class Progress:
    """A progress bar over ``total`` steps that leaves one line of text when it closes.

    Use it around an iterable (``for batch in Progress(loader, desc="epoch 1/3")``), or call
    :meth:`update` yourself; :meth:`set_postfix` shows e.g. the current loss. It closes itself at
    the end of the iterable (or of a ``with`` block). In a notebook the bar is a widget shown
    through a display handle, and :meth:`close` replaces it with :meth:`summary` as plain text.

    ``notebook`` forces the widget bar (True) or the text bar (False); by default the widget bar
    is used inside a Jupyter kernel. ``disable`` (default: ``TQDM_DISABLE``) shows nothing at all.
    """

    def __init__(self, iterable: Iterable | None = None, total: int | None = None, desc: str = "",
                 *, unit: str = "steps", disable: bool | None = None, notebook: bool | None = None,
                 min_interval: float = 0.1) -> None:
        self.iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total, self.desc, self.unit, self.n = total, desc, unit, 0
        self.postfix: dict[str, Any] = {}
        self.disabled = bars_disabled() if disable is None else disable
        self.notebook = (in_notebook() if notebook is None else notebook) and not self.disabled
        self.min_interval = min_interval
        self.closed = False
        self._start = self._last_draw = time.perf_counter()
        self._widgets: dict[str, Any] = {}
        self._handle = None
        self._text_bar = None
        if self.disabled:
            return
        if self.notebook:
            self._show_widget()
        else:
            # disable=False: Progress has decided already (tqdm would read TQDM_DISABLE itself)
            self._text_bar = text_bar(total=total, desc=desc, leave=False, file=sys.stderr, disable=False)

    # ------------------------------------------------------------------ the two kinds of bar
    def _show_widget(self) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        bar = widgets.IntProgress(value=0, min=0, max=max(self.total or 1, 1), description=self.desc,
                                  style={"description_width": "initial"})
        label = widgets.Label(value=self._counts())
        box = widgets.HBox([bar, label])
        self._widgets = {"bar": bar, "label": label, "box": box}
        self._handle = display(box, display_id=True)

    def _counts(self) -> str:
        total = f"/{self.total}" if self.total else ""
        postfix = "".join(f", {k} {v}" for k, v in self.postfix.items())
        return f"{self.n}{total} [{time.perf_counter() - self._start:.1f} s{postfix}]"

    def _draw(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        if self._widgets:
            self._widgets["bar"].value = min(self.n, self._widgets["bar"].max)
            self._widgets["label"].value = self._counts()

    # ------------------------------------------------------------------ the public interface
    def update(self, n: int = 1) -> None:
        """Advance the bar by ``n`` steps."""
        self.n += n
        if self._text_bar is not None:
            self._text_bar.update(n)
        else:
            self._draw()

    def set_postfix(self, **values: Any) -> None:
        """Show ``key value`` pairs after the counts (e.g. ``loss="0.123"``)."""
        self.postfix = values
        if self._text_bar is not None:
            self._text_bar.set_postfix(values, refresh=False)
        else:
            self._draw()

    def write(self, line: str) -> None:
        """Print a line without breaking the bar (in a terminal the bar moves below it)."""
        if self._text_bar is not None:
            self._text_bar.write(line, file=sys.stdout)
        else:
            print(line)

    def summary(self) -> str:
        """The line that replaces the bar, e.g. ``"training: 282 batches in 12.3 s, loss 0.123"``."""
        postfix = "".join(f", {k} {v}" for k, v in self.postfix.items())
        done = f"{self.n} of {self.total}" if self.total and self.n < self.total else f"{self.n}"
        head = f"{self.desc}: " if self.desc else ""
        return f"{head}{done} {self.unit} in {time.perf_counter() - self._start:.1f} s{postfix}"

    def close(self) -> None:
        """Replace the bar with :meth:`summary` (plain text), then close its widgets."""
        if self.closed:
            return
        self.closed = True
        if self._text_bar is not None:
            self._text_bar.close()
        if self._handle is not None:
            # First the output: a saved notebook must hold this text, not a view of a dead widget.
            self._handle.update({"text/plain": self.summary()}, raw=True)
        for widget in self._widgets.values():      # with their layout and style models
            for model in (widget, getattr(widget, "layout", None), getattr(widget, "style", None)):
                if model is not None:
                    model.close()
        self._widgets = {}

    def __iter__(self) -> Iterator:
        if self.iterable is None:
            raise TypeError("Progress was made without an iterable: call update() instead")
        try:
            for item in self.iterable:
                yield item
                self.update()
        finally:
            self.close()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
