"""utils.timing: interleaved order, medians, results kept."""
import pytest

from utils import timing
from utils.timing import time_interleaved


def test_tasks_run_interleaved_and_medians_are_taken(monkeypatch):
    calls, clock = [], iter([0, 1, 1, 3, 3, 4, 4, 10, 10, 11, 11, 12])   # A: 1, 1, 1; B: 2, 6, 1
    monkeypatch.setattr(timing.time, "perf_counter", lambda: next(clock))
    medians, results = time_interleaved({"A": lambda: calls.append("A") or "a",
                                         "B": lambda: calls.append("B") or "b"}, repeats=3)
    assert calls == ["A", "B"] * 3
    assert medians == {"A": 1, "B": 2}
    assert results == {"A": "a", "B": "b"}


def test_warmup_round_is_not_timed():
    calls = []
    medians, _ = time_interleaved({"A": lambda: calls.append("A")}, repeats=2, warmup=True)
    assert calls == ["A"] * 3 and medians["A"] >= 0


def test_needs_a_repeat():
    with pytest.raises(ValueError):
        time_interleaved({"A": lambda: None}, repeats=0)
