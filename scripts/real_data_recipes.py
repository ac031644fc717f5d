"""Recipes for the real-data models of notebooks 06 and 08: BLEU and chrF on validation and test, and attention.

    python scripts/real_data_recipes.py --seeds 0 1 2                 # notebook 06's recipe, three seeds
    python scripts/real_data_recipes.py --coverage 0 --seeds 0 1 2    # the same without the coverage penalty
    python scripts/real_data_recipes.py --units words --hidden 256 --dropout 0.3 --epochs 7 --lr-decay 0.1 --coverage 0
                                                                      # the recipe notebook 06 had before
    python scripts/real_data_recipes.py --coverage 0 --seeds 0 1 2 --json results/coverage0_subwords.json
                                                                      # what notebook 06 prints
    python scripts/real_data_recipes.py --model transformer --seeds 0 1 2   # notebook 08's Transformer
    python scripts/real_data_recipes.py --model transformer --norm pre --note 'search: --norm pre'   # one change
    python scripts/real_data_recipes.py --keep-best-epoch --seeds 0 1 2   # the RNN stopped at its best validation epoch
    python scripts/real_data_recipes.py --model vanilla --lang de     # the RNN without attention, German

The defaults are the recipes of :data:`utils.real_data.RECIPES` (``--model rnn``: notebook 06's; ``transformer``
and ``vanilla``: notebook 08's); any flag given replaces one setting. Builds the notebooks' data with
:mod:`utils.real_data` (the same pairs, leak-free split and units), trains one model per seed and
prints, per seed and as the mean: training seconds; greedy and beam-5 BLEU and chrF (on words,
multi-reference, sacrebleu; the signatures are recorded) on the *validation* split, where recipes
are chosen, and on the *test* split, reported once for the recipes kept; the share of held-out
target words whose attention peaks on the source ``<eos>``, the share of its words (punctuation left out)
that peak on the source's end (final punctuation or ``<eos>``), and the share of anchor words (names
and nouns with a one-word translation) whose peak lands on their translation (for a Transformer
also per layer × head). ``--keep-best-epoch`` scores validation BLEU (greedy) at each epoch's end
and keeps the best epoch's weights (:class:`utils.real_data.BestEpoch`; such a model is not
cached). Each trained model is appended as one JSON line to ``--results`` (default
``results/real_data_recipes.jsonl``; ``--results ''`` records nothing) with the command, every
setting, the machine's load average and the numbers. It asserts nothing. Seconds measured while
other processes share the cores are inflated: compare recipes by BLEU at fixed epochs, and seconds
only between runs with a similar load.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
from dataclasses import replace
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils.build import build_model  # noqa: E402
from utils.checkpoints import CODE_FINGERPRINT, train_or_load  # noqa: E402
from utils.download import find_tatoeba  # noqa: E402
from utils.languages import LANGUAGES  # noqa: E402
from utils.metrics import bleu_signature, chrf_signature  # noqa: E402
from utils.provenance import TrainedWith  # noqa: E402
from utils.real_data import (  # noqa: E402
    BATCH_SIZE,
    RECIPES,
    RESULTS,
    SUBWORDS,
    BestEpoch,
    anchor_statistics,
    decode_and_score,
    grouped_references,
    real_corpora,
    real_splits,
    word_maps,
)
from utils.runtime import seed_everything, use_cpu_threads  # noqa: E402
from utils.seq2seq import count_parameters  # noqa: E402
from utils.train import fit  # noqa: E402
from utils.transformer import TransformerConfig  # noqa: E402

# flag → the config field it sets, per family
RNN_FLAGS = {"emb": "emb_size", "hidden": "hidden_size", "dropout": "dropout", "init": "decoder_init"}
TRANSFORMER_FLAGS = {"d_model": "d_model", "heads": "heads", "ff": "ff_size", "layers": "layers",
                     "dropout": "dropout", "norm": "norm", "scale_embeddings": "scale_embeddings",
                     "tie_embeddings": "tie_embeddings"}
TRAINING_FLAGS = {"epochs": "epochs", "lr": "lr", "lr_decay": "lr_decay", "warmup": "warmup",
                  "smoothing": "label_smoothing", "coverage": "coverage", "keep_best_epoch": "keep_best_epoch"}


def recipe_from(args):
    """The model's recipe from :data:`RECIPES`, with the settings the flags give."""
    recipe = RECIPES[args.model]
    flags = TRANSFORMER_FLAGS if isinstance(recipe.config, TransformerConfig) else RNN_FLAGS
    config = replace(recipe.config, **{f: getattr(args, a) for a, f in flags.items() if getattr(args, a) is not None})
    return replace(recipe, config=config,
                   **{f: getattr(args, a) for a, f in TRAINING_FLAGS.items() if getattr(args, a) is not None})


