"""Train the series' models at scale: any preset, any language, one CPU, one GPU or many (torchrun).

    python scripts/train.py --preset rnn --pairs 18000                 # notebook 06's model and data
    python scripts/train.py --preset transformer --lang de --set epochs=20 --set d_model=256
    torchrun --nproc_per_node 4 scripts/train.py --preset transformer --amp bf16   # 4 GPUs
    python scripts/train.py --preset rnn --pairs 18000 --resume        # continue an interrupted run

The data is notebook 06's pipeline: the Tatoeba file of ``--lang`` (found or downloaded as the
notebook does; ``--data`` names a file), pairs of at most ``max_tokens`` tokens a side, the
shortest ``--pairs`` of them (all by default), a split in which no sentence is in two splits,
vocabularies from the training split (words seen ``min_freq`` times, or ``subword_vocab``
sentencepiece pieces). Training is :func:`utils.train.fit`'s — Adam, gradient clipping, its
learning-rate schedule, label smoothing, the coverage penalty — and one process trains on the same
batches in the same order as ``fit``. After every epoch it prints the training and validation loss
and greedy BLEU on (up to ``--bleu-sentences`` of) the validation sentences, and writes to ``--out``:

* ``model.pt`` — a checkpoint :func:`utils.checkpoints.load_checkpoint` reads, as notebook 06 does
  (its ``extra`` holds the settings, BLEU per epoch and the subword models as tensors, which
  ``Subwords.from_tensor`` reads); also written when a run stops early, with the weights it has then;
* ``resume.pt`` — that plus the optimizer, learning-rate schedule, random-number generators and
  the place in the data order (epoch, step): ``--resume`` continues exactly where it stopped
  (also written every ``--save-every`` steps and when ``--stop-after-steps`` / ``--minutes`` stop it).

Under ``torchrun --nproc_per_node N`` the N processes train one model with DistributedDataParallel
(:mod:`utils.distributed`): each takes a disjoint share of every global batch of ``batch_size``
sentences, the loss is normalised over the global batch, so N processes take the steps one process
would; rank 0 alone prints and writes files. ``--amp bf16|fp16`` computes in half precision on a GPU.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils import distributed  # noqa: E402
from utils.batching import collate  # noqa: E402
from utils.build import build_model, config_to_dict  # noqa: E402
from utils.checkpoints import CheckpointError, atomic_save, save_checkpoint  # noqa: E402
from utils.data import DataFormatError, load_tatoeba, split_by_sentence  # noqa: E402
from utils.download import DataUnavailableError, find_tatoeba  # noqa: E402
from utils.languages import LANGUAGES  # noqa: E402
from utils.metrics import multi_reference_bleu  # noqa: E402
from utils.models import RNNConfig  # noqa: E402
from utils.parallel_data import ParallelData  # noqa: E402
from utils.progress import Progress  # noqa: E402
from utils.provenance import TrainedWith, fingerprint  # noqa: E402
from utils.runtime import THREADS_ENV, get_device, seed_everything  # noqa: E402
from utils.seq2seq import count_parameters  # noqa: E402
from utils.text import normalize, tokenize  # noqa: E402
from utils.train import CLIP_NORM, History, coverage_penalty, evaluate, sequence_loss, warmup_then_decay  # noqa: E402
from utils.transformer import TransformerConfig  # noqa: E402
from utils.translate import translate_tokens  # noqa: E402


# ----------------------------------------------------------------------------- settings and presets
@dataclass
class Recipe:
    """How to train (the arguments of :func:`utils.train.fit`)."""

    epochs: int = 8
    batch_size: int = 64           # sentences per global batch (shared among the processes)
    lr: float = 3e-3
    lr_decay: float = 1.0          # the learning rate falls linearly to lr * lr_decay by the last step
    warmup: int = 0                # steps of linear warm-up
    clip: float = CLIP_NORM        # gradient norm clipping (fit's)
    label_smoothing: float = 0.0
    coverage: float = 0.0          # weight of utils.train.coverage_penalty (a model with attention)
    teacher_forcing: float = 1.0   # probability of feeding the gold previous word
    seed: int = 0


@dataclass
class DataSettings:
    """Notebook 06's data pipeline."""

    max_tokens: int = 10           # pairs longer than this on either side are left out
    units: str = "subwords"        # "words" or "subwords"
    subword_vocab: int = 2000      # sentencepiece pieces per language (units=subwords)
    min_freq: int = 2              # words seen fewer times become <unk> (units=words)


