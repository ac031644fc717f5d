"""scripts/train.py: two gloo processes train as one, a resumed run as an uninterrupted one, its
checkpoints load in notebook 06's code path, and bad input gets a clear error.

Tiny models (a few thousand weights) on 240 short synthetic pairs written as a Tatoeba file, two
epochs of about a dozen steps: each run takes seconds. The two-process runs go through
``torchrun`` (``python -m torch.distributed.run``) in a subprocess, as a learner starts them.
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from dataclasses import fields, replace
from pathlib import Path

import pytest
import torch

from utils.build import build_model
from utils.checkpoints import load_checkpoint
from utils.data import load_synthetic_pairs
from utils.distributed import global_batches, shard
from utils.runtime import seed_everything
from utils.subwords import Subwords
from utils.text import Vocab
from utils.train import CLIP_NORM, fit
from utils.translate import translate

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train.py"
_spec = importlib.util.spec_from_file_location("train_script", SCRIPT)
train_script = importlib.util.module_from_spec(_spec)
sys.modules["train_script"] = train_script   # dataclasses look their module up there
_spec.loader.exec_module(train_script)

TINY = ["--set", "emb_size=16", "--set", "hidden_size=24", "--set", "batch_size=16", "--set", "epochs=2",
        "--set", "max_tokens=12", "--set", "units=words", "--set", "min_freq=1"]
# Two processes must agree with one to within float rounding: the same global batch, summed in
# another order (two shares of 8 sentences, gradients averaged by DistributedDataParallel, instead
# of one batch of 16). Adam divides each gradient by its running size, so where a gradient is
# almost zero (the output row of a word absent from the last batches) a rounding difference can
# move that weight by up to the learning rate (3e-3) in one step; those few entries set the
# largest difference (measured on this test: 1.5e-5 after 24 steps, the mean 2e-8). Hence two
# bounds: every weight within MAX_ATOL, and the mean difference within MEAN_ATOL, a thousand times
# below what a wrong share or normalisation does (the control: a batch half as large).
MAX_ATOL, MEAN_ATOL = 1e-4, 1e-6


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """240 short synthetic pairs (≤ 12 tokens a side) as a 2-column Tatoeba file (English first)."""
    pairs = [p for p in load_synthetic_pairs("train") if len(p.src_tokens) <= 12 and len(p.tgt_tokens) <= 12][:240]
    path = tmp_path_factory.mktemp("data") / "pairs.tsv"
    path.write_text("".join(f"{p.en}\t{p.fr}\n" for p in pairs), encoding="utf-8")
    return path


def run_script(*args: str) -> dict:
    """scripts/train.py in this process (one process, one thread)."""
    return train_script.main([*args, "--device", "cpu", "--threads", "1", "--no-progress", "--bleu-sentences", "20"])


def run_torchrun(n: int, *args: str) -> None:
    """scripts/train.py under torchrun with ``n`` gloo processes of one thread each."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", str(SCRIPT),
               *args, "--device", "cpu", "--threads", "1", "--no-progress", "--bleu-sentences", "20"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"torchrun failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def differences(a: dict, b: dict) -> tuple[float, float]:
    """The largest and the mean absolute difference over all the weights."""
    assert a.keys() == b.keys()
    gaps = torch.cat([(a[k].float() - b[k].float()).abs().flatten() for k in a])
    return gaps.max().item(), gaps.mean().item()


@pytest.fixture(scope="module")
def one_process(corpus, tmp_path_factory) -> Path:
    """One uninterrupted single-process run without dropout (the reference of the tests below)."""
    out = tmp_path_factory.mktemp("one")
    run_script("--data", str(corpus), *TINY, "--set", "dropout=0", "--out", str(out))
    return out


