"""Checkpoints and the model cache of ``train_or_load`` (tiny data)."""
import ast
import hashlib
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import TINY, make_data, tiny_model

from utils import checkpoints
from utils.checkpoints import CheckpointError, load_checkpoint, save_checkpoint, train_or_load
from utils.models import RNNConfig
from utils.provenance import TrainedWith, trained_with
from utils.text import build_vocab
from utils.train import History

ROOT = Path(__file__).resolve().parents[1]


def test_train_or_load_validate_records_valid_loss(data, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    config = RNNConfig(decoder="luong", **TINY)
    _, plain = train_or_load("tiny", config, data, epochs=2, verbose=False)
    _, checked = train_or_load("tiny", config, data, epochs=2, validate=True, verbose=False)
    assert plain.valid_loss == [] and len(checked.valid_loss) == 2
    assert len(list(tmp_path.glob("*.pt"))) == 2               # a separate cache entry
    assert checked.step_loss == plain.step_loss                # validating does not change training
    _, again = train_or_load("tiny", config, data, epochs=2, validate=True, verbose=False)
    assert again.valid_loss == checked.valid_loss


# ----------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("decoder, score", [("vanilla", "dot"), ("luong", "general"), ("bahdanau", "concat")])
def test_checkpoint_round_trip(data, tmp_path, decoder, score, monkeypatch):
    model = tiny_model(data, decoder, score, seed=5)
    history = History(step_loss=[2.0, 1.5], epoch_loss=[1.75])
    path = tmp_path / "sub" / "m.pt"
    save_checkpoint(path, model, data.src_vocab, data.tgt_vocab, history, extra={"bleu": 12.5})
    assert path.exists()

    loads = []
    real_load = torch.load

    def spy(*args, **kwargs):
        loads.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    loaded, loaded_history, extra = load_checkpoint(path, data.src_vocab, data.tgt_vocab)
    assert loads == [True]                                  # safe loading
    assert loaded.config == model.config
    assert type(loaded.decoder) is type(model.decoder)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    assert loaded_history == history and extra == {"bleu": 12.5}
    b = next(iter(data.loader("test")))
    loaded.eval(), model.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded(b.src, b.src_mask, b.tgt[:, :-1])[0],
                                   model(b.src, b.src_mask, b.tgt[:, :-1])[0])


def test_checkpoint_without_history(data, tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, tiny_model(data), data.src_vocab, data.tgt_vocab)
    _, history, extra = load_checkpoint(path, data.src_vocab, data.tgt_vocab)
    assert history is None and extra == {}


def test_checkpoint_vocab_mismatch(data, tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, tiny_model(data), data.src_vocab, data.tgt_vocab)
    other = build_vocab([["completely", "different"]])
    with pytest.raises(ValueError, match="src vocabulary"):
        load_checkpoint(path, other, data.tgt_vocab)
    with pytest.raises(ValueError, match="tgt vocabulary"):
        load_checkpoint(path, data.src_vocab, other)


def test_checkpoint_with_swapped_vocabularies(data, tmp_path):
    path = tmp_path / "m.pt"
    save_checkpoint(path, tiny_model(data), data.src_vocab, data.tgt_vocab)
    with pytest.raises(ValueError, match=r"m\.pt: the source and target vocabularies are swapped"):
        load_checkpoint(path, data.tgt_vocab, data.src_vocab)


def not_checkpoints(tmp_path, data):
    """Files a user might pass by mistake, by what they are."""
    (tmp_path / "notes.txt").write_text("hello, this is text\n")
    (tmp_path / "other.txt").write_text("ahem\n")
    (tmp_path / "empty.pt").write_bytes(b"")
    with zipfile.ZipFile(tmp_path / "archive.zip", "w") as z:
        z.writestr("fra.txt", "Go.\tVa !\n")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save(tiny_model(data).state_dict(), tmp_path / "weights.pt")
    return ["notes.txt", "other.txt", "empty.pt", "archive.zip", "list.pt", "weights.pt"]


def test_a_file_that_is_not_a_checkpoint_is_named(data, tmp_path):
    for name in not_checkpoints(tmp_path, data):
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(tmp_path / name, data.src_vocab, data.tgt_vocab)
        message = str(info.value)
        assert message.startswith(f"{tmp_path / name}") and "not a checkpoint" in message, message
        assert "weights_only" not in message and len(message) < 400
        assert info.value.__context__ is None or info.value.__suppress_context__   # no torch traceback above it
    with pytest.raises(CheckpointError, match="bare state_dict"):
        load_checkpoint(tmp_path / "weights.pt", data.src_vocab, data.tgt_vocab)
    with pytest.raises(FileNotFoundError, match=r"nope\.pt does not exist"):
        load_checkpoint(tmp_path / "nope.pt", data.src_vocab, data.tgt_vocab)


