"""lstm-equiv gather on the reports of two real tox environments, tf212 and tf221, written by
`.ci/tox-env ENV tests/data/gather/ENV cases/question.yaml` (the step each job of the hosted workflow runs;
the HTML reports and JUnit XML were left out of the repository). The expected numbers are counted here
from the raw JSON rows, not by the module under test."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lstm_equiv.harness import drift, gather

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "gather"
ENVS = ("tf212", "tf221")


def _rows(env):
    return json.loads((DATA / env / "report.json").read_text())


def _gather(*paths, out=None, expect=None, **force):
    lines = []
    code = gather.main([str(p) for p in paths], out, echo=lines.append, expect=expect, **force)
    return code, lines


def test_the_reports_come_from_two_tensorflow_versions():
    versions = [_rows(env)[0]["versions"]["tensorflow"] for env in ENVS]
    assert versions[0].startswith("2.12.") and versions[1].startswith("2.21.")


def test_the_table_counts_every_form_and_status_of_both_environments():
    code, lines = _gather(DATA / "tf221", DATA / "tf212")  # given newest first: ordered by TF version
    assert code == 0
    header = next(line for line in lines if line.startswith("| form |"))
    labels = [f"TF {_rows(env)[0]['versions']['tensorflow']}" for env in ENVS]
    assert header == f"| form | {labels[0]} | {labels[1]} |"
    body = {
        line.split(" | ")[0][2:]: line.strip("| ").split(" | ")[1:]
        for line in lines
        if line.startswith("| ") and not line.startswith(("| form", "|---"))
    }
    forms = sorted({r["form"] for env in ENVS for r in _rows(env)})
    assert sorted(body) == sorted(forms + ["all forms"])
    for k, env in enumerate(ENVS):
        rows = _rows(env)
        for form in forms + ["all forms"]:
            mine = [r for r in rows if form in (r["form"], "all forms")]
            expected = (
                ", ".join(
                    f"{n} {s}"
                    for s in ("pass", "fail", "error", "skip", "xfail")
                    for n in [sum(r["status"] == s for r in mine)]
                    if n
                )
                or "-"
            )
            assert body[form][k] == expected, (env, form)


def test_the_drift_line_counts_the_bits_that_changed_between_the_versions():
    _, lines = _gather(DATA / "tf212", DATA / "tf221")
    (step,) = [line for line in lines if " -> " in line]
    a, b = ({(r["case"], r["form"], r["dtype"]): [] for r in _rows(env)} for env in ENVS)
    for env, runs in zip(ENVS, (a, b)):
        for r in _rows(env):
            if r.get("digest"):
                runs[(r["case"], r["form"], r["dtype"])].append((r["check"], r["digest"]))
    both = [key for key in a if a[key] and b.get(key)]
    same = sum(sorted(a[key]) == sorted(b[key]) for key in both)
    assert f": {len(both)} (case, form, dtype) runs in both: {same} same bits, {len(both) - same} changed" in step
    assert len(both) > 10


def test_out_writes_the_table_and_the_whole_drift_table(tmp_path):
    code, lines = _gather(DATA, out=tmp_path)  # the folder is searched for reports
    assert code == 0
    matrix = (tmp_path / "matrix.md").read_text()
    assert "| form |" in matrix and " -> " in matrix and matrix.rstrip().endswith("every run matches the reference")
    whole = []
    drift.drift([str(DATA / env / "report.json") for env in ENVS], out=whole.append)
    assert (tmp_path / "drift.txt").read_text() == "\n".join(whole) + "\n"


@pytest.mark.parametrize("status", ["fail", "error"])
def test_a_failed_or_erroring_item_makes_gather_exit_1_and_is_named(tmp_path, status):
    rows = _rows("tf221")
    rows[3].update(status=status, **({"max_abs_err": None} if status == "error" else {}))
    (tmp_path / "tf221").mkdir()
    (tmp_path / "tf221" / "report.json").write_text(json.dumps(rows))
    code, lines = _gather(DATA / "tf212", tmp_path / "tf221")
    r = rows[3]
    assert code == 1
    where = f"{r['case']} {r['form']} {r['dtype']} {r['check']}"
    assert f"TF {r['versions']['tensorflow']}: {where} {status.upper()}" in lines
    assert lines[-1] == "gather: 2 runs; 1 items FAILED the reference"
    assert any(f"**1 {status}**" in line for line in lines if line.startswith(f"| {r['form']} |"))


def test_missing_or_foreign_reports_exit_2(tmp_path, capsys):
    assert _gather(tmp_path / "nowhere") == (2, [])
    assert capsys.readouterr().err == f"lstm-equiv gather: {tmp_path / 'nowhere'}: no such file or folder\n"
    (tmp_path / "empty").mkdir()
    assert _gather(tmp_path / "empty") == (2, [])
    assert "empty: holds no JSON report" in capsys.readouterr().err
    (tmp_path / "other.json").write_text('{"not": "a report"}')
    assert _gather(tmp_path / "other.json") == (2, [])
    assert f"{tmp_path / 'other.json'}: not a JSON report" in capsys.readouterr().err


def test_two_reports_of_one_version_are_told_apart_by_their_folder(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(DATA / "tf221" / "report.json", tmp_path / name / "report.json")
    _, lines = _gather(tmp_path / "a", tmp_path / "b")
    version = _rows("tf221")[0]["versions"]["tensorflow"]
    assert (
        next(line for line in lines if line.startswith("| form |")) == f"| form | TF {version} (a) | TF {version} (b) |"
    )


def test_gather_needs_no_tensorflow(tmp_path):
    """The workflow's gather job installs lstm-equiv without TensorFlow: the command must not import it."""
    code = (
        "import sys\nfor m in ('tensorflow', 'keras', 'tf_keras', 'torch', 'onnx', 'onnxruntime'):\n"
        "    sys.modules[m] = None\nfrom lstm_equiv.harness.cli import main\n"
        f"sys.exit(main(['gather', {str(DATA)!r}, '--out', {str(tmp_path)!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "matrix.md").is_file()


def test_expect_fails_when_an_environment_wrote_no_report(capsys):
    assert _gather(DATA / "tf212", DATA / "tf221", expect=2)[0] == 0
    capsys.readouterr()
    assert _gather(DATA / "tf212", expect=2) == (2, [])
    assert capsys.readouterr().err.startswith("lstm-equiv gather: expected 2 reports, found 1: TF 2.12.1")
    assert _gather(DATA / "tf212", DATA / "tf221", expect=3)[0] == 2
    assert capsys.readouterr().err == (
        f"lstm-equiv gather: expected 3 reports, found 2: TF 2.12.1 "
        f"({DATA / 'tf212' / 'report.json'}), TF 2.21.0 "
        f"({DATA / 'tf221' / 'report.json'})\n"
    )


def _legacy_copy(folder: Path, env: str) -> Path:
    """``env``'s report as its -legacy twin would label it (tf.keras = Keras 2 through TF_USE_LEGACY_KERAS)."""
    rows = _rows(env)
    for r in rows:
        r["versions"] = dict(r["versions"], **{"tf.keras": "Keras 2 (TF_USE_LEGACY_KERAS)"})
    (folder / f"{env}-legacy").mkdir()
    (folder / f"{env}-legacy" / "report.json").write_text(json.dumps(rows))
    return folder / f"{env}-legacy"


def test_legacy_twins_follow_their_plain_run_and_are_chained_apart(tmp_path):
    legacy212, legacy221 = _legacy_copy(tmp_path, "tf212"), _legacy_copy(tmp_path, "tf221")
    _, lines = _gather(legacy221, DATA / "tf221", legacy212, DATA / "tf212")
    v212, v221 = (f"TF {_rows(env)[0]['versions']['tensorflow']}" for env in ENVS)
    assert (
        next(line for line in lines if line.startswith("| form |"))
        == f"| form | {v212} | {v212} legacy | {v221} | {v221} legacy |"
    )
    steps = [line.split(":")[0] for line in lines if " -> " in line]
    assert steps == [
        f"{v212} -> {v221}",
        f"{v212} legacy -> {v221} legacy",
        f"{v212} -> {v212} legacy",
        f"{v221} -> {v221} legacy",
    ]
    # a twin fed the same inputs with the same TF gives the same bits here (the rows are copies)
    assert f"{v221} -> {v221} legacy: 15 (case, form, dtype) runs in both: 15 same bits, 0 changed" in lines


# --- invalid reports: exit 2, the reason (file, row, key) on stderr, never a traceback nor a passing verdict


def _report(folder: Path, rows, name="report.json") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(rows))
    return folder / name


