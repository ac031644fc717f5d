"""State a claim in code: a readable ✓ line when it holds, a clear error when it does not.

When the environment variable ``SEQ2SEQ_CLAIMS_LEDGER`` names a file, every check also appends a
JSON line to it (the claim, whether it held, its evidence and the numbers in it, the seed, the
notebook): ``scripts/claims.py`` runs the notebooks that way over seeds and torch builds and
reports how far each checked quantity moves.

A condition written with :func:`above`, :func:`below`, :func:`at_least` or :func:`at_most` (joined
with ``&``) also records each side of each comparison and its *margin*: how far the measured value
was from the threshold, positive when the comparison held. ``check(below(aer, 0.24), ...)`` prints
exactly what ``check(aer < 0.24, ...)`` prints; the ledger then knows how close the claim came to
failing in every run.
"""
from __future__ import annotations

import json
import os
import re

LEDGER_ENV = "SEQ2SEQ_CLAIMS_LEDGER"
NOTEBOOK_ENV = "SEQ2SEQ_NOTEBOOK"
_NUMBER = re.compile(r"[-+]?\d[\d,]*\.?\d*")


class ClaimFailed(AssertionError):
    """A claim the notebook's text makes did not hold in this run."""


_HOLDS = {">": lambda v, t: v > t, "<": lambda v, t: v < t, ">=": lambda v, t: v >= t, "<=": lambda v, t: v <= t}


class Comparison:
    """One or more comparisons ``value op threshold`` that are true when all of them hold.

    ``bool(c)`` is whether they all hold; ``c.parts`` lists each with its margin (``value −
    threshold`` for ``>``/``>=``, ``threshold − value`` for ``<``/``<=``: positive when it holds)."""

    def __init__(self, parts: list[dict]):
        self.parts = parts

    def __bool__(self) -> bool:
        return all(_HOLDS[p["op"]](p["value"], p["threshold"]) for p in self.parts)

    def __and__(self, other: "Comparison") -> "Comparison":
        if not isinstance(other, Comparison):
            raise TypeError("join comparisons with & only to other comparisons (above, below, at_least, at_most)")
        return Comparison(self.parts + other.parts)

    def __repr__(self) -> str:
        return " and ".join(f"{p['value']:g} {p['op']} {p['threshold']:g}" for p in self.parts)


def _plain(x) -> float:
    """A plain float from a Python or NumPy number or a one-element tensor (detached first: a
    tensor that needs a gradient would warn)."""
    return float(x.detach()) if hasattr(x, "detach") else float(x)


def _compare(value, op: str, threshold) -> Comparison:
    value, threshold = _plain(value), _plain(threshold)
    margin = value - threshold if op in (">", ">=") else threshold - value
    return Comparison([{"value": value, "op": op, "threshold": threshold, "margin": margin}])


def above(value, threshold) -> Comparison:
    """``value > threshold``, remembered with its margin."""
    return _compare(value, ">", threshold)


def below(value, threshold) -> Comparison:
    """``value < threshold``, remembered with its margin."""
    return _compare(value, "<", threshold)


def at_least(value, threshold) -> Comparison:
    """``value >= threshold``, remembered with its margin."""
    return _compare(value, ">=", threshold)


def at_most(value, threshold) -> Comparison:
    """``value <= threshold``, remembered with its margin."""
    return _compare(value, "<=", threshold)


def numbers(evidence: str) -> list[float]:
    """The numbers in an evidence string, in order (``"AER 0.204 vs 1,200 pairs, 61%"`` → ``[0.204, 1200.0, 61.0]``)."""
    return [float(n.replace(",", "")) for n in _NUMBER.findall(evidence)]


def _record(held: bool, claim: str, evidence: str, comparisons: list[dict] | None) -> None:
    """Append the check to the ledger file, when ``SEQ2SEQ_CLAIMS_LEDGER`` names one."""
    path = os.environ.get(LEDGER_ENV)
    if not path:
        return
    import platform

    import torch

    from utils.runtime import series_seed

    # torch and Python of the process that ran the check (the notebook's kernel), not of the caller
    entry = {"notebook": os.environ.get(NOTEBOOK_ENV, ""), "seed": series_seed(), "torch": torch.__version__,
             "python": platform.python_version(), "claim": claim,
             "held": bool(held), "evidence": evidence, "numbers": numbers(evidence)}
    if comparisons:
        entry["comparisons"] = comparisons
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def check(condition: bool | Comparison, claim: str, evidence: str = "") -> None:
    """Print ``✓ claim (evidence)`` or raise :class:`ClaimFailed` with the same words.

    >>> check(2 > 1, "two beats one", "2 vs 1")
    ✓ two beats one  (2 vs 1)
    >>> check(above(2, 1) & below(0.2, 0.24), "two beats one and the AER is low", "2 vs 1; AER 0.2")
    ✓ two beats one and the AER is low  (2 vs 1; AER 0.2)
    """
    comparisons = condition.parts if isinstance(condition, Comparison) else None
    condition = bool(condition)
    _record(condition, claim, evidence, comparisons)
    detail = f"  ({evidence})" if evidence else ""
    if not condition:
        raise ClaimFailed(f"✗ claim does not hold: {claim}{detail}")
    print(f"✓ {claim}{detail}")
