"""lstm-equiv drift on reports recorded with TF 2.15.1 and TF 2.21.0 (tests/data/drift)."""

import json
import os
import re
from pathlib import Path

import pytest

from lstm_equiv.harness import drift, safeio

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


# --- a malformed report: exit 2 and one line on stderr naming the file, the row (from 0) and the key ----


def _rows():
    return json.loads((DATA / "tf221.json").read_text())


def _with(rows, n, key, value):
    rows[n][key] = value
    return rows


def _without(rows, n, key):
    del rows[n][key]
    return rows


MALFORMED = {  # name: (the report's bytes, what stderr must say after "lstm-equiv drift: PATH: ")
    "status_bogus": (
        _with(_rows(), 3, "status", "bogus"),
        "row 3: key 'status': 'bogus' is not one of pass, fail, error, undecided, skip, xfail",
    ),
    "status_missing": (_without(_rows(), 3, "status"), "row 3: key 'status' is missing"),
    "max_abs_err_missing": (_without(_rows(), 5, "max_abs_err"), "row 5: key 'max_abs_err' is missing"),
    "case_a_list": (_with(_rows(), 3, "case", ["a"]), "row 3: key 'case': ['a'] is not a string"),
    "form_a_number": (_with(_rows(), 0, "form", 7), "row 0: key 'form': 7 is not a string"),
    "dtype_null": (_with(_rows(), 1, "dtype", None), "row 1: key 'dtype': None is not a string"),
    "check_an_object": (_with(_rows(), 2, "check", {}), "row 2: key 'check': {} is not a string"),
    "max_abs_err_a_string": (
        _with(_rows(), 3, "max_abs_err", "0.1"),
        "row 3: key 'max_abs_err': '0.1' is not a number or null",
    ),
    "max_abs_err_a_bool": (
        _with(_rows(), 3, "max_abs_err", True),
        "row 3: key 'max_abs_err': True is not a number or null",
    ),
    "max_abs_err_past_float": (_with(_rows(), 3, "max_abs_err", 10**400), "row 3: key 'max_abs_err': "),
    "tolerance_a_string": (
        _with(_rows(), 4, "tolerance", "1e-6"),
        "row 4: key 'tolerance': '1e-6' is not a number or null",
    ),
    "ratio_a_list": (_with(_rows(), 4, "ratio", [1]), "row 4: key 'ratio': [1] is not a number or null"),
    "digest_a_number": (_with(_rows(), 6, "digest", 1), "row 6: key 'digest': 1 is not a string or null"),
    "inputs_digest_a_list": (
        _with(_rows(), 6, "inputs_digest", []),
        "row 6: key 'inputs_digest': [] is not a string or null",
    ),
    "sample_of_strings": (_with(_rows(), 7, "sample", ["x"]), "row 7: key 'sample': ['x'] is not a list of numbers"),
    "sample_a_number": (_with(_rows(), 7, "sample", 0.5), "row 7: key 'sample': 0.5 is not a list of numbers"),
    "versions_a_string": (_with(_rows(), 0, "versions", "2.21"), "row 0: key 'versions': '2.21' is not an object"),
    "row_a_number": (_with(_rows(), 3, "status", "pass")[:3] + [5], "row 3: is a number, not an object"),
    "row_a_list": ([[]] + _rows(), "row 0: is a list, not an object"),
    "duplicate_row": (
        _rows() + [_rows()[2]],
        "row 90: repeats row 2 (case 'drift_tiny', form 'basic_lstm_cell_dynamic_rnn', dtype 'float32', "
        "check 'final_h')",
    ),
    "an_object": (
        {"not": "a report"},
        "not a JSON report of lstm-equiv run --json: expected a non-empty list of rows, found an object",
    ),
    "a_string": (
        "rows",
        "not a JSON report of lstm-equiv run --json: expected a non-empty list of rows, found a string",
    ),
    "an_empty_list": (
        [],
        "not a JSON report of lstm-equiv run --json: expected a non-empty list of rows, found an empty list",
    ),
    "not_json": (b'[{"case": ', "not JSON: Expecting value at line 1 column 11"),
    "invalid_utf8": (b'[{"case": "\xff"}]', "not UTF-8 text (byte 11: invalid start byte)"),
    "empty": (b"", "is empty, not a JSON report of lstm-equiv run --json"),
    "blank": (b"\n \n", "is empty, not a JSON report of lstm-equiv run --json"),
    "nested_too_deeply": (b"[" * 100_000, "not a JSON report: nested too deeply"),
    "an_integer_of_5000_digits": (b"[" + b"1" * 5000 + b"]", "not a JSON report: Exceeds the limit"),
}


