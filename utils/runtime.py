"""Device choice, seeding and a one-line description of the environment."""
from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch


def get_device(prefer: str | None = None) -> torch.device:
    """``cuda`` when a GPU is available, else ``cpu``. ``SEQ2SEQ_DEVICE=cpu`` (or ``prefer``) overrides."""
    choice = prefer or os.environ.get("SEQ2SEQ_DEVICE")
    if choice:
        if choice.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"device {choice!r} requested but torch sees no CUDA GPU")
        return torch.device(choice)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


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