# ----------------------------------------------------------------------------- the presets
def test_the_presets_are_the_recipes_of_utils_real_data(monkeypatch):
    """One source of truth: each preset is RECIPES' recipe, the data settings the notebooks' pipeline,
    read when the script runs (so a recipe changed in utils.real_data is the preset's at once)."""
    from utils import real_data

    presets = train_script.presets()
    assert set(presets) == set(real_data.RECIPES)
    for name, settings in presets.items():
        assert settings.recipe == real_data.RECIPES[name], name
        assert settings.data == train_script.DataSettings(real_data.MAX_TOKENS, "subwords", real_data.SUBWORDS,
                                                          real_data.MIN_FREQ)
        assert settings.batches.batch_size == real_data.BATCH_SIZE and settings.batches.clip == CLIP_NORM
        groups = settings.groups()          # every field --set knows lives in one group only
        assert len(settings.field_names()) == sum(len(fields(g)) for g in groups.values()) - 1, name   # - config
    changed = replace(real_data.RECIPES["rnn"], lr=0.123)
    monkeypatch.setitem(real_data.RECIPES, "rnn", changed)
    assert train_script.apply_overrides("rnn", []).recipe == changed
    assert train_script.apply_overrides("rnn", ["lr=0.5", "hidden_size=8"]).recipe == replace(
        changed, lr=0.5, config=replace(changed.config, hidden_size=8))


# ----------------------------------------------------------------------------- the sampler
def test_shards_are_disjoint_and_cover_every_global_batch():
    lengths = [3, 5, 4, 4, 9, 2, 7, 7, 6, 1, 8, 3, 5]
    for world in (1, 2, 3):
        batches = global_batches(lengths, 4, seed=1, epoch=2, world_size=world)
        for batch in batches:
            shares = [shard(batch, r, world) for r in range(world)]
            assert sorted(i for s in shares for i in s) == sorted(batch)
            assert all(s for s in shares)
        dropped = set(range(len(lengths))) - {i for b in batches for i in b}
        assert len(dropped) == (len(lengths) % 4 if len(lengths) % 4 < world else 0)


def test_global_batches_replay_the_bucket_sampler_epoch_by_epoch(data):
    loader = data.loader("train", seed=3)
    lengths = loader.batch_sampler.lengths
    for epoch in (1, 2, 3):
        assert [list(b) for b in loader.batch_sampler] == global_batches(lengths, data.batch_size, 3, epoch)


# ----------------------------------------------------------------------------- equivalences
def test_one_process_trains_as_fit_does(corpus, one_process):
    """Same data, same order, same loss and schedule: the same weights, bit for bit."""
    args = train_script.parse_args(["--data", str(corpus), *TINY, "--set", "dropout=0"])
    settings = train_script.apply_overrides(args.preset, args.assignments)
    _, data = train_script.load_data(args, settings)
    recipe, seed = settings.recipe, settings.batches.seed
    seed_everything(seed)
    model = build_model(recipe.config, len(data.src_vocab), len(data.tgt_vocab), data.src_vocab.pad_id)
    assert settings.batches.clip == CLIP_NORM      # fit clips at CLIP_NORM; the script's settings can change it
    fit(model, data.loader("train", seed=seed), recipe.epochs, lr=recipe.lr, lr_decay=recipe.lr_decay,
        warmup=recipe.warmup, coverage=recipe.coverage, label_smoothing=recipe.label_smoothing,
        pad_id=data.tgt_vocab.pad_id, verbose=False)
    script = weights(one_process / "model.pt")
    assert all(torch.equal(script[k], v) for k, v in model.state_dict().items())


def test_two_gloo_processes_equal_one_with_the_same_global_batch(corpus, one_process, tmp_path):
    run_torchrun(2, "--data", str(corpus), *TINY, "--set", "dropout=0", "--out", str(tmp_path / "two"))
    one, two = weights(one_process / "model.pt"), weights(tmp_path / "two" / "model.pt")
    largest, mean = differences(one, two)
    assert largest <= MAX_ATOL and mean <= MEAN_ATOL, (largest, mean)
    history_one = torch.load(one_process / "model.pt", weights_only=True)["history"]
    history_two = torch.load(tmp_path / "two" / "model.pt", weights_only=True)["history"]
    # every step's loss is the global batch's, not rank 0's share of it
    assert len(history_two["step_loss"]) == len(history_one["step_loss"])
    assert history_two["step_loss"] == pytest.approx(history_one["step_loss"], rel=1e-5)
    assert history_two["epoch_loss"] == pytest.approx(history_one["epoch_loss"], rel=1e-5)
    # the control: another global batch (8 instead of 16) is far outside the bounds
    run_script("--data", str(corpus), *TINY, "--set", "dropout=0", "--set", "batch_size=8",
               "--out", str(tmp_path / "half"))
    assert differences(one, weights(tmp_path / "half" / "model.pt"))[1] > 1000 * MEAN_ATOL