def train(args, recipe, corpus, seed: int, valid) -> tuple[torch.nn.Module, object, BestEpoch | None]:
    """The model of ``recipe`` and seed, its history and (``keep_best_epoch``) its :class:`BestEpoch`."""
    if not recipe.keep_best_epoch:
        # train_or_load: a run with a notebook's recipe, data and seed fills the model cache the notebook then
        # loads (and a repeated run loads it; its seconds are those measured when it was trained)
        model, history = train_or_load(f"{args.model} seed {seed}", recipe.config, corpus, seed=seed, validate=True,
                                       verbose=args.verbose, **recipe.training())
        return model, history, None
    # train_or_load's steps (the same weights, batch order and updates: at its last epoch this is the recipe's
    # model without keep_best_epoch), with validation BLEU (greedy) at each epoch's end; not cached
    seed_everything(seed)
    model = build_model(recipe.config, len(corpus.src_vocab), len(corpus.tgt_vocab), corpus.src_vocab.pad_id)
    model.trained_with = TrainedWith.of(corpus.src_vocab, corpus.tgt_vocab, corpus.longest_source,
                                        corpus.reverse_source)
    loader = corpus.loader("train", seed=seed)
    best = BestEpoch(len(loader), lambda m: decode_and_score(m, corpus, *valid, beam_size=1).bleu)
    history = fit(model, loader, valid_loader=corpus.loader("valid"), pad_id=corpus.tgt_vocab.pad_id,
                  verbose=args.verbose, on_step_end=best, **recipe.training())
    return best.restore(model), history, best


def scores(model, corpus, sources, references, prefix: str) -> dict:
    """Greedy and beam BLEU and chrF of ``model`` on one split's grouped sentences, and the decoding speeds."""
    greedy = decode_and_score(model, corpus, sources, references, beam_size=1)
    beam = decode_and_score(model, corpus, sources, references)
    return {f"{prefix}greedy": round(greedy.bleu, 2), f"{prefix}beam": round(beam.bleu, 2),
            f"{prefix}greedy_chrf": round(greedy.chrf, 2), f"{prefix}beam_chrf": round(beam.chrf, 2),
            f"{prefix}greedy_sentences_per_s": round(greedy.sentences_per_second, 1),
            f"{prefix}beam_sentences_per_s": round(beam.sentences_per_second, 1)}


