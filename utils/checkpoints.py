"""Checkpoints: a model, its config and vocabularies in one file, and ``train_or_load``.

Models are cached in ``data/cache/models/`` (git-ignored), keyed by everything that shapes them —
config, training settings, the training data and the source code that builds and trains the
model — so a later notebook reuses an earlier one's model, a notebook alone in Colab trains its
own, and editing ``utils`` (then restarting the kernel) retrains instead of loading a stale model.
"""
from __future__ import annotations

import ast
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Callable

import torch

from utils.build import Config, build_model, config_from_dict, config_to_dict
from utils.parallel_data import ParallelData
from utils.paths import CACHE_DIR, atomic_write
from utils.provenance import TrainedWith, trained_with
from utils.runtime import seed_everything, series_seed
from utils.seq2seq import Seq2Seq
from utils.text import Vocab
from utils.train import History, fit

MODEL_CACHE = CACHE_DIR / "models"
# The modules whose code decides what a trained model is: editing one of them retrains.
CODE_FILES = tuple(Path(__file__).with_name(name)
                   for name in ("seq2seq.py", "build.py", "models.py", "attention.py", "transformer.py", "train.py",
                                "batching.py", "parallel_data.py"))
# The other modules of utils that the model code (CODE_FILES, and this module's train_or_load) imports,
# directly or not, and why their code is left out of the fingerprint. A module the model code comes to
# import must be in one of the two lists (tests/test_checkpoints.py walks the imports): a new decoder
# in a file of its own goes into CODE_FILES, or editing it would never retrain the cached model.
OUTSIDE_THE_FINGERPRINT = {
    "text": "tokenisation and Vocab: they shape the data, which the key holds (vocabularies, training pairs)",
    "languages": "language names and codes, and the anchor words of the measurements",
    "data": "reading files: the pairs it gives are in the key (the data fingerprint)",
    "corpus": "the synthetic corpus: its pairs are in the key (the data fingerprint)",
    "pairs": "the sentence-pair type: its tokens are in the key",
    "subwords": "subword pieces: the pieces are the vocabulary and the tokens, both in the key",
    "paths": "where files live",
    "progress": "progress bars: what training shows, not what it computes",
    "provenance": "the record of what a model was trained with, checked when it translates; not its weights",
    "runtime": "devices, threads and seed_everything: the seed is in the key, the seeding code is not "
               "(putting it in would retrain every cached model; edit how it seeds with care)",
    "checkpoints": "this module: the key itself; train_or_load passes fit the settings the key records",
}


def _code_only(source: str) -> str:
    """The module's syntax tree without docstrings (comments are not in it): what it *does*."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body
                and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    # The same text on every Python: 3.12 added empty ``type_params`` fields, and 3.13's dump leaves
    # out empty fields unless asked (Colab runs 3.13; the results files record this fingerprint).
    for node in ast.walk(tree):
        if "type_params" in node._fields and not getattr(node, "type_params", None):
            delattr(node, "type_params")
    return ast.dump(tree, **({"show_empty": True} if sys.version_info >= (3, 13) else {}))


def source_fingerprint(paths: tuple[Path, ...] = CODE_FILES) -> str:
    """A short SHA-256 of the code in ``paths`` (the modules that build and train a model).
    Editing code changes it; editing comments or docstrings does not."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).name.encode() + b"\0" + _code_only(Path(path).read_text()).encode() + b"\0")
    return digest.hexdigest()[:16]


# Taken when this module is imported, i.e. of the code this Python process runs: after editing
# utils, restart the kernel, and the models are trained anew by the new code.
CODE_FINGERPRINT = source_fingerprint()


def data_fingerprint(data: ParallelData) -> str:
    """A short SHA-256 of the training pairs (two corpora with the same vocabulary differ here)."""
    digest = hashlib.sha256()
    for pair in data.train:
        digest.update((" ".join(pair.src_tokens) + "\t" + " ".join(pair.tgt_tokens) + "\n").encode())
    return digest.hexdigest()[:16]


class CheckpointError(ValueError):
    """A file that is not a readable checkpoint of this series; the message names the file."""


CHECKPOINT_KEYS = ("config", "state_dict", "src_itos", "tgt_itos")


def atomic_save(obj, path: str | Path) -> None:
    """``torch.save(obj, path)`` that never leaves half a file at ``path``
    (:func:`utils.paths.atomic_write`): an interrupted save leaves the old file, or none."""
    atomic_write(path, lambda f: torch.save(obj, f))


