"""The claims ledger: checks record themselves when asked, the series seed, and scripts/claims.py's report."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from utils.checks import LEDGER_ENV, NOTEBOOK_ENV, ClaimFailed, check, numbers
from utils.runtime import SEED_ENV, series_seed

ROOT = Path(__file__).resolve().parents[1]


def test_numbers_reads_the_evidence_in_order():
    assert numbers("AER 0.204 vs first word 0.974, 1,200 pairs, 61%; -0.5") == [0.204, 0.974, 1200.0, 61.0, -0.5]
    assert numbers("no numbers here") == []


def test_a_check_writes_nothing_without_the_ledger(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv(LEDGER_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    check(True, "fine", "1 vs 2")
    assert list(tmp_path.iterdir()) == []


def test_checks_that_hold_and_fail_are_both_recorded(monkeypatch, tmp_path, capsys):
    ledger = tmp_path / "ledger.jsonl"
    monkeypatch.setenv(LEDGER_ENV, str(ledger))
    monkeypatch.setenv(NOTEBOOK_ENV, "03_score_functions")
    monkeypatch.setenv(SEED_ENV, "2")
    check(True, "dot aligns", "AER 0.204")
    with pytest.raises(ClaimFailed):
        check(False, "general aligns", "AER 0.250 vs 0.204")
    rows = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [(r["claim"], r["held"], r["seed"], r["notebook"]) for r in rows] == [
        ("dot aligns", True, 2, "03_score_functions"), ("general aligns", False, 2, "03_score_functions")]
    assert rows[1]["numbers"] == [0.25, 0.204]


def test_series_seed_defaults_to_zero_and_names_a_bad_setting(monkeypatch):
    monkeypatch.delenv(SEED_ENV, raising=False)
    assert series_seed() == 0
    monkeypatch.setenv(SEED_ENV, " 7 ")
    assert series_seed() == 7
    monkeypatch.setenv(SEED_ENV, "one")
    with pytest.raises(ValueError, match="SEQ2SEQ_SEED must be an integer"):
        series_seed()


def test_train_or_load_takes_the_series_seed(monkeypatch):
    """The seed flows to every model a notebook trains through train_or_load's default."""
    from utils import checkpoints

    seen = []

    def record_and_stop(seed):
        seen.append(seed)
        raise RuntimeError("stop here")     # the seed is all this test needs: no training

    monkeypatch.setattr(checkpoints, "seed_everything", record_and_stop)
    monkeypatch.setenv(SEED_ENV, "3")
    from utils.models import RNNConfig
    from utils.parallel_data import load_synthetic_data

    with pytest.raises(RuntimeError, match="stop here"):
        checkpoints.train_or_load("x", RNNConfig(), load_synthetic_data(n_train=64), use_cache=False, verbose=False)
    assert seen == [3]


def test_the_report_gives_each_checks_spread_and_its_failures(tmp_path):
    env = {"label": "", "torch": "2.13.0", "python": "3.11", "cpu": "x", "cores": 2, "threads": 2, "seconds": 1.0}
    rows = [dict(env, notebook="03", claim="dot aligns", seed=s, held=aer < 0.24, evidence=f"AER {aer}",
                 numbers=[aer]) for s, aer in [(0, 0.204), (1, 0.22), (2, 0.25)]]
    ledger = tmp_path / "claims.jsonl"
    ledger.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "claims.py"), "report", "--ledger", str(ledger)],
                         capture_output=True, text=True, check=True).stdout
    assert "✗ held 2/3 (seeds [0, 1, 2])  dot aligns" in out
    assert "0.204 / 0.22 / 0.25" in out
    assert "failed with seed 2, torch 2.13.0: AER 0.25" in out


def test_execute_notebooks_refuses_another_seed():
    """The committed outputs are seed 0."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "execute_notebooks.py"), "01"],
                            capture_output=True, text=True, env={**os.environ, SEED_ENV: "1"})
    assert result.returncode != 0 and "committed outputs are seed 0" in result.stderr