def test_a_list_valued_case_exits_2_naming_the_row_and_key(tmp_path, capsys):
    rows = _rows("tf221")
    rows[3]["case"] = ["question"]
    bad = _report(tmp_path, rows)
    assert _gather(DATA / "tf212", bad) == (2, [])
    assert capsys.readouterr().err == f"lstm-equiv gather: {bad}: row 3: key 'case': ['question'] is not a string\n"


def test_a_bogus_status_or_a_string_error_in_a_searched_folder_is_no_pass(tmp_path, capsys):
    for key, value, must in (
        ("status", "bogus", "one of pass, fail, error, undecided, skip, xfail"),
        ("max_abs_err", "0.1", "a number or null"),
    ):
        rows = _rows("tf221")
        rows[7][key] = value
        bad = _report(tmp_path / key / "tf221", rows)
        assert _gather(DATA / "tf212", tmp_path / key) == (2, []), key
        assert capsys.readouterr().err == f"lstm-equiv gather: {bad}: row 7: key {key!r}: {value!r} is not {must}\n"


def test_a_report_with_a_row_missing_its_status_is_an_error_not_skipped(tmp_path, capsys):
    """A folder's JSON files that are no report are skipped; a list of rows with one broken row is a
    report gone wrong, and skipping it would hide a run."""
    rows = _rows("tf221")
    del rows[5]["status"]
    shutil.copytree(DATA / "tf212", tmp_path / "tf212")
    bad = _report(tmp_path / "tf221", rows)
    assert _gather(tmp_path) == (2, [])
    assert capsys.readouterr().err == f"lstm-equiv gather: {bad}: row 5: key 'status' is missing\n"


