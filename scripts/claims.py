"""The claims ledger: run notebooks and record every checked claim, with its evidence and environment.

    python scripts/claims.py run --seeds 1 2 --notebooks 03 05 07   # in memory: nothing is saved
    python scripts/claims.py run --in-place --fresh                 # seed 0: also writes the outputs
    python scripts/claims.py report                                 # how far each check moved
    python scripts/claims.py table --write                          # the README's results table

Every ``check(...)`` of a notebook (:func:`utils.checks.check`) appends a line to the ledger when
``SEQ2SEQ_CLAIMS_LEDGER`` is set; this script sets it, with ``SEQ2SEQ_SEED`` (the seed every model
of the notebook trains with: :func:`utils.runtime.series_seed`), runs each notebook in a fresh
kernel, and adds to each line the run's environment (torch, Python, CPU model, threads) and the
notebook's wall time. The ledger is ``results/claims.jsonl``, one JSON line per check and run; running
a notebook again with the same seed in the same environment replaces its earlier rows (see
:func:`replace`).

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
from utils.results import ResultsFormatError, read_results, write_results  # noqa: E402
from utils.runtime import CPU_THREADS, SEED_ENV, THREADS_ENV  # noqa: E402

LEDGER = ROOT / "results" / "claims.jsonl"
# What makes a run distinct: two runs that differ in any of these are two runs, and both stay in the
# ledger (the classic stack's seed 0 beside the current stack's, the old code's beside the new code's).
RUN = ("notebook", "seed", "label", "torch", "python", "code")
# The fields every ledger row has (the code fingerprint came later: a few old rows lack it)
LEDGER_FIELDS = ("notebook", "seed", "label", "torch", "python", "claim", "held", "evidence", "numbers")
RECIPE_FIELDS = ("model", "lang", "units", "seed", "config", "training")   # of results/real_data_recipes.jsonl


def run_key(row: dict) -> tuple:
    """The run a ledger row belongs to: its values of :data:`RUN`."""
    return tuple(row.get(name) for name in RUN)


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
    import sacrebleu
    import torch

    return {"label": label, "code": CODE_FINGERPRINT, "torch": torch.__version__, "python": platform.python_version(),
            "sacrebleu": sacrebleu.__version__,
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


def replace(ledger: Path, new: list[dict]) -> None:
    """Add a run's rows to the ledger. An earlier run that is the same run (:data:`RUN`: notebook,
    seed, label, torch, Python and code fingerprint) is replaced where it made the same claims; its
    rows for claims the new run no longer makes stay, as the record of a claim that was restated or
    removed. Rows of every other run stay. The file is rewritten whole or not at all."""
    if not new:
        return
    same_run = {run_key(r) for r in new}
    claims = {r["claim"] for r in new}
    old = read_ledger(ledger) if ledger.exists() else []
    kept = [r for r in old if not (run_key(r) in same_run and r["claim"] in claims)]
    write_results(ledger, kept + new)


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
            entries = read_results(raw)
            raw.unlink()
            replace(args.ledger, [{**env, **entry, "seconds": seconds} for entry in entries])   # the kernel's torch
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


def read_ledger(path: Path) -> list[dict]:
    """The ledger's rows (:func:`utils.results.read_results`: a bad line is named by file and line)."""
    if not path.exists():
        raise SystemExit(f"{path} does not exist: record runs first (python scripts/claims.py run ...)")
    return read_results(path, LEDGER_FIELDS)


def run_name(row: dict) -> str:
    return f"{row['label'] or 'torch ' + row['torch']} seed {row['seed']}"


def significant(x: float) -> float:
    """``x`` to four significant digits (1e-05 stays 1e-05; 0.20441 becomes 0.2044)."""
    return float(f"{x:.4g}")


def margins(rows: list[dict]) -> list[dict]:
    """For a check written with above/below/at_least/at_most: per comparison, the threshold(s), the
    observed values and the smallest margin over the runs that recorded it."""
    recorded = [r for r in rows if r.get("comparisons")]
    if not recorded or len({len(r["comparisons"]) for r in recorded}) != 1:
        return []
    out = []
    for i in range(len(recorded[0]["comparisons"])):
        parts = [r["comparisons"][i] for r in recorded]
        worst = min(parts, key=lambda p: p["margin"])
        out.append({"op": parts[0]["op"], "threshold": spread([significant(p["threshold"]) for p in parts]),
                    "observed": spread([significant(p["value"]) for p in parts]), "margin": worst["margin"],
                    "relative": worst["margin"] / abs(worst["threshold"]) if worst["threshold"] else None,
                    "runs": len(recorded)})
    return out


