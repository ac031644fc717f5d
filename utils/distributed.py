"""Training on several processes at once: ``torchrun``, DistributedDataParallel, and batches shared out.

``torchrun --nproc_per_node N script.py`` starts ``N`` copies of a script and tells each its
``RANK`` (0 … N−1) and the ``WORLD_SIZE`` N in environment variables. Each copy holds the whole
model; :class:`torch.nn.parallel.DistributedDataParallel` averages the gradients of the copies
after every backward pass, so their weights stay the same. What they must *not* share is the
data: here every process reads the same **global** batch of length-bucketed sentences
(:func:`global_batches`) and trains on its own disjoint share of it (:func:`shard`). With the loss
normalised over the global batch (the script's job), N processes with B/N sentences each take the
very step one process takes with B.

:func:`start` reads the environment: without ``torchrun`` it is one process and no process group;
with it, the ``nccl`` backend on GPUs (one per process) and ``gloo`` on the CPU.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.distributed as dist

from utils.batching import BucketBatchSampler


@dataclass(frozen=True)
class Processes:
    """Where this process stands among the processes that train together."""

    rank: int                 # 0 … world_size − 1; rank 0 alone prints and writes files
    world_size: int           # how many processes train together (1: no process group)
    local_rank: int           # rank among the processes of this machine (which GPU is ours)
    local_world_size: int     # processes on this machine (they share its CPU cores)
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit():
        raise ValueError(f"{name}={value!r}: expected a whole number (torchrun sets it)")
    return int(value)


def start(device: torch.device) -> Processes:
    """Join the process group ``torchrun`` described (``nccl`` on ``cuda``, one GPU per process;
    ``gloo`` on the CPU), or describe a single process when there is none. ``device`` is the kind
    of device to train on; under ``torchrun`` on GPUs, process ``local_rank`` takes ``cuda:local_rank``."""
    world_size, rank = _env_int("WORLD_SIZE", 1), _env_int("RANK", 0)
    local_rank, local_world = _env_int("LOCAL_RANK", 0), _env_int("LOCAL_WORLD_SIZE", world_size)
    if world_size == 1:
        return Processes(0, 1, 0, 1, device)
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(f"process {rank} (local rank {local_rank}) needs its own GPU, but torch sees "
                               f"{torch.cuda.device_count()}: start at most that many processes per machine "
                               "(torchrun --nproc_per_node)")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return Processes(rank, world_size, local_rank, local_world, device)


def stop() -> None:
    """Leave the process group together (nothing to do for a single process).

    The barrier first: a process that destroys its group while another still works (rank 0 writing
    the last checkpoint) can leave that one hanging in ``destroy_process_group`` for good — seen
    with gloo on torch 2.3.1 on a loaded CPU (pytorch/pytorch#75097 reports the same)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def global_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int,
                   world_size: int = 1) -> list[list[int]]:
    """The batches of epoch ``epoch`` (counting from 1): exactly those the ``epoch``-th pass of
    ``BucketBatchSampler(lengths, batch_size, seed=seed)`` gives — the order :func:`utils.train.fit`
    trains in with ``ParallelData.loader("train", seed=seed)`` — rebuilt from the seed alone, so a
    resumed run finds its place in the epoch again. A batch with fewer sentences than
    ``world_size`` (at most one: the remainder) is left out, since every process needs a share."""
    if epoch < 1:
        raise ValueError(f"epochs count from 1, got {epoch}")
    sampler = BucketBatchSampler(lengths, batch_size, shuffle=True, seed=seed)
    for _ in range(epoch - 1):
        for _ in sampler:        # each pass moves the sampler's random state on, as in training
            pass
    return [batch for batch in sampler if len(batch) >= world_size]


def shard(batch: Sequence[int], rank: int, world_size: int) -> list[int]:
    """Process ``rank``'s share of a global ``batch``: every ``world_size``-th sentence from the
    ``rank``-th. The shares are disjoint, cover the batch, and differ in size by at most one."""
    return list(batch[rank::world_size])


def all_sum(values: Sequence[float], device: torch.device) -> list[float]:
    """Each value summed over the processes (the values themselves for one process)."""
    if not (dist.is_available() and dist.is_initialized()):
        return [float(v) for v in values]
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tensor.tolist()


def gather(obj: Any) -> list[Any]:
    """``obj`` of every process, by rank (a one-item list for one process). Picklable objects only."""
    if not (dist.is_available() and dist.is_initialized()):
        return [obj]
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def broadcast_flag(flag: bool, device: torch.device) -> bool:
    """Rank 0's ``flag`` on every process (so that all stop together, say)."""
    if not (dist.is_available() and dist.is_initialized()):
        return flag
    tensor = torch.tensor([int(flag)], device=device)
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())


def barrier() -> None:
    """Wait until every process gets here."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
