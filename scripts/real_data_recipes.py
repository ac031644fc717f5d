"""Recipes for notebook 06's real-data model: BLEU against training seconds, and where attention peaks.

    python scripts/real_data_recipes.py --seeds 0 1 2                 # notebook 06's recipe, three seeds
    python scripts/real_data_recipes.py --coverage 0 --seeds 0 1 2    # the same without the coverage penalty
    python scripts/real_data_recipes.py --coverage 0 --seeds 0 1 2 --json results/coverage0_subwords.json
                                                                      # ... and write the results to a file
    python scripts/real_data_recipes.py --units words --hidden 256 --dropout 0.3 --epochs 7 --lr-decay 0.1 --coverage 0
                                                                      # the recipe notebook 06 had before

The defaults are notebook 06's recipe. Builds notebook 06's data (the same pairs and leak-free
split), trains one model per seed with the given recipe and prints, per seed and as the mean:
training seconds, greedy and beam-5 BLEU on the test split (on words, multi-reference, as the
notebook computes them), the share of held-out target words whose attention peaks on the source
``<eos>``, and the share of anchor words (names and nouns with a one-word translation) whose peak
lands on their translation. It prints numbers; it asserts nothing. With ``--json PATH`` it also
writes them, with the command that made them, to a small JSON file (notebook 06 reads
``results/*.json`` and prints them). Run it alone: other processes on the same cores change the
seconds a lot (the BLEU and attention numbers do not depend on them).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.alignment import teacher_forced_attention  # noqa: E402
from utils.build import build_model  # noqa: E402
from utils.data import load_tatoeba, split_by_sentence  # noqa: E402
from utils.download import find_tatoeba  # noqa: E402
from utils.languages import ANCHOR_NAMES, ANCHOR_WORDS  # noqa: E402
from utils.metrics import anchor_offsets, multi_reference_bleu  # noqa: E402
from utils.models import RNNConfig  # noqa: E402
from utils.parallel_data import ParallelData  # noqa: E402
from utils.runtime import seed_everything  # noqa: E402
from utils.seq2seq import count_parameters  # noqa: E402
from utils.subwords import word_attention  # noqa: E402
from utils.text import normalize, tokenize  # noqa: E402
from utils.train import fit  # noqa: E402
from utils.translate import beam_hypotheses  # noqa: E402

LEXICON = ANCHOR_WORDS["fr"]                 # the script reads the French data, as notebook 06 by default
NAMES = set(list(LEXICON)[:ANCHOR_NAMES])


def notebook_pairs(max_tokens: int = 10, n_pairs: int = 18_000):
    raw = load_tatoeba(find_tatoeba())
    short = [(fr, en) for fr, en in raw
             if len(tokenize(fr, "fr")) <= max_tokens and len(tokenize(en, "en")) <= max_tokens]
    pairs = sorted(short, key=lambda pair: len(pair[1]))[:n_pairs]
    return split_by_sentence(pairs, (0.8, 0.1, 0.1), seed=0)


def build_data(splits, units: str, vocab_size: int, batch_size: int) -> ParallelData:
    """Notebook 06's data: words (kept if seen twice in training), or subword pieces."""
    data = ParallelData.from_text_pairs(*splits, min_freq=2, batch_size=batch_size)
    return data.with_subwords(vocab_size) if units == "subwords" else data


