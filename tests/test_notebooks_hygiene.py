"""Committed notebooks: executed in order from a fresh kernel, with clean, shareable outputs."""
import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from notebook_header import KERNELSPEC, header_problems, readme_problems  # noqa: E402

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LOCAL_PATHS = re.compile(r"(/work/|/tmp/|/root/|/home/|/Users/|C:\\\\|ipykernel_\d+|/var/folders/)")
MAX_BYTES = 3_000_000
MAX_OUTPUT_BYTES = 400_000   # one output: a figure is ~30–150 kB; more means a runaway print or image


def _outputs_text(output) -> str:
    if output["output_type"] == "stream":
        return "".join(output["text"])
    data = output.get("data", {})
    return "".join("".join(v) if isinstance(v, list) else str(v)
                   for k, v in data.items() if k.startswith("text/"))


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request):
    return request.param, json.loads(request.param.read_text())


def test_there_are_notebooks():
    if not NOTEBOOKS:
        pytest.skip("no notebooks yet")
    assert all(re.fullmatch(r"\d\d_[a-z0-9_]+\.ipynb", p.name) for p in NOTEBOOKS)


def test_executed_in_order_from_a_fresh_kernel(notebook):
    path, nb = notebook
    counts = [c["execution_count"] for c in nb["cells"] if c["cell_type"] == "code"]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: re-execute it top to bottom"


def test_every_code_cell_has_run_without_errors(notebook):
    path, nb = notebook
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code":
            assert all(o["output_type"] != "error" for o in cell["outputs"]), f"{path.name} cell {i} has an error"


def test_outputs_hold_no_local_paths_or_warnings(notebook):
    path, nb = notebook
    for i, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            text = _outputs_text(output)
            assert not LOCAL_PATHS.search(text), f"{path.name} cell {i}: local path in output"
            if output["output_type"] == "stream" and output["name"] == "stderr":
                assert "Warning" not in text, f"{path.name} cell {i}: a warning in the output"


def test_no_stray_reprs_of_training_histories(notebook):
    """A cell ending in ``fit(...)`` shows the whole History (every step's loss) as its result."""
    path, nb = notebook
    for i, cell in enumerate(nb["cells"]):
        for output in cell.get("outputs", []):
            if output["output_type"] == "execute_result":
                assert not _outputs_text(output).startswith("History("), (
                    f"{path.name} cell {i}: the cell's value is a History; assign it (`history = fit(...)`)")


def test_no_widget_state_and_bounded_size(notebook):
    path, nb = notebook
    assert "widgets" not in nb.get("metadata", {}), f"{path.name}: widget state breaks GitHub rendering"
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            assert "application/vnd.jupyter.widget-view+json" not in output.get("data", {})
    assert path.stat().st_size < MAX_BYTES


def test_no_execution_timestamps_and_bounded_outputs(notebook):
    """Execution timestamps change on every run and drown the real changes in a diff; the
    execution counts stay (nbval needs them). No single output may blow up the file."""
    path, nb = notebook
    for i, cell in enumerate(nb["cells"]):
        assert "execution" not in cell.get("metadata", {}), \
            f"{path.name} cell {i}: execution timestamps in the metadata (scripts/execute_notebooks.py strips them)"
        for output in cell.get("outputs", []):
            size = len(json.dumps(output))
            assert size < MAX_OUTPUT_BYTES, f"{path.name} cell {i}: one output of {size:,} bytes"


def test_has_plots_and_checked_claims(notebook):
    path, nb = notebook
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name}: no figure"
    assert any(_outputs_text(o).startswith("✓") or "\n✓" in _outputs_text(o) for o in outputs), \
        f"{path.name}: no checked claim (utils.checks.check)"


def test_shared_header(notebook):
    path, _ = notebook
    assert header_problems(path) == [], "run `python scripts/notebook_header.py` to stamp the header"


def test_readme_colab_links_match_the_repository_url():
    assert readme_problems() == [], "run `python scripts/notebook_header.py` to stamp the README's links"


def test_publishing_under_another_url_restamps_everything(tmp_path):
    """README "Publishing your copy": one command writes the new URL and restamps badges, setup
    cells and the README's links; the header check then passes with the new URL."""
    import shutil
    import subprocess

    (tmp_path / "scripts").mkdir()
    (tmp_path / "notebooks").mkdir()
    shutil.copy(ROOT / "scripts" / "notebook_header.py", tmp_path / "scripts")
    shutil.copy(ROOT / "README.md", tmp_path)
    notebook = NOTEBOOKS[0]
    shutil.copy(notebook, tmp_path / "notebooks")
    url = "https://github.com/someone/my-fork"
    run = [sys.executable, str(tmp_path / "scripts" / "notebook_header.py")]
    subprocess.run(run + ["--url", url], check=True, capture_output=True)
    assert f'REPO_URL = "{url}"' in (tmp_path / "scripts" / "notebook_header.py").read_text()
    cells = json.loads((tmp_path / "notebooks" / notebook.name).read_text())["cells"]
    assert "github/someone/my-fork/blob/main/notebooks/" + notebook.name in "".join(cells[0]["source"])
    setup = next("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert f'"{url}"' in setup and "seq2seq-attention/seq2seq-attention-notebooks" not in setup
    readme = (tmp_path / "README.md").read_text()
    assert "colab.research.google.com/github/someone/my-fork/blob/main/notebooks/" in readme
    assert "colab.research.google.com/github/seq2seq-attention/" not in readme
    assert subprocess.run(run + ["--check"], capture_output=True).returncode == 0


def test_kernelspec_is_the_one_jupyterlab_writes(notebook):
    """JupyterLab saves the default kernel as "Python 3 (ipykernel)"; any other name and merely
    opening a notebook rewrites it on disk (autosave), leaving `git status` dirty."""
    path, nb = notebook
    assert nb["metadata"]["kernelspec"] == {"display_name": "Python 3 (ipykernel)", "language": "python",
                                            "name": "python3"} == KERNELSPEC, path.name


def test_readme_figures_match_the_notebooks():
    """A plot the README shows is the one its notebook drew (scripts/execute_notebooks.py copies it)."""
    import nbformat
    from execute_notebooks import readme_figures

    found = {}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        found.update(readme_figures(nbformat.read(path, as_version=4)))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert found, "no notebook cell is marked '# README figure: PATH'"
    for relative, png in found.items():
        assert (ROOT / relative).read_bytes() == png, f"{relative} is stale: run scripts/execute_notebooks.py"
        assert relative in readme, f"{relative} is exported but the README does not show it"