@pytest.mark.parametrize("name", MALFORMED)
def test_a_malformed_report_exits_2_naming_the_file_row_and_key(tmp_path, capsys, name):
    content, message = MALFORMED[name]
    bad = tmp_path / "r.json"
    bad.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    code, lines = _drift(DATA / "tf215.json", bad)
    err = capsys.readouterr().err
    assert (code, lines) == (2, [])
    assert err.startswith(f"lstm-equiv drift: {bad}: {message}") and err.count("\n") == 1, err


def test_the_key_message_is_the_whole_line(tmp_path, capsys):
    bad = tmp_path / "r.json"
    bad.write_text(json.dumps(_with(_rows(), 3, "status", "bogus")))
    assert _drift(bad)[0] == 2
    assert capsys.readouterr().err == (
        f"lstm-equiv drift: {bad}: row 3: key 'status': 'bogus' is not one of pass, fail, error, undecided, skip, "
        "xfail\n"
    )


def test_a_folder_a_missing_file_or_a_fifo_is_no_report(tmp_path, capsys):
    assert _drift(tmp_path) == (2, [])
    assert capsys.readouterr().err.startswith(f"lstm-equiv drift: {tmp_path}: is a folder, not a JSON report")
    assert _drift(tmp_path / "nowhere.json") == (2, [])
    assert capsys.readouterr().err == f"lstm-equiv drift: {tmp_path / 'nowhere.json'}: no such file\n"
    if hasattr(os, "mkfifo"):  # refused at once: nothing ever writes to it, so a read would wait forever
        os.mkfifo(tmp_path / "pipe.json")
        assert _drift(tmp_path / "pipe.json") == (2, [])
        assert capsys.readouterr().err.startswith(f"lstm-equiv drift: {tmp_path / 'pipe.json'}: is a FIFO")