def test_json_files_that_are_clearly_no_report_are_skipped_in_a_folder(tmp_path, capsys):
    shutil.copytree(DATA / "tf221", tmp_path / "tf221")
    for name, text in (
        ("object.json", '{"not": "a report"}'),
        ("numbers.json", "[1, 2]"),
        ("empty.json", "[]"),
        ("text.json", "not JSON"),
        ("rows_of_another_tool.json", '[{"name": "x"}]'),
    ):
        (tmp_path / name).write_text(text)
    (tmp_path / "folder.json").mkdir()
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe.json")  # never opened: reading it would wait forever
    code, lines = _gather(tmp_path, expect=1)
    assert code == 0 and lines[-1] == "gather: 1 runs; every run matches the reference"
    assert capsys.readouterr().err == ""


# --- one report reached twice is one run


def test_a_report_given_as_a_file_and_as_its_folder_is_counted_once():
    report = DATA / "tf221" / "report.json"
    code, lines = _gather(report, DATA / "tf221", DATA / "tf212", expect=2)
    assert code == 0 and f"{report} given twice: counted once" in lines
    assert lines[-1] == "gather: 2 runs; every run matches the reference"


def test_a_report_given_through_a_symlink_and_three_times_is_counted_once(tmp_path):
    report = DATA / "tf221" / "report.json"
    (tmp_path / "link.json").symlink_to(report)
    code, lines = _gather(report, tmp_path / "link.json", report, DATA / "tf212", expect=2)
    assert code == 0 and f"{report} given 3 times: counted once" in lines
    assert next(line for line in lines if line.startswith("| form |")).count(" | TF ") == 2  # no "(a)" labels


