"""requirements.txt is the one list of dependencies; environment.yml must agree with it."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CLASSIC_PINS = {"torch": "torch==2.3.1", "torchtext": "torchtext==0.18.0", "numpy": "numpy<2"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def _requirements() -> list[str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _environment_pip() -> list[str]:
    pip, inside = [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.strip() == "- pip:":
            inside = True
        elif inside and line.strip().startswith("- "):
            pip.append(line.strip()[2:].strip())
        elif inside and line.strip() and not line.startswith(" " * 6):
            inside = False
    return pip


def test_requirements_leave_torch_to_the_makefile():
    names = {_name(r) for r in _requirements()}
    assert not names & {"torch", "torchtext"}, "torch is installed by the Makefile's TORCH variable"


def test_environment_yml_is_requirements_plus_the_classic_pins():
    pip = _environment_pip()
    assert sorted(pip) == sorted(_requirements() + list(CLASSIC_PINS.values())), (
        "environment.yml's pip list must be requirements.txt plus " + ", ".join(CLASSIC_PINS.values()))


def test_environment_yml_pins_python_311():
    assert "- python=3.11" in (ROOT / "environment.yml").read_text()


def test_ci_runs_the_readme_test_command():
    readme, ci = (ROOT / "README.md").read_text(), (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make lab" in readme
    assert re.search(r"^make test\b", ci, re.M), ".ci/run must call the README's test command"
    assert re.search(r"^make classic-test\b", ci, re.M)


@pytest.mark.parametrize("user_id, flagged", [("0", True), ("1000", False)])
def test_make_lab_allows_root_only_for_root(user_id, flagged):
    """Jupyter refuses to start as root without --allow-root (containers, cloud VMs, Colab-like
    images); for anyone else the flag stays off."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    dry_run = subprocess.run(["make", "-n", "lab", f"USER_ID={user_id}", "VENV=/nonexistent-venv"],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout
    lab = [line for line in dry_run.splitlines() if "jupyter lab" in line]
    assert len(lab) == 1 and lab[0].split()[-1] == "notebooks/", dry_run
    assert ("--allow-root" in lab[0]) == flagged, lab[0]


def test_make_lab_knows_who_runs_it():
    if shutil.which("make") is None or not hasattr(os, "geteuid"):
        pytest.skip("make or os.geteuid is not available")
    dry_run = subprocess.run(["make", "-n", "lab", "VENV=/nonexistent-venv"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout
    assert ("--allow-root" in dry_run) == (os.geteuid() == 0)
