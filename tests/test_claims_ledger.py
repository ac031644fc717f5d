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
    assert "✗ held 2/3 (torch 2.13.0 seed 0, torch 2.13.0 seed 1, torch 2.13.0 seed 2)  dot aligns" in out
    assert "0.204 / 0.22 / 0.25" in out
    assert "failed with torch 2.13.0 seed 2: AER 0.25" in out


def test_execute_notebooks_refuses_another_seed():
    """The committed outputs are seed 0."""
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "execute_notebooks.py"), "01"],
                            capture_output=True, text=True, env={**os.environ, SEED_ENV: "1"})
    assert result.returncode != 0 and "committed outputs are seed 0" in result.stderr


def test_comparisons_hold_as_written_and_remember_their_margins():
    from utils.checks import above, at_least, at_most, below

    assert above(3, 2) and not above(2, 2) and at_least(2, 2) and at_most(2, 2) and below(1, 2) and not below(2, 2)
    joined = above(0.9, 0.5) & below(0.9, 1.0)
    assert joined and [p["margin"] for p in joined.parts] == pytest.approx([0.4, 0.1])
    assert not (above(1, 0) & below(5, 4))                       # one side failing fails the whole
    assert below(0.25, 0.24).parts[0]["margin"] == pytest.approx(-0.01)    # negative when it does not hold
    assert above(torch_scalar(0.5), 0.25).parts[0]["value"] == 0.5         # 0-d tensors become floats
    with pytest.raises(TypeError, match="join comparisons with &"):
        above(1, 0) & True


def torch_scalar(x: float):
    import torch

    return torch.tensor(x)


def test_a_check_written_with_comparisons_records_them(monkeypatch, tmp_path, capsys):
    from utils.checks import above, below

    ledger = tmp_path / "ledger.jsonl"
    monkeypatch.setenv(LEDGER_ENV, str(ledger))
    check(below(0.204, 0.24) & above(97.3, 90), "dot aligns and translates", "AER 0.204, BLEU 97.3")
    assert capsys.readouterr().out == "✓ dot aligns and translates  (AER 0.204, BLEU 97.3)\n"   # printed as before
    (row,) = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [(c["op"], c["threshold"], round(c["margin"], 3)) for c in row["comparisons"]] == [
        ("<", 0.24, 0.036), (">", 90.0, 7.3)]
    import torch

    assert row["torch"] == torch.__version__                    # the kernel's build, not the caller's


def ledger_rows(runs, claim="dot aligns", notebook="03"):
    env = {"label": "", "torch": "2.13.0", "python": "3.11", "cpu": "x", "cores": 2, "threads": 2, "seconds": 1.0}
    return [dict(env, notebook=notebook, claim=claim, seed=s, held=aer < 0.24, evidence=f"AER {aer}", numbers=[aer],
                 comparisons=[{"value": aer, "op": "<", "threshold": 0.24, "margin": 0.24 - aer}])
            for s, aer in runs]


def test_the_report_gives_threshold_spread_and_smallest_margin(tmp_path):
    ledger = tmp_path / "claims.jsonl"
    ledger.write_text("".join(json.dumps(r) + "\n" for r in ledger_rows([(0, 0.204), (1, 0.22), (2, 0.16)])))
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "claims.py"), "report", "--ledger", str(ledger)],
                         capture_output=True, text=True, check=True).stdout
    assert "✓ held 3/3" in out
    assert "value < threshold 0.24: observed 0.16 / 0.204 / 0.22; smallest margin +0.02 (+8% of the threshold)" in out
    table = subprocess.run([sys.executable, str(ROOT / "scripts" / "claims.py"), "report", "--markdown", "--ledger",
                            str(ledger)], capture_output=True, text=True, check=True).stdout
    assert "| 03 | dot aligns | 3/3 | < 0.24 | 0.16 / 0.204 / 0.22 | +0.02 |" in table