# --- --out: checked before the work, written whole, an existing folder kept unless it is gather's and --force


def test_out_refuses_a_folder_holding_other_files_before_any_work(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert _gather(DATA, out=out) == (2, [])  # nothing printed: the reports were not even read
    err = capsys.readouterr().err
    assert err.startswith(f"lstm-equiv gather: --out {out}: is not empty") and err.count("\n") == 1
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"


def test_out_replaces_a_folder_gather_wrote_only_with_force(tmp_path, capsys):
    out = tmp_path / "out"
    assert _gather(DATA, out=out)[0] == 0
    assert sorted(p.name for p in out.iterdir()) == [".lstm-equiv", "drift.txt", "matrix.md"]
    (out / "matrix.md").write_text("old")
    assert _gather(DATA, out=out) == (2, [])
    assert "add --force" in capsys.readouterr().err and (out / "matrix.md").read_text() == "old"
    assert _gather(DATA, out=out, force=True)[0] == 0
    assert (out / "matrix.md").read_text().startswith("lstm-equiv: 2 runs")
    assert not list(tmp_path.glob(".*partial*"))  # no temporary folder left beside it


def test_out_may_not_be_a_file_or_hold_an_input(tmp_path, capsys):
    (tmp_path / "file").write_text("keep")
    assert _gather(DATA, out=tmp_path / "file") == (2, [])
    assert capsys.readouterr().err.startswith(f"lstm-equiv gather: --out {tmp_path / 'file'}: is a file")
    shutil.copytree(DATA / "tf221", tmp_path / "r")
    assert _gather(tmp_path / "r" / "report.json", out=tmp_path / "r", force=True) == (2, [])
    assert f"--out {tmp_path / 'r'}: holds an input of this run" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["report.json"]
    assert _gather(DATA, out=tmp_path / "no" / "such" / "out") == (2, [])
    assert "does not exist" in capsys.readouterr().err


def test_gather_exits_3_for_an_unexpected_undecided_row(tmp_path):
    data = DATA
    rows = json.loads((data / "tf221" / "report.json").read_text())
    for flag, code in ((None, 3), ("expected", 0)):
        rows[3].update(status="undecided", flag=flag)
        folder = tmp_path / f"{flag}" / "tf221"
        folder.mkdir(parents=True)
        (folder / "report.json").write_text(json.dumps(rows))
        lines = []
        assert gather.main([str(data / "tf212"), str(folder)], echo=lines.append) == code, lines[-1]
        if code == 3:
            assert lines[-1] == (
                "gather: 2 runs; nothing failed, but 1 items are UNDECIDED (no dtype decides their "
                "case, and it does not say expect_undecided)"
            )
            assert any(line.endswith(f"{rows[3]['check']} UNDECIDED") for line in lines)


# ------------------------------------------------------- synthetic runs (what mutation testing found open)


def _synthetic(tmp_path, name, version, rows):
    folder = tmp_path / name
    folder.mkdir()
    base = {"max_abs_err": 1e-7, "digest": "d", "inputs_digest": "i", "sample": [0.5]}
    full = [base | r | ({"versions": {"tensorflow": version}} if version else {}) for r in rows]
    (folder / "report.json").write_text(json.dumps(full))
    return folder


def _item(case="c", form="f", status="pass", **more):
    return {"case": case, "form": form, "dtype": "float32", "check": "outputs", "status": status, **more}


def test_versions_sort_as_numbers_and_a_report_without_one_comes_last(tmp_path):
    runs = [
        _synthetic(tmp_path, "a", "2.12.1", [_item()]),
        _synthetic(tmp_path, "b", None, [_item()]),
        _synthetic(tmp_path, "c", "2.9.3", [_item()]),
    ]
    code, lines = _gather(*runs)
    assert code == 0
    assert lines[2] == "| form | TF 2.9.3 | TF 2.12.1 | TF ? |" and lines[3] == "|---|---|---|---|"
    assert "TF 2.9.3 -> TF 2.12.1: 1 (case, form, dtype) runs in both: 1 same bits, 0 changed" in lines
    assert "TF 2.12.1 -> TF ?: 1 (case, form, dtype) runs in both: 1 same bits, 0 changed" in lines


def test_the_table_marks_errors_and_absent_forms_and_the_steps_count_other_inputs(tmp_path):
    old = _synthetic(
        tmp_path,
        "old",
        "2.12.1",
        [_item(), _item(form="g", status="error", max_abs_err=None), _item(case="d", inputs_digest="i1")],
    )
    new = _synthetic(
        tmp_path,
        "new",
        "2.21.0",
        [_item(digest="e", sample=[0.75]), _item(case="d", inputs_digest="i2"), _item(case="only_here")],
    )
    code, lines = _gather(old, new)
    assert code == 1
    assert "| g | **1 error** | - |" in lines
    assert (
        "TF 2.12.1 -> TF 2.21.0: 2 (case, form, dtype) runs in both: 0 same bits, 1 changed (max |delta| 0.25 "
        "sampled), 1 not comparable (fed different inputs)"
    ) in lines


def test_a_legacy_run_without_a_plain_twin_is_chained_alone(tmp_path):
    rows = [_item() | {"versions": {"tensorflow": "2.21.0", "tf.keras": "2.21.0 (LEGACY)"}}]
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / "report.json").write_text(
        json.dumps([{"max_abs_err": 1e-7, "digest": "d", "inputs_digest": "i"} | r for r in rows])
    )
    code, lines = _gather(_synthetic(tmp_path, "plain", "2.12.1", [_item()]), legacy)
    assert code == 0 and not any(" -> TF 2.21.0 legacy" in line for line in lines)


