"""Benchmark: each decoder's training throughput and, optionally, each notebook's runtime.

    python scripts/benchmark.py                 # training throughput only (about a minute)
    python scripts/benchmark.py --notebooks     # also execute every notebook (in memory; nothing is saved)
    python scripts/benchmark.py --notebooks --alone --threads 1 2
                                                # each notebook with an empty model cache, on 1 then 2 threads

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
import sys
import time
from itertools import islice
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.batching import load_synthetic_data  # noqa: E402
from utils.models import ModelConfig, build_model  # noqa: E402
from utils.runtime import describe_environment, get_device, seed_everything  # noqa: E402
from utils.train import pairs_per_second  # noqa: E402

SETUPS = [  # (label, config, forward arguments)
    ("vanilla (one GRU call)", ModelConfig(decoder="vanilla"), dict(parallel=True)),
    ("Luong dot, teacher forcing, one GRU call", ModelConfig(decoder="luong", score="dot"), dict(parallel=True)),
    ("Luong dot, teacher forcing, step loop", ModelConfig(decoder="luong", score="dot"), dict(parallel=False)),
    ("Luong dot, free running (step loop)", ModelConfig(decoder="luong", score="dot"), dict(teacher_forcing=0.0)),
    ("Luong concat, teacher forcing, one call", ModelConfig(decoder="luong", score="concat"), dict(parallel=True)),
    ("Bahdanau concat (always a step loop)", ModelConfig(decoder="bahdanau", score="concat"), dict()),
]


def throughput(config, data, batches, device, repeats: int, **forward_args) -> float:
    seed_everything(0)
    model = build_model(config, len(data.src_vocab), len(data.tgt_vocab)).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    return pairs_per_second(model, batches, data.tgt_vocab.pad_id, optimizer, repeats, **forward_args)


def notebook_runtimes(alone: bool = False, threads: list[str] | None = None) -> None:
    """Execute every notebook in a fresh kernel and print its wall time. ``alone``: each with an
    empty model cache, as Colab runs it (the cache is moved aside and put back afterwards).
    ``threads``: one round per CPU thread count (``SEQ2SEQ_CPU_THREADS``), for a before/after."""
    import nbformat
    from nbclient import NotebookClient

    os.environ["TQDM_DISABLE"] = "1"                      # no progress bars in the kernels
    cache = ROOT / "data" / "cache" / "models"
    aside = cache.with_name("models.benchmark-aside")
    if alone and cache.exists():
        cache.rename(aside)
    try:
        for count in threads or [None]:
            if count is not None:
                os.environ["SEQ2SEQ_CPU_THREADS"] = count
            label = f"{count} thread(s)" if count else "default threads"
            total = 0.0
            for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
                if alone:
                    shutil.rmtree(cache, ignore_errors=True)
                nb = nbformat.read(path, as_version=4)
                start = time.perf_counter()
                NotebookClient(nb, timeout=900, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
                seconds = time.perf_counter() - start
                total += seconds
                print(f"{label:16s} {path.name:40s} {seconds:7.1f} s", flush=True)
            print(f"{label:16s} {'total':40s} {total:7.1f} s", flush=True)
    finally:
        if alone:
            shutil.rmtree(cache, ignore_errors=True)
            if aside.exists():
                aside.rename(cache)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batches", type=int, default=20, help="training batches per pass (default 20)")
    parser.add_argument("--repeats", type=int, default=3, help="passes per setup; the median is printed")
    parser.add_argument("--notebooks", action="store_true", help="also time every notebook (uses the model cache)")
    parser.add_argument("--alone", action="store_true", help="with --notebooks: each notebook with an empty model cache")
    parser.add_argument("--threads", nargs="+", metavar="N", help="with --notebooks: one round per CPU thread count")
    args = parser.parse_args()
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
        notebook_runtimes(args.alone, args.threads)


if __name__ == "__main__":
    main()
