"""The translate box draws exactly one result per request, whatever messages the browser sends.

The events are simulated as the browser sends them: the widgets' own message handler receives
the same ``update`` (new text) and ``custom`` (submit, click) messages that JupyterLab sends, in
the order it sends them and in the orders seen arriving in a kernel (the browser can hold a
new text back behind the click; ipykernel can handle one widget message while another is still
being handled). A fake clock and timer stand in for the kernel's event loop.
"""
import asyncio
import json
import os
from pathlib import Path

import pytest
import torch

pytest.importorskip("ipywidgets")

from utils.build import build_model  # noqa: E402
from utils.models import RNNConfig  # noqa: E402
from utils.text import build_vocab  # noqa: E402
from utils.translate import translate  # noqa: E402
from utils.widgets import CLOSED, TranslateBox  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SRC = [["le", "chien", "dort", "."], ["la", "fille", "court", "."], ["le", "chat", "mange", "une", "pomme", "."]]
TGT = [["the", "dog", "sleeps", "."], ["the", "girl", "runs", "."], ["the", "cat", "eats", "an", "apple", "."]]
DEFAULT = "le chien dort."


# ----------------------------------------------------------------------------- what the browser sends
def new_text(box, text):
    """Enter, or leaving the box, after editing: the Text widget syncs its value."""
    box.text._handle_msg({"content": {"data": {"method": "update", "state": {"value": text},
                                               "buffer_paths": []}}, "buffers": []})


def submit(box):
    """Enter: JupyterLab's Text view sends this custom message (before any new value)."""
    box.text._handle_msg({"content": {"data": {"method": "custom", "content": {"event": "submit"}}},
                          "buffers": []})


def click(box):
    box.button._handle_msg({"content": {"data": {"method": "custom", "content": {"event": "click"}}},
                            "buffers": []})


