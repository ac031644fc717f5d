"""Benchmark: each decoder's training throughput and, optionally, each notebook's runtime.

    python scripts/benchmark.py                 # training throughput only (about a minute)
    python scripts/benchmark.py --notebooks     # also execute every notebook (in memory; nothing is saved)
    python scripts/benchmark.py --notebooks --alone --threads 1 2
                                                # each notebook with an empty model cache, on 1 then 2 threads
    python scripts/benchmark.py --notebooks --alone --before 0d98bb8
                                                # each notebook of an older commit (in a git worktree),
                                                # then this checkout's, side by side

Throughput is sentence pairs per second for a full training step (forward, backward, Adam
update) on the same batches of the synthetic corpus (batch 64, the series' standard model),
the median of ``--repeats`` passes. For the Luong decoder it compares the one-call
teacher-forced path with the step-by-step loop. It prints numbers; it asserts nothing. Run it
alone: other processes on the same cores change the numbers a lot.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from itertools import islice
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from execute_notebooks import execute_in_memory  # noqa: E402

from utils.build import build_model  # noqa: E402
from utils.models import RNNConfig  # noqa: E402
from utils.parallel_data import load_synthetic_data  # noqa: E402
from utils.runtime import describe_environment, get_device, seed_everything  # noqa: E402
from utils.train import pairs_per_second  # noqa: E402

SETUPS = [  # (label, config, forward arguments)
    ("vanilla (one GRU call)", RNNConfig(decoder="vanilla"), dict(parallel=True)),
    ("Luong dot, teacher forcing, one GRU call", RNNConfig(decoder="luong", score="dot"), dict(parallel=True)),
    ("Luong dot, teacher forcing, step loop", RNNConfig(decoder="luong", score="dot"), dict(parallel=False)),
    ("Luong dot, free running (step loop)", RNNConfig(decoder="luong", score="dot"), dict(teacher_forcing=0.0)),
    ("Luong concat, teacher forcing, one call", RNNConfig(decoder="luong", score="concat"), dict(parallel=True)),
    ("Bahdanau concat (always a step loop)", RNNConfig(decoder="bahdanau", score="concat"), dict()),
]


def throughput(config, data, batches, device, repeats: int, **forward_args) -> float:
    seed_everything(0)
    model = build_model(config, len(data.src_vocab), len(data.tgt_vocab)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return pairs_per_second(model, batches, data.tgt_vocab.pad_id, optimizer, repeats, **forward_args)


def run_notebook(path: Path, empty_cache: Path | None = None) -> tuple[float, str]:
    """Execute one notebook in a fresh kernel (in memory; nothing is saved) and return its wall
    time and a note on the cells that raised. ``empty_cache``: a model cache folder emptied first.
    A cell that raises (an older commit's claim that no longer holds with today's packages, say)
    is reported, and the rest of the notebook still runs and counts."""
    if empty_cache is not None:
        shutil.rmtree(empty_cache, ignore_errors=True)
    start = time.perf_counter()
    errors = execute_in_memory(path, timeout=900)
    seconds = time.perf_counter() - start
    note = f"  ({len(errors)} cell(s) raised, first: {errors[0][:120]})" if errors else ""
    return seconds, note


def notebook_runtimes(alone: bool = False, threads: list[str] | None = None) -> None:
    """Every notebook's wall time, in series order. ``alone``: each with an empty model cache,
    as Colab runs it (the cache is moved aside and put back afterwards). ``threads``: one round
    per CPU thread count (``SEQ2SEQ_CPU_THREADS``)."""
    cache = ROOT / "data" / "cache" / "models"
    with cache_aside(cache, alone):
        for count in threads or [None]:
            if count is not None:
                os.environ["SEQ2SEQ_CPU_THREADS"] = count
            label = f"{count} thread(s)" if count else "default threads"
            total = 0.0
            for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
                seconds, note = run_notebook(path, cache if alone else None)
                total += seconds
                print(f"{label:16s} {path.name:40s} {seconds:7.1f} s{note}", flush=True)
            print(f"{label:16s} {'total':40s} {total:7.1f} s", flush=True)


def before_and_after(revision: str, alone: bool) -> None:
    """Each notebook of ``revision`` (checked out in a temporary git worktree, run with this
    environment's packages), then the same notebook of this checkout, one after the other, so a
    machine that slows down or speeds up during the run affects both sides alike."""
    work = Path(tempfile.mkdtemp(prefix="benchmark-before-")) / "before"
    subprocess.run(["git", "worktree", "add", "--detach", str(work), revision], cwd=ROOT, check=True,
                   capture_output=True)
    old_cache, new_cache = work / "data" / "cache" / "models", ROOT / "data" / "cache" / "models"
    names = sorted({p.name for p in (work / "notebooks").glob("*.ipynb")}
                   | {p.name for p in (ROOT / "notebooks").glob("*.ipynb")})
    rows = []
    print(f"{'notebook':40s} {'before':>8s} {'after':>8s} {'after/before':>13s}", flush=True)
    try:
        with cache_aside(new_cache, alone):
            for name in names:
                times = []
                for root, cache in ((work, old_cache), (ROOT, new_cache)):
                    path = root / "notebooks" / name
                    if not path.exists():
                        times.append((None, ""))
                        continue
                    times.append(run_notebook(path, cache if alone else None))
                (old, old_note), (new, new_note) = times
                rows.append((name, old, new))
                cells = [f"{old:7.1f}s" if old else f"{'–':>8s}", f"{new:7.1f}s" if new else f"{'–':>8s}",
                         f"{new / old:13.2f}" if old and new else f"{'–':>13s}"]
                print(f"{name:40s} " + " ".join(cells) + (f"\n  before:{old_note}" if old_note else "")
                      + (f"\n  after:{new_note}" if new_note else ""), flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(work)], cwd=ROOT, check=False)
        shutil.rmtree(work.parent, ignore_errors=True)
    both = [(old, new) for _, old, new in rows if old and new]
    total_old, total_new = sum(o for o, _ in both), sum(n for _, n in both)
    print(f"{'the notebooks in both':40s} {total_old:7.1f}s {total_new:7.1f}s {total_new / total_old:13.2f}")


@contextmanager
def cache_aside(cache: Path, move: bool):
    """With ``move``, the model cache is moved aside for the block and put back afterwards."""
    aside = cache.with_name("models.benchmark-aside")
    if move and cache.exists():
        cache.rename(aside)
    try:
        yield
    finally:
        if move:
            shutil.rmtree(cache, ignore_errors=True)
            if aside.exists():
                aside.rename(cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=20, help="training batches per pass (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="passes per setup; the median is printed")
    parser.add_argument("--notebooks", action="store_true",
                        help="also time every notebook (models from the cache unless --alone)")
    parser.add_argument("--alone", action="store_true",
                        help="with --notebooks: each notebook with an empty model cache")
    parser.add_argument("--threads", nargs="+", metavar="N", help="with --notebooks: one round per CPU thread count")
    parser.add_argument("--before", metavar="REV", help="with --notebooks: time each notebook of this git revision "
                        "(a commit, a tag) and then this checkout's, side by side (not with --threads)")
    args = parser.parse_args()
    if args.before and args.threads:
        parser.error("--before times the notebooks with their default threads; leave out --threads")
    device = get_device()
    print(describe_environment(device), "\n")
    data = load_synthetic_data()
    batches = [b.to(device) for b in islice(data.loader("train", seed=1), args.batches)]
    results = {}
    print(f"{'training step (forward + backward + Adam)':45s} {'pairs/s':>8s}")
    for label, config, forward_args in SETUPS:
        results[label] = throughput(config, data, batches, device, args.repeats, **forward_args)
        print(f"{label:45s} {results[label]:8.0f}", flush=True)
    one_call = results["Luong dot, teacher forcing, one GRU call"]
    loop = results["Luong dot, teacher forcing, step loop"]
    print(f"\nLuong teacher forcing: one GRU call / step loop = {one_call / loop:.2f}×")
    if args.notebooks:
        print("\nnotebook runtimes (fresh kernels, " + ("each with an empty model cache):" if args.alone
                                                  else "models from the cache when present):"))
        os.environ["TQDM_DISABLE"] = "1"                      # no progress bars in the kernels
        if args.before:
            before_and_after(args.before, args.alone)
        else:
            notebook_runtimes(args.alone, args.threads)


if __name__ == "__main__":
    main()
