import os
import pathlib
import sys

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """The unit tests' models are tiny: one thread is fastest for them (and the CPU is shared)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


REAL_DATA_NOTEBOOK = "06_real_french_english.ipynb"


def pytest_collection_modifyitems(config, items):
    """Notebook 06 needs the Tatoeba pairs. When they cannot be found or downloaded, its cells are
    reported as *skipped*, with the reason and how to get the data (``-rs`` prints it), never run
    into an error or passed silently."""
    notebook = [item for item in items if item.path.name == REAL_DATA_NOTEBOOK]
    if not notebook:
        return
    from utils.data import DataUnavailableError, find_tatoeba

    try:
        find_tatoeba()  # the mirror, the cache, or a download (which the notebook then reuses)
    except DataUnavailableError as error:
        skip = pytest.mark.skip(reason=f"{REAL_DATA_NOTEBOOK} needs the Tatoeba data. {error}")
        for item in notebook:
            item.add_marker(skip)
