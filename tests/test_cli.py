"""The lstm-equiv command line: table, JSON report, exit codes 0 / 1 / 2. In-process (TF is imported
once per worker), except where a second process is the point."""

import io
import json
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import replace
from pathlib import Path

from lstm_equiv.harness import engine
from lstm_equiv.harness.cli import main
from lstm_equiv.harness.forms import LSTM_FORMS

ROOT = Path(__file__).resolve().parent.parent
GOOD = (
    "name: {name}\ninput_depth: 3\nnum_units: 4\ntimesteps: 6\nbatch: 2\nseed: 7\ndtypes: [float32]\n"
    "forms: [keras_lstm]\nchecks: [forward]\n{extra}"
)


def cli(*args, cwd=ROOT):
    """Run ``lstm-equiv ARGS`` in this process: (exit code, stdout, stderr)."""
    out, err, here = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(cwd)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exit_:  # argparse's usage errors
                code = exit_.code
    finally:
        os.chdir(here)
    return code, out.getvalue(), err.getvalue()


def cli_in_a_new_process(*args, cwd=ROOT):
    proc = subprocess.run(
        [sys.executable, "-m", "lstm_equiv.harness", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_run_prints_a_table_and_writes_json(tmp_path):
    (tmp_path / "ok.yaml").write_text(GOOD.format(name="ok", extra=""))
    code, out, err = cli("run", str(tmp_path), "--json", str(tmp_path / "r.json"))
    assert code == 0, out + err
    assert out.splitlines()[1].split() == [
        "case",
        "form",
        "dtype",
        "check",
        "max",
        "abs",
        "err",
        "bound",
        "err/bound",
        "status",
    ]
    assert "ok    keras_lstm  float32  outputs" in out
    assert out.rstrip().endswith("4 pass, 0 fail, 0 error, 0 skip")
    rows = json.loads((tmp_path / "r.json").read_text())
    assert [r["check"] for r in rows] == ["weights", "outputs", "final_h", "final_c"]
    assert rows[0]["compared"][:2] == ["shapes", "V['i']"] and rows[1]["compared"] == ["outputs"]
    for r in rows:
        assert {"case", "form", "dtype", "check", "status", "max_abs_err", "tolerance", "compared"} <= set(r)
        assert r["status"] == "pass" and r["max_abs_err"] <= r["tolerance"]
        assert r["check"] == "weights" or 0 <= r["ratio"] < 1
        assert r["versions"]["tensorflow"]


def test_an_equivalence_failure_exits_1(tmp_path):
    """A tolerance far below float32's rounding cannot hold: the run must say FAIL and exit 1."""
    extra = "tolerance:\n  float32: 1.0e-30\n  reason: deliberately impossible, to see the failure path\n"
    (tmp_path / "strict.yaml").write_text(GOOD.format(name="strict", extra=extra))
    code, out, err = cli("run", str(tmp_path))
    assert code == 1, out + err
    assert "FAIL: case strict" in out
    assert "Tolerance: atol=1e-30 (override in" in out and "deliberately impossible" in out


def test_an_invalid_file_exits_2_and_the_others_still_run(tmp_path):
    (tmp_path / "a.yaml").write_text(GOOD.format(name="fine", extra=""))
    (tmp_path / "b.yaml").write_text(GOOD.format(name="broken", extra="num_unit: 3\n"))
    code, out, err = cli("run", str(tmp_path))
    assert code == 2
    assert f"{tmp_path / 'b.yaml'}:10: key 'num_unit': unknown key; did you mean 'num_units'?" in err
    assert "Traceback" not in err
    assert "4 pass, 0 fail, 0 error, 0 skip, 1 invalid case file(s)" in out


def test_usage_errors_exit_2(tmp_path):
    assert cli("run", str(tmp_path / "missing"))[0] == 2
    assert cli("frobnicate")[0] == 2
    assert cli("run", str(tmp_path))[0] == 2  # no case files at all


def test_schema_command_prints_the_shipped_schema():
    code, out, _ = cli("schema")
    assert code == 0
    assert json.loads(out) == json.loads((ROOT / "harness" / "case.schema.json").read_text())


BAD = ROOT / "tests" / "data" / "bad"


def test_every_bad_file_is_a_clean_error_and_the_good_case_still_runs(tmp_path):
    (tmp_path / "good.yaml").write_text(GOOD.format(name="survivor", extra=""))
    bad = sorted(BAD.glob("*.yaml"))
    code, out, err = cli("run", str(tmp_path), *map(str, bad))
    assert code == 2
    assert err.count("invalid case file:") == len(bad)
    for path in bad:
        assert f"{path}:" in err, path
    assert "Traceback" not in err + out
    assert "4 pass, 0 fail, 0 error, 0 skip, " + f"{len(bad)} invalid case file(s)" in out


def test_two_runs_give_bit_identical_results(tmp_path):
    (tmp_path / "same.yaml").write_text(GOOD.format(name="same", extra="").replace("forms: [keras_lstm]\n", ""))
    digests = []
    engine.forget_runs()  # build and run TF afresh here, then once more in a process of its own
    for k, run in enumerate((cli, cli_in_a_new_process)):
        code, out, err = run("run", str(tmp_path), "--json", str(tmp_path / f"r{k}.json"))
        assert code == 0, out + err
        rows = json.loads((tmp_path / f"r{k}.json").read_text())
        digests.append({(r["form"], r["dtype"], r["check"]): r["digest"] for r in rows})
    available = {f for f, form in LSTM_FORMS.items() if not form.missing()}  # a form without its extra is skipped
    assert len(digests[0]) == len(LSTM_FORMS) * 4
    assert all(d for (form, _, _), d in digests[0].items() if form in available)
    assert digests[0] == digests[1]


def _readme_exit_codes() -> list:
    """(code, meaning) of every row of the exit-code table in docs/usage.md."""
    text = (ROOT / "docs" / "usage.md").read_text()
    table = text[text.index("| exit code | meaning |") :].split("\n\n", 1)[0].splitlines()[2:]
    return [(int(code), meaning) for code, meaning in (row.strip("| ").split(" | ", 1) for row in table)]


def test_help_ends_with_the_readmes_exit_code_table():
    from lstm_equiv.harness.cli import EXIT_CODES

    assert _readme_exit_codes() == list(EXIT_CODES)
    for args in (["--help"], ["run", "--help"]):
        code, out, _ = cli(*args)
        assert code == 0
        flat = " ".join(out.split())  # --help wraps the lines
        tail = flat[flat.index("exit codes (every command):") :]
        assert tail == "exit codes (every command): " + " ".join(f"{c} {m}" for c, m in EXIT_CODES)


def test_the_commands_exit_with_the_codes_of_the_table(tmp_path):
    """Each row of the table, seen from a real command (the equivalence failure and invalid file have
    their own tests above)."""
    assert cli("run", str(tmp_path / "nowhere"))[0] == 2
    assert cli("drift", str(tmp_path / "nowhere.json"))[0] == 2
    assert cli("explain", "--input-depth", "0", "--num-units", "3")[0] == 2
    assert cli("run", str(tmp_path))[0] == 2  # a folder with no case file
    (tmp_path / "c.yaml").write_text(GOOD.format(name="one", extra=""))
    code, _, err = cli("run", str(tmp_path / "c.yaml"), "-k", "no_such_form")
    assert code == 2 and "no item matches -k 'no_such_form'" in err


def test_version_names_the_stack_it_would_use():
    from importlib.metadata import version

    import keras
    import numpy
    import tensorflow as tf

    code, out, _ = cli("--version")
    assert code == 0
    line = out.strip()
    assert line.startswith(f"lstm-equiv {version('lstm-equiv')}: ")
    for name, imported in (("tensorflow", tf.__version__), ("numpy", numpy.__version__)):
        assert f"{name} {imported}," in line or line.endswith(f"{name} {imported}")
    # the Keras that tf.keras really is, as imported
    major = int(tf.keras.__version__.split(".")[0]) if hasattr(tf.keras, "__version__") else int(keras.__version__[0])
    assert f"tf.keras Keras {major}" in line
    assert f"keras {keras.__version__}" in line


# ---------------------------------------------------------------- every status reaches its exit code


def test_an_erroring_form_exits_1_with_its_traceback(tmp_path, monkeypatch):
    """A form that crashes is status error on each of its checks: exit 1, never a pass or a skip."""
    from lstm_equiv.harness.forms import FORMS

    def crash(*args, **kwargs):
        raise RuntimeError("the form crashed on purpose")

    monkeypatch.setattr(FORMS["keras_lstm"], "run", crash)
    (tmp_path / "e.yaml").write_text(GOOD.format(name="crashing", extra=""))
    code, out, err = cli("run", str(tmp_path), "--json", str(tmp_path / "r.json"))
    assert code == 1, out + err
    assert "ERROR: case crashing" in out and "RuntimeError: the form crashed on purpose" in out
    assert out.rstrip().endswith("0 pass, 0 fail, 4 error, 0 skip")
    assert {r["status"] for r in json.loads((tmp_path / "r.json").read_text())} == {"error"}


def test_selftest_exits_1_when_an_entry_crashes_even_if_another_check_caught_it(monkeypatch, capsys):
    """One check of the entry fails (the outputs shifted a step) and another raises (its gradients): the
    entry is an error, not a detection, and the self-test exits 1."""
    from lstm_equiv.harness import selftest

    def raise_(grads):
        raise ValueError("the gradient reading crashed on purpose")

    entry = selftest.Mistake(
        "shifted, and a crash in the gradients",
        "plain",
        change_reference=selftest._shift_one_step,
        change_gradients=raise_,
    )
    case = selftest.selftest_cases()["plain"]
    outcome, _, _, how = selftest.judge(case, "keras_lstm", "float64", entry)
    assert outcome == "error" and "ValueError: the gradient reading crashed on purpose" in how
    caught = selftest.judge(case, "keras_lstm", "float64", replace(entry, change_gradients=None))
    assert caught[0] == "detected"  # the same entry without the crash is caught by its outputs
    verdict = selftest.Verdict(entry, "keras_lstm", "float64", outcome, None, None, None, how)
    monkeypatch.setattr(selftest, "baseline", lambda: [])
    monkeypatch.setattr(selftest, "max_abs_c", lambda: 4.0)
    monkeypatch.setattr(selftest, "run_catalogue", lambda: (verdict,))
    code, out, _ = cli("selftest")
    assert code == 1
    assert "0/1 detected MISSED (1 ERROR)" in out
    assert "ERROR: shifted, and a crash in the gradients on keras_lstm" in out


def test_run_with_no_argument_answers_the_question():
    """The first run: the question's network through every TF and Keras form, the kernel explained, the
    verdict, and the rest offered by name; its numbers are those of cases/question.yaml."""
    import yaml

    from lstm_equiv.harness.cli import QUESTION
    from lstm_equiv.harness.forms import keras, tf

    shipped, question = (yaml.safe_load(p.read_text()) for p in (ROOT / "cases" / "question.yaml", QUESTION))
    assert {k: v for k, v in question.items() if k not in ("checks", "forms")} == shipped
    assert sorted(question["forms"]) == sorted(f.name for f in keras.FORMS + tf.FORMS if f.cell == "lstm")
    code, out, _ = cli("run", cwd=ROOT / "tests")  # no cases/ folder there: nothing else is read
    assert code == 0, out
    assert "kernel rows 0:12 multiply x_t (input_depth 12); rows 12:76 multiply h_(t-1)" in out
    assert "128:192   f = f  forget gate" in out
    assert "Verdict: the same function." in out and "lstm-equiv run cases " in out
    assert out.count("\nXFAIL (2 items): block_lstm_v2: known TF bug") == 1  # two checks, one paragraph
    assert (
        "question_network lstm_block_cell float64 (weights outputs final_h final_c logits grad_weights grad_x)" in out
    )


def test_repeated_messages_of_one_kind_are_one_paragraph_listing_the_items():
    from lstm_equiv.harness.cli import _answer, grouped
    from lstm_equiv.harness.items import Item, Result

    case = replace(_case(), name="shape")
    results = [
        Result(Item(case, form, "float32", check), "xfail", 1.0, 1.0, f"{form}: known bug: difference {v}")
        for form, check, v in (("a_form", "grad_x", 0.1), ("a_form", "grad_weights", 0.25), ("b_form", "grad_x", 3))
    ] + [Result(Item(case, "a_form", "float64", "outputs"), "skip", None, None, "a_form takes float32 only")]
    paragraphs = grouped(results)
    assert len(paragraphs) == 2, paragraphs
    assert paragraphs[0] == (
        "XFAIL (3 items): a_form: known bug: difference 0.1\n"
        "  shape a_form float32 (grad_x): 0.1\n  shape a_form float32 (grad_weights): 0.25\n"
        "  shape b_form float32 (grad_x): 3"
    )
    assert paragraphs[1] == "SKIP (1 items): a_form takes float32 only"
    said = []
    _answer(results + [Result(Item(case, "a_form", "float32", "outputs"), "fail", 2.0, 1.0, "off")], said.append)
    assert "Verdict: NOT shown: of the 4 checks that ran, 1 fail (above)." in "\n".join(said)
    said = []
    _answer([Result(Item(case, "a_form", "float32", "outputs"), "pass", 0.1, 1.0, "", ratio=0.1)], said.append)
    assert "the outputs, in float32; the largest error is 0.1 of its bound." in "\n".join(said)  # only what ran
    said = []
    _answer(
        [Result(Item(case, "a_form", "float32", "outputs"), "undecided", 0.1, 1.0, "", flag="expected")], said.append
    )
    assert "Verdict: NOT shown: of the 1 checks that ran, 1 undecided" in "\n".join(said)


def _case():
    from lstm_equiv.harness.casefile import parse

    (case,) = parse("shape.yaml", GOOD.format(name="shape", extra="").encode())
    return case
