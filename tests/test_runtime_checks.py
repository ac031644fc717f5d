"""Device choice, CPU threads, seeding, the environment line, and claims checked in code."""
import random

import numpy as np
import pytest
import torch

from utils.checks import ClaimFailed, check
from utils.runtime import CPU_THREADS, describe_environment, get_device, seed_everything, use_cpu_threads


# ----------------------------------------------------------------------------- device
def test_env_var_forces_cpu(monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_DEVICE", "cpu")
    assert get_device() == torch.device("cpu")


def test_prefer_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("SEQ2SEQ_DEVICE", "cuda")
    assert get_device(prefer="cpu") == torch.device("cpu")


def test_default_device(monkeypatch):
    monkeypatch.delenv("SEQ2SEQ_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert get_device().type == expected
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert get_device() == torch.device("cpu")


def test_asking_for_a_missing_gpu_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("SEQ2SEQ_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA GPU"):
        get_device()
    with pytest.raises(RuntimeError, match="cuda:1"):
        get_device("cuda:1")


@pytest.mark.parametrize("setting, hint", [("gpu7", "torch calls a GPU 'cuda'"), ("GPU", "torch calls a GPU 'cuda'"),
                                           ("mps", "'mps' is a torch device"), ("meta", "'meta' is a torch device"),
                                           ("cuda:x", ""), ("cpu:1", ""), ("cpu,cuda", "")])
def test_a_device_setting_the_series_cannot_use_names_the_variable(monkeypatch, setting, hint):
    monkeypatch.setenv("SEQ2SEQ_DEVICE", setting)
    with pytest.raises(ValueError) as info:
        get_device()
    message = str(info.value)
    assert message.startswith(f"SEQ2SEQ_DEVICE={setting}: not a device")
    assert hint in message and "'cpu', 'cuda' or 'cuda:N'" in message
    assert "Expected one of" not in message                  # not torch's list of every device type
    with pytest.raises(ValueError, match=rf"get_device\(prefer='{setting}'\)"):
        get_device(prefer=setting)


@pytest.mark.parametrize("setting", ["CPU", " cpu ", "Cpu:0"])
def test_device_setting_ignores_case_and_spaces(monkeypatch, setting):
    monkeypatch.setenv("SEQ2SEQ_DEVICE", setting)
    assert get_device() == torch.device(setting.strip().lower())


def test_a_gpu_number_torch_does_not_have(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("SEQ2SEQ_DEVICE", "cuda:2")
    with pytest.raises(RuntimeError,
                       match=r"SEQ2SEQ_DEVICE=cuda:2: torch sees 2 CUDA GPU\(s\), numbered cuda:0 to cuda:1"):
        get_device()
    monkeypatch.setenv("SEQ2SEQ_DEVICE", "CUDA:1")
    assert get_device() == torch.device("cuda:1")


# ----------------------------------------------------------------------------- seeding
def draws():
    return random.random(), float(np.random.rand()), torch.rand(3).tolist(), torch.nn.Linear(3, 2).weight.tolist()


def test_seed_everything_repeats_python_numpy_and_torch():
    seed_everything(123)
    first = draws()
    seed_everything(123)
    assert draws() == first
    seed_everything(124)
    second = draws()
    for a, b in zip(first, second, strict=True):
        assert a != b


# ----------------------------------------------------------------------------- environment
def test_describe_environment(monkeypatch):
    from utils import text

    line = describe_environment(torch.device("cpu"))
    assert f"torch {torch.__version__}" in line
    assert "Python " in line and "device cpu (" in line
    assert f"vocab backend {text.BACKEND}" in line
    monkeypatch.setenv("SEQ2SEQ_DEVICE", "cpu")
    assert "device cpu" in describe_environment()


# ----------------------------------------------------------------------------- claims
def test_check_prints_a_tick_line(capsys):
    check(2 > 1, "two beats one", "2 vs 1")
    assert capsys.readouterr().out == "✓ two beats one  (2 vs 1)\n"
    check(True, "no evidence needed")
    out = capsys.readouterr().out
    assert out.startswith("✓ ") and out == "✓ no evidence needed\n"


def test_check_raises_with_claim_and_evidence(capsys):
    with pytest.raises(ClaimFailed) as info:
        check(31.0 > 80.0, "attention beats vanilla on the longest bucket", "BLEU 31.0 vs 80.0")
    message = str(info.value)
    assert "attention beats vanilla on the longest bucket" in message
    assert "BLEU 31.0 vs 80.0" in message
    assert message.startswith("✗")
    assert capsys.readouterr().out == ""                 # nothing printed as if it held
    assert issubclass(ClaimFailed, AssertionError)


def test_use_cpu_threads_sets_a_fixed_count_and_refuses_zero(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv("SEQ2SEQ_CPU_THREADS", raising=False)
        use_cpu_threads()
        assert torch.get_num_threads() == CPU_THREADS == 2
        use_cpu_threads(1)
        assert torch.get_num_threads() == 1
        with pytest.raises(ValueError, match="at least 1"):
            use_cpu_threads(0)
        monkeypatch.setenv("SEQ2SEQ_CPU_THREADS", "3")
        use_cpu_threads()
        assert torch.get_num_threads() == 3                               # a learner's override
        monkeypatch.setenv("SEQ2SEQ_CPU_THREADS", "two")
        with pytest.raises(ValueError, match="SEQ2SEQ_CPU_THREADS='two'"):
            use_cpu_threads()
    finally:
        torch.set_num_threads(before)