@pytest.mark.parametrize("processes, where", [(1, "in the second epoch"), (1, "between the epochs"),
                                             (2, "in the second epoch")])
def test_a_resumed_run_equals_an_uninterrupted_one(corpus, tmp_path, processes, where):
    """With dropout and teacher forcing 0.5 (both draw random numbers): stopped and resumed, the
    run ends with exactly the weights of one that never stopped."""
    args = ["--data", str(corpus), *TINY, "--set", "dropout=0.2", "--set", "teacher_forcing=0.5"]
    run = run_script if processes == 1 else (lambda *a: run_torchrun(2, *a))
    run(*args, "--out", str(tmp_path / "whole"))
    steps = torch.load(tmp_path / "whole" / "resume.pt", weights_only=True)["step"]   # 2 epochs
    stop = steps // 2 + 3 if where == "in the second epoch" else steps // 2
    run(*args, "--out", str(tmp_path / "parts"), "--stop-after-steps", str(stop))
    stopped = torch.load(tmp_path / "parts" / "resume.pt", weights_only=True)
    assert (stopped["epoch"], stopped["step"]) == (2, stop)
    run(*args, "--out", str(tmp_path / "parts"), "--resume")
    whole, parts = (torch.load(tmp_path / name / "model.pt", weights_only=True) for name in ("whole", "parts"))
    assert all(torch.equal(whole["state_dict"][k], v) for k, v in parts["state_dict"].items())
    assert parts["history"]["epoch_loss"] == whole["history"]["epoch_loss"]
    assert parts["history"]["step_loss"] == whole["history"]["step_loss"]
    assert parts["extra"]["bleu"] == whole["extra"]["bleu"]
    # the step counter too: the resumed run took the steps the uninterrupted one did
    assert (parts["extra"]["steps"], parts["extra"]["epochs_done"]) == (whole["extra"]["steps"], 2)
    assert torch.load(tmp_path / "parts" / "resume.pt", weights_only=True)["step"] == steps


# ----------------------------------------------------------------------------- notebook 06's code path
def test_checkpoint_loads_with_load_checkpoint_and_translates(corpus, tmp_path):
    """A subword model: notebook 06 rebuilds its data, loads the model and translates with it."""
    summary = run_script("--data", str(corpus), *TINY, "--set", "units=subwords", "--set", "subword_vocab=120",
                         "--set", "epochs=1", "--out", str(tmp_path))
    assert summary["steps"] > 0 and len(summary["bleu"]) == 1
    args = train_script.parse_args(["--data", str(corpus), *TINY, "--set", "units=subwords",
                                    "--set", "subword_vocab=120", "--set", "epochs=1"])
    _, data = train_script.load_data(args, train_script.apply_overrides(args.preset, args.assignments))
    model, history, extra = load_checkpoint(tmp_path / "model.pt", data.src_vocab, data.tgt_vocab)
    assert len(history.epoch_loss) == 1 and len(history.valid_loss) == 1
    subwords = tuple(Subwords.from_tensor(tensor) for tensor in extra["subwords"])
    assert [s.model_proto for s in subwords] == [data.src_subwords.model_proto, data.tgt_subwords.model_proto]
    result = translate(model, "le chat mange.", data.src_vocab, data.tgt_vocab, lang="fr", subwords=subwords)
    assert result.output and result.attention.shape == (len(result.output) + 1, len(result.source) + 1)
    # without the data: the vocabularies are in the checkpoint too
    blob = torch.load(tmp_path / "model.pt", weights_only=True)
    model2, _, _ = load_checkpoint(tmp_path / "model.pt", Vocab(blob["src_itos"]), Vocab(blob["tgt_itos"]))
    assert model2.trained_with == model.trained_with


