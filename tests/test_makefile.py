"""The Makefile's test targets fail when pytest collects no test (exit 5): a suite whose tests
vanished must not turn CI green. Run with a stand-in python that exits with a chosen code."""
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def make(target: str, pytest_exit: int, tmp_path: Path) -> subprocess.CompletedProcess:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True, exist_ok=True)
    for tool, code in (("python", pytest_exit), ("ruff", 0)):
        stub = venv / "bin" / tool
        stub.write_text(f"#!/bin/sh\nexit {code}\n")
        stub.chmod(0o755)
    for stamp in (".installed", ".dev-installed"):
        (venv / stamp).touch()
    stamps = [f"-o{venv}/{s}" for s in (".installed", ".dev-installed")]
    return subprocess.run(["make", "-s", *stamps, target, f"VENV={venv}", f"CLASSIC_VENV={venv}"], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "MAKEFLAGS": ""})


@pytest.mark.parametrize("target", ["test", "unit", "classic-test"])
def test_no_tests_collected_is_a_failure(target, tmp_path):
    result = make(target, 5, tmp_path)
    assert result.returncode != 0
    assert "collected no tests" in result.stdout + result.stderr


@pytest.mark.parametrize("target", ["test", "unit", "classic-test"])
@pytest.mark.parametrize("code", [0, 1])
def test_pytest_exit_code_passes_through(target, code, tmp_path):
    assert (make(target, code, tmp_path).returncode == 0) == (code == 0)
