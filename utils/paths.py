"""Where the series keeps its files: the repository root, the data folder, and the git-ignored
cache for downloads (:mod:`utils.download`) and trained models (:mod:`utils.checkpoints`)."""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent   # the repository (a Colab clone included)
DATA_DIR = ROOT / "data"                        # the synthetic corpus ships here
CACHE_DIR = DATA_DIR / "cache"                  # downloads and trained models; delete it to start over