def test_the_transformer_preset_trains_and_its_checkpoint_translates(corpus, tmp_path):
    small = ["--preset", "transformer", "--data", str(corpus), "--set", "d_model=16", "--set", "heads=2",
             "--set", "ff_size=32", "--set", "batch_size=16", "--set", "epochs=1", "--set", "max_tokens=12",
             "--set", "units=words", "--set", "min_freq=1", "--set", "warmup=4"]
    run_script(*small, "--out", str(tmp_path))
    blob = torch.load(tmp_path / "model.pt", weights_only=True)
    assert blob["config"]["family"] == "transformer"
    src_vocab, tgt_vocab = Vocab(blob["src_itos"]), Vocab(blob["tgt_itos"])
    model, history, _ = load_checkpoint(tmp_path / "model.pt", src_vocab, tgt_vocab)
    assert history.epoch_loss[0] > 0
    result = translate(model, "le chat mange.", src_vocab, tgt_vocab, lang="fr")
    assert result.attention is not None


# ----------------------------------------------------------------------------- bad input
def error_of(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as stop:
        run_script(*args)
    assert stop.value.code == 2
    message = capsys.readouterr().err
    assert "Traceback" not in message
    return message


def test_unknown_preset_lists_the_presets(capsys, corpus):
    message = error_of(capsys, "--data", str(corpus), "--preset", "lstm")
    assert "unknown preset 'lstm'" in message and "'rnn'" in message and "'transformer'" in message


def test_unknown_field_lists_the_fields(capsys, corpus):
    message = error_of(capsys, "--data", str(corpus), "--set", "hiden_size=64")
    assert "no field 'hiden_size'" in message and "hidden_size" in message and "epochs" in message


def test_bad_value_says_what_it_expects(capsys, corpus):
    assert "expected int" in error_of(capsys, "--data", str(corpus), "--set", "epochs=many")
    assert "decoder" in error_of(capsys, "--data", str(corpus), *TINY, "--set", "decoder=lstm")


def test_missing_data_file(capsys, tmp_path):
    assert "no such file" in error_of(capsys, "--data", str(tmp_path / "missing.tsv"))


def test_amp_needs_a_gpu(capsys, corpus):
    assert "needs a GPU" in error_of(capsys, "--data", str(corpus), "--amp", "bf16")


def test_resume_from_another_model(capsys, corpus, one_process):
    message = error_of(capsys, "--data", str(corpus), *TINY, "--set", "dropout=0", "--set", "hidden_size=32",
                       "--out", str(one_process), "--resume")
    assert "another model" in message and "hidden_size=24 there, 32 here" in message


def test_resume_from_another_vocabulary(capsys, corpus, one_process, tmp_path):
    other = tmp_path / "other.tsv"
    pairs = [p for p in load_synthetic_pairs("valid") if len(p.src_tokens) <= 12 and len(p.tgt_tokens) <= 12][:100]
    other.write_text("".join(f"{p.en}\t{p.fr}\n" for p in pairs), encoding="utf-8")
    message = error_of(capsys, "--data", str(other), *TINY, "--set", "dropout=0", "--resume",
                       str(one_process / "resume.pt"), "--out", str(tmp_path))
    assert "vocabulary" in message and "another data file" in message


def test_resume_from_a_model_file_or_nothing(capsys, corpus, one_process, tmp_path):
    common = ["--data", str(corpus), *TINY, "--set", "dropout=0"]
    assert "not a resume file" in error_of(capsys, *common, "--resume", str(one_process / "model.pt"))
    assert "no such file" in error_of(capsys, *common, "--out", str(tmp_path), "--resume")
