"""Every exercise's code block runs as written.

The exercises at the end of each notebook start from a fenced ```python block meant to be pasted
into a new cell of that notebook. Here each block runs in a fresh namespace holding what the
notebook defines above it — ``data`` and ``device``, plus a tiny stand-in for each trained model
an exercise names — with tiny data, a temporary model cache and small corpus splits, so the whole
file takes seconds. A block that no longer matches the code (a renamed function, a missing
argument) fails here.
"""
import json
import re
import textwrap
from functools import partial
from pathlib import Path

import pytest
from conftest import tiny_model

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("0[1-5]_*.ipynb"))     # the synthetic-corpus notebooks
FENCE = re.compile(r"^( *)```python\n(.*?)^\1```", re.M | re.S)


def exercise_blocks(path: Path) -> list[str]:
    """The ```python blocks of the notebook's "## Exercises" section, dedented."""
    cells = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]
    section = next((c.split("## Exercises", 1)[1] for c in cells if "## Exercises" in c), "")
    return [textwrap.dedent(code) for _, code in FENCE.findall(section)]


def stand_ins(data) -> dict:
    """Tiny models under the names the notebooks give their trained models."""
    luong = tiny_model(data, "luong", "dot")
    return {"weak": luong, "model_tf": luong, "dot": luong, "vanilla": tiny_model(data, "vanilla"),
            "models": {"Luong · dot": luong, "Luong · general": tiny_model(data, "luong", "general"),
                       "Bahdanau · concat": tiny_model(data, "bahdanau", "concat")}}


CASES = [(path, k) for path in NOTEBOOKS for k in range(len(exercise_blocks(path)))]


def test_every_notebook_has_exercise_blocks():
    assert NOTEBOOKS, "no notebooks"
    for path in NOTEBOOKS:
        assert exercise_blocks(path), f"{path.name}: no ```python block under ## Exercises"


@pytest.mark.parametrize("path, k", CASES, ids=[f"{p.name[:2]}-exercise-block-{k + 1}" for p, k in CASES])
def test_exercise_block_runs(path, k, data, splits, tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from utils import checkpoints, corpus

    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)                # no real cache touched
    monkeypatch.setattr(corpus, "KIN", list(corpus.KIN))                     # an exercise may extend it
    monkeypatch.setattr(corpus, "generate_splits",                           # tiny corpora
                        partial(corpus.generate_splits, n_train=48, n_valid=6, n_test_per_bucket=2))
    namespace = {"data": data, "device": "cpu", **stand_ins(data)}
    exec(compile(exercise_blocks(path)[k], f"{path.name} exercise block {k + 1}", "exec"), namespace)

