"""Timing that survives a busy machine: interleaved repetitions and medians (notebook 07).

Another process on the same cores slows whatever runs at that moment. Timing A three times and
then B three times lets a burst of load land on one side only; running A, B, A, B, A, B and
taking each one's median spreads it over both, so the *ratio* of two medians holds on another
machine even when the seconds do not. Numbers to print, never to assert.
"""
from __future__ import annotations

import statistics
import time
from typing import Any, Callable


def time_interleaved(tasks: dict[str, Callable[[], Any]], repeats: int = 3,
                     warmup: bool = False) -> tuple[dict[str, float], dict[str, Any]]:
    """Run every task once per round, in order, for ``repeats`` rounds (after one untimed round
    when ``warmup``). Returns the median seconds of each task and its last return value (so a
    timed computation's result can be checked too)."""
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    if warmup:
        for task in tasks.values():
            task()
    seconds: dict[str, list[float]] = {name: [] for name in tasks}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for name, task in tasks.items():
            start = time.perf_counter()
            results[name] = task()
            seconds[name].append(time.perf_counter() - start)
    return {name: statistics.median(times) for name, times in seconds.items()}, results