def edited_checkpoint(path, data, edit):
    save_checkpoint(path, tiny_model(data), data.src_vocab, data.tgt_vocab)
    blob = torch.load(path, weights_only=True)
    edit(blob)
    torch.save(blob, path)


def test_a_config_field_this_version_does_not_know_is_named(data, tmp_path):
    path = tmp_path / "future.pt"
    edited_checkpoint(path, data, lambda blob: blob["config"].update(colour="blue"))
    with pytest.raises(CheckpointError, match=r"future\.pt: its RNNConfig has field\(s\) \[.colour.\]"):
        load_checkpoint(path, data.src_vocab, data.tgt_vocab)


@pytest.mark.parametrize("edit", [lambda blob: blob["config"].update(decoder="lstm"),
                                  lambda blob: blob["config"].update(hidden_size=7),
                                  lambda blob: blob["state_dict"].pop("encoder.embedding.weight")])
def test_a_model_this_version_cannot_rebuild_is_named(data, tmp_path, edit):
    path = tmp_path / "odd.pt"
    edited_checkpoint(path, data, edit)
    with pytest.raises(CheckpointError, match=r"odd\.pt: the saved model does not fit this version's models"):
        load_checkpoint(path, data.src_vocab, data.tgt_vocab)


def test_a_checkpoint_without_a_record_still_loads(data, tmp_path):
    path = tmp_path / "old.pt"
    edited_checkpoint(path, data, lambda blob: blob.pop("trained_with"))
    model, _, _ = load_checkpoint(path, data.src_vocab, data.tgt_vocab)
    assert trained_with(model) == TrainedWith.of(data.src_vocab, data.tgt_vocab)   # lengths unknown


# ----------------------------------------------------------------------------- train_or_load
def test_train_or_load_records_what_the_model_was_trained_with(splits, tmp_path, monkeypatch):
    config = RNNConfig(decoder="luong", **TINY)
    for reverse in (False, True):
        monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path / str(reverse))
        data = make_data(splits, reverse_source=reverse)
        longest = max(len(p.src_tokens) for p in splits["train"])
        expected = TrainedWith.of(data.src_vocab, data.tgt_vocab, longest, reverse)
        trained, _ = train_or_load("t", config, data, epochs=1, verbose=False)
        assert trained_with(trained) == expected and expected.max_src_len == longest
        loaded, _ = train_or_load("t", config, data, epochs=1, verbose=False)   # from the cache
        assert trained_with(loaded) == expected
        (path,) = (tmp_path / str(reverse)).glob("*.pt")
        assert trained_with(load_checkpoint(path, data.src_vocab, data.tgt_vocab)[0]) == expected


