"""Training: ``fit`` (Adam, gradient clipping, teacher forcing with schedules) and ``evaluate``."""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import torch
import torch.nn as nn
import torch.nn.functional as F

from utils.progress import Progress

Schedule = Callable[[int], float]


# ----------------------------------------------------------------------------- schedules
def constant(ratio: float) -> Schedule:
    """Always feed the gold word with probability ``ratio``."""
    return lambda step: ratio


def linear_decay(k: float = 1.0, c: float = 1e-3, eps: float = 0.0) -> Schedule:
    """Bengio et al. (2015): $\\epsilon_i = \\max(\\epsilon, k - c\\,i)$."""
    return lambda step: max(eps, k - c * step)


def exponential_decay(k: float = 0.999) -> Schedule:
    """Bengio et al. (2015): $\\epsilon_i = k^i$ with $k < 1$."""
    return lambda step: k ** step


def inverse_sigmoid_decay(k: float = 200.0) -> Schedule:
    """Bengio et al. (2015): $\\epsilon_i = k / (k + \\exp(i / k))$ with $k \\ge 1$."""
    return lambda step: k / (k + math.exp(min(step / k, 700.0)))


# ----------------------------------------------------------------------------- loss
def sequence_loss(logits: torch.Tensor, tgt_out: torch.Tensor, pad_id: int,
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean cross-entropy over real (non-pad) target tokens.

    ``logits [batch, T, V]``, ``tgt_out [batch, T]``. ``label_smoothing`` ε trains towards
    ``1 − ε`` on the right word and ε spread over the whole vocabulary (Szegedy et al., 2016)."""
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1), ignore_index=pad_id,
                           label_smoothing=label_smoothing)


def coverage_penalty(weights: torch.Tensor, src_mask: torch.Tensor, tgt_mask: torch.Tensor) -> torch.Tensor:
    """How unevenly the target's attention covers the source ("doubly stochastic attention", Xu et
    al., 2015): each source position should receive, summed over the target words, about the same
    total weight ``T / S``. Mean over sentences of ``Σ_j (Σ_t α_tj − T/S)² / S``; 0 when every
    position is read equally, large when every word looks at the same position.

    ``weights [batch, T, S]``, ``src_mask [batch, S]``, ``tgt_mask [batch, T]`` (True = real).

    Taught in notebook 06.
    """
    received = (weights * tgt_mask.unsqueeze(-1)).sum(1)                  # [batch, S]
    n_src, n_tgt = src_mask.sum(1, keepdim=True), tgt_mask.sum(1, keepdim=True)
    squared = ((received - n_tgt / n_src) ** 2) * src_mask
    return (squared.sum(1) / n_src.squeeze(1)).mean()


# ----------------------------------------------------------------------------- learning rate
def warmup_then_decay(steps: int, warmup: int = 0, lr_decay: float = 1.0) -> Schedule:
    """The learning-rate factor of :func:`fit` for a run of ``steps`` updates (step ``s`` counts from
    0): a linear warm-up from ``1 / warmup`` to 1 over the first ``warmup`` steps, then a linear
    fall to ``lr_decay`` at the last step. For ``torch.optim.lr_scheduler.LambdaLR``."""
    total_steps = max(1, steps - 1)

    def lr_factor(s: int) -> float:
        if s < warmup:
            return (s + 1) / warmup
        return 1.0 - (1.0 - lr_decay) * (min(s, total_steps) - warmup) / max(1, total_steps - warmup)

    return lr_factor


@dataclass
class History:
    """What happened during training, for plots."""

    step_loss: list[float] = field(default_factory=list)     # training loss of every batch
    step_time: list[float] = field(default_factory=list)     # seconds since the start, per batch
    step_ratio: list[float] = field(default_factory=list)    # teacher-forcing ratio, per batch
    epoch_loss: list[float] = field(default_factory=list)    # mean training loss per epoch
    valid_loss: list[float] = field(default_factory=list)    # validation loss per epoch (teacher-forced)
    epoch_time: list[float] = field(default_factory=list)    # seconds per epoch

    def to_dict(self) -> dict[str, list[float]]:
        """The lists by name (copies: changing the dict leaves this history alone)."""
        return {name: list(values) for name, values in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """A history from :meth:`to_dict`'s output (the lists are copied)."""
        return cls(**{k: list(v) for k, v in d.items()})


CLIP_NORM = 1.0
"""The largest gradient norm :func:`fit` lets through (``clip_grad_norm_``): one step can move the
weights only so far, however steep the loss."""


