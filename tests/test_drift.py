"""lstm-equiv drift on reports recorded with TF 2.15.1 and TF 2.21.0 (tests/data/drift)."""
import json
from pathlib import Path

from harness import drift

DATA = Path(__file__).resolve().parent / "data" / "drift"


def _drift(*paths):
    lines = []
    code = drift.drift([str(p) for p in paths], out=lines.append)
    return code, lines


def test_drift_between_tf215_and_tf221_shows_changed_bits_that_still_match_the_reference():
    code, lines = _drift(DATA / "tf215.json", DATA / "tf221.json")
    assert code == 0
    assert lines[0].split()[:3] == ["case", "form", "dtype"]
    assert "TF 2.15.1 vs reference" in lines[0] and "TF 2.15.1 -> TF 2.21.0" in lines[0]
    row = next(line for line in lines if "  keras_lstm " in line and "float32" in line)
    assert row.count("pass") == 2 and "changed (outputs, final_h, final_c, logits; max |delta| 1.79e-07 sampled)" in row
    skipped = next(line for line in lines if "block_lstm " in line and "float64" in line)
    assert skipped.split()[3:] == ["skip", "skip", "-"]
    assert lines[-1] == "drift: 18 runs compared; TF's outputs changed in 15; every run matches the reference"


def test_a_run_against_itself_has_the_same_bits():
    code, lines = _drift(DATA / "tf221.json", DATA / "tf221.json")
    assert code == 0 and lines[-1].startswith("drift: 18 runs compared; TF's outputs changed in 0;")
    assert sum("same bits" in line for line in lines) == 15


def test_a_run_that_failed_the_reference_exits_1(tmp_path):
    rows = json.loads((DATA / "tf221.json").read_text())
    rows[1]["status"] = "fail"
    (tmp_path / "failed.json").write_text(json.dumps(rows))
    code, lines = _drift(DATA / "tf215.json", tmp_path / "failed.json")
    assert code == 1 and lines[-1].endswith("a run FAILED the reference")


def test_runs_fed_different_inputs_are_not_compared(tmp_path):
    rows = json.loads((DATA / "tf221.json").read_text())
    for r in rows:
        if r["inputs_digest"]:
            r["inputs_digest"] = "0" * 64
    (tmp_path / "other_seed.json").write_text(json.dumps(rows))
    code, lines = _drift(DATA / "tf215.json", tmp_path / "other_seed.json")
    assert any("not comparable: the runs were fed different inputs" in line for line in lines)