@pytest.mark.parametrize("n, cut", [(60, "... and 10 more"), (51, "... and 1 more"), (50, None)])
def test_more_than_50_failures_are_cut_with_a_count(tmp_path, n, cut):
    bad = [_item(case=f"c{k:02}", status="fail") for k in range(n)]
    code, lines = _gather(_synthetic(tmp_path, "a", "2.21.0", bad))
    listed = [line for line in lines if line.endswith(" FAIL")]
    assert code == 1 and len(listed) == 50
    assert lines[-2] == cut if cut else lines[-2].endswith(" FAIL")
    assert lines[-1] == f"gather: 1 runs; {n} items FAILED the reference"


def test_matrix_md_is_the_table_and_the_drift_as_printed(tmp_path):
    runs = [_synthetic(tmp_path, "a", "2.12.1", [_item()]), _synthetic(tmp_path, "b", "2.21.0", [_item()])]
    code, lines = _gather(*runs, out=tmp_path / "out")
    assert code == 0
    assert lines == [
        "lstm-equiv: 2 runs, items per form and status",
        "",
        "| form | TF 2.12.1 | TF 2.21.0 |",
        "|---|---|---|",
        "| f | 1 pass | 1 pass |",
        "| all forms | 1 pass | 1 pass |",
        "",
        "Drift of TF's outputs from each TF version to the next (the -legacy runs, tf.keras = Keras 2, "
        "chained apart, then each against its plain twin):",
        "TF 2.12.1 -> TF 2.21.0: 1 (case, form, dtype) runs in both: 1 same bits, 0 changed",
        "",
        "gather: 2 runs; every run matches the reference",
    ]
    assert (tmp_path / "out" / "matrix.md").read_text() == "\n".join(lines) + "\n"


def test_a_found_json_whose_rows_hold_exactly_the_five_keys_is_a_report(tmp_path, capsys):
    """Rows with case, form, dtype, check and status and nothing more look like a report: they are checked
    (and here refused for the missing max_abs_err), never skipped as another tool's JSON."""
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps([_item()]))
    code, lines = _gather(folder)
    assert code == 2
    assert capsys.readouterr().err == (
        f"lstm-equiv gather: {folder / 'report.json'}: row 0: key 'max_abs_err' is missing\n"
    )
