"""Execute notebooks in place, top to bottom in a fresh kernel, the way the committed outputs are made.

    python scripts/execute_notebooks.py [--fresh] [NAME ...]

Progress bars are turned off (TQDM_DISABLE=1) so the saved outputs hold no widgets; widget
metadata and execution timestamps are stripped anyway. ``--fresh`` first deletes the model cache (data/cache/models), so
every model is trained as a reader's first run would. Prints each notebook's wall time.
"""
from __future__ import annotations

import argparse
import base64
import os
import re
import shutil
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from notebook_header import stamp  # noqa: E402

sys.path.insert(0, str(ROOT))
from utils.runtime import series_seed  # noqa: E402

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def clean(nb) -> None:
    """No widget state or views (they reopen as errors) and no execution timestamps (they change on
    every run and drown the real changes in a diff); execution counts stay, nbval needs them."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        cell.outputs = [o for o in cell.outputs
                        if not (o.output_type in ("display_data", "execute_result")
                                and WIDGET_MIME in o.get("data", {}))]


FIGURE_MARK = re.compile(r"^# README figure: (\S+)", re.M)


def readme_figures(nb) -> dict[str, bytes]:
    """The plots of cells marked ``# README figure: PATH``: {PATH: PNG bytes} (first plot of each)."""
    figures = {}
    for cell in nb.cells:
        mark = FIGURE_MARK.search(cell.source) if cell.cell_type == "code" else None
        png = next((o["data"]["image/png"] for o in cell.get("outputs", [])
                    if "image/png" in o.get("data", {})), None) if mark else None
        if png:
            figures[mark.group(1)] = base64.b64decode(png)
    return figures


def execute(path: Path, timeout: int = 900) -> float:
    stamp(path)
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    elapsed = time.perf_counter() - start
    clean(nb)
    nbformat.write(nb, path)
    for relative, png in readme_figures(nb).items():
        (ROOT / relative).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / relative).write_bytes(png)
    return elapsed


def execute_in_memory(path: Path, timeout: int = 1800) -> list[str]:
    """Run ``path`` in a fresh kernel without saving it, going on after a cell that raises; return
    one line per error (``"ClaimFailed: ✗ claim does not hold: …"``). The benchmark and the claims
    ledger run notebooks this way."""
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return [f"{o.ename}: {o.evalue.splitlines()[0][:200] if o.evalue else ''}"
            for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def main() -> None:
    parser = argparse.ArgumentParser(description="execute notebooks in place")
    parser.add_argument("--fresh", action="store_true", help="delete the model cache first")
    parser.add_argument("names", nargs="*", help="notebook names or paths (default: all, in order)")
    args = parser.parse_args()
    if series_seed() != 0:
        raise SystemExit("SEQ2SEQ_SEED is set: the committed outputs are seed 0 (scripts/claims.py runs other seeds "
                         "without saving)")
    os.environ["TQDM_DISABLE"] = "1"
    if args.fresh:
        shutil.rmtree(ROOT / "data" / "cache" / "models", ignore_errors=True)
    paths = [Path(n) if Path(n).is_file() else ROOT / "notebooks" / (n if n.endswith(".ipynb") else f"{n}.ipynb")
             for n in args.names] \
        or sorted((ROOT / "notebooks").glob("*.ipynb"))
    total = 0.0
    for path in paths:
        seconds = execute(path.resolve())
        total += seconds
        print(f"{path.name}: {seconds:6.1f} s", flush=True)
    print(f"total: {total:.1f} s")


if __name__ == "__main__":
    main()
