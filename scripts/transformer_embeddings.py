"""Two of Vaswani et al.'s choices measured on notebook 07's Transformer: word vectors × √d, and tied weights.

    python scripts/transformer_embeddings.py                  # the committed table: 4 variants × seeds 0-2
    python scripts/transformer_embeddings.py --seeds 3 --append   # one more seed, kept with the others

Trains notebook 07's Transformer (``TRANSFORMER``, with section 4's recipe ``RECIPE``) on the
synthetic corpus with ``scale_embeddings`` (the word embeddings multiplied by √d_model before the
positions are added; Vaswani et al. §3.4) and ``tie_embeddings`` (the decoder's output layer reuses
its embedding matrix) off and on — ``baseline``, ``scale``, ``tie`` and ``both`` — for every seed.
Every model goes through ``train_or_load``: the baseline of each seed is the model notebook 07
trains with that seed (``SEQ2SEQ_SEED``), and a second run loads instead of retraining.

Per run it writes the validation loss (teacher-forced, per target token) and validation BLEU
(greedy) — what a choice between the variants may look at — and the test BLEU, reported once,
with the parameters, the final training loss and the training seconds (inflated when other
processes share the cores; the load average is recorded). The JSON (``--out``) also records the
command, the environment, the model and the recipe; notebook 07 reads it and checks that its own
model and recipe are the ones measured. It asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.checkpoints import CODE_FINGERPRINT, train_or_load  # noqa: E402
from utils.evaluation import translate_and_score  # noqa: E402
from utils.parallel_data import load_synthetic_data  # noqa: E402
from utils.runtime import describe_environment, get_device, use_cpu_threads  # noqa: E402
from utils.seq2seq import count_parameters  # noqa: E402
from utils.train import evaluate  # noqa: E402
from utils.transformer import TransformerConfig  # noqa: E402

TRANSFORMER = TransformerConfig(d_model=64, layers=2, heads=2, ff_size=128)   # notebook 07's model
RECIPE = dict(epochs=7, lr=5e-3, lr_decay=0.1)                               # and its recipe (section 4)
VARIANTS = {"baseline": {}, "scale": {"scale_embeddings": True}, "tie": {"tie_embeddings": True},
            "both": {"scale_embeddings": True, "tie_embeddings": True}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--append", action="store_true",
                        help="keep the runs already in --out (a run of the same variant and seed is replaced)")
    parser.add_argument("--out", default=str(ROOT / "results" / "transformer_embeddings.json"))
    args = parser.parse_args()

    use_cpu_threads()          # the notebook's two threads: the cached models are the ones it would train
    device = get_device()
    data = load_synthetic_data()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python scripts/transformer_embeddings.py " + " ".join(sys.argv[1:])
    record = {"command": command.strip(), "environment": describe_environment(device), "code": CODE_FINGERPRINT,
              "model": asdict(TRANSFORMER), "recipe": RECIPE, "runs": []}
    if args.append and out.exists():
        earlier = json.loads(out.read_text())
        record["command"] = earlier["command"] + " && " + record["command"]
        record["runs"] = [r for r in earlier["runs"]
                          if not (r["variant"] in args.variants and r["seed"] in args.seeds)]
    for variant in args.variants:
        for seed in args.seeds:
            load = os.getloadavg()[0]
            config = replace(TRANSFORMER, **VARIANTS[variant])
            model, history = train_or_load(f"Transformer ({variant}, seed {seed})", config, data, seed=seed,
                                           device=device, verbose=False, **RECIPE)
            valid = evaluate(model, data.loader("valid"), device, data.tgt_vocab.pad_id)
            row = {"variant": variant, "seed": seed, **VARIANTS[variant], "params": count_parameters(model),
                   "train_loss": round(history.epoch_loss[-1], 4), "valid_loss": round(valid["loss"], 4),
                   "valid_bleu": round(translate_and_score(model, data, "valid").bleu, 2),
                   "test_bleu": round(translate_and_score(model, data, "test").bleu, 2),
                   "train_seconds": round(sum(history.epoch_time), 1), "load_at_start": round(load, 2)}
            record["runs"].append(row)
            out.write_text(json.dumps(record, indent=1) + "\n")     # after every run: an interrupted run keeps it
            print(f"seed {seed} {variant:>8}: valid loss {row['valid_loss']:.4f}, valid BLEU {row['valid_bleu']:.2f}, "
                  f"test BLEU {row['test_bleu']:.2f} ({row['train_seconds']:.0f} s, load {load:.1f})", flush=True)


if __name__ == "__main__":
    main()
