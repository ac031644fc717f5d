"""Simulated Colab: a notebook alone in an empty folder, the setup cell's Colab path forced, the
repository cloned from a local file:// URL — and the notebook runs to the end.

The clone is made from a throwaway commit of the current working tree (tracked and untracked,
non-ignored files), so the test checks the code as it is, committed or not.
"""
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _snapshot_repo(dest: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split("\0")
    for name in filter(None, files):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(git + ["init", "-q"], cwd=dest, check=True)
    subprocess.run(git + ["add", "-A"], cwd=dest, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "snapshot"], cwd=dest, check=True)


@pytest.mark.skipif(not NOTEBOOKS, reason="no notebooks yet")
@pytest.mark.skipif(shutil.which("git") is None, reason="git is needed to simulate Colab's clone")
def test_first_notebook_runs_alone_in_simulated_colab(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    origin = tmp_path / "origin"
    origin.mkdir()
    _snapshot_repo(origin)
    colab = tmp_path / "content"
    colab.mkdir()
    notebook = NOTEBOOKS[0]
    shutil.copy(notebook, colab / notebook.name)

    monkeypatch.setenv("SEQ2SEQ_FORCE_COLAB", "1")
    monkeypatch.setenv("SEQ2SEQ_REPO_URL", origin.as_uri())
    monkeypatch.setenv("TQDM_DISABLE", "1")
    nb = nbformat.read(colab / notebook.name, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("import utils; print(utils.__file__)"))
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(colab)}}).execute()

    clone = colab / "seq2seq-attention-notebooks"
    assert (clone / "utils" / "__init__.py").exists(), "the setup cell did not clone the repository"
    printed = "".join(o.get("text", "") for o in nb.cells[-1].outputs)
    assert str(clone / "utils") in printed, f"utils was imported from elsewhere: {printed!r}"