class FakeLoop:
    """A clock and ``call_later`` that move only when the test says so."""

    class Timer:
        def __init__(self, when, callback):
            self.when, self.callback, self.cancelled = when, callback, False

        def cancel(self):
            self.cancelled = True

    def __init__(self):
        self.now, self.timers = 100.0, []

    def clock(self):
        return self.now

    def call_later(self, delay, callback):
        timer = self.Timer(self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def advance(self, seconds):
        """Move the clock on, firing each due timer at its own time."""
        end = self.now + seconds
        while due := sorted((t for t in self.timers if t.when <= end and not t.cancelled), key=lambda t: t.when):
            self.timers.remove(due[0])
            self.now = max(self.now, due[0].when)
            due[0].callback()
        self.now = max(self.now, end)


@pytest.fixture(scope="module")
def translator():
    src_v, tgt_v = build_vocab(SRC), build_vocab(TGT)
    torch.manual_seed(0)
    model = build_model(RNNConfig(decoder="luong", emb_size=8, hidden_size=16), len(src_v), len(tgt_v))
    calls = []

    def translate_one(sentence):
        calls.append(sentence)
        return translate(model, sentence, src_v, tgt_v, max_src_len=10)

    translate_one.calls = calls
    return translate_one


@pytest.fixture
def box_and_loop(translator):
    translator.calls.clear()
    loop = FakeLoop()
    box = TranslateBox(translator, DEFAULT, clock=loop.clock, call_later=loop.call_later)
    yield box, loop
    box.close()


# ----------------------------------------------------------------------------- one render per request
def test_nothing_is_drawn_before_a_request(box_and_loop):
    box, _ = box_and_loop
    assert box.renders == 0 and box.image.layout.display == "none"
    assert "Type a French sentence" in box.lines.value and box.text.description == "French:"


def test_click_on_unchanged_text_draws_once(box_and_loop, translator):
    box, loop = box_and_loop
    click(box)
    loop.advance(5)
    assert box.renders == 1 and translator.calls == [DEFAULT]
    assert "<b>FR:</b> le chien dort ." in box.lines.value and "<b>EN:</b>" in box.lines.value
    assert bytes(box.image.value).startswith(b"\x89PNG") and box.image.layout.display == "block"


def test_the_box_names_its_languages(translator):
    loop = FakeLoop()
    box = TranslateBox(translator, DEFAULT, language="de", clock=loop.clock, call_later=loop.call_later)
    try:
        assert box.text.description == "German:" and "Type a German sentence" in box.lines.value
        click(box)
        loop.advance(5)
        assert "<b>DE:</b> le chien dort ." in box.lines.value and "<b>EN:</b>" in box.lines.value
    finally:
        box.close()
    with pytest.raises(ValueError, match="unknown language 'xx'"):
        TranslateBox(translator, target_language="xx")


def test_typed_then_clicked_draws_once(box_and_loop, translator):
    box, loop = box_and_loop
    new_text(box, "la fille court.")      # the box loses focus when the button is pressed
    loop.advance(0.1)
    click(box)
    loop.advance(5)
    assert box.renders == 1 and translator.calls == ["la fille court."]


def test_click_that_overtakes_the_new_text_draws_once(box_and_loop, translator):
    """The browser holds the new text back while a message of the text box is unanswered, so
    the click can arrive first: it waits for the text instead of translating the old one."""
    box, loop = box_and_loop
    click(box)
    loop.advance(0.1)
    new_text(box, "la fille court.")
    loop.advance(5)
    assert box.renders == 1 and translator.calls == ["la fille court."]


def test_click_handled_while_the_new_text_is_drawn_draws_once(box_and_loop, translator):
    """ipykernel 7 can dispatch a widget message while another is being handled, so the click
    may come in while the new text is still being drawn (one way the browser check once saw the
    empty box drawn twice)."""
    box, loop = box_and_loop
    translate = box.translate

    def slow_translate(sentence):
        loop.advance(0.3)               # the drawing takes time, and the click comes in meanwhile
        if len(translator.calls) == 0:
            click(box)
        return translate(sentence)

    box.translate = slow_translate
    new_text(box, "la fille court.")
    loop.advance(5)
    assert box.renders == 1 and translator.calls == ["la fille court."]


def test_typed_then_enter_draws_once(box_and_loop, translator):
    box, loop = box_and_loop
    submit(box)                             # the submit overtakes the new text
    new_text(box, "la fille court.")
    loop.advance(5)
    assert box.renders == 1 and translator.calls == ["la fille court."]


def test_enter_on_unchanged_text_draws_once(box_and_loop, translator):
    box, loop = box_and_loop
    submit(box)
    assert box.renders == 0                 # still waiting for a new text that may follow
    loop.advance(box.merge_window)
    assert box.renders == 1 and translator.calls == [DEFAULT]
    loop.advance(5)
    assert box.renders == 1


def test_leaving_the_box_with_new_text_draws_once(box_and_loop, translator):
    box, loop = box_and_loop
    new_text(box, "le chat mange une pomme.")
    loop.advance(5)
    assert box.renders == 1 and translator.calls == ["le chat mange une pomme."]


def test_separate_requests_each_draw_once(box_and_loop, translator):
    box, loop = box_and_loop
    click(box)
    loop.advance(3)
    click(box)                              # the same text again, a second request
    loop.advance(3)
    new_text(box, "la fille court.")
    loop.advance(3)
    click(box)                              # long after the text changed: a new request
    loop.advance(3)
    submit(box)
    loop.advance(3)
    assert box.renders == 5
    assert translator.calls == [DEFAULT, DEFAULT, "la fille court.", "la fille court.", "la fille court."]


# ----------------------------------------------------------------------------- bad input
def test_unknown_word_is_flagged(box_and_loop):
    box, loop = box_and_loop
    new_text(box, "le zèbre dort.")
    assert "<b>note:</b> unknown word(s) [&#x27;zèbre&#x27;] were replaced by &lt;unk&gt;" in box.lines.value
    assert box.image.layout.display == "block"


def test_warnings_are_shown_in_the_box(box_and_loop):
    """translate warns (TranslationWarning) when no word is known: in a widget callback a warning
    would go to a log nobody reads, so the box shows it."""
    box, _ = box_and_loop
    new_text(box, "zèbre girafe.")
    assert "none of the words" in box.lines.value and box.lines.value.count("<b>note:</b>") == 2


def test_a_failing_translate_is_shown_in_the_box(box_and_loop):
    """An exception in a widget callback reaches only a log: the box says what went wrong, and
    a click right after the new text still belongs to the same request."""
    box, loop = box_and_loop

    def broken(sentence):
        return undefined_model  # noqa: F821  (a NameError, as when an earlier cell did not run)

    box.translate = broken
    new_text(box, "la fille court.")
    click(box)
    assert box.renders == 1
    assert box.lines.value == "<b>error:</b> NameError: name &#x27;undefined_model&#x27; is not defined"


def test_empty_box_shows_an_error_and_no_map(box_and_loop):
    box, loop = box_and_loop
    click(box)
    loop.advance(5)
    new_text(box, "   ")
    assert box.renders == 2
    assert box.lines.value == "<b>error:</b> nothing to translate: the sentence is empty"
    assert box.image.layout.display == "none"


# ----------------------------------------------------------------------------- the real event loop
def test_the_default_timer_is_the_running_event_loop(translator):
    """In a kernel the handlers run on an asyncio loop: a submit waits on it for the new text."""
    translator.calls.clear()

    async def scenario():
        box = TranslateBox(translator, DEFAULT, merge_window=0.05)
        submit(box)
        new_text(box, "la fille court.")     # Enter after editing
        await asyncio.sleep(0.2)
        submit(box)                           # Enter on unchanged text
        await asyncio.sleep(0.2)
        box.close()
        return box.renders

    assert asyncio.run(scenario()) == 2
    assert translator.calls == ["la fille court.", "la fille court."]


# ----------------------------------------------------------------------------- a saved notebook
def test_closed_box_leaves_plain_text_in_the_notebook(monkeypatch):
    """In a real kernel: the box is shown through a display handle, and closing it replaces
    the widget view in the cell's outputs with a line of text."""
    nbformat = pytest.importorskip("nbformat")
    from nbclient import NotebookClient

    monkeypatch.setenv("MPLBACKEND", "Agg")
    code = "\n".join([
        "import sys",
        f"sys.path.insert(0, {json.dumps(str(ROOT))})",
        "from utils.widgets import TranslateBox",
        "box = TranslateBox(lambda s: None, 'le chien dort.')",
        "box",
    ])
    nb = nbformat.v4.new_notebook()
    count_open = ("from ipywidgets.widgets import widget\n"
                  "print('open widgets:', len(widget._instances))")  # ipywidgets 8
    nb.cells = [nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell("box.close()"),
                nbformat.v4.new_code_cell(count_open)]
    NotebookClient(nb, kernel_name="python3", timeout=120, store_widget_state=False,
                   resources={"metadata": {"path": os.getcwd()}}).execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data"]
    assert outputs[0].data == {"text/plain": CLOSED}
    assert nb.cells[2].outputs[0].text == "open widgets: 0\n"