def margin_lines(rows: list[dict]) -> list[str]:
    return [f"value {m['op']} threshold {m['threshold']}: observed {m['observed']}; smallest margin {m['margin']:+.4g}"
            + (f" ({m['relative']:+.0%} of the threshold)" if m["relative"] is not None else "")
            + f" in {m['runs']} run(s)" for m in margins(rows)]


def report(args: argparse.Namespace) -> None:
    entries = read_ledger(args.ledger)
    runs = sorted({run_name(e) for e in entries})
    print(f"{len(entries)} checks recorded in {len(runs)} runs: " + ", ".join(runs))
    groups: dict[tuple[str, str], list[dict]] = {}
    for e in entries:
        groups.setdefault((e["notebook"], e["claim"]), []).append(e)
    if args.markdown:
        print("\n| notebook | claim | held | value op threshold | observed min / median / max | smallest margin |")
        print("|---|---|---|---|---|---|")
        for (nb, claim), rows in sorted(groups.items(), key=lambda item: item[0][0]):
            held = f"{sum(r['held'] for r in rows)}/{len(rows)}"
            for i, m in enumerate(margins(rows) or [None]):
                text = claim[:80].replace("|", "/") if i == 0 else "″"
                if m is None:
                    print(f"| {nb[:2]} | {text} | {held} | (yes/no) | | |")
                else:
                    print(f"| {nb[:2]} | {text} | {held} | {m['op']} {m['threshold']} | {m['observed']} | "
                          f"{m['margin']:+.3g} |")
        return
    notebook = None
    for (nb, claim), rows in sorted(groups.items(), key=lambda item: item[0][0]):     # by notebook, stable
        if nb != notebook:
            notebook = nb
            print(f"\n{nb}")
        held = sum(r["held"] for r in rows)
        mark = "✓" if held == len(rows) else "✗"
        print(f"  {mark} held {held}/{len(rows)} ({', '.join(sorted({run_name(r) for r in rows}))})  {claim[:110]}")
        spreads = margin_lines(rows)
        shapes = {len(r["numbers"]) for r in rows}
        if spreads:
            for line in spreads:
                print(f"     {line}")
        elif len(shapes) == 1 and rows[0]["numbers"]:
            print("     numbers (min / median / max): "
                  + "; ".join(spread([r["numbers"][i] for r in rows]) for i in range(shapes.pop())))
        for r in rows:
            if not r["held"]:
                print(f"     failed with {run_name(r)}: {r['evidence'][:150]}")


# The README's results table: (row, notebook, the claim's first words, which number of its evidence;
# None: how many seeds the claim held in). The numbers are the evidence's, in order (utils.checks.numbers):
# e.g. 01's "11.2 on 51–60 tokens vs 69.6 on 4–10" gives [11.2, 51, 60, 69.6, 4, 10].
HEADLINES = [
    ("01 · vanilla RNN: BLEU on 4–10-token sentences", "01", "the vanilla model's BLEU on the longest", 3),
    ("01 · vanilla RNN: BLEU on 51–60-token sentences", "01", "the vanilla model's BLEU on the longest", 0),
    ("02 · Luong attention: BLEU on 51–60-token sentences", "02", "attention beats the vanilla model", 2),
    ("02 · Bahdanau attention: BLEU on 51–60-token sentences", "02", "attention beats the vanilla model", 3),
    ("03 · Luong dot attention: AER against the gold links", "03", "the dot-product model's AER is well below", 0),
    ("03 · dot is the best of the four scores in BLEU and in AER", "03", "in this run the dot product is the best",
     None),
    ("07 · Transformer: test BLEU", "07", "both attention models translate the test set", 0),
    ("07 · Luong dot attention: test BLEU (same run)", "07", "both attention models translate the test set", 1),
    ("07 · Transformer: AER of its best cross-attention head", "07", "no single Transformer head aligns better", 1),
]
RECIPE_ROWS = [("06, 08 · RNN with attention (06's recipe)", "rnn"), ("08 · RNN without attention", "vanilla"),
               ("08 · Transformer (08's recipe)", "transformer")]