PRESETS = {
    # Notebook 06's recipe (its CONFIG and RECIPE; scripts/real_data_recipes.py chose it).
    "rnn": (RNNConfig(decoder="luong", score="dot", emb_size=128, hidden_size=192, dropout=0.1, bidirectional=True),
            Recipe(epochs=8, lr=3e-3, lr_decay=1.0, coverage=1.0), DataSettings()),
    # A sensible small Transformer for real sentences; it mirrors notebook 08's recipe once that
    # notebook exists (being chosen now): adopt its TransformerConfig and recipe here then.
    "transformer": (TransformerConfig(d_model=128, heads=4, ff_size=256, layers=2, dropout=0.1),
                    Recipe(epochs=8, lr=1e-3, lr_decay=0.1, warmup=200, label_smoothing=0.1), DataSettings()),
}

class UsageError(ValueError):
    """Bad input to the script: a message for the user, not a traceback."""


def _parse_value(name: str, text: str, default):
    kind = type(default)
    try:
        if kind is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError
            return lowered in ("true", "1", "yes")
        return kind(text)
    except ValueError:
        raise UsageError(f"--set {name}={text}: expected {kind.__name__} (like {default!r})") from None


def apply_overrides(preset: str, assignments: list[str]):
    """The preset's (config, recipe, data settings) with ``field=value`` assignments applied."""
    if preset not in PRESETS:
        raise UsageError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
    parts = list(PRESETS[preset])
    names = {f.name: i for i, part in enumerate(parts) for f in fields(part)}
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UsageError(f"--set {assignment!r}: expected field=value, e.g. --set epochs=10")
        if name not in names:
            groups = "; ".join(f"{type(part).__name__}: {', '.join(f.name for f in fields(part))}" for part in parts)
            raise UsageError(f"--set {name}: preset {preset!r} has no field {name!r}. Its fields are {groups}")
        i = names[name]
        parts[i] = replace(parts[i], **{name: _parse_value(name, text, getattr(parts[i], name))})
    config, recipe, data = parts
    if data.units not in ("words", "subwords"):
        raise UsageError(f"units={data.units!r}: choose 'words' or 'subwords'")
    for field in ("epochs", "batch_size", "max_tokens"):
        if getattr(recipe if field != "max_tokens" else data, field) < 1:
            raise UsageError(f"{field} must be at least 1")
    if not 0.0 <= recipe.teacher_forcing <= 1.0:
        raise UsageError(f"teacher_forcing must be in [0, 1], got {recipe.teacher_forcing}")
    return config, recipe, data


# ----------------------------------------------------------------------------- data
def load_pairs(args, settings: DataSettings) -> tuple[Path, list[tuple[str, str]]]:
    """Notebook 06's pairs: at most ``max_tokens`` a side, the shortest ``args.pairs`` (by English)."""
    if args.data is not None:
        path = Path(args.data)
        if not path.is_file():
            raise UsageError(f"--data {path}: " + ("no such file" if not path.exists() else "not a file"))
    else:
        path = find_tatoeba(args.lang)
    raw = load_tatoeba(path, args.lang)
    short = [(src, en) for src, en in raw
             if len(tokenize(src, args.lang)) <= settings.max_tokens and len(tokenize(en, "en")) <= settings.max_tokens]
    pairs = sorted(short, key=lambda pair: len(pair[1]))[:args.pairs]  # stable: ties keep the file's order
    if len(pairs) < 10:
        raise UsageError(f"{path}: only {len(pairs)} pairs of at most {settings.max_tokens} tokens a side; "
                         "need at least 10 (raise max_tokens, or give more data)")
    return path, pairs


def build_data(pairs, lang: str, settings: DataSettings, batch_size: int) -> ParallelData:
    splits = split_by_sentence(pairs, (0.8, 0.1, 0.1), seed=0)
    if not splits[1]:
        raise UsageError(f"{len(pairs)} pairs leave no validation sentence after the split: give more pairs")
    data = ParallelData.from_text_pairs(*splits, min_freq=settings.min_freq, batch_size=batch_size, src_lang=lang)
    return data.with_subwords(settings.subword_vocab) if settings.units == "subwords" else data