def test_train_or_load_fills_the_record_of_an_older_cached_file(data, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    config = RNNConfig(decoder="luong", **TINY)
    train_or_load("t", config, data, epochs=1, verbose=False)
    (path,) = tmp_path.glob("*.pt")
    blob = torch.load(path, weights_only=True)
    del blob["trained_with"]                                  # as saved before checkpoints kept it
    torch.save(blob, path)
    loaded, _ = train_or_load("t", config, data, epochs=1, verbose=False)
    assert trained_with(loaded).max_src_len == data.longest_source

def test_train_or_load_uses_the_cache(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    calls = []
    real_fit = checkpoints.fit

    def counting_fit(*args, **kwargs):
        calls.append(kwargs)
        return real_fit(*args, **kwargs)

    monkeypatch.setattr(checkpoints, "fit", counting_fit)
    config = RNNConfig(decoder="luong", **TINY)
    model1, history1 = train_or_load("tiny", config, data, epochs=1)
    assert len(calls) == 1 and len(list(tmp_path.glob("*.pt"))) == 1
    assert len(history1.step_loss) == len(data.loader("train"))
    model2, history2 = train_or_load("tiny", config, data, epochs=1)
    assert len(calls) == 1                                    # loaded, not trained again
    assert "loaded" in capsys.readouterr().out
    assert history2 == history1
    for a, b in zip(model1.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    # anything that shapes the model is a different cache entry
    train_or_load("tiny", config, data, epochs=1, lr=5e-3, verbose=False)
    assert len(calls) == 2 and len(list(tmp_path.glob("*.pt"))) == 2
    # use_cache=False trains and writes nothing
    train_or_load("tiny", config, data, epochs=1, use_cache=False, verbose=False)
    assert len(calls) == 3 and len(list(tmp_path.glob("*.pt"))) == 2


def test_train_or_load_is_seeded(data, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    config = RNNConfig(decoder="vanilla", **TINY)
    a, _ = train_or_load("a", config, data, epochs=1, use_cache=False, verbose=False)
    b, _ = train_or_load("b", config, data, epochs=1, use_cache=False, verbose=False)
    for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y)


def test_train_or_load_schedule_needs_a_name(data, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    with pytest.raises(ValueError, match="schedule_name"):
        train_or_load("x", RNNConfig(**TINY), data, teacher_forcing=lambda step: 0.5)


# ----------------------------------------------------------------------------- a cache that survives faults
@pytest.mark.parametrize("keep", [0.0, 0.5, 0.9, 0.99, "all but one byte"])
def test_a_cache_file_cut_off_anywhere_is_named_and_trained_again(data, tmp_path, monkeypatch, capsys, keep):
    """As an older version's save interrupted by a kernel stop left it: the next train_or_load
    says which file it cannot use and trains the model again, into a whole file."""
    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    calls = _counting_fit(monkeypatch)
    config = RNNConfig(decoder="luong", **TINY)
    first, _ = train_or_load("tiny", config, data, epochs=1, verbose=False)
    (path,) = tmp_path.glob("*.pt")
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) - 1 if keep == "all but one byte" else int(len(whole) * keep)])
    capsys.readouterr()
    again, _ = train_or_load("tiny", config, data, epochs=1, verbose=False)
    message = capsys.readouterr().out
    assert len(calls) == 2, "the damaged file was not trained again"
    assert f"tiny: the cached model cannot be used, training it again. {path} is not a checkpoint" in message
    assert "cut off" in message and "Delete it" in message
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values(),
                                                 strict=True))
    load_checkpoint(path, data.src_vocab, data.tgt_vocab)         # whole again
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def _interrupting_save(monkeypatch, after: float = 0.5):
    """Make torch.save write the first ``after`` of its bytes and then raise KeyboardInterrupt, as
    a kernel interrupted mid-save does."""
    import io

    real_save = torch.save

    def interrupted(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        half = buffer.getvalue()[:int(len(buffer.getvalue()) * after)]
        if isinstance(f, (str, bytes)) or hasattr(f, "__fspath__"):
            with open(f, "wb") as out:
                out.write(half)
        else:
            f.write(half)
            f.flush()
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)


def test_an_interrupted_save_leaves_no_half_file_and_the_next_run_trains(data, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    config = RNNConfig(decoder="luong", **TINY)
    with monkeypatch.context() as interrupt:
        _interrupting_save(interrupt)
        with pytest.raises(KeyboardInterrupt):
            train_or_load("tiny", config, data, epochs=1, verbose=False)
    assert list(tmp_path.iterdir()) == [], "an interrupted save left a file in the cache"
    calls = _counting_fit(monkeypatch)
    train_or_load("tiny", config, data, epochs=1, verbose=False)
    assert len(calls) == 1
    (path,) = tmp_path.iterdir()
    load_checkpoint(path, data.src_vocab, data.tgt_vocab)


def test_an_interrupted_save_keeps_the_file_it_was_replacing(data, tmp_path, monkeypatch):
    path = tmp_path / "m.pt"
    save_checkpoint(path, tiny_model(data, seed=1), data.src_vocab, data.tgt_vocab)
    before = path.read_bytes()
    with monkeypatch.context() as interrupt:
        _interrupting_save(interrupt, after=0.9)
        with pytest.raises(KeyboardInterrupt):
            save_checkpoint(path, tiny_model(data, seed=2), data.src_vocab, data.tgt_vocab)
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]
    checkpoints.atomic_save({"any": torch.zeros(2)}, tmp_path / "new" / "x.pt")    # makes its folder
    assert torch.equal(torch.load(tmp_path / "new" / "x.pt", weights_only=True)["any"], torch.zeros(2))


