"""Progress bars leave plain text, never a view of a dead widget, in a saved notebook."""
import json
import os
from pathlib import Path

import pytest

from utils.progress import Progress, bars_disabled, in_notebook

ROOT = Path(__file__).resolve().parents[1]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_text_bar_outside_a_notebook(capsys):
    assert not in_notebook()
    with Progress(total=4, desc="training", unit="batches", disable=False) as bar:
        for _ in range(4):
            bar.set_postfix(loss="0.500")
            bar.update()
        bar.write("epoch  1  train loss 0.500")
    out, err = capsys.readouterr()
    assert "epoch  1  train loss 0.500" in out
    assert "training" in err                        # the bar ran on stderr
    assert bar.closed
    assert bar.summary().startswith("training: 4 batches in ") and bar.summary().endswith(", loss 0.500")


def test_summary_says_when_a_bar_stopped_early():
    bar = Progress(range(10), desc="demo", disable=True)
    for i in bar:
        if i == 2:
            break
    assert bar.closed                               # leaving the loop closes it
    assert bar.summary().startswith("demo: 2 of 10 steps in ")   # two loop bodies finished


def test_disabled_bar_shows_nothing(capsys, monkeypatch):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert bars_disabled()
    assert list(Progress(range(3))) == [0, 1, 2]
    assert capsys.readouterr() == ("", "")
    monkeypatch.setenv("TQDM_DISABLE", "0")
    assert not bars_disabled()


def test_fit_leaves_text_not_widgets_in_a_notebook(monkeypatch):
    """fit() in a real kernel (as JupyterLab runs it, bars on): the cell's saved outputs hold the
    epoch lines and one line of text where the bar was, no widget view, and no widget stays open."""
    nbformat = pytest.importorskip("nbformat")
    pytest.importorskip("ipywidgets")
    from nbclient import NotebookClient

    monkeypatch.delenv("TQDM_DISABLE", raising=False)     # `make test` turns bars off; not here
    code = "\n".join([
        "import sys",
        f"sys.path.insert(0, {json.dumps(str(ROOT))})",
        "import torch",
        "from utils.batching import TranslationDataset, make_loader",
        "from utils.build import build_model",
        "from utils.models import RNNConfig",
        "from utils.text import build_vocab",
        "from utils.train import fit",
        "src = [['le', 'chat', 'dort', '.'], ['la', 'fille', 'court', '.']] * 8",
        "tgt = [['the', 'cat', 'sleeps', '.'], ['the', 'girl', 'runs', '.']] * 8",
        "sv, tv = build_vocab(src), build_vocab(tgt)",
        "loader = make_loader(TranslationDataset(list(zip(src, tgt)), sv, tv), batch_size=4, seed=0)",
        "torch.manual_seed(0)",
        "model = build_model(RNNConfig(decoder='luong', emb_size=8, hidden_size=8), len(sv), len(tv))",
        "history = fit(model, loader, epochs=2, pad_id=tv.pad_id)",
    ])
    count_open = ("from ipywidgets.widgets import widget\n"
                  "print('open widgets:', len(widget._instances))")  # ipywidgets 8
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell(count_open)]
    NotebookClient(nb, kernel_name="python3", timeout=300, store_widget_state=False,
                   resources={"metadata": {"path": os.getcwd()}}).execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if WIDGET_VIEW in o.get("data", {})], "a widget view was left in the notebook"
    shown = [o.data["text/plain"] for o in outputs if o.output_type == "display_data"]
    assert len(shown) == 1 and shown[0].startswith("training: 8 batches in "), shown
    printed = "".join(o.text for o in outputs if o.output_type == "stream")
    assert "epoch  1  train loss" in printed and "epoch  2  train loss" in printed
    assert nb.cells[1].outputs[0].text == "open widgets: 0\n"