def validation_bleu(model: nn.Module, data: ParallelData, limit: int, device) -> float:
    """Greedy multi-reference BLEU on words (as notebook 06 computes it) over the first ``limit``
    distinct validation sources."""
    groups, sources = defaultdict(list), {}
    for p in data.valid:
        key = normalize(p.src)
        groups[key].append(p.tgt_words)
        sources[key] = p.src_tokens
    keys = list(groups)[:limit]
    hyps, _ = translate_tokens(model, [sources[k] for k in keys], data.src_vocab, data.tgt_vocab, device,
                               batch_size=256)
    return multi_reference_bleu([data.target_words(h) for h in hyps], [groups[k] for k in keys])


# ----------------------------------------------------------------------------- resume files
def run_identity(args, config, recipe, data_settings) -> dict:
    """Everything that makes a run what it is: a resumed run must have the same."""
    return {"model": config_to_dict(config), "recipe": asdict(recipe), "data": asdict(data_settings),
            "lang": args.lang, "pairs": args.pairs, "amp": args.amp}


def read_resume(path: Path, identity: dict, data: ParallelData) -> dict:
    """The resume file at ``path``, checked against this run: the same model, recipe and vocabularies."""
    if not path.is_file():
        raise UsageError(f"--resume {path}: " + ("no such file" if not path.exists() else "not a file")
                         + " (a run writes resume.pt into its --out folder)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # whatever the bytes give: not a resume file
        raise CheckpointError(f"--resume {path}: torch.load cannot read it ({type(error).__name__}); give the "
                              "resume.pt a run of scripts/train.py wrote") from None
    if not isinstance(blob, dict) or "identity" not in blob or "optimizer" not in blob:
        raise CheckpointError(f"--resume {path}: not a resume file of scripts/train.py (a model.pt holds no "
                              "optimizer state; give the resume.pt beside it)")
    saved = blob["identity"]
    if saved["model"] != identity["model"]:
        theirs, ours = saved["model"], identity["model"]
        diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        raise CheckpointError(f"--resume {path}: it holds another model: "
                              + ", ".join(f"{k}={theirs.get(k)!r} there, {ours.get(k)!r} here" for k in diff)
                              + ". Give the same --preset and --set model fields, or another --out")
    other = [f"{group}.{k}: {saved[group][k]!r} there, {identity[group][k]!r} here"
             for group in ("recipe", "data") for k in identity[group] if saved[group].get(k) != identity[group][k]]
    other += [f"{k}: {saved.get(k)!r} there, {identity[k]!r} here" for k in ("lang", "pairs", "amp")
              if saved.get(k) != identity[k]]
    if other:
        raise CheckpointError(f"--resume {path}: it was trained with other settings ({'; '.join(other)}); "
                              "resume with the command that started it")
    for side, key, vocab in (("source", "src", data.src_vocab), ("target", "tgt", data.tgt_vocab)):
        if blob[f"{key}_fingerprint"] != fingerprint(vocab):
            raise CheckpointError(f"--resume {path}: its {side} vocabulary ({blob[f'{key}_size']:,} tokens) "
                                  f"is not the one built from this data ({len(vocab):,} tokens): it was trained on "
                                  "another data file; give that file (--data) or start a new run")
    return blob


# ----------------------------------------------------------------------------- training
def train(args, config, recipe: Recipe, data_settings: DataSettings, procs: distributed.Processes) -> dict:
    """One run; returns a summary (rank 0's view)."""
    device, say = procs.device, (print if procs.is_main else (lambda *a, **k: None))
    data_path, pairs = load_pairs(args, data_settings)
    data = build_data(pairs, args.lang, data_settings, recipe.batch_size)
    identity = run_identity(args, config, recipe, data_settings)
    out = Path(args.out)
    resume_path = Path(args.resume) if args.resume else None
    blob = read_resume(resume_path, identity, data) if resume_path else None

    seed_everything(recipe.seed)
    model = build_model(config, len(data.src_vocab), len(data.tgt_vocab), data.src_vocab.pad_id)
    model.trained_with = TrainedWith.of(data.src_vocab, data.tgt_vocab, data.longest_source, data.reverse_source)
    model.to(device)
    if recipe.coverage and not getattr(model.decoder, "has_attention", False):
        raise UsageError("coverage > 0 needs a model with attention (this decoder has none): --set coverage=0")
    pad_id = data.tgt_vocab.pad_id
    train_set = data.dataset("train")
    train_items = [train_set[i] for i in range(len(train_set))]     # id tensors, encoded once
    lengths = train_set.src_lengths()
    steps_per_epoch = len(distributed.global_batches(lengths, recipe.batch_size, recipe.seed, 1, procs.world_size))
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_then_decay(recipe.epochs * steps_per_epoch, recipe.warmup, recipe.lr_decay))
    amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(args.amp)
    scaler = torch.amp.GradScaler("cuda", enabled=args.amp == "fp16")   # torch >= 2.3, the oldest supported
    history, bleus = History(), []
    epoch, done_in_epoch, step, epoch_sum, epoch_count = 1, 0, 0, 0.0, 0
    if blob is not None:
        model.load_state_dict(blob["model"])
        optimizer.load_state_dict(blob["optimizer"])
        scheduler.load_state_dict(blob["scheduler"])
        scaler.load_state_dict(blob["scaler"])
        history, bleus = History.from_dict(blob["history"]), list(blob["bleu"])
        epoch, done_in_epoch, step = blob["epoch"], blob["done_in_epoch"], blob["step"]
        epoch_count, per_rank = blob["epoch_count"], blob["per_rank"]
        if len(per_rank) == procs.world_size:
            mine = per_rank[procs.rank]
            epoch_sum = mine["epoch_sum"]
            torch.set_rng_state(mine["cpu"])
            if device.type == "cuda" and mine["cuda"] is not None:
                torch.cuda.set_rng_state(mine["cuda"], device)
        else:
            say(f"note: {resume_path} was written by {len(per_rank)} process(es), this run has {procs.world_size}: "
                "the data order continues exactly, the dropout masks cannot")
            epoch_sum = sum(r["epoch_sum"] for r in per_rank) if procs.is_main else 0.0
            torch.manual_seed(recipe.seed + 1000 * step + procs.rank)
        say(f"resuming {resume_path}: epoch {epoch}, {done_in_epoch} of {steps_per_epoch} steps done ({step} in all)")
    elif procs.distributed:
        torch.manual_seed(recipe.seed + 1 + procs.rank)   # the same weights (seeded above), own dropout masks
    net = model
    if procs.distributed:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    say(f"{data_path.name} ({args.lang}→en): {len(pairs):,} pairs of ≤ {data_settings.max_tokens} tokens; train "
        f"{len(data.train):,}, valid {len(data.valid):,}; {data_settings.units}: vocabularies "
        f"{len(data.src_vocab):,} / {len(data.tgt_vocab):,}")
    say(f"{type(config).__name__}: {count_parameters(model):,} parameters; {procs.world_size} process(es) on "
        f"{device}{f' ({torch.get_num_threads()} threads each)' if device.type == 'cpu' else ''}"
        f"{f', autocast {args.amp}' if args.amp else ''}; "
        f"{steps_per_epoch} steps of {recipe.batch_size} pairs an epoch")

    def save(model_too: bool) -> None:
        """Write resume.pt (all processes take part; rank 0 writes), and model.pt when ``model_too``."""
        # what differs between the processes: their random-number generators and shares of the loss
        per_rank = distributed.gather({"cpu": torch.get_rng_state(), "epoch_sum": epoch_sum,
                                       "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None})
        if not procs.is_main:
            return
        out.mkdir(parents=True, exist_ok=True)
        extra = {"identity": identity, "epochs_done": epoch - 1, "steps": step, "bleu": bleus,
                 "subwords": [data.src_subwords.to_tensor(), data.tgt_subwords.to_tensor()]
                 if data.src_subwords is not None else None}
        if model_too:
            save_checkpoint(out / "model.pt", model, data.src_vocab, data.tgt_vocab, history, extra)   # atomic
        atomic_save({"identity": identity, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict(), "scaler": scaler.state_dict(), "per_rank": per_rank,
                     "history": history.to_dict(), "bleu": bleus, "epoch": epoch,
                     "done_in_epoch": done_in_epoch, "step": step, "epoch_count": epoch_count,
                     "src_fingerprint": fingerprint(data.src_vocab), "tgt_fingerprint": fingerprint(data.tgt_vocab),
                     "src_size": len(data.src_vocab), "tgt_size": len(data.tgt_vocab)}, out / "resume.pt")

    start, stopped = time.perf_counter(), None
    total_steps = recipe.epochs * steps_per_epoch
    trained_pairs, train_seconds = 0, 0.0
    with Progress(total=total_steps, desc="training", unit="steps",
                  disable=None if (args.progress and procs.is_main) else True) as bar:
        bar.update(step)
        while epoch <= recipe.epochs and stopped is None:
            batches = distributed.global_batches(lengths, recipe.batch_size, recipe.seed, epoch, procs.world_size)
            net.train()
            epoch_start = time.perf_counter()
            for global_batch in batches[done_in_epoch:]:
                mine = distributed.shard(global_batch, procs.rank, procs.world_size)
                batch = collate([train_items[i] for i in mine], data.src_vocab.pad_id, pad_id).to(device)
                tgt_in, tgt_out = batch.tgt[:, :-1], batch.tgt[:, 1:]          # [batch, T] each
                with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                    logits, weights = net(batch.src, batch.src_mask, tgt_in, teacher_forcing=recipe.teacher_forcing)
                    loss = sequence_loss(logits, tgt_out, pad_id, recipe.label_smoothing)
                    penalty = (coverage_penalty(weights.float(), batch.src_mask, tgt_out != pad_id)
                               if recipe.coverage else None)
                if procs.distributed:
                    # Means over the *global* batch: this process's share of the sums, times world_size
                    # because DistributedDataParallel averages the gradients of the processes.
                    tokens, sentences = int((tgt_out != pad_id).sum()), len(batch)
                    all_tokens, all_sentences = distributed.all_sum([tokens, sentences], device)
                    loss = loss * (tokens * procs.world_size / all_tokens)
                    if penalty is not None:
                        penalty = penalty * (sentences * procs.world_size / all_sentences)
                if penalty is not None:
                    loss = loss + recipe.coverage * penalty
                optimizer.zero_grad()
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), recipe.clip)
                scaler.step(optimizer)
                scaler.update()
                scheduler.step()
                step, done_in_epoch = step + 1, done_in_epoch + 1
                value = loss.item() / procs.world_size          # this process's share of the global loss
                history.step_loss.append(value)
                history.step_ratio.append(recipe.teacher_forcing)
                history.step_time.append(time.perf_counter() - start)
                epoch_sum, epoch_count = epoch_sum + value, epoch_count + 1
                trained_pairs += len(global_batch)
                bar.set_postfix(epoch=f"{epoch}/{recipe.epochs}", loss=f"{value * procs.world_size:.3f}")
                bar.update()
                if args.save_every and step % args.save_every == 0 and done_in_epoch < steps_per_epoch:
                    save(model_too=False)
                out_of_time = args.minutes is not None and time.perf_counter() - start > 60 * args.minutes
                if args.minutes is not None:
                    out_of_time = distributed.broadcast_flag(out_of_time, device)
                if (args.stop_after_steps is not None and step >= args.stop_after_steps) or out_of_time:
                    stopped = f"stopped after {step} steps" + (f" ({args.minutes} min)" if out_of_time else "")
                    break
            train_seconds += time.perf_counter() - epoch_start
            if stopped is not None and done_in_epoch < steps_per_epoch:
                save(model_too=True)                            # the model as it is now, too
                break
            # the epoch is complete: its mean loss over all processes, then validation on rank 0
            (total,) = distributed.all_sum([epoch_sum], device)
            history.epoch_loss.append(total / epoch_count)
            history.epoch_time.append(time.perf_counter() - epoch_start)
            if procs.is_main:
                history.valid_loss.append(evaluate(model, data.loader("valid"), device, pad_id)["loss"])
                bleus.append(validation_bleu(model, data, args.bleu_sentences, device))
                bar.write(f"epoch {epoch:2d}  train loss {history.epoch_loss[-1]:.3f}  valid loss "
                          f"{history.valid_loss[-1]:.3f}  valid BLEU {bleus[-1]:.1f}  "
                          f"({history.epoch_time[-1]:.1f} s)")
            distributed.barrier()
            epoch, done_in_epoch, epoch_sum, epoch_count = epoch + 1, 0, 0.0, 0
            save(model_too=True)                             # a resumed run starts the next epoch
    speed = trained_pairs / train_seconds if train_seconds else math.nan
    say(f"training speed: {speed:,.0f} pairs/s over {trained_pairs:,} pairs ({procs.world_size} process(es), "
        "validation not counted)")
    if stopped:
        say(f"{stopped}; continue with the same command and --resume {out / 'resume.pt'}")
    else:
        say(f"done: {out / 'model.pt'} (load_checkpoint reads it), {out / 'resume.pt'}")
    return {"steps": step, "pairs_per_second": speed, "bleu": bleus, "stopped": stopped}


