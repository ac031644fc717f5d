"""The claims ledger: run notebooks and record every checked claim, with its evidence and environment.

    python scripts/claims.py run --seeds 1 2 --notebooks 03 05 07   # in memory: nothing is saved
    python scripts/claims.py run --in-place --fresh                 # seed 0: also writes the outputs
    python scripts/claims.py report                                 # how far each check moved

Every ``check(...)`` of a notebook (:func:`utils.checks.check`) appends a line to the ledger when
``SEQ2SEQ_CLAIMS_LEDGER`` is set; this script sets it, with ``SEQ2SEQ_SEED`` (the seed every model
of the notebook trains with: :func:`utils.runtime.series_seed`), runs each notebook in a fresh
kernel, and adds to each line the run's environment (torch, Python, CPU model, threads) and the
notebook's wall time. The ledger is ``results/claims.jsonl``, one JSON line per check and run.

``run`` executes in memory (the committed notebooks are untouched; their outputs stay seed 0), and
goes on after a cell that raises, so a claim that fails is recorded and the rest still run.
``--in-place`` is ``scripts/execute_notebooks.py`` with the ledger on (seed 0 only): the committed
outputs and the ledger's seed-0 rows come from the same run.

``report`` prints, for every check: in how many runs it held, and each number in its evidence as
min / median / max over the runs (the numbers are taken from the evidence text in order, so a
check's numbers line up across runs when its evidence has the same shape each time).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
from execute_notebooks import execute, execute_in_memory  # noqa: E402

from utils.checkpoints import CODE_FINGERPRINT  # noqa: E402
from utils.checks import LEDGER_ENV, NOTEBOOK_ENV  # noqa: E402
from utils.runtime import CPU_THREADS, SEED_ENV, THREADS_ENV  # noqa: E402

LEDGER = ROOT / "results" / "claims.jsonl"


def cpu_model() -> str:
    """The CPU's model name (Linux), else the platform's processor string."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(label: str) -> dict:
    import torch

    return {"label": label, "code": CODE_FINGERPRINT, "torch": torch.__version__, "python": platform.python_version(),
            "cpu": cpu_model(), "cores": os.cpu_count(),
            "threads": int(os.environ.get(THREADS_ENV, "").strip() or CPU_THREADS)}


def notebook_paths(names: list[str]) -> list[Path]:
    every = sorted((ROOT / "notebooks").glob("*.ipynb"))
    if not names:
        return every
    paths = []
    for name in names:
        found = [p for p in every if p.stem == name or p.name == name or p.stem.startswith(f"{name}_")]
        if not found:
            raise SystemExit(f"no notebook matches {name!r}; the notebooks are: {', '.join(p.stem for p in every)}")
        paths += found
    return paths


def run(args: argparse.Namespace) -> None:
    if args.in_place and args.seeds != [0]:
        raise SystemExit("--in-place writes the committed outputs, which are seed 0: give --seeds 0 (the default)")
    paths = notebook_paths(args.notebooks)
    env = environment(args.label)
    if args.fresh:
        import shutil
        shutil.rmtree(ROOT / "data" / "cache" / "models", ignore_errors=True)
    os.environ["TQDM_DISABLE"] = "1"
    for seed in args.seeds:
        for path in paths:
            with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as tmp:
                raw = Path(tmp.name)
            os.environ.update({LEDGER_ENV: str(raw), SEED_ENV: str(seed), NOTEBOOK_ENV: path.stem})
            start = time.perf_counter()
            if args.in_place:
                execute(path)                                       # a failing check stops it: CellExecutionError
                errors = []
            else:
                errors = execute_in_memory(path)
            seconds = round(time.perf_counter() - start, 1)
            entries = [json.loads(line) for line in raw.read_text(encoding="utf-8").splitlines() if line.strip()]
            raw.unlink()
            with open(args.ledger, "a", encoding="utf-8") as ledger:
                for entry in entries:
                    ledger.write(json.dumps({**entry, **env, "seconds": seconds}, ensure_ascii=False) + "\n")
            failed = sum(not e["held"] for e in entries)
            other = [e for e in errors if not e.startswith("ClaimFailed")]
            print(f"seed {seed} {path.stem}: {len(entries)} checks, {failed} failed, {seconds:.0f} s"
                  + (f"; cells that raised something else: {other}" if other else ""), flush=True)
    for name in (LEDGER_ENV, SEED_ENV, NOTEBOOK_ENV):
        os.environ.pop(name, None)


def spread(values: list[float]) -> str:
    if len(set(values)) == 1:
        return f"{values[0]:g}"
    return f"{min(values):g} / {statistics.median(values):g} / {max(values):g}"


def report(args: argparse.Namespace) -> None:
    if not args.ledger.exists():
        raise SystemExit(f"{args.ledger} does not exist: record runs first (python scripts/claims.py run ...)")
    entries = [json.loads(line) for line in args.ledger.read_text(encoding="utf-8").splitlines() if line.strip()]
    runs = sorted({(e["label"], e["torch"], e["seed"]) for e in entries})
    print(f"{len(entries)} checks recorded in {len(runs)} runs: "
          + ", ".join(f"{label or 'torch ' + torch} seed {seed}" for label, torch, seed in runs))
    groups: dict[tuple[str, str], list[dict]] = {}
    for e in entries:
        groups.setdefault((e["notebook"], e["claim"]), []).append(e)
    notebook = None
    for (nb, claim), rows in groups.items():
        if nb != notebook:
            notebook = nb
            print(f"\n{nb}")
        held = sum(r["held"] for r in rows)
        shapes = {len(r["numbers"]) for r in rows}
        numbers = ("  numbers (min / median / max): " + "; ".join(spread([r["numbers"][i] for r in rows])
                                                                   for i in range(shapes.pop()))
                   if len(shapes) == 1 and rows[0]["numbers"] else "")
        seeds = sorted({r["seed"] for r in rows})
        mark = "✓" if held == len(rows) else "✗"
        print(f"  {mark} held {held}/{len(rows)} (seeds {seeds})  {claim[:110]}")
        if numbers:
            print("   " + numbers)
        for r in rows:
            if not r["held"]:
                print(f"     failed with seed {r['seed']}, torch {r['torch']}: {r['evidence'][:150]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run notebooks and append their checks to the ledger")
    r.add_argument("--seeds", type=int, nargs="+", default=[0])
    r.add_argument("--notebooks", nargs="*", default=[], help="e.g. 03 05 07 (default: all, in order)")
    r.add_argument("--label", default="", help="a name for this environment in the report (e.g. 'classic')")
    r.add_argument("--in-place", action="store_true", help="write the outputs into the notebooks (seed 0)")
    r.add_argument("--fresh", action="store_true", help="delete the model cache first")
    r.add_argument("--ledger", type=Path, default=LEDGER)
    p = sub.add_parser("report", help="how far each check moved across the recorded runs")
    p.add_argument("--ledger", type=Path, default=LEDGER)
    args = parser.parse_args()
    run(args) if args.command == "run" else report(args)


if __name__ == "__main__":
    main()