def test_running_a_notebook_again_replaces_its_rows_but_keeps_retired_claims(tmp_path):
    sys.path.insert(0, str(ROOT / "scripts"))
    from claims import read_ledger, replace

    ledger = tmp_path / "claims.jsonl"
    replace(ledger, ledger_rows([(0, 0.2), (1, 0.21)]) + ledger_rows([(0, 0.3)], claim="an old claim"))
    replace(ledger, ledger_rows([(0, 0.19)]))                    # seed 0 again: the old claim is not made any more
    rows = read_ledger(ledger)
    assert sorted((r["claim"], r["seed"], r["numbers"][0]) for r in rows) == [
        ("an old claim", 0, 0.3), ("dot aligns", 0, 0.19), ("dot aligns", 1, 0.21)]


def test_runs_in_other_environments_or_code_are_kept_beside_each_other(tmp_path):
    """A run is every field that makes it distinct: notebook, seed, label, torch, Python, code.
    Recording the classic stack's seed 0 after the current stack's keeps both."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from claims import read_ledger, replace

    ledger = tmp_path / "claims.jsonl"
    current = ledger_rows([(0, 0.20)])
    others = [[dict(r, label="classic", torch="2.3.1") for r in ledger_rows([(0, 0.21)])],
              [dict(r, python="3.13.0") for r in ledger_rows([(0, 0.22)])],
              [dict(r, code="edited models.py") for r in ledger_rows([(0, 0.23)])],
              ledger_rows([(0, 0.24)], notebook="04"), ledger_rows([(1, 0.25)])]
    replace(ledger, current)
    for rows in others:
        replace(ledger, rows)
    assert sorted(r["numbers"][0] for r in read_ledger(ledger)) == [0.20, 0.21, 0.22, 0.23, 0.24, 0.25]
    replace(ledger, [dict(r, numbers=[0.19]) for r in current])   # the very same run again: replaced
    assert sorted(r["numbers"][0] for r in read_ledger(ledger)) == [0.19, 0.21, 0.22, 0.23, 0.24, 0.25]


def test_a_bad_ledger_line_is_named_by_file_and_line(tmp_path):
    rows = [json.dumps(r) for r in ledger_rows([(0, 0.2), (1, 0.21)])]
    no_label = json.dumps({k: v for k, v in ledger_rows([(2, 0.22)])[0].items() if k != "label"})
    for lines, says in (([rows[0], rows[1][:40]], ":2: not a JSON row"),
                        ([rows[0], "", no_label], ":3: the row has no 'label'")):
        ledger = tmp_path / "claims.jsonl"
        ledger.write_text("\n".join(lines) + "\n", encoding="utf-8")
        done = subprocess.run([sys.executable, str(ROOT / "scripts" / "claims.py"), "report", "--ledger", str(ledger)],
                              capture_output=True, text=True)
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stderr
        assert f"claims.py: error: {ledger}{says}" in done.stderr, done.stderr


def test_the_readme_results_table_is_the_one_the_results_files_give():
    """python scripts/claims.py table --write made it; a new run of the ledger must be followed by it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from claims import LEDGER, TABLE_BEGIN, TABLE_END, read_ledger, read_recipes, results_table

    recipes = read_recipes()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    committed = TABLE_BEGIN + readme.split(TABLE_BEGIN, 1)[1].split(TABLE_END, 1)[0] + TABLE_END
    assert committed == results_table(read_ledger(LEDGER), recipes), "run: python scripts/claims.py table --write"


def test_the_bleu_signature_names_the_settings():
    from utils.metrics import bleu_signature

    assert bleu_signature().startswith("nrefs:var|case:mixed|eff:no|tok:none|smooth:exp|version:")
    assert bleu_signature(multi_reference=False).startswith("nrefs:1|")


def test_a_tensor_that_needs_a_gradient_is_compared_without_a_warning(recwarn):
    import torch

    from utils.checks import above

    assert above(torch.tensor(2.0, requires_grad=True) * 1, 1)
    assert not [w for w in recwarn if "requires_grad" in str(w.message)]