# ----------------------------------------------------------------------------- command line
def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="fields for --set: " + "; ".join(
                                         f"{name}: " + ", ".join(f.name for part in parts for f in fields(part))
                                         for name, parts in PRESETS.items()))
    parser.add_argument("--preset", default="rnn", help=f"one of {sorted(PRESETS)} (default rnn: notebook 06's)")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="FIELD=VALUE",
                        help="change one field of the preset's model, recipe or data settings (repeatable)")
    parser.add_argument("--lang", default="fr", help="source language: " + ", ".join(
        code for code in LANGUAGES if code != "en"))
    parser.add_argument("--data", help="a Tatoeba file (default: found or downloaded as notebook 06 does)")
    parser.add_argument("--pairs", type=int, help="the shortest N pairs only (default: all)")
    parser.add_argument("--out", help="folder for model.pt and resume.pt (default runs/PRESET-LANG)")
    parser.add_argument("--resume", nargs="?", const="", metavar="RESUME_PT",
                        help="continue a run from its resume file (default OUT/resume.pt)")
    parser.add_argument("--save-every", type=int, default=0, metavar="STEPS",
                        help="also write resume.pt every STEPS steps")
    parser.add_argument("--stop-after-steps", type=int, metavar="STEPS",
                        help="stop after STEPS steps in all, as an interruption would (the schedule is unchanged)")
    parser.add_argument("--minutes", type=float, help="stop after this many minutes of training (then --resume)")
    parser.add_argument("--amp", choices=["bf16", "fp16"], help="autocast to half precision (GPU only)")
    parser.add_argument("--device", help="cpu or cuda (default: a GPU when there is one; SEQ2SEQ_DEVICE)")
    parser.add_argument("--threads", type=int, help=f"CPU threads per process (default: {THREADS_ENV} or 2, "
                        "shared among the processes of this machine)")
    parser.add_argument("--bleu-sentences", type=int, default=1000, metavar="N",
                        help="validation BLEU on the first N distinct source sentences (default 1000)")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    args = parser.parse_args(argv)
    if args.lang not in LANGUAGES or args.lang == "en":
        parser.error(f"--lang {args.lang}: choose one of {[c for c in LANGUAGES if c != 'en']}")
    for name in ("pairs", "save_every", "stop_after_steps", "threads", "bleu_sentences"):
        value = getattr(args, name)
        if value is not None and value < (0 if name == "save_every" else 1):
            parser.error(f"--{name.replace('_', '-')} must be at least {0 if name == 'save_every' else 1}")
    args.out = args.out or str(ROOT / "runs" / f"{args.preset}-{args.lang}")
    if args.resume == "":
        args.resume = str(Path(args.out) / "resume.pt")
    return args


def set_threads(args, procs: distributed.Processes) -> None:
    if procs.device.type != "cpu":
        return
    if args.threads is None:
        setting = os.environ.get(THREADS_ENV, "").strip()
        budget = int(setting) if setting.isdigit() else 2
        args.threads = max(1, budget // procs.local_world_size)
    torch.set_num_threads(args.threads)


def main(argv=None) -> dict | None:
    args = parse_args(argv)
    procs = None
    try:
        config, recipe, data_settings = apply_overrides(args.preset, args.assignments)
        device = get_device(args.device)
        if args.amp and device.type != "cuda":
            raise UsageError(f"--amp {args.amp} needs a GPU (autocast on {device} would only be slower); leave it out")
        if args.amp == "bf16" and not torch.cuda.is_bf16_supported():
            raise UsageError("--amp bf16: this GPU has no bfloat16 arithmetic (it came with the A100); use --amp fp16")
        procs = distributed.start(device)
        set_threads(args, procs)
        return train(args, config, recipe, data_settings, procs)
    except (UsageError, CheckpointError, DataUnavailableError, DataFormatError, FileNotFoundError, ValueError) as error:
        if procs is None or procs.is_main:
            print(f"train.py: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        distributed.stop()


if __name__ == "__main__":
    main()
