"""requirements.txt is the one list of dependencies; environment.yml must agree with it."""
import re
from pathlib import Path

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
