"""State a claim in code: a readable ✓ line when it holds, a clear error when it does not.

When the environment variable ``SEQ2SEQ_CLAIMS_LEDGER`` names a file, every check also appends a
JSON line to it (the claim, whether it held, its evidence and the numbers in it, the seed, the
notebook): ``scripts/claims.py`` runs the notebooks that way over seeds and torch builds and
reports how far each checked quantity moves.
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


def numbers(evidence: str) -> list[float]:
    """The numbers in an evidence string, in order (``"AER 0.204 vs 1,200 pairs, 61%"`` → ``[0.204, 1200.0, 61.0]``)."""
    return [float(n.replace(",", "")) for n in _NUMBER.findall(evidence)]


def _record(held: bool, claim: str, evidence: str) -> None:
    """Append the check to the ledger file, when ``SEQ2SEQ_CLAIMS_LEDGER`` names one."""
    path = os.environ.get(LEDGER_ENV)
    if not path:
        return
    from utils.runtime import series_seed

    entry = {"notebook": os.environ.get(NOTEBOOK_ENV, ""), "seed": series_seed(), "claim": claim,
             "held": bool(held), "evidence": evidence, "numbers": numbers(evidence)}
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def check(condition: bool, claim: str, evidence: str = "") -> None:
    """Print ``✓ claim (evidence)`` or raise :class:`ClaimFailed` with the same words.

    >>> check(2 > 1, "two beats one", "2 vs 1")
    ✓ two beats one  (2 vs 1)
    """
    _record(condition, claim, evidence)
    detail = f"  ({evidence})" if evidence else ""
    if not condition:
        raise ClaimFailed(f"✗ claim does not hold: {claim}{detail}")
    print(f"✓ {claim}{detail}")
