"""State a claim in code: a readable ✓ line when it holds, a clear error when it does not."""
from __future__ import annotations


class ClaimFailed(AssertionError):
    """A claim the notebook's text makes did not hold in this run."""


def check(condition: bool, claim: str, evidence: str = "") -> None:
    """Print ``✓ claim (evidence)`` or raise :class:`ClaimFailed` with the same words.

    >>> check(2 > 1, "two beats one", "2 vs 1")
    ✓ two beats one  (2 vs 1)
    """
    detail = f"  ({evidence})" if evidence else ""
    if not condition:
        raise ClaimFailed(f"✗ claim does not hold: {claim}{detail}")
    print(f"✓ {claim}{detail}")