def test_a_report_past_the_size_limit_is_refused_before_it_is_read(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(safeio.LIMITS, "JSON report", 4096)  # rather than writing 256 MiB
    code, lines = _drift(DATA / "tf221.json")
    assert (code, lines) == (2, [])
    assert capsys.readouterr().err.startswith(f"lstm-equiv drift: {DATA / 'tf221.json'}: ")


def test_nan_and_integer_errors_are_valid(tmp_path, capsys):
    """A run whose TF outputs are NaN reports NaN errors (json writes NaN); an error may be an int."""
    rows = _with(_with(_rows(), 3, "max_abs_err", float("nan")), 3, "status", "error")
    rows = _with(_with(rows, 4, "max_abs_err", 0), 4, "sample", [float("inf"), 1, -2.5])
    (tmp_path / "nan.json").write_text(json.dumps(rows))
    code, lines = _drift(DATA / "tf215.json", tmp_path / "nan.json")
    assert code == 1 and lines[-1].endswith("a run FAILED the reference") and capsys.readouterr().err == ""


# ----------------------------------------------- the table, whole, on runs built here (mutation testing)


def _row(case, form, dtype, check, status, err=None, digest=None, inputs="i1", sample=()):
    return {
        "case": case,
        "form": form,
        "dtype": dtype,
        "check": check,
        "status": status,
        "max_abs_err": err,
        "digest": digest,
        "inputs_digest": inputs,
        "sample": list(sample),
    }


def test_the_drift_table_whole():
    """Two runs of four (case, form, dtype) each, every kind of cell; the expected table is written out by
    hand from the rows."""
    a = [
        _row("c1", "f1", "float32", "weights", "pass", 5.0, "w"),
        _row("c1", "f1", "float32", "outputs", "pass", 1e-7, "d1", sample=(0.1, 0.2)),
        _row("c1", "f2", "float32", "outputs", "skip"),
        _row("c2", "f1", "float64", "outputs", "fail", 0.5, "d2"),
        _row("c4", "f1", "float32", "outputs", "pass", 1e-7, "d4"),
    ]
    b = [
        _row("c1", "f1", "float32", "weights", "pass", 0.0, "w"),
        _row("c1", "f1", "float32", "outputs", "pass", 2e-7, "d3", sample=(0.1, 0.25)),
        _row("c2", "f1", "float64", "outputs", "pass", 1e-16, "d2"),
        _row("c3", "f1", "float32", "outputs", "error"),
        _row("c4", "f1", "float32", "outputs", "pass", 1e-7, "d5", inputs="i2"),
    ]
    for rows in (a, b):
        for r in rows:
            r["versions"] = {"tensorflow": "2.12.1" if rows is a else "2.21.0"}
    lines = []
    code = drift.show([drift.index(a), drift.index(b)], out=lines.append)
    cells = [[c for c in re.split(r"\s{2,}", line) if c] for line in lines[:-2]]
    assert all(line == line.rstrip() and line.startswith("c") for line in lines[:-2])  # left-aligned, no padding after
    assert cells == [
        ["case", "form", "dtype", "TF 2.12.1 vs reference", "TF 2.21.0 vs reference", "TF 2.12.1 -> TF 2.21.0"],
        ["c1", "f1", "float32", "pass 1e-07", "pass 2e-07", "changed (outputs; max |delta| 0.05 sampled)"],
        ["c1", "f2", "float32", "skip", "absent", "-"],
        ["c2", "f1", "float64", "fail 0.5", "pass 1e-16", "same bits"],
        ["c3", "f1", "float32", "absent", "error", "-"],
        [
            "c4",
            "f1",
            "float32",
            "pass 1e-07",
            "pass 1e-07",
            "not comparable: the runs were fed different inputs (case or seed changed)",
        ],
    ]
    assert lines[-2:] == ["", "drift: 5 runs compared; TF's outputs changed in 1; a run FAILED the reference"]
    assert code == 1
    checks = lambda row: {row["check"]: row}
    assert drift.compare(checks(a[1]), checks(b[1] | {"digest": None})) == ("none", (), None)  # one side only
    assert drift.compare(checks(a[3]), checks(b[2])) == ("same", (), 0.0)
    assert drift.compare(checks(a[1]), checks(b[1] | {"sample": []})) == ("changed", ("outputs",), 0.0)
    no_samples = lambda row: checks({k: v for k, v in row.items() if k != "sample"})
    assert drift.compare(no_samples(a[1]), checks(b[1])) == ("changed", ("outputs",), 0.0)
    assert drift.compare(checks(a[1]), no_samples(b[1])) == ("changed", ("outputs",), 0.0)


def test_a_report_of_one_row_without_versions_is_labelled_tf_unknown():
    label, rows = drift.index([_row("c", "f", "float32", "outputs", "pass", 0.1)])
    assert label == "TF ?" and list(rows) == [("c", "f", "float32", "outputs")]
    legacy = _row("c", "f", "float32", "outputs", "pass", 0.1) | {
        "versions": {"tensorflow": "2.21.0", "tf.keras": "2.21.0 (LEGACY)"}
    }
    assert drift.index([legacy])[0] == "TF 2.21.0 legacy"


@pytest.mark.parametrize(
    "value, shown",
    [(None, "null"), (True, "true"), (False, "false"), (3, "a number"), ("x", "a string"), ([1], "a list")],
)
def test_a_row_that_is_not_an_object_is_named_as_json_calls_it(value, shown):
    assert drift._row_problem(value) == f"is {shown}, not an object (a row of lstm-equiv run --json)"