TABLE_BEGIN, TABLE_END = "<!-- results table: python scripts/claims.py table -->", "<!-- end of results table -->"


def results_table(ledger: list[dict], recipes: list[dict]) -> str:
    """The README's results table (markdown): each headline number as mean ± sd over the seeds of
    the current stack's runs, with the seeds it covers."""
    from utils.metrics import bleu_signature, chrf_signature
    from utils.real_data import mean_sd, recipe_runs

    base = [r for r in ledger if not r["label"]]
    # the signature without its last field, the installed sacrebleu's version (each run records its own)
    signature = bleu_signature(False).rsplit("|version:", 1)[0]
    chrf = chrf_signature().rsplit("|version:", 1)[0]
    lines = ["| result | mean ± sd | seeds |", "|---|---|---|"]
    for name, nb, start, index in HEADLINES:
        rows = {r["seed"]: r for r in base if r["notebook"].startswith(nb) and r["claim"].startswith(start)}
        if not rows:
            raise SystemExit(f"no ledger row for {nb} {start!r}: was the claim reworded? (HEADLINES in {__file__})")
        seeds = sorted(rows)
        if index is None:
            cell = f"in {sum(rows[s]['held'] for s in seeds)} of {len(seeds)} seeds"
        else:
            cell = mean_sd([rows[s]["numbers"][index] for s in seeds], 3 if "AER" in name else 1)
        lines.append(f"| {name} | {cell} | {', '.join(map(str, seeds))} |")
    for name, model in RECIPE_ROWS:
        runs = recipe_runs([r for r in recipes if r.get("code") == CODE_FINGERPRINT], model)   # French subwords
        if not runs:
            raise SystemExit(f"results/real_data_recipes.jsonl has no run of the current {model!r} recipe and code: "
                             f"python scripts/real_data_recipes.py --model {model} --seeds 0 1 2")
        seeds = list(runs)
        for metric, label in (("greedy", "BLEU, greedy"), ("beam", "BLEU, beam 5"), ("beam_chrf", "chrF, beam 5")):
            lines.append(f"| {name}: test {label} | {mean_sd([runs[s][metric] for s in seeds])} | "
                         f"{', '.join(map(str, seeds))} |")
    return "\n".join([
        TABLE_BEGIN, "", *lines, "",
        f"BLEU: sacrebleu on the series' own word tokens (`{signature}`; 06 and 08 score each test "
        f"sentence against all its Tatoeba translations: `nrefs:var`); chrF: sacrebleu's chrF2 on the same words, "
        f"spaces ignored (`{chrf}`), as the Tatoeba Challenge reports it beside BLEU. 06's and 08's recipes were "
        "chosen on the validation split; these are their test scores. Each row is the mean ± standard deviation over "
        "the seeds listed (`SEQ2SEQ_SEED`), torch "
        f"{', '.join(sorted({r['torch'] for r in base}))}, this repository's CPU runs; from `results/claims.jsonl` "
        "and `results/real_data_recipes.jsonl`.", TABLE_END])


def read_recipes() -> list[dict]:
    """The rows of ``results/real_data_recipes.jsonl`` (:data:`utils.real_data.RESULTS`)."""
    from utils.real_data import RESULTS

    return read_results(RESULTS, RECIPE_FIELDS)


def table(args: argparse.Namespace) -> None:
    text = results_table(read_ledger(args.ledger), read_recipes())
    if not args.write:
        print(text)
        return
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if TABLE_BEGIN not in readme or TABLE_END not in readme:
        raise SystemExit(f"README.md has no results table to replace (a line {TABLE_BEGIN!r} ... {TABLE_END!r})")
    head, rest = readme.split(TABLE_BEGIN, 1)
    tail = rest.split(TABLE_END, 1)[1]
    (ROOT / "README.md").write_text(head + text + tail, encoding="utf-8")
    print("README.md: results table written")


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
    p.add_argument("--markdown", action="store_true", help="one table row per comparison")
    t = sub.add_parser("table", help="the README's results table (mean ± sd over seeds)")
    t.add_argument("--ledger", type=Path, default=LEDGER)
    t.add_argument("--write", action="store_true", help="replace the table in README.md")
    args = parser.parse_args()
    try:
        {"run": run, "report": report, "table": table}[args.command](args)
    except ResultsFormatError as error:
        raise SystemExit(f"claims.py: error: {error}") from None


if __name__ == "__main__":
    main()
