"""The interactive translate box (notebook 05): type a sentence in the model's source language
(French by default), press Enter or click Translate, and see the output with its attention map.

One request draws one map. That needs care, because one gesture in the browser can send two
messages to the kernel (the text box syncs its value only on Enter or when it loses focus), and
they do not always arrive in the order they were sent (the browser may hold the text back while
an earlier message is unanswered, and the kernel may handle two widget messages at once):

* type, then **click Translate**: leaving the box sends the new text, and the click;
* type, then **press Enter**: the new text, and a ``submit`` event;
* press Enter or click on **unchanged** text: only the submit or the click arrives.

So a new text is translated at once. A click or a submit asks for the text in the box: if that
text was drawn less than ``merge_window`` seconds ago, it is the same request and is dropped;
otherwise it waits ``merge_window`` seconds for a new text that may be on its way (which then
answers it) and translates the text as it is if none comes.

The result is drawn into an HTML widget (the lines) and an Image widget (the map, rendered
to PNG without pyplot), so a new result replaces the old one in place: no output area to clear,
no figure left for the notebook's own output. The box is shown through a display handle;
:meth:`TranslateBox.close` replaces it with one line of text, so a notebook saved after that
keeps no view of a dead widget.
"""
from __future__ import annotations

import asyncio
import html
import io
import time
import warnings
from typing import Any, Callable

from matplotlib.figure import Figure

from utils.languages import language_name
from utils.plots import attention_figsize, plot_attention
from utils.translate import Translation

__all__ = ["TranslateBox", "heatmap_png"]

HINT = "Type a {language} sentence with the corpus's words, then press Enter or click Translate."
CLOSED = "(translate box closed: run this cell again to open it)"


