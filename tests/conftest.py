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


REAL_DATA_NOTEBOOKS = ("06_real_french_english.ipynb", "08_transformer_real_sentences.ipynb")
REAL_DATA_NOTEBOOK = REAL_DATA_NOTEBOOKS[0]


def pytest_collection_modifyitems(config, items):
    """Notebooks 06 and 08 need the Tatoeba pairs. When they cannot be found or downloaded, their
    cells are reported as *skipped*, with the reason and how to get the data (``-rs`` prints it),
    never run into an error or passed silently."""
    notebook = [item for item in items if item.path.name in REAL_DATA_NOTEBOOKS]
    if not notebook:
        return
    from utils.download import DataUnavailableError, find_tatoeba

    try:
        find_tatoeba()  # the mirror, the cache, or a download (which the notebook then reuses)
    except DataUnavailableError as error:
        skip = pytest.mark.skip(reason=f"{' and '.join(REAL_DATA_NOTEBOOKS)} need the Tatoeba data. {error}")
        for item in notebook:
            item.add_marker(skip)


# ----------------------------------------------------------------------------- tiny synthetic data
TINY = dict(emb_size=8, hidden_size=16, attention_size=8)


@pytest.fixture(scope="session")
def splits():
    from utils.corpus import generate_splits

    return generate_splits(seed=11, n_train=48, n_valid=6, n_test_per_bucket=2)


def make_data(splits, reverse_source=False, batch_size=16):
    from utils.parallel_data import ParallelData
    from utils.text import build_vocab

    src_v = build_vocab(p.src_tokens for p in splits["train"])
    tgt_v = build_vocab(p.tgt_tokens for p in splits["train"])
    return ParallelData(splits["train"], splits["valid"], splits["test"], src_v, tgt_v, reverse_source, batch_size)


@pytest.fixture
def data(splits):
    return make_data(splits)


def tiny_model(data, decoder="luong", score="dot", seed=0):
    import torch

    from utils.build import build_model
    from utils.models import RNNConfig

    torch.manual_seed(seed)
    return build_model(RNNConfig(decoder=decoder, score=score, **TINY), len(data.src_vocab),
                       len(data.tgt_vocab), data.src_vocab.pad_id)
