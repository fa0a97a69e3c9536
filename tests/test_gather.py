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

from harness import drift, gather

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "gather"
ENVS = ("tf212", "tf221")


def _rows(env):
    return json.loads((DATA / env / "report.json").read_text())


def _gather(*paths, out=None, expect=None):
    lines = []
    code = gather.main([str(p) for p in paths], out, echo=lines.append, expect=expect)
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
    body = {line.split(" | ")[0][2:]: line.strip("| ").split(" | ")[1:] for line in lines
            if line.startswith("| ") and not line.startswith(("| form", "|---"))}
    forms = sorted({r["form"] for env in ENVS for r in _rows(env)})
    assert sorted(body) == sorted(forms + ["all forms"])
    for k, env in enumerate(ENVS):
        rows = _rows(env)
        for form in forms + ["all forms"]:
            mine = [r for r in rows if form in (r["form"], "all forms")]
            expected = ", ".join(f"{n} {s}" for s in ("pass", "fail", "error", "skip", "xfail")
                                 for n in [sum(r["status"] == s for r in mine)] if n) or "-"
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


def test_a_failed_item_makes_gather_exit_1_and_is_named(tmp_path):
    rows = _rows("tf221")
    rows[3]["status"] = "fail"
    (tmp_path / "tf221").mkdir()
    (tmp_path / "tf221" / "report.json").write_text(json.dumps(rows))
    code, lines = _gather(DATA / "tf212", tmp_path / "tf221")
    r = rows[3]
    assert code == 1
    assert f"TF {r['versions']['tensorflow']}: {r['case']} {r['form']} {r['dtype']} {r['check']} FAIL" in lines
    assert lines[-1] == "gather: 2 runs; 1 items FAILED the reference"
    assert any("**1 fail**" in line for line in lines if line.startswith(f"| {r['form']} |"))


def test_missing_or_foreign_reports_exit_2(tmp_path):
    assert _gather(tmp_path / "nowhere")[0] == 2
    (tmp_path / "empty").mkdir()
    code, lines = _gather(tmp_path / "empty")
    assert code == 2 and "holds no JSON report" in lines[0]
    (tmp_path / "other.json").write_text('{"not": "a report"}')
    code, lines = _gather(tmp_path / "other.json")
    assert code == 2 and "other.json: not a JSON report" in lines[0]


def test_two_reports_of_one_version_are_told_apart_by_their_folder(tmp_path):
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(DATA / "tf221" / "report.json", tmp_path / name / "report.json")
    _, lines = _gather(tmp_path / "a", tmp_path / "b")
    version = _rows("tf221")[0]["versions"]["tensorflow"]
    assert next(line for line in lines if line.startswith("| form |")) == \
        f"| form | TF {version} (a) | TF {version} (b) |"


def test_gather_needs_no_tensorflow(tmp_path):
    """The workflow's gather job installs lstm-equiv without TensorFlow: the command must not import it."""
    code = ("import sys\nfor m in ('tensorflow', 'keras', 'tf_keras', 'torch', 'onnx', 'onnxruntime'):\n"
            "    sys.modules[m] = None\nfrom harness.cli import main\n"
            f"sys.exit(main(['gather', {str(DATA)!r}, '--out', {str(tmp_path)!r}]))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "matrix.md").is_file()


def test_expect_fails_when_an_environment_wrote_no_report():
    assert _gather(DATA / "tf212", DATA / "tf221", expect=2)[0] == 0
    code, lines = _gather(DATA / "tf212", expect=2)
    assert code == 2 and lines[0].startswith("lstm-equiv gather: expected 2 reports, found 1: TF 2.12.1")


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
    assert next(line for line in lines if line.startswith("| form |")) == \
        f"| form | {v212} | {v212} legacy | {v221} | {v221} legacy |"
    steps = [line.split(":")[0] for line in lines if " -> " in line]
    assert steps == [f"{v212} -> {v221}", f"{v212} legacy -> {v221} legacy",
                     f"{v212} -> {v212} legacy", f"{v221} -> {v221} legacy"]
    # a twin fed the same inputs with the same TF gives the same bits here (the rows are copies)
    assert f"{v221} -> {v221} legacy: 15 (case, form, dtype) runs in both: 15 same bits, 0 changed" in lines
