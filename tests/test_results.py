"""utils.results: the one reader (and writer) of the results files, and its errors."""
import json

import pytest

from utils.results import ResultsFormatError, read_results, write_results


def test_rows_round_trip_in_order_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / "sub" / "runs.jsonl"
    rows = [{"seed": 0, "claim": "dot aligns — ✓"}, {"seed": 1, "numbers": [0.5]}]
    write_results(path, rows)
    assert read_results(path) == rows
    path.write_text(path.read_text() + "\n   \n", encoding="utf-8")
    assert read_results(path, required=("seed",)) == rows
    assert [p.name for p in path.parent.iterdir()] == ["runs.jsonl"]       # no temporary file left


@pytest.mark.parametrize("line, says", [
    ('{"seed": 1, "label": ', "not a JSON row"),                          # cut off
    ("<<<<<<< HEAD", "not a JSON row"),                                   # a merge conflict
    ("[1, 2]", "a JSON list, not a row"),
    ('{"seed": 1}', "the row has no 'label'"),
])
def test_a_bad_line_is_named_by_file_and_line(tmp_path, line, says):
    path = tmp_path / "runs.jsonl"
    path.write_text(json.dumps({"seed": 0, "label": ""}) + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ResultsFormatError) as info:
        read_results(path, required=("seed", "label"))
    message = str(info.value)
    assert message.startswith(f"{path}:3: ") and says in message and "mend or delete that line" in message, message
    assert info.value.__context__ is None or info.value.__suppress_context__


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl does not exist"):
        read_results(tmp_path / "nope.jsonl")