def fit(model: nn.Module, loader: Iterable, epochs: int, *, lr: float = 3e-3,
        teacher_forcing: float | Schedule = 1.0, lr_decay: float = 1.0, warmup: int = 0,
        label_smoothing: float = 0.0, coverage: float = 0.0, valid_loader: Iterable | None = None,
        device: torch.device | str = "cpu", pad_id: int = 0, verbose: bool = True,
        on_step_end: Callable[[int, nn.Module], None] | None = None) -> History:
    """Train ``model`` (a :class:`utils.seq2seq.Seq2Seq`) with Adam, gradients clipped to norm
    :data:`CLIP_NORM`.

    ``teacher_forcing`` is a ratio in [0, 1] or a schedule ``step -> ratio`` (notebook 04). The
    learning rate rises linearly over ``warmup`` steps from ``lr / warmup`` to ``lr``, then falls
    linearly to ``lr * lr_decay`` by the last step. ``label_smoothing`` is passed to
    :func:`sequence_loss` (notebook 07); ``coverage`` > 0 adds that multiple of
    :func:`coverage_penalty` to the loss (notebook 06). With ``valid_loader`` the validation loss is
    recorded after each epoch. ``verbose`` shows a progress bar (:class:`utils.progress.Progress`:
    in a notebook it turns into one line of text when training ends; ``TQDM_DISABLE=1`` turns it
    off) and prints one line per epoch. ``on_step_end(step, model)`` is called after each update
    (to take snapshots, say); training mode is restored after it. Returns a :class:`History`.

    Taught in notebook 01.
    """
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    if coverage and not getattr(getattr(model, "decoder", None), "has_attention", False):
        raise ValueError("coverage > 0 needs a model with attention: the penalty is computed from its "
                         "attention weights, and this model has none (a vanilla decoder)")
    schedule = teacher_forcing if callable(teacher_forcing) else constant(float(teacher_forcing))
    model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_then_decay(epochs * len(loader), warmup, lr_decay))
    history, step, start = History(), 0, time.perf_counter()
    # One bar for the whole run; TQDM_DISABLE=1 turns it off (how the committed notebooks are run).
    with Progress(total=epochs * len(loader), desc="training", unit="batches",
                  disable=None if verbose else True) as bar:
        for epoch in range(1, epochs + 1):
            model.train()
            epoch_start, total, count = time.perf_counter(), 0.0, 0
            for batch in loader:
                batch = batch.to(device)
                ratio = float(schedule(step))
                tgt_in, tgt_out = batch.tgt[:, :-1], batch.tgt[:, 1:]   # [batch, T] each
                logits, weights = model(batch.src, batch.src_mask, tgt_in, teacher_forcing=ratio)
                loss = sequence_loss(logits, tgt_out, pad_id, label_smoothing)
                if coverage:
                    loss = loss + coverage * coverage_penalty(weights, batch.src_mask, tgt_out != pad_id)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
                optimizer.step()
                scheduler.step()
                step += 1
                history.step_loss.append(loss.item())
                history.step_time.append(time.perf_counter() - start)
                history.step_ratio.append(ratio)
                total, count = total + loss.item(), count + 1
                bar.set_postfix(epoch=f"{epoch}/{epochs}", loss=f"{loss.item():.3f}")
                bar.update()
                if on_step_end is not None:
                    on_step_end(step, model)
                    model.train()
            history.epoch_loss.append(total / count)
            history.epoch_time.append(time.perf_counter() - epoch_start)
            line = f"epoch {epoch:2d}  train loss {total / count:.3f}"
            if valid_loader is not None:
                history.valid_loss.append(evaluate(model, valid_loader, device, pad_id)["loss"])
                line += f"  valid loss {history.valid_loss[-1]:.3f}"
            if verbose:
                bar.write(line + f"  ({history.epoch_time[-1]:.1f} s)")
    return history


@torch.no_grad()
def evaluate(model: nn.Module, loader: Iterable, device: torch.device | str = "cpu",
             pad_id: int = 0) -> dict[str, float]:
    """Teacher-forced loss and next-token accuracy over real target tokens."""
    model.eval()
    total_loss, total_correct, total_tokens = 0.0, 0, 0
    for batch in loader:
        batch = batch.to(device)
        tgt_in, tgt_out = batch.tgt[:, :-1], batch.tgt[:, 1:]
        logits, _ = model(batch.src, batch.src_mask, tgt_in)
        real = tgt_out != pad_id                                   # [batch, T]
        n = int(real.sum())
        total_loss += sequence_loss(logits, tgt_out, pad_id).item() * n
        total_correct += int(((logits.argmax(-1) == tgt_out) & real).sum())
        total_tokens += n
    return {"loss": total_loss / total_tokens, "accuracy": total_correct / total_tokens}


def pairs_per_second(model: nn.Module, batches: list, pad_id: int = 0, optimizer: torch.optim.Optimizer | None = None,
                     repeats: int = 1, **forward_args) -> float:
    """Training speed: sentence pairs per second for forward + backward over ``batches`` (and an
    ``optimizer`` step per batch when one is given), the median of ``repeats`` timed passes after
    one warm-up batch. ``forward_args`` go to the model (``parallel=False``, ``teacher_forcing=0.0``).
    A measurement to print, never to assert: it depends on the machine and what else runs on it."""
    model.train()
    device = next(model.parameters()).device

    def train_on(batch) -> None:
        logits, _ = model(batch.src, batch.src_mask, batch.tgt[:, :-1], **forward_args)
        loss = sequence_loss(logits, batch.tgt[:, 1:], pad_id)
        if optimizer is not None:
            optimizer.zero_grad()
        loss.backward()
        if optimizer is not None:
            optimizer.step()

    def synchronize() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    train_on(batches[0])                                             # warm-up
    speeds = []
    for _ in range(repeats):
        synchronize()
        start = time.perf_counter()
        for batch in batches:
            train_on(batch)
        synchronize()
        speeds.append(sum(b.src.size(0) for b in batches) / (time.perf_counter() - start))
    model.zero_grad()
    return statistics.median(speeds)
