"""Train the series' models at scale: any preset, any language, one CPU, one GPU or many (torchrun).

    python scripts/train.py --preset rnn --pairs 18000                 # notebook 06's model and data
    python scripts/train.py --preset transformer --lang de --set epochs=20 --set d_model=256
    torchrun --nproc_per_node 4 scripts/train.py --preset transformer --amp bf16   # 4 GPUs
    python scripts/train.py --preset rnn --pairs 18000 --resume        # continue an interrupted run

The presets are :data:`utils.real_data.RECIPES` as it stands when the script runs — ``rnn`` notebook
06's model and recipe, ``vanilla`` and ``transformer`` notebook 08's — and ``--set field=value``
changes any field of the model, the recipe, the batches or the data. The data is
:mod:`utils.real_data`'s pipeline: the Tatoeba file of ``--lang`` (found or downloaded as the
notebooks do; ``--data`` names a file), pairs of at most ``max_tokens`` tokens a side, the shortest
``--pairs`` of them (all by default), a split in which no sentence is in two splits, words (seen
``min_freq`` times) or ``subword_vocab`` sentencepiece pieces. Training is
:func:`utils.train.fit`'s — Adam, gradient clipping, its learning-rate schedule, label smoothing,
the coverage penalty — and one process trains on the same batches in the same order as ``fit``.
After every epoch it prints the training and validation loss and greedy BLEU on (up to
``--bleu-sentences`` of) the distinct validation sentences, and writes to ``--out``:

* ``model.pt`` — a checkpoint :func:`utils.checkpoints.load_checkpoint` reads, as notebook 06 does
  (its ``extra`` holds the settings, the steps taken, BLEU per epoch and the subword models as
  tensors, which ``Subwords.from_tensor`` reads); also written when a run stops early;
* ``resume.pt`` — that plus the optimizer, learning-rate schedule, random-number generators and
  the place in the data order (epoch, step): ``--resume`` continues exactly where it stopped
  (also written every ``--save-every`` steps and when ``--stop-after-steps`` / ``--minutes`` stop it).

Both are written whole or not at all (:func:`utils.checkpoints.atomic_save`).

Under ``torchrun --nproc_per_node N`` the N processes train one model with DistributedDataParallel
(:mod:`utils.distributed`): each takes a disjoint share of every global batch of ``batch_size``
sentences, the loss is normalised over the global batch, so N processes take the steps one process
would (and record the same loss per step); rank 0 alone prints and writes files. ``--amp bf16|fp16``
computes in half precision on a GPU.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
import torch.nn as nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from utils import distributed, real_data  # noqa: E402
from utils.batching import collate  # noqa: E402
from utils.build import build_model, config_to_dict  # noqa: E402
from utils.checkpoints import CheckpointError, atomic_save, save_checkpoint  # noqa: E402
from utils.data import DataFormatError  # noqa: E402
from utils.download import DataUnavailableError, find_tatoeba  # noqa: E402
from utils.languages import LANGUAGES  # noqa: E402
from utils.parallel_data import ParallelData  # noqa: E402
from utils.progress import Progress  # noqa: E402
from utils.provenance import TrainedWith, fingerprint  # noqa: E402
from utils.real_data import Recipe, decode_and_score, grouped_references, real_corpus, real_splits  # noqa: E402
from utils.runtime import THREADS_ENV, get_device, seed_everything  # noqa: E402
from utils.seq2seq import count_parameters  # noqa: E402
from utils.train import CLIP_NORM, History, coverage_penalty, evaluate, sequence_loss, warmup_then_decay  # noqa: E402


# ----------------------------------------------------------------------------- settings and presets
@dataclass(frozen=True)
class Batches:
    """What the script adds to a :class:`~utils.real_data.Recipe`: the batches and the seed."""

    batch_size: int = real_data.BATCH_SIZE   # sentences per global batch (shared among the processes)
    clip: float = CLIP_NORM        # gradient norm clipping (fit's)
    teacher_forcing: float = 1.0   # probability of feeding the gold previous word
    seed: int = 0                  # the weights, the batch order and dropout


@dataclass(frozen=True)
class DataSettings:
    """The real-data pipeline's settings (:mod:`utils.real_data`; its defaults are the notebooks')."""

    max_tokens: int = real_data.MAX_TOKENS   # pairs longer than this on either side are left out
    units: str = "subwords"        # "words" or "subwords"
    subword_vocab: int = real_data.SUBWORDS  # sentencepiece pieces per language (units=subwords)
    min_freq: int = real_data.MIN_FREQ       # words seen fewer times become <unk> (units=words)


@dataclass(frozen=True)
class Settings:
    """Everything a run is trained with: the recipe (its model config inside), batches, data."""

    recipe: Recipe
    batches: Batches = Batches()
    data: DataSettings = DataSettings()

    def groups(self) -> dict[str, object]:
        """The settings ``--set`` can change, by group: each a dataclass (the recipe's config is
        the ``model`` group, so the ``recipe`` group leaves out its ``config`` field)."""
        return {"model": self.recipe.config, "recipe": self.recipe, "batches": self.batches, "data": self.data}

    def field_names(self) -> dict[str, str]:
        """Each field ``--set`` knows → its group."""
        return {f.name: group for group, part in self.groups().items() for f in fields(part) if f.name != "config"}


def presets() -> dict[str, Settings]:
    """One preset per recipe of :data:`utils.real_data.RECIPES`, read when called (a recipe changed
    there is the preset's at the next run)."""
    return {name: Settings(recipe) for name, recipe in real_data.RECIPES.items()}


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


def apply_overrides(preset: str, assignments: list[str]) -> Settings:
    """The preset's settings with ``field=value`` assignments applied."""
    every = presets()
    if preset not in every:
        raise UsageError(f"unknown preset {preset!r}; choose one of {sorted(every)}")
    settings = every[preset]
    for assignment in assignments:
        name, sep, text = assignment.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise UsageError(f"--set {assignment!r}: expected field=value, e.g. --set epochs=10")
        known = settings.field_names()
        if name not in known:
            listing = "; ".join(f"{group}: {', '.join(f for f, g in known.items() if g == group)}"
                                for group in settings.groups())
            raise UsageError(f"--set {name}: preset {preset!r} has no field {name!r}. Its fields are {listing}")
        group = known[name]
        part = settings.groups()[group]
        changed = replace(part, **{name: _parse_value(name, text, getattr(part, name))})
        settings = (replace(settings, recipe=replace(settings.recipe, config=changed)) if group == "model"
                    else replace(settings, **{group: changed}))
    if settings.data.units not in ("words", "subwords"):
        raise UsageError(f"units={settings.data.units!r}: choose 'words' or 'subwords'")
    for name, value in (("epochs", settings.recipe.epochs), ("batch_size", settings.batches.batch_size),
                        ("max_tokens", settings.data.max_tokens)):
        if value < 1:
            raise UsageError(f"{name} must be at least 1")
    if not 0.0 <= settings.batches.teacher_forcing <= 1.0:
        raise UsageError(f"teacher_forcing must be in [0, 1], got {settings.batches.teacher_forcing}")
    return settings


# ----------------------------------------------------------------------------- data and validation
def load_data(args, settings: Settings) -> tuple[Path, ParallelData]:
    """The data file and the corpus :mod:`utils.real_data` makes of it (``args.pairs`` pairs at
    most; all of them by default)."""
    if args.data is not None:
        path = Path(args.data)
        if not path.is_file():
            raise UsageError(f"--data {path}: " + ("no such file" if not path.exists() else "not a file"))
    else:
        path = find_tatoeba(args.lang)
    data = settings.data
    splits = real_splits(args.lang, path, data.max_tokens, args.pairs or sys.maxsize)
    if sum(map(len, splits)) < 10 or not splits[1]:
        raise UsageError(f"{path}: only {sum(map(len, splits))} pairs of at most {data.max_tokens} tokens a side, "
                         f"{len(splits[1])} of them for validation; give more pairs (raise max_tokens, --pairs, "
                         "or give more data)")
    return path, real_corpus(splits, args.lang, data.units, data.subword_vocab, data.min_freq,
                             settings.batches.batch_size)


def validation_bleu(model: nn.Module, data: ParallelData, limit: int) -> float:
    """Greedy multi-reference BLEU on words (as notebooks 06 and 08 score) of the first ``limit``
    distinct validation sources."""
    sources, references = grouped_references(data.valid)
    return decode_and_score(model, data, sources[:limit], references[:limit], beam_size=1).bleu


# ----------------------------------------------------------------------------- resume files
def run_identity(args, settings: Settings) -> dict:
    """Everything that makes a run what it is: a resumed run must have the same."""
    return {"model": config_to_dict(settings.recipe.config), "recipe": settings.recipe.record()["training"],
            "batches": asdict(settings.batches), "data": asdict(settings.data),
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
    if "batches" not in saved or "epoch_sum" not in blob:
        raise CheckpointError(f"--resume {path}: written by an older version of scripts/train.py, whose resume "
                              "files this one does not read; finish the run with that version, or start anew")
    if saved["model"] != identity["model"]:
        theirs, ours = saved["model"], identity["model"]
        diff = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        raise CheckpointError(f"--resume {path}: it holds another model: "
                              + ", ".join(f"{k}={theirs.get(k)!r} there, {ours.get(k)!r} here" for k in diff)
                              + ". Give the same --preset and --set model fields, or another --out")
    other = [f"{group}.{k}: {saved[group].get(k)!r} there, {identity[group][k]!r} here"
             for group in ("recipe", "batches", "data") for k in identity[group]
             if saved[group].get(k) != identity[group][k]]
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
@dataclass
class Place:
    """Where a run stands: the epoch it is in (from 1), the steps done in that epoch and in all,
    the sum of that epoch's step losses, and what it recorded so far. A resumed run restores all of it."""

    epoch: int = 1
    done_in_epoch: int = 0
    step: int = 0
    epoch_sum: float = 0.0
    history: History = field(default_factory=History)
    bleu: list[float] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"epoch": self.epoch, "done_in_epoch": self.done_in_epoch, "step": self.step,
                "epoch_sum": self.epoch_sum, "history": self.history.to_dict(), "bleu": list(self.bleu)}

    @classmethod
    def from_dict(cls, blob: dict) -> "Place":
        return cls(blob["epoch"], blob["done_in_epoch"], blob["step"], blob["epoch_sum"],
                   History.from_dict(blob["history"]), list(blob["bleu"]))


class Trainer:
    """One model, its optimizer and schedule, and the batches of every epoch, on this process.

    :meth:`train_step` trains on this process's share of one global batch; :meth:`end_epoch`
    records the epoch and validates (rank 0); :meth:`save` writes the run's files; :meth:`restore`
    takes a resume file's state back."""

    def __init__(self, settings: Settings, data: ParallelData, procs: distributed.Processes, amp: str | None):
        self.settings, self.data, self.procs = settings, data, procs
        recipe, batches, device = settings.recipe, settings.batches, procs.device
        seed_everything(batches.seed)
        self.model = build_model(recipe.config, len(data.src_vocab), len(data.tgt_vocab), data.src_vocab.pad_id)
        self.model.trained_with = TrainedWith.of(data.src_vocab, data.tgt_vocab, data.longest_source,
                                                 data.reverse_source)
        self.model.to(device)
        if recipe.coverage and not getattr(self.model.decoder, "has_attention", False):
            raise UsageError("coverage > 0 needs a model with attention (this decoder has none): --set coverage=0")
        train_set = data.dataset("train")
        self.items = [train_set[i] for i in range(len(train_set))]     # id tensors, encoded once
        self.lengths = train_set.src_lengths()
        self.steps_per_epoch = len(self.batches_of(1))
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=recipe.lr)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, warmup_then_decay(recipe.epochs * self.steps_per_epoch, recipe.warmup, recipe.lr_decay))
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp == "fp16")   # torch >= 2.3, the oldest supported
        self.place = Place()
        if procs.distributed:
            torch.manual_seed(batches.seed + 1 + procs.rank)   # the same weights (seeded above), own dropout masks
        self.net = (nn.parallel.DistributedDataParallel(self.model, device_ids=[device.index]
                                                        if device.type == "cuda" else None)
                    if procs.distributed else self.model)

    def batches_of(self, epoch: int) -> list[list[int]]:
        """The global batches of ``epoch`` (indices of training pairs), as ``fit``'s loader gives them."""
        s = self.settings.batches
        return distributed.global_batches(self.lengths, s.batch_size, s.seed, epoch, self.procs.world_size)

    def restore(self, blob: dict) -> str | None:
        """Take back a resume file's state; a note when its random-number generators cannot be."""
        self.model.load_state_dict(blob["model"])
        self.optimizer.load_state_dict(blob["optimizer"])
        self.scheduler.load_state_dict(blob["scheduler"])
        self.scaler.load_state_dict(blob["scaler"])
        self.place = Place.from_dict(blob)
        per_rank, procs = blob["per_rank"], self.procs
        if len(per_rank) != procs.world_size:
            torch.manual_seed(self.settings.batches.seed + 1000 * self.place.step + procs.rank)
            return (f"{len(per_rank)} process(es) wrote it, this run has {procs.world_size}: the data order "
                    "continues exactly, the dropout masks cannot")
        torch.set_rng_state(per_rank[procs.rank]["cpu"])
        if procs.device.type == "cuda" and per_rank[procs.rank]["cuda"] is not None:
            torch.cuda.set_rng_state(per_rank[procs.rank]["cuda"], procs.device)
        return None

    def train_step(self, global_batch: list[int]) -> float:
        """One update on this process's share of ``global_batch``; returns the global batch's loss
        (the same on every process, and what one process with the whole batch records)."""
        procs, recipe, s = self.procs, self.settings.recipe, self.settings.batches
        pad_id = self.data.tgt_vocab.pad_id
        mine = distributed.shard(global_batch, procs.rank, procs.world_size)
        batch = collate([self.items[i] for i in mine], self.data.src_vocab.pad_id, pad_id).to(procs.device)
        tgt_in, tgt_out = batch.tgt[:, :-1], batch.tgt[:, 1:]          # [batch, T] each
        with torch.autocast(procs.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            logits, weights = self.net(batch.src, batch.src_mask, tgt_in, teacher_forcing=s.teacher_forcing)
            loss = sequence_loss(logits, tgt_out, pad_id, recipe.label_smoothing)
            penalty = (coverage_penalty(weights.float(), batch.src_mask, tgt_out != pad_id)
                       if recipe.coverage else None)
        if procs.distributed:
            # Means over the *global* batch: this process's share of the sums, times world_size
            # because DistributedDataParallel averages the gradients of the processes.
            tokens, sentences = int((tgt_out != pad_id).sum()), len(batch)
            all_tokens, all_sentences = distributed.all_sum([tokens, sentences], procs.device)
            loss = loss * (tokens * procs.world_size / all_tokens)
            if penalty is not None:
                penalty = penalty * (sentences * procs.world_size / all_sentences)
        if penalty is not None:
            loss = loss + recipe.coverage * penalty
        self.optimizer.zero_grad()
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        nn.utils.clip_grad_norm_(self.model.parameters(), s.clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        if not procs.distributed:
            return loss.item()
        (value,) = distributed.all_sum([loss.item() / procs.world_size], procs.device)   # the shares, summed
        return value

    def record_step(self, value: float, seconds: float) -> None:
        """Count the step and record its loss (from :meth:`train_step`) and time."""
        place = self.place
        place.step, place.done_in_epoch = place.step + 1, place.done_in_epoch + 1
        place.epoch_sum += value
        place.history.step_loss.append(value)
        place.history.step_ratio.append(self.settings.batches.teacher_forcing)
        place.history.step_time.append(seconds)

    def end_epoch(self, seconds: float, bleu_sentences: int) -> str | None:
        """Record the finished epoch's loss; rank 0 validates and returns the line to print. Then
        on to the next epoch."""
        place = self.place
        place.history.epoch_loss.append(place.epoch_sum / place.done_in_epoch)
        place.history.epoch_time.append(seconds)
        line = None
        if self.procs.is_main:
            place.history.valid_loss.append(evaluate(self.model, self.data.loader("valid"), self.procs.device,
                                                     self.data.tgt_vocab.pad_id)["loss"])
            place.bleu.append(validation_bleu(self.model, self.data, bleu_sentences))
            line = (f"epoch {place.epoch:2d}  train loss {place.history.epoch_loss[-1]:.3f}  valid loss "
                    f"{place.history.valid_loss[-1]:.3f}  valid BLEU {place.bleu[-1]:.1f}  ({seconds:.1f} s)")
        distributed.barrier()
        place.epoch, place.done_in_epoch, place.epoch_sum = place.epoch + 1, 0, 0.0
        return line

    def save(self, out: Path, identity: dict, model_too: bool) -> None:
        """Write resume.pt (all processes take part; rank 0 writes), and model.pt when ``model_too``."""
        device = self.procs.device
        per_rank = distributed.gather({"cpu": torch.get_rng_state(),        # what differs between the processes
                                       "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None})
        if not self.procs.is_main:
            return
        data, place = self.data, self.place
        if model_too:
            extra = {"identity": identity, "epochs_done": place.epoch - 1, "steps": place.step, "bleu": place.bleu,
                     "subwords": [data.src_subwords.to_tensor(), data.tgt_subwords.to_tensor()]
                     if data.src_subwords is not None else None}
            save_checkpoint(out / "model.pt", self.model, data.src_vocab, data.tgt_vocab, place.history, extra)
        atomic_save({"identity": identity, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                     "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                     "per_rank": per_rank, **place.to_dict(),
                     "src_fingerprint": fingerprint(data.src_vocab), "tgt_fingerprint": fingerprint(data.tgt_vocab),
                     "src_size": len(data.src_vocab), "tgt_size": len(data.tgt_vocab)}, out / "resume.pt")


def train(args, settings: Settings, procs: distributed.Processes) -> dict:
    """One run; returns a summary (rank 0's view)."""
    say = print if procs.is_main else (lambda *a, **k: None)
    data_path, data = load_data(args, settings)
    identity = run_identity(args, settings)
    out = Path(args.out)
    blob = read_resume(Path(args.resume), identity, data) if args.resume else None
    trainer = Trainer(settings, data, procs, args.amp)
    if blob is not None:
        note = trainer.restore(blob)
        if note:
            say(f"note: {args.resume}: {note}")
        place = trainer.place
        say(f"resuming {args.resume}: epoch {place.epoch}, {place.done_in_epoch} of {trainer.steps_per_epoch} steps "
            f"done ({place.step} in all)")
    describe(say, args, settings, data_path, data, trainer)
    stopped, trained_pairs, train_seconds = None, 0, 0.0
    start, recipe, place = time.perf_counter(), settings.recipe, trainer.place
    with Progress(total=recipe.epochs * trainer.steps_per_epoch, desc="training", unit="steps",
                  disable=None if (args.progress and procs.is_main) else True) as bar:
        bar.update(place.step)
        while place.epoch <= recipe.epochs and stopped is None:
            trainer.net.train()
            epoch_start = time.perf_counter()
            for global_batch in trainer.batches_of(place.epoch)[place.done_in_epoch:]:
                value = trainer.train_step(global_batch)
                trainer.record_step(value, time.perf_counter() - start)
                trained_pairs += len(global_batch)
                bar.set_postfix(epoch=f"{place.epoch}/{recipe.epochs}", loss=f"{value:.3f}")
                bar.update()
                mid_epoch = place.done_in_epoch < trainer.steps_per_epoch
                if args.save_every and place.step % args.save_every == 0 and mid_epoch:
                    trainer.save(out, identity, model_too=False)
                stopped = should_stop(args, place.step, time.perf_counter() - start, procs)
                if stopped:
                    break
            train_seconds += time.perf_counter() - epoch_start
            if stopped is not None and place.done_in_epoch < trainer.steps_per_epoch:
                trainer.save(out, identity, model_too=True)           # the model as it is now, too
                break
            line = trainer.end_epoch(time.perf_counter() - epoch_start, args.bleu_sentences)
            if line:
                bar.write(line)
            trainer.save(out, identity, model_too=True)               # a resumed run starts the next epoch
    speed = trained_pairs / train_seconds if train_seconds else math.nan
    say(f"training speed: {speed:,.0f} pairs/s over {trained_pairs:,} pairs ({procs.world_size} process(es), "
        "validation not counted)")
    if stopped:
        say(f"{stopped}; continue with the same command and --resume {out / 'resume.pt'}")
    else:
        say(f"done: {out / 'model.pt'} (load_checkpoint reads it), {out / 'resume.pt'}")
    return {"steps": place.step, "pairs_per_second": speed, "bleu": place.bleu, "stopped": stopped}


def describe(say, args, settings: Settings, data_path: Path, data: ParallelData, trainer: Trainer) -> None:
    """The run's data, model and processes, in two lines."""
    procs, s = trainer.procs, settings.data
    say(f"{data_path.name} ({args.lang}→en): {len(data.train) + len(data.valid) + len(data.test):,} pairs of "
        f"≤ {s.max_tokens} tokens; train {len(data.train):,}, valid {len(data.valid):,}; {s.units}: vocabularies "
        f"{len(data.src_vocab):,} / {len(data.tgt_vocab):,}")
    say(f"{type(settings.recipe.config).__name__}: {count_parameters(trainer.model):,} parameters; "
        f"{procs.world_size} process(es) on {procs.device}"
        f"{f' ({torch.get_num_threads()} threads each)' if procs.device.type == 'cpu' else ''}"
        f"{f', autocast {args.amp}' if args.amp else ''}; "
        f"{trainer.steps_per_epoch} steps of {settings.batches.batch_size} pairs an epoch")


def should_stop(args, step: int, seconds: float, procs: distributed.Processes) -> str | None:
    """Why the run stops after this step (``--stop-after-steps``, ``--minutes``: rank 0's clock), or None."""
    out_of_time = args.minutes is not None and seconds > 60 * args.minutes
    if args.minutes is not None:
        out_of_time = distributed.broadcast_flag(out_of_time, procs.device)
    if (args.stop_after_steps is not None and step >= args.stop_after_steps) or out_of_time:
        return f"stopped after {step} steps" + (f" ({args.minutes} min)" if out_of_time else "")
    return None


# ----------------------------------------------------------------------------- command line
def parse_args(argv=None) -> argparse.Namespace:
    every = presets()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     epilog="fields for --set: " + "; ".join(
                                         f"{name}: " + ", ".join(settings.field_names())
                                         for name, settings in every.items()))
    parser.add_argument("--preset", default="rnn", help=f"one of {sorted(every)} (default rnn: notebook 06's; "
                        "utils.real_data.RECIPES)")
    parser.add_argument("--set", dest="assignments", action="append", default=[], metavar="FIELD=VALUE",
                        help="change one field of the preset's model, recipe, batches or data (repeatable)")
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
        settings = apply_overrides(args.preset, args.assignments)
        device = get_device(args.device)
        if args.amp and device.type != "cuda":
            raise UsageError(f"--amp {args.amp} needs a GPU (autocast on {device} would only be slower); leave it out")
        if args.amp == "bf16" and not torch.cuda.is_bf16_supported():
            raise UsageError("--amp bf16: this GPU has no bfloat16 arithmetic (it came with the A100); use --amp fp16")
        procs = distributed.start(device)
        set_threads(args, procs)
        return train(args, settings, procs)
    except (UsageError, CheckpointError, DataUnavailableError, DataFormatError, FileNotFoundError, ValueError) as error:
        if procs is None or procs.is_main:
            print(f"train.py: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    finally:
        distributed.stop()


if __name__ == "__main__":
    main()