def run(args, recipe, corpus, seed: int) -> dict:
    valid, test = grouped_references(corpus.valid), grouped_references(corpus.test)
    model, history, best = train(args, recipe, corpus, seed, valid)
    model.eval()
    seconds = sum(history.epoch_time) - (best.seconds if best else 0.0)    # training only, not best's scoring
    result = dict(seconds=round(seconds, 1), **scores(model, corpus, *test, ""),
                  **scores(model, corpus, *valid, "valid_"),
                  signatures=dict(bleu=bleu_signature(), chrf=chrf_signature()),
                  final_train_loss=round(history.epoch_loss[-1], 4), final_valid_loss=round(history.valid_loss[-1], 4),
                  valid_loss_per_epoch=[round(v, 4) for v in history.valid_loss],
                  params=count_parameters(model), vocab=[len(corpus.src_vocab), len(corpus.tgt_vocab)])
    if best is not None:
        result.update(best_epoch=best.epoch, valid_greedy_per_epoch=[round(v, 2) for v in best.scores])
    if model.decoder.has_attention:
        held_out = corpus.valid + corpus.test
        stats = anchor_statistics(word_maps(model, corpus, held_out), held_out, args.lang)
        result.update(eos=round(stats.eos_share, 4), end=round(stats.end_share, 4),
                      anchors={group: round(stats.on_word(group), 4) for group in stats.offsets},
                      anchor_counts={group: len(v) for group, v in stats.offsets.items()})
        if isinstance(recipe.config, TransformerConfig):
            result["anchors_per_head"] = {
                f"{layer}.{head}": round(anchor_statistics(word_maps(model, corpus, held_out, (layer, head)),
                                                           held_out, args.lang).on_word(), 4)
                for layer in range(recipe.config.layers) for head in range(recipe.config.heads)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(RECIPES), default="rnn",
                        help="rnn: notebook 06's Luong model; vanilla: no attention; transformer: notebook 08's")
    parser.add_argument("--lang", choices=[code for code in LANGUAGES if code != "en"], default="fr",
                        help="source language (the target is English)")
    parser.add_argument("--units", choices=["words", "subwords"], default="subwords")
    parser.add_argument("--vocab", type=int, default=SUBWORDS, help="pieces per language (subwords)")
    parser.add_argument("--batch", type=int, default=BATCH_SIZE)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    group = parser.add_argument_group("training (default: the model's recipe)")
    group.add_argument("--epochs", type=int)
    group.add_argument("--lr", type=float)
    group.add_argument("--lr-decay", type=float)
    group.add_argument("--warmup", type=int, help="steps of linear learning-rate warm-up")
    group.add_argument("--smoothing", type=float, help="label smoothing")
    group.add_argument("--coverage", type=float, help="weight of the coverage penalty (models with attention)")
    group.add_argument("--keep-best-epoch", action=argparse.BooleanOptionalAction,
                       help="keep the weights of the epoch with the best validation BLEU (greedy), scored at each "
                            "epoch's end: stopping at the best epoch, seen afterwards (not cached)")
    group = parser.add_argument_group("RNN models (default: the model's recipe)")
    group.add_argument("--emb", type=int)
    group.add_argument("--hidden", type=int)
    group.add_argument("--init", choices=["encoder", "zeros"])
    group = parser.add_argument_group("Transformer (default: the model's recipe)")
    group.add_argument("--d-model", type=int)
    group.add_argument("--heads", type=int)
    group.add_argument("--ff", type=int, help="feed-forward width")
    group.add_argument("--layers", type=int)
    group.add_argument("--norm", choices=["pre", "post"])
    group.add_argument("--scale-embeddings", action=argparse.BooleanOptionalAction,
                       help="word vectors × √d_model (Vaswani et al. §3.4)")
    group.add_argument("--tie-embeddings", action=argparse.BooleanOptionalAction,
                       help="the output layer reuses the decoder's embedding matrix (Press & Wolf, 2017)")
    parser.add_argument("--dropout", type=float)
    parser.add_argument("--results", default=str(RESULTS.relative_to(ROOT)),
                        help="JSON-lines file to append each run to ('' records nothing)")
    parser.add_argument("--note", default="", help="a label stored with each run, for people ('seeds', 'ablation: "
                                                   "<the change>'); notebook 08 groups runs by their settings")
    parser.add_argument("--json", type=Path, default=None,
                        help="also write this run's seeds, with the command, to one JSON file (notebook 06 prints "
                             "results/coverage0_subwords.json)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    family = TRANSFORMER_FLAGS if isinstance(RECIPES[args.model].config, TransformerConfig) else RNN_FLAGS
    wrong = [f"--{a.replace('_', '-')}" for a in {**RNN_FLAGS, **TRANSFORMER_FLAGS}
             if a not in family and getattr(args, a) is not None]
    if wrong:
        parser.error(f"{', '.join(wrong)} does not apply to --model {args.model}")
    recipe = recipe_from(args)
    use_cpu_threads()          # the notebooks' two threads, or SEQ2SEQ_CPU_THREADS
    if recipe.coverage and not isinstance(recipe.config, TransformerConfig) and recipe.config.decoder == "vanilla":
        parser.error("--coverage needs a model with attention (--model vanilla has none)")
    corpora = real_corpora(real_splits(args.lang), args.lang, args.vocab, args.batch)
    corpus = corpora[args.units]
    command = " ".join(["python", "scripts/real_data_recipes.py", *sys.argv[1:]])
    print(command, f"(threads {torch.get_num_threads()})", flush=True)
    results = []
    for seed in args.seeds:
        load = os.getloadavg()[0]
        r = run(args, recipe, corpus, seed)
        results.append(dict(r, seed=seed))
        if args.json is not None:                    # after every seed: a long run stopped early keeps what it did
            write_json(args.json, results, command, find_tatoeba(args.lang).name)
        anchors = "  ".join(f"{g} on {share:4.0%}" for g, share in r.get("anchors", {}).items())
        print(f"  seed {seed}: train {r['seconds']:5.1f} s  valid greedy {r['valid_greedy']:5.1f}  beam "
              f"{r['valid_beam']:5.1f} (chrF {r['valid_beam_chrf']:4.1f})  test greedy {r['greedy']:5.1f}  beam "
              f"{r['beam']:5.1f} (chrF {r['beam_chrf']:4.1f})  "
              + (f"best epoch {r['best_epoch']}  " if "best_epoch" in r else "")
              + (f"peaks on <eos> {r['eos']:5.1%}, on the end {r['end']:5.1%}  {anchors}  " if "eos" in r else "")
              + f"params {r['params']:,} vocab {tuple(r['vocab'])}  (load {load:.1f})", flush=True)
        if args.results:
            row = dict(time=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       command=command, note=args.note, model=args.model, lang=args.lang, units=args.units,
                       vocab_size=args.vocab, batch_size=args.batch, seed=seed, **recipe.record(),
                       code=CODE_FINGERPRINT,
                       environment=dict(torch=torch.__version__, threads=torch.get_num_threads(),
                                        cpus=os.cpu_count(), machine=platform.machine(), load_at_start=round(load, 2)),
                       **r)
            path = ROOT / args.results if not Path(args.results).is_absolute() else Path(args.results)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    if len(results) > 1:
        def mean(key):
            values = [r[key] for r in results]
            return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"
        print(f"  mean ± sd: train {mean('seconds')} s  valid greedy {mean('valid_greedy')}  "
              f"beam {mean('valid_beam')}  "
              f"test greedy {mean('greedy')}  beam {mean('beam')}  chrF {mean('beam_chrf')}", flush=True)


def write_json(path: Path, results: list[dict], command: str, data_file: str) -> None:
    """The per-seed results and the command that made them, as one JSON file (what notebook 06 prints)."""
    rows = [{"seed": r["seed"], "train_seconds": r["seconds"], "greedy_bleu": r["greedy"], "beam_bleu": r["beam"],
             "greedy_chrf": r["greedy_chrf"], "beam_chrf": r["beam_chrf"], "valid_greedy_bleu": r["valid_greedy"],
             "valid_beam_bleu": r["valid_beam"],
             **({"peaks_on_eos": r["eos"], "peaks_on_end": r["end"], "anchors_on_word": r["anchors"]}
                if "eos" in r else {})}
            for r in results]
    record = {"command": command, "data": data_file, "torch": torch.__version__, "threads": torch.get_num_threads(),
              "code": CODE_FINGERPRINT, "runs": rows}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}", flush=True)


if __name__ == "__main__":
    main()