def run(args, splits, seed: int) -> dict:
    data = build_data(splits, args.units, args.vocab, args.batch)
    config = RNNConfig(decoder="luong", score="dot", emb_size=args.emb, hidden_size=args.hidden,
                         dropout=args.dropout, bidirectional=True, decoder_init=args.init)
    seed_everything(seed)
    model = build_model(config, len(data.src_vocab), len(data.tgt_vocab))
    history = fit(model, data.loader("train", seed=seed), args.epochs, lr=args.lr, lr_decay=args.lr_decay,
                  warmup=args.warmup, label_smoothing=args.smoothing, coverage=args.coverage, progress=False,
                  verbose=args.verbose,
                  valid_loader=data.loader("valid") if args.verbose else None)
    train_seconds = sum(history.epoch_time)
    model.eval()
    groups, sources = defaultdict(list), {}
    for p in data.test:
        groups[normalize(p.src)].append(p.tgt_words)
        sources[normalize(p.src)] = p.src_tokens
    keys = list(groups)
    bleu = {}
    for name, k in (("greedy", 1), ("beam", 5)):
        hyps = beam_hypotheses(model, [sources[key] for key in keys], data.src_vocab, data.tgt_vocab, beam_size=k)
        bleu[name] = multi_reference_bleu([data.target_words(data.tgt_vocab.decode(h[0].ids)) for h in hyps],
                                          [groups[key] for key in keys])
    held_out = data.valid + data.test
    maps = teacher_forced_attention(model, data, pairs=held_out)
    on_eos = total = 0
    offsets = {"names": [], "nouns": []}
    for p, w in zip(held_out, maps):
        if data.src_subwords is not None:
            w = word_attention(w, p.src_tokens, p.tgt_tokens)
        peaks = w[:-1].argmax(1)
        on_eos += int((peaks == w.size(1) - 1).sum())
        total += peaks.numel()
        for group, words in (("names", NAMES), ("nouns", LEXICON.keys() - NAMES)):
            offsets[group] += anchor_offsets(w, p.src_words, p.tgt_words, {k: LEXICON[k] for k in words})
    share = {group: (sum(o == 0 for o in v) / max(1, len(v)), sum(abs(o) <= 1 for o in v) / max(1, len(v)))
             for group, v in offsets.items()}
    return dict(seconds=train_seconds, greedy=bleu["greedy"], beam=bleu["beam"], eos=on_eos / total,
                share=share, params=count_parameters(model), vocab=(len(data.src_vocab), len(data.tgt_vocab)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", choices=["words", "subwords"], default="subwords")
    parser.add_argument("--vocab", type=int, default=2000, help="pieces per language (subwords)")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--lr-decay", type=float, default=1.0)
    parser.add_argument("--warmup", type=int, default=0)
    parser.add_argument("--smoothing", type=float, default=0.0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--emb", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=192)
    parser.add_argument("--dropout", type=float, default=0.1)
    parser.add_argument("--init", choices=["encoder", "zeros"], default="encoder")
    parser.add_argument("--coverage", type=float, default=1.0)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the results to this JSON file")
    args = parser.parse_args()
    splits = notebook_pairs()
    print(" ".join(sys.argv[1:]), f"(threads {torch.get_num_threads()})", flush=True)
    results = []
    for seed in args.seeds:
        r = run(args, splits, seed)
        r["seed"] = seed
        results.append(r)
        if args.json is not None:                    # after every seed: a long run stopped early keeps what it did
            write_results(args.json, results)
        anchors = "  ".join(f"{group} on {on:4.0%} near {near:4.0%}" for group, (on, near) in r["share"].items())
        print(f"  seed {seed}: train {r['seconds']:5.1f} s  greedy {r['greedy']:5.1f}  beam {r['beam']:5.1f}  "
              f"peaks on <eos> {r['eos']:5.1%}  {anchors}  params {r['params']:,} vocab {r['vocab']}", flush=True)
    if len(results) > 1:
        def mean(key):
            values = [r[key] for r in results]
            return f"{statistics.mean(values):.1f} ({min(values):.1f}–{max(values):.1f})"
        print(f"  mean: train {mean('seconds')} s  greedy {mean('greedy')}  beam {mean('beam')}", flush=True)


def write_results(path: Path, results: list[dict]) -> None:
    """The per-seed results and the command that made them, as JSON (what notebook 06 prints)."""
    command = "python scripts/real_data_recipes.py " + " ".join(sys.argv[1:])
    rows = [{"seed": r["seed"], "train_seconds": round(r["seconds"], 1), "greedy_bleu": round(r["greedy"], 2),
             "beam_bleu": round(r["beam"], 2), "peaks_on_eos": round(r["eos"], 4),
             "anchors_on_word": {group: round(on, 4) for group, (on, _) in r["share"].items()},
             "anchors_within_one": {group: round(near, 4) for group, (_, near) in r["share"].items()}}
            for r in results]
    data_file = find_tatoeba().name
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"command": command, "data": data_file, "torch": torch.__version__,
              "threads": torch.get_num_threads(), "runs": rows}
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