def heatmap_png(translation: Translation, title: str | None = None, source_language: str = "French",
                target_language: str = "English") -> bytes:
    """The attention map of ``translation`` as PNG bytes (unknown words marked ``(<unk>)``); the
    languages (names or codes) label its axes."""
    labels = [f"{w} (<unk>)" if w in translation.unknown else w for w in translation.source]
    src, out = labels + ["<eos>"], translation.output + ["<eos>"]
    figure = Figure(figsize=attention_figsize(len(src), len(out)))   # not pyplot: nothing else shows it
    plot_attention(translation.attention, src, out, ax=figure.subplots(), title=title,
                   source_language=source_language, target_language=target_language)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _call_later(delay: float, callback: Callable[[], None]) -> Any:
    """Run ``callback`` after ``delay`` seconds on the kernel's event loop (at once without one).
    Returns something with ``.cancel()``, or None."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        callback()
        return None
    return loop.call_later(delay, callback)


class TranslateBox:
    """A text box, a Translate button and the result (text lines and the attention map).

    ``translate(sentence) -> Translation`` does the work (e.g. ``utils.translate.translate`` with a
    model and its vocabularies); a ``ValueError`` from it (an empty sentence) is shown as an
    error line, any other exception as an error line with its type, and its notes and warnings
    (unknown words, a sentence too long) as note lines.
    ``language`` and ``target_language`` are the codes of the model's languages (French and English
    by default): they name the box, the hint, the result lines and the map's axes; ``translate``
    must tokenise in ``language`` (``translate(..., lang=language)``).
    ``renders`` counts the results drawn. ``clock`` and ``call_later`` are the time source and
    the timer (tests replace them).
    """

    def __init__(self, translate: Callable[[str], Translation], sentence: str = "", *,
                 language: str = "fr", target_language: str = "en",
                 merge_window: float = 0.5, clock: Callable[[], float] = time.monotonic,
                 call_later: Callable[[float, Callable[[], None]], Any] = _call_later) -> None:
        try:
            import ipywidgets as widgets
        except ImportError as error:
            raise ImportError("the translate box needs ipywidgets (pip install ipywidgets); "
                              "without it, call show_translation('...') instead") from error
        self.translate, self.merge_window = translate, merge_window
        self.language, self.target_language = language, target_language
        source_name, _ = language_name(language), language_name(target_language)   # unknown codes fail here
        self.clock, self.call_later = clock, call_later
        self.renders = 0
        self.shown: str | None = None          # the text whose result is on screen
        self._drawn_at = float("-inf")         # when a result was last drawn (start and end)
        self._pending: Any = None              # a click or submit waiting for new text
        self._handle = None

        self.text = widgets.Text(value=sentence, description=f"{source_name}:", continuous_update=False,
                                 layout=widgets.Layout(width="80%"))
        self.button = widgets.Button(description="Translate")
        self.lines = widgets.HTML(value=f"<i>{html.escape(HINT.format(language=source_name))}</i>")
        self.image = widgets.Image(format="png", layout=widgets.Layout(display="none"))
        self.widget = widgets.VBox([widgets.HBox([self.text, self.button]), self.lines, self.image])

        self.text.observe(self._on_new_text, names="value")   # Enter or leaving the box, text changed
        self.text.on_msg(self._on_text_message)                # Enter ("submit"), changed or not
        self.button.on_click(self._on_click)

    # ------------------------------------------------------------------ events
    def _on_new_text(self, change: dict) -> None:
        self._cancel_pending()
        if not self._just_drawn(change["new"]):
            self.render(change["new"])

    def _on_click(self, _button: Any) -> None:
        self._ask_for_current_text()

    def _on_text_message(self, _widget: Any, content: dict, _buffers: Any) -> None:
        if content.get("event") == "submit":
            self._ask_for_current_text()

    def _ask_for_current_text(self) -> None:
        """A click or a submit: the text in the box, unless it was just drawn (then the new text
        that drew it was this same request); a new text may still be on its way, so wait for it."""
        if self._just_drawn(self.text.value):
            return
        self._cancel_pending()
        self._pending = self.call_later(self.merge_window, self._translate_current_text)

    def _translate_current_text(self) -> None:
        self._pending = None
        self.render(self.text.value)

    def _just_drawn(self, sentence: str) -> bool:
        return sentence == self.shown and self.clock() - self._drawn_at < self.merge_window

    def _cancel_pending(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    # ------------------------------------------------------------------ drawing
    def render(self, sentence: str) -> None:
        """Translate ``sentence`` and show the result in place of the previous one."""
        self.renders += 1
        self.shown, self._drawn_at = sentence, self.clock()
        try:
            self._draw(sentence)
        finally:
            self._drawn_at = self.clock()   # a duplicate message queued behind a slow drawing counts from here

    def _draw(self, sentence: str) -> None:
        try:
            with warnings.catch_warnings(record=True) as caught:   # shown in the box, not lost in a log
                warnings.simplefilter("always")
                result = self.translate(sentence)
        except Exception as error:   # shown in the box: raised in a widget callback, it reaches only a log
            message = str(error) if isinstance(error, ValueError) else f"{type(error).__name__}: {error}"
            self.lines.value = f"<b>error:</b> {html.escape(message)}"
            self.image.layout.display = "none"
            return
        notes = list(result.warnings)
        notes += [str(w.message) for w in caught if str(w.message) not in notes]
        rows = [(self.language.upper(), " ".join(result.source)), (self.target_language.upper(), str(result))]
        rows += [("note", note) for note in notes]
        self.lines.value = "<br>".join(f"<b>{k}:</b> {html.escape(v)}" for k, v in rows)
        if result.attention is None:                     # a model without attention
            self.image.layout.display = "none"
        else:
            self.image.value = heatmap_png(result, title=f"“{sentence.strip()}”", source_language=self.language,
                                           target_language=self.target_language)
            self.image.layout.display = "block"

    # ------------------------------------------------------------------ showing and closing
    def _ipython_display_(self) -> None:
        from IPython.display import display

        self._handle = display(self.widget, display_id=True)

    def close(self) -> None:
        """Close the widgets; where the box was shown, leave a line of text instead."""
        self._cancel_pending()
        if self._handle is not None:
            self._handle.update({"text/plain": CLOSED}, raw=True)
            self._handle = None
        for widget in (self.text, self.button, self.lines, self.image, *self.widget.children, self.widget):
            for model in (widget, getattr(widget, "layout", None), getattr(widget, "style", None)):
                if model is not None:                  # a widget's layout and style are models too
                    model.close()