# ----------------------------------------------------------------------------- what the cache key covers
def test_source_fingerprint_follows_the_code_not_its_comments(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""A module."""\n\ndef f(x):\n    """Doubles."""\n    return 2 * x  # twice\n')
    original = checkpoints.source_fingerprint((module,))
    module.write_text('"""Another text."""\n\ndef f(x):\n    """Twice x."""\n    return 2 * x  # double\n')
    assert checkpoints.source_fingerprint((module,)) == original      # comments and docstrings only
    module.write_text('"""A module."""\n\ndef f(x):\n    """Doubles."""\n    return 3 * x  # twice\n')
    assert checkpoints.source_fingerprint((module,)) != original      # the code changed


def test_the_fingerprint_is_the_same_on_every_python():
    """Python 3.12 and 3.13 dump syntax trees differently (type_params, empty fields); the fingerprint
    keys the model cache and the results files, so it must not: the value below was computed on
    Python 3.10, 3.11, 3.12 and 3.13 alike (CI runs this test on 3.11 and 3.13)."""
    source = ('def f(x: int = 1) -> int:\n    """doc"""\n    return x + 1\n\n\n'
              'class A:\n    y: list[int] = []\n    z = f"{1!r:>3}"\n')
    assert hashlib.sha256(checkpoints._code_only(source).encode()).hexdigest()[:16] == "10540a15498cb62b"


def test_the_fingerprint_covers_the_modules_that_build_and_train_a_model():
    names = {path.name for path in checkpoints.CODE_FILES}
    assert {"models.py", "attention.py", "transformer.py", "train.py", "batching.py"} <= names
    assert all(path.exists() for path in checkpoints.CODE_FILES)


def utils_imports(module: str) -> set[str]:
    """The modules of utils that ``utils/<module>.py`` imports (``from utils.x import``, ``from utils
    import x``, ``import utils.x``), anywhere in the file."""
    found = set()
    for node in ast.walk(ast.parse((ROOT / "utils" / f"{module}.py").read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "utils":
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("utils."):
            found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("utils.")}
    return found


def test_every_module_the_model_code_imports_is_fingerprinted_or_says_why_not():
    """A decoder in a new file must be in CODE_FILES, or editing it never retrains its cached model."""
    fingerprinted = {path.stem for path in checkpoints.CODE_FILES}
    outside = checkpoints.OUTSIDE_THE_FINGERPRINT
    assert not fingerprinted & set(outside), f"in both lists: {sorted(fingerprinted & set(outside))}"
    reached, todo, importer = set(), [*fingerprinted, "checkpoints"], {}
    while todo:
        module = todo.pop()
        if module in reached:
            continue
        reached.add(module)
        for imported in utils_imports(module):
            importer.setdefault(imported, module)
            todo.append(imported)
    unlisted = sorted(reached - fingerprinted - set(outside))
    assert not unlisted, "\n".join(
        f"utils/{m}.py is imported by the model code (utils/{importer[m]}.py) but is neither in CODE_FILES nor in "
        f"OUTSIDE_THE_FINGERPRINT (utils/checkpoints.py): add it to CODE_FILES if its code shapes a trained model "
        f"(editing it then retrains), or to OUTSIDE_THE_FINGERPRINT with the reason it does not" for m in unlisted)
    stale = sorted(set(outside) - reached)
    assert not stale, f"OUTSIDE_THE_FINGERPRINT names modules the model code no longer imports: {stale}; remove them"


def _counting_fit(monkeypatch):
    calls = []
    real_fit = checkpoints.fit
    monkeypatch.setattr(checkpoints, "fit", lambda *a, **k: calls.append(1) or real_fit(*a, **k))
    return calls


def test_train_or_load_retrains_after_the_code_changes(data, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    calls = _counting_fit(monkeypatch)
    config = RNNConfig(decoder="luong", **TINY)
    train_or_load("tiny", config, data, epochs=1, verbose=False)
    train_or_load("tiny", config, data, epochs=1, verbose=False)
    assert len(calls) == 1
    monkeypatch.setattr(checkpoints, "CODE_FINGERPRINT", "edited utils")  # as after editing models.py
    train_or_load("tiny", config, data, epochs=1, verbose=False)
    assert len(calls) == 2, "a model trained by the old code was loaded"


def test_train_or_load_retrains_on_other_training_pairs_with_the_same_vocabulary(data, tmp_path, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(checkpoints, "MODEL_CACHE", tmp_path)
    calls = _counting_fit(monkeypatch)
    config = RNNConfig(decoder="luong", **TINY)
    train_or_load("tiny", config, data, epochs=1, verbose=False)
    other = replace(data, train=data.train[1:] + data.train[:1])     # same words, same size, other data
    assert other.src_vocab.itos == data.src_vocab.itos and len(other.train) == len(data.train)
    train_or_load("tiny", config, other, epochs=1, verbose=False)
    assert len(calls) == 2
