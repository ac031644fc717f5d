"""The results files: one JSON object a line, written by the scripts, read here and nowhere else.

``results/claims.jsonl`` (``scripts/claims.py``: every checked claim of every recorded run) and
``results/real_data_recipes.jsonl`` (``scripts/real_data_recipes.py``: one trained model a line)
are appended to by people on several machines, merged by git and now and then edited by hand. So
:func:`read_results` names the file and the line of a row it cannot use — a line that is not JSON
(a merge conflict's ``<<<<<<<``, a half-written line) or a row without a field the reader needs —
and says what to do, instead of a ``JSONDecodeError`` at "line 1" of no file or a ``KeyError``.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from utils.paths import atomic_write


class ResultsFormatError(ValueError):
    """A results file with a line that is not a row: the message names the file and the line."""


def read_results(path: str | Path, required: Sequence[str] = ()) -> list[dict]:
    """The rows of the JSON-lines file at ``path``, in file order (blank lines skipped).

    Raises :class:`ResultsFormatError` naming ``path:line`` for a line that is not a JSON object
    or a row without one of the ``required`` fields, and ``FileNotFoundError`` naming a missing file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist" if not path.exists() else f"{path} is not a file")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise ResultsFormatError(f"{path}:{number}: not a JSON row ({error.msg} at column {error.colno}: "
                                     f"{line[:60]!r}{'…' if len(line) > 60 else ''}); mend or delete that line "
                                     "(a merge conflict or an interrupted write leaves such lines)") from None
        if not isinstance(row, dict):
            raise ResultsFormatError(f"{path}:{number}: a JSON {type(row).__name__}, not a row (an object "
                                     "{...}); mend or delete that line")
        missing = [name for name in required if name not in row]
        if missing:
            raise ResultsFormatError(f"{path}:{number}: the row has no {', '.join(map(repr, missing))} (every row "
                                     f"needs {', '.join(required)}); mend or delete that line")
        rows.append(row)
    return rows


def write_results(path: str | Path, rows: Sequence[dict]) -> None:
    """Write ``rows`` to ``path``, one JSON object a line, replacing the file whole or not at all
    (:func:`utils.paths.atomic_write`: an interrupted write leaves the old file)."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
