"""Device choice, seeding and a one-line description of the environment."""
from __future__ import annotations

import os
import platform
import random
import re

import numpy as np
import torch

DEVICE_ENV = "SEQ2SEQ_DEVICE"


CPU_THREADS = 2
"""The number of threads torch uses on the CPU in every notebook (:func:`use_cpu_threads`)."""
THREADS_ENV = "SEQ2SEQ_CPU_THREADS"


def use_cpu_threads(n: int | None = None) -> None:
    """Run torch's CPU operations on ``n`` threads (default :data:`CPU_THREADS`, or the environment
    variable ``SEQ2SEQ_CPU_THREADS``), a fixed number: different thread counts add up numbers in
    different orders, training amplifies the rounding, and a notebook's printed results would
    depend on the machine's cores. Two, because Colab and almost every laptop have two cores, and
    two threads train the series' small models about 1.4× faster than one. More threads may be
    faster on a bigger machine; the numbers then differ a little from the committed outputs."""
    if n is None:
        setting = os.environ.get(THREADS_ENV, "").strip()
        if setting and not setting.isdigit():
            raise ValueError(f"{THREADS_ENV}={setting!r}: expected a whole number of threads, e.g. 2")
        n = int(setting) if setting else CPU_THREADS
    if n < 1:
        raise ValueError(f"the number of CPU threads must be at least 1, got {n}")
    torch.set_num_threads(n)


def get_device(prefer: str | None = None) -> torch.device:
    """``cuda`` when a GPU is available, else ``cpu``. ``SEQ2SEQ_DEVICE`` (or ``prefer``) overrides.

    The setting is ``cpu``, ``cuda`` or ``cuda:N``, in any case (``CPU`` works). Anything else —
    ``gpu``, a typo, or a torch device this series does not run on (``mps``, ``meta``, …) — is a
    ``ValueError`` that names the setting; a GPU torch cannot see is a ``RuntimeError``.
    """
    choice = prefer or os.environ.get(DEVICE_ENV)
    if not choice or not choice.strip():
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    setting = f"get_device(prefer={choice!r})" if prefer else f"{DEVICE_ENV}={choice}"
    name = choice.strip().lower()
    match = re.fullmatch(r"(cpu|cuda)(?::(\d+))?", name)
    if match is None or (match[1] == "cpu" and match[2] not in (None, "0")):
        hint = " (torch calls a GPU 'cuda')" if name.startswith("gpu") else ""
        if not hint and match is None and _torch_knows(name):
            hint = f" ('{name}' is a torch device, but the series runs on cpu and cuda only)"
        raise ValueError(f"{setting}: not a device this series runs on{hint}; use 'cpu', 'cuda' or "
                         "'cuda:N' (N counts from 0), or leave it unset to use a GPU when there is one")
    if match[1] == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(f"{setting}: device {name!r} requested but torch sees no CUDA GPU; "
                               f"use 'cpu', or leave {DEVICE_ENV} unset")
        count = torch.cuda.device_count()
        if match[2] is not None and int(match[2]) >= count:
            raise RuntimeError(f"{setting}: torch sees {count} CUDA GPU(s), numbered cuda:0 to cuda:{count - 1}")
    return torch.device(name)


def _torch_knows(name: str) -> bool:
    try:
        torch.device(name)
    except RuntimeError:
        return False
    return True


SEED_ENV = "SEQ2SEQ_SEED"


def series_seed() -> int:
    """The seed every model of the series trains with (:func:`utils.checkpoints.train_or_load`'s
    default): 0, as in the committed outputs, unless the environment variable ``SEQ2SEQ_SEED`` says
    otherwise (``scripts/claims.py`` runs the notebooks with other seeds to measure their claims)."""
    value = os.environ.get(SEED_ENV, "0").strip() or "0"
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{SEED_ENV} must be an integer seed, got {value!r}") from None


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy and torch (CPU and GPU) so a run repeats on the same machine."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def describe_environment(device: torch.device | None = None) -> str:
    """E.g. ``'Python 3.11.7 · torch 2.13.0 · device cpu (2 threads) · vocab backend builtin'``."""
    from utils.text import BACKEND

    device = device or get_device()
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu ({torch.get_num_threads()} threads)"
    return (f"Python {platform.python_version()} · torch {torch.__version__} · device {where} · "
            f"vocab backend {BACKEND}")
