"""Checkpoints: a model, its config and vocabularies in one file, and ``train_or_load``.

Models are cached in ``data/cache/models/`` (git-ignored), keyed by everything that shapes them,
so a later notebook reuses an earlier one's model and a notebook alone in Colab trains its own.
"""
from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from utils.batching import ParallelData
from utils.data import CACHE_DIR
from utils.models import ModelConfig, Seq2Seq, build_model
from utils.runtime import seed_everything
from utils.text import Vocab
from utils.train import History, fit

MODEL_CACHE = CACHE_DIR / "models"


def save_checkpoint(path: str | Path, model: Seq2Seq, src_vocab: Vocab, tgt_vocab: Vocab,
                    history: History | None = None, extra: dict | None = None) -> None:
    """Weights, config, both vocabularies and the training history in one file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"config": asdict(model.config), "state_dict": model.state_dict(),
                "src_itos": src_vocab.itos, "tgt_itos": tgt_vocab.itos,
                "history": history.to_dict() if history else None, "extra": extra or {}}, path)


def load_checkpoint(path: str | Path, src_vocab: Vocab, tgt_vocab: Vocab,
                    device: torch.device | str = "cpu") -> tuple[Seq2Seq, History | None, dict]:
    """Rebuild a model saved by :func:`save_checkpoint` (``torch.load(weights_only=True)``).

    Raises ``ValueError`` if the checkpoint was trained with other vocabularies: its ids would
    mean other words.
    """
    blob = torch.load(path, map_location=device, weights_only=True)
    for side, vocab in (("src", src_vocab), ("tgt", tgt_vocab)):
        if blob[f"{side}_itos"] != vocab.itos:
            raise ValueError(f"{path}: checkpoint's {side} vocabulary ({len(blob[f'{side}_itos'])} tokens) "
                             f"differs from the one given ({len(vocab)} tokens); rebuild the vocabulary "
                             "from the data the model was trained on")
    model = build_model(ModelConfig(**blob["config"]), len(src_vocab), len(tgt_vocab), src_vocab.pad_id)
    model.load_state_dict(blob["state_dict"])
    history = History.from_dict(blob["history"]) if blob["history"] else None
    return model.to(device), history, blob["extra"]


def train_or_load(name: str, config: ModelConfig, data: ParallelData, *, epochs: int = 3, lr: float = 1e-2,
                  lr_decay: float = 0.1,
                  teacher_forcing: float | Callable[[int], float] = 1.0, schedule_name: str = "",
                  seed: int = 0, device: torch.device | str = "cpu", use_cache: bool = True,
                  validate: bool = False, verbose: bool = True, progress: bool = True) -> tuple[Seq2Seq, History]:
    """Train a model on ``data`` (or load the identical one from the cache).

    The defaults are the series' standard recipe, measured to train every model here well within
    the CPU budget: Adam, learning rate 1e-2 decaying linearly to 1e-3, batches of 64, 3 epochs.

    The cache key covers the config, training settings, vocabularies, corpus size, source
    reversal and torch version. ``schedule_name`` must describe a callable ``teacher_forcing``.
    ``validate=True`` records the validation loss after every epoch (``history.valid_loss``).
    """
    if callable(teacher_forcing) and not schedule_name:
        raise ValueError("give schedule_name when teacher_forcing is a schedule (it keys the cache)")
    key = json.dumps([asdict(config), epochs, lr, lr_decay, schedule_name or teacher_forcing, seed, data.reverse_source,
                      data.batch_size, len(data.train), data.src_vocab.itos, data.tgt_vocab.itos,
                      torch.__version__] + (["validate"] if validate else []), sort_keys=True)
    path = MODEL_CACHE / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"  # same setup, same file
    if use_cache and path.exists():
        model, history, _ = load_checkpoint(path, data.src_vocab, data.tgt_vocab, device)
        if verbose:
            print(f"{name}: loaded the model trained earlier in this series (delete data/cache/ to retrain)")
        return model, history
    seed_everything(seed)
    model = build_model(config, len(data.src_vocab), len(data.tgt_vocab), data.src_vocab.pad_id)
    start = time.perf_counter()
    history = fit(model, data.loader("train", seed=seed), epochs, lr=lr, lr_decay=lr_decay, teacher_forcing=teacher_forcing,
                  valid_loader=data.loader("valid") if validate else None,
                  device=device, pad_id=data.tgt_vocab.pad_id, verbose=verbose, progress=progress)
    if verbose:
        print(f"{name}: trained {epochs} epochs in {time.perf_counter() - start:.0f} s")
    if use_cache:
        save_checkpoint(path, model, data.src_vocab, data.tgt_vocab, history)
    return model, history