def save_checkpoint(path: str | Path, model: Seq2Seq, src_vocab: Vocab, tgt_vocab: Vocab,
                    history: History | None = None, extra: dict | None = None) -> None:
    """Weights, config, both vocabularies, the training history and the model's
    :class:`~utils.provenance.TrainedWith` record (when it has one) in one file, written whole or
    not at all (:func:`atomic_save`)."""
    record = trained_with(model)
    atomic_save({"config": config_to_dict(model.config), "state_dict": model.state_dict(),
                 "src_itos": src_vocab.itos, "tgt_itos": tgt_vocab.itos,
                 "history": history.to_dict() if history else None, "extra": extra or {},
                 "trained_with": record.to_dict() if record else None}, path)


def _read_checkpoint(path: Path, device: torch.device | str) -> dict:
    """``torch.load(weights_only=True)``, with errors that name the file and say what it is instead."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    try:
        blob = torch.load(path, map_location=device, weights_only=True)
    except PermissionError:
        raise                   # the message names the file and the cause is not the file's bytes
    except Exception as error:  # UnpicklingError, EOFError, OSError (a cut-off zip): whatever the bytes give
        reason = (str(error).strip().splitlines() or [""])[0][:160]
        raise CheckpointError(f"{path} is not a checkpoint torch.load can read ({type(error).__name__}: {reason}): "
                              "another kind of file, or one whose writing was cut off. Delete it, or give a file "
                              "written by save_checkpoint (train_or_load retrains a cache file like this by "
                              "itself)") from None
    if not isinstance(blob, dict) or any(key not in blob for key in CHECKPOINT_KEYS):
        if isinstance(blob, dict) and blob and all(isinstance(v, torch.Tensor) for v in blob.values()):
            what = "a bare state_dict (weights only, without config and vocabularies)"
        else:
            what = f"a {type(blob).__name__} without " + ", ".join(
                repr(k) for k in CHECKPOINT_KEYS if not isinstance(blob, dict) or k not in blob)
        raise CheckpointError(f"{path} is not a checkpoint of this series: it holds {what}; save models with "
                              "save_checkpoint")
    return blob


def load_checkpoint(path: str | Path, src_vocab: Vocab, tgt_vocab: Vocab,
                    device: torch.device | str = "cpu") -> tuple[Seq2Seq, History | None, dict]:
    """Rebuild a model saved by :func:`save_checkpoint` (``torch.load(weights_only=True)``).

    Raises ``ValueError`` if the checkpoint was trained with other vocabularies (its ids would
    mean other words), and :class:`CheckpointError` (a ``ValueError``) naming the file when it is
    not a checkpoint, or one whose config or weights this version's models cannot take. The model
    returned carries a :class:`~utils.provenance.TrainedWith` record (``model.trained_with``).
    """
    path = Path(path)
    blob = _read_checkpoint(path, device)
    if blob["src_itos"] == tgt_vocab.itos and blob["tgt_itos"] == src_vocab.itos and src_vocab != tgt_vocab:
        raise ValueError(f"{path}: the source and target vocabularies are swapped: pass the source language's "
                         "vocabulary (the one the model reads) first")
    for side, vocab in (("src", src_vocab), ("tgt", tgt_vocab)):
        if blob[f"{side}_itos"] != vocab.itos:
            raise ValueError(f"{path}: checkpoint's {side} vocabulary ({len(blob[f'{side}_itos'])} tokens) "
                             f"differs from the one given ({len(vocab)} tokens); rebuild the vocabulary "
                             "from the data the model was trained on")
    try:
        config = config_from_dict(blob["config"])
    except ValueError as error:
        raise CheckpointError(f"{path}: {error}; the file was written by another version of the series: "
                              "retrain, or delete it to let train_or_load retrain") from None
    try:
        model = build_model(config, len(src_vocab), len(tgt_vocab), src_vocab.pad_id)
        model.load_state_dict(blob["state_dict"])
    except (ValueError, RuntimeError, TypeError) as error:
        reason = (str(error).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(f"{path}: the saved model does not fit this version's models "
                              f"({type(error).__name__}: {reason}); retrain it") from None
    record = blob.get("trained_with")
    model.trained_with = (TrainedWith.from_dict(record) if record else TrainedWith.of(src_vocab, tgt_vocab))
    history = History.from_dict(blob["history"]) if blob.get("history") else None
    return model.to(device), history, blob.get("extra") or {}


def checkpoint_vocabularies(path: str | Path) -> tuple[Vocab, Vocab]:
    """The source and target vocabularies saved in a checkpoint: what :func:`load_checkpoint`
    needs when the training data is not at hand (``scripts/translate.py``). Raises
    :class:`CheckpointError` naming the file when it is not a checkpoint of this series."""
    path = Path(path)
    blob = _read_checkpoint(path, "cpu")
    try:
        return Vocab(blob["src_itos"]), Vocab(blob["tgt_itos"])
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"{path}: its vocabularies are not readable ({error})") from None


def train_or_load(name: str, config: Config, data: ParallelData, *, epochs: int = 3, lr: float = 1e-2,
                  lr_decay: float = 0.1, coverage: float = 0.0, warmup: int = 0, label_smoothing: float = 0.0,
                  teacher_forcing: float | Callable[[int], float] = 1.0, schedule_name: str = "",
                  seed: int | None = None, device: torch.device | str = "cpu", use_cache: bool = True,
                  validate: bool = False, verbose: bool = True) -> tuple[Seq2Seq, History]:
    """Train a model on ``data`` (or load the identical one from the cache).

    The defaults are the series' standard recipe, measured to train every model here well within
    the CPU budget: Adam, learning rate 1e-2 decaying linearly to 1e-3, batches of 64, 3 epochs.

    The cache key covers the config, training settings, vocabularies, the training pairs, source
    reversal, the torch version and the source of the modules that build and train the model
    (:data:`CODE_FINGERPRINT`). ``schedule_name`` must describe a callable ``teacher_forcing``.
    ``seed`` (default :func:`utils.runtime.series_seed`: 0 unless ``SEQ2SEQ_SEED`` is set) seeds the
    weights and the batch order. ``validate=True`` records the validation loss after every epoch
    (``history.valid_loss``);
    ``coverage`` weighs :func:`utils.train.coverage_penalty` in the loss (0: none); ``warmup``
    (steps) and ``label_smoothing`` are :func:`utils.train.fit`'s (0: none, notebook 08's Transformer).
    The model carries a :class:`~utils.provenance.TrainedWith` record: its vocabularies, the
    longest training source and the source order, which :mod:`utils.translate` checks and uses.
    """
    if callable(teacher_forcing) and not schedule_name:
        raise ValueError("give schedule_name when teacher_forcing is a schedule (it keys the cache)")
    seed = series_seed() if seed is None else seed
    key = json.dumps([config_to_dict(config), epochs, lr, lr_decay, schedule_name or teacher_forcing, seed,
                      data.reverse_source, data.batch_size, len(data.train), data_fingerprint(data),
                      data.src_vocab.itos, data.tgt_vocab.itos, torch.__version__, CODE_FINGERPRINT]
                     + (["validate"] if validate else []) + ([f"coverage {coverage}"] if coverage else [])
                     + ([f"warmup {warmup}"] if warmup else [])
                     + ([f"smoothing {label_smoothing}"] if label_smoothing else []),
                     sort_keys=True)
    path = MODEL_CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"  # same setup, same file
    record = TrainedWith.of(data.src_vocab, data.tgt_vocab, data.longest_source, data.reverse_source)
    if use_cache and path.exists():
        try:
            model, history, _ = load_checkpoint(path, data.src_vocab, data.tgt_vocab, device)
        except CheckpointError as error:   # cut off by an older version's interrupted save, say: train it again
            print(f"{name}: the cached model cannot be used, training it again. {error}")
        else:
            model.trained_with = record     # also for files saved before checkpoints stored it
            if verbose:
                print(f"{name}: loaded the model trained earlier in this series (delete data/cache/ to retrain)")
            return model, history
    seed_everything(seed)
    model = build_model(config, len(data.src_vocab), len(data.tgt_vocab), data.src_vocab.pad_id)
    model.trained_with = record
    start = time.perf_counter()
    history = fit(model, data.loader("train", seed=seed), epochs, lr=lr, lr_decay=lr_decay, coverage=coverage,
                  warmup=warmup, label_smoothing=label_smoothing, teacher_forcing=teacher_forcing,
                  valid_loader=data.loader("valid") if validate else None,
                  device=device, pad_id=data.tgt_vocab.pad_id, verbose=verbose)
    if verbose:
        print(f"{name}: trained {epochs} epochs in {time.perf_counter() - start:.0f} s")
    if use_cache:
        save_checkpoint(path, model, data.src_vocab, data.tgt_vocab, history)
    return model, history
