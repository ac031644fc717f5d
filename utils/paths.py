"""Where the series keeps its files — the repository root, the data folder, and the git-ignored
cache for downloads (:mod:`utils.download`) and trained models (:mod:`utils.checkpoints`) — and
how it writes them: whole or not at all (:func:`atomic_write`)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import BinaryIO, Callable

ROOT = Path(__file__).resolve().parent.parent   # the repository (a Colab clone included)
DATA_DIR = ROOT / "data"                        # the synthetic corpus ships here
CACHE_DIR = DATA_DIR / "cache"                  # downloads and trained models; delete it to start over


def atomic_write(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Create or replace the file at ``path`` with what ``write(file)`` writes, never leaving half a file.

    The bytes go to a temporary file in the same folder (a unique name, so two processes writing
    the same file do not mix their bytes), flushed to disk, and then take ``path``'s name in one
    step (``os.replace``): a reader — or the next run after a kernel interrupted mid-write — finds
    the old file, or no file, or the whole new one. The temporary file is removed when ``write``
    fails or is interrupted. Makes ``path``'s folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:      # a new file, with the permissions any file here gets
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:               # KeyboardInterrupt too: an interrupted kernel leaves no litter
        tmp.unlink(missing_ok=True)
        raise
