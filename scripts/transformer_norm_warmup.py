"""Pre- or post-norm, with or without a learning-rate warm-up: the grid behind notebook 07's section 3.

    python scripts/transformer_norm_warmup.py                       # the committed grid (8 runs; 3 to 20 minutes
                                                                    # on 2 cores, depending on what else runs)
    python scripts/transformer_norm_warmup.py --seeds 0 1 2 --epochs 3   # more seeds, longer runs

Trains notebook 07's Transformer (d = 64, 2 layers, 2 heads, feed-forward 128) on the synthetic
corpus with the series' ``fit`` (Adam, batches of 64, linear decay to lr × 0.1 after an optional
linear warm-up) for every combination of ``--norms``, ``--warmups``, ``--lrs`` and ``--seeds``, and
writes, per run, the training loss per epoch, the mean loss of the first 100 steps, the largest
step loss after the first 50 steps (a spike means instability), the validation loss and the test
BLEU. The JSON (``--out``) also records the command and the environment; the notebook reads it.
Rows are written as they finish, so an interrupted run keeps what it did.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.build import build_model  # noqa: E402
from utils.evaluation import translate_and_score  # noqa: E402
from utils.parallel_data import load_synthetic_data  # noqa: E402
from utils.runtime import describe_environment, get_device, seed_everything, use_cpu_threads  # noqa: E402
from utils.train import fit  # noqa: E402
from utils.transformer import TransformerConfig  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--norms", nargs="+", default=["pre", "post"])
    parser.add_argument("--warmups", nargs="+", type=int, default=[0, 150], help="warm-up steps (one epoch is 188)")
    parser.add_argument("--lrs", nargs="+", type=float, default=[1e-2, 5e-3])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads (default: the series' two); "
                             "1 wastes less on a machine shared with other jobs")
    parser.add_argument("--append", action="store_true",
                        help="add the runs to those already in --out (its command line grows by this one's)")
    parser.add_argument("--out", default=str(ROOT / "results" / "transformer_norm_warmup.json"))
    args = parser.parse_args()

    use_cpu_threads(args.threads)
    device = get_device()
    data = load_synthetic_data()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": "python scripts/transformer_norm_warmup.py " + " ".join(sys.argv[1:]),
              "environment": describe_environment(device),
              "model": "TransformerConfig(d_model=64, layers=2, heads=2, ff_size=128, norm=...)",
              "recipe": f"fit: Adam, batches of {data.batch_size}, {args.epochs} epochs, lr decaying linearly "
                        "to lr x 0.1 after the warm-up", "runs": []}
    if args.append and out.exists():
        earlier = json.loads(out.read_text())
        record["command"] = earlier["command"] + " && " + record["command"]
        record["runs"] = earlier["runs"]
    for lr in args.lrs:
        for norm in args.norms:
            for warmup in args.warmups:
                for seed in args.seeds:
                    seed_everything(seed)
                    model = build_model(TransformerConfig(d_model=64, layers=2, heads=2, ff_size=128, norm=norm),
                                        len(data.src_vocab), len(data.tgt_vocab), data.src_vocab.pad_id)
                    start = time.perf_counter()
                    history = fit(model, data.loader("train", seed=seed), args.epochs, lr=lr, lr_decay=0.1,
                                  warmup=warmup, valid_loader=data.loader("valid"), device=device,
                                  pad_id=data.tgt_vocab.pad_id, verbose=False)
                    seconds = time.perf_counter() - start
                    steps = history.step_loss
                    bleu = translate_and_score(model, data).bleu if math.isfinite(steps[-1]) else float("nan")
                    row = {"norm": norm, "warmup": warmup, "lr": lr, "seed": seed,
                           "epoch_loss": history.epoch_loss, "valid_loss": history.valid_loss,
                           "first_100_steps": sum(steps[:100]) / 100, "max_loss_after_50": max(steps[50:]),
                           "test_bleu": bleu, "seconds": seconds}
                    record["runs"].append(row)
                    out.write_text(json.dumps(record, indent=1) + "\n")
                    print(f"lr {lr:g} {norm:>4}-norm warmup {warmup:>3} seed {seed}: "
                          f"loss by epoch {' '.join(f'{v:.3f}' for v in history.epoch_loss)}, "
                          f"valid {history.valid_loss[-1]:.3f}, BLEU {bleu:.1f} ({seconds:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
