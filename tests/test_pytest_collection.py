"""The suite as users run it: pytest (with and without xdist) over case files. In-process through pytester
where that proves the same thing; in a fresh process where xdist's workers are the point."""

import json
import shutil
from pathlib import Path

import pytest

from lstm_equiv.harness import engine
from lstm_equiv.harness.collect import per_case
from lstm_equiv.harness.forms import FORMS, LSTM_FORMS
from lstm_equiv.harness.forms.tf import compat as tf_compat

ROOT = Path(__file__).resolve().parent.parent
GOOD = (
    "name: tiny\ninput_depth: 3\nnum_units: 4\ntimesteps: 6\nbatch: 2\nseed: 7\ndtypes: [float64]\n"
    "forms: [keras_lstm]\nchecks: [forward]\n"
)
BAD = "name: typo\ninput_depth: 3\nnum_unit: 4\ntimesteps: 6\nbatch: 2\nseed: 8\n"
WRONG_LAYOUT = """
from dataclasses import replace
from lstm_equiv.harness import engine, layouts
_wrong = replace(layouts.KERAS, name="keras read as ijfo", gate_order=("i", "j", "f", "o"))
_evaluate = engine.evaluate
engine.evaluate = lambda item, reading=None, weights="random": _evaluate(item, engine.ReadAs(other=_wrong), weights)
"""
COLLECTED = ROOT / "tests" / "data" / "collected.json"


@pytest.fixture(autouse=True, scope="module")
def every_form_already_ran_here(tmp_path_factory):
    """pytester's in-process runs drop the modules they imported; TF's must not be imported twice in one
    process (its C++ op registry aborts), so every form runs once here, in this process, before them."""
    from lstm_equiv.harness.casefile import parse

    path = tmp_path_factory.mktemp("warm") / "warm.yaml"
    (case,) = parse(
        path,
        GOOD.replace("tiny", "warm")
        .replace("forms: [keras_lstm]\n", "")
        .replace("[float64]", "[float32, float64]")
        .replace("checks: [forward]\n", "")
        .encode(),
    )
    for form in case.forms:
        for dtype in case.dtypes:
            engine.read(case, form, dtype)
    tf_compat.device()


def project(pytester, cases: dict, conftest_extra=""):
    """A copy of the project's conftest and config, with ``cases`` written to cases/."""
    pytester.makeconftest((ROOT / "conftest.py").read_text() + conftest_extra)
    shutil.copy(ROOT / "pyproject.toml", pytester.path)
    (pytester.path / "cases").mkdir(exist_ok=True)
    for name, content in cases.items():
        target = pytester.path / "cases" / name
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)


def run(pytester, cases: dict, *args, conftest_extra="", subprocess=False):
    project(pytester, cases, conftest_extra)
    runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest_inprocess
    result = runner("-p", "no:cacheprovider", "-p", "no:randomly", *args)
    return result.ret, result.stdout.str() + result.stderr.str()


def test_a_bad_file_is_a_collection_error_and_the_other_files_still_run(pytester):
    code, out = run(
        pytester,
        {"a_good.yaml": GOOD, "b_bad.yaml": BAD, "c_good.yaml": GOOD.replace("tiny", "tiny2")},
        "-p",
        "no:xdist",
    )
    assert code == 1, out
    assert "ERROR collecting cases/b_bad.yaml" in out
    assert "cases/b_bad.yaml:3: key 'num_unit': unknown key; did you mean 'num_units'?" in out
    assert "   3 | num_unit: 4" in out
    assert "Traceback" not in out
    assert "8 passed, 1 error" in out, out


def test_under_xdist_too_with_every_bad_file_and_loadscope_by_default(pytester):
    """Two real workers: every bad file is a collection error, the good case passes, and the four checks of
    its one run go to one worker (--dist loadscope, set by the conftest)."""
    bad = {p.name: p.read_bytes() for p in (ROOT / "tests" / "data" / "bad").glob("*.yaml")}
    code, out = run(pytester, {"zz_good.yaml": GOOD, **bad}, "-n", "2", "-v", subprocess=True)
    assert code == 1, out
    for name in bad:
        assert f"ERROR collecting cases/{name}" in out
    assert f"4 passed, {len(bad)} errors" in out, out
    assert "Traceback" not in out
    workers = {line.split()[0] for line in out.splitlines() if "PASSED cases/zz_good.yaml::tiny::" in line}
    assert len(workers) == 1 and workers < {"[gw0]", "[gw1]"}, out


def test_the_suite_runs_without_xdist(pytester):
    code, out = run(pytester, {"good.yaml": GOOD}, "-p", "no:xdist")
    assert code == 0, out
    assert "4 passed" in out and "unrecognized arguments" not in out


def test_a_crashing_form_fails_every_item_under_pytest(pytester, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("the form fell over")

    monkeypatch.setattr(FORMS["keras_lstm"], "run", boom)
    code, out = run(pytester, {"good.yaml": GOOD}, "-p", "no:xdist")
    assert code == 1, out
    assert "4 failed" in out and "passed" not in out.splitlines()[-1], out
    assert "The run raised:" in out and "RuntimeError: the form fell over" in out


def test_ids_are_readable_and_k_selects(pytester):
    code, out = run(pytester, {"good.yaml": GOOD}, "--collect-only", "-q", "-k", "float64 and outputs")
    assert code == 0, out
    assert "cases/good.yaml::tiny::keras_lstm-float64::outputs" in out
    assert "1/4 tests collected (3 deselected)" in out


def test_header_shows_the_versions_and_device(pytester):
    code, out = run(pytester, {"good.yaml": GOOD}, "--collect-only", "-q", "-v", "-p", "no:xdist")
    header = next(line for line in out.splitlines() if line.startswith("lstm-equiv:"))
    assert "tensorflow 2." in header and "numpy" in header and ("device CPU" in header or "device GPU" in header)


def test_junitxml_records_each_check_with_its_error(pytester):
    code, out = run(pytester, {"good.yaml": GOOD}, "-p", "no:xdist", "--junitxml=report.xml")
    assert code == 0, out
    xml = (pytester.path / "report.xml").read_text()
    assert 'name="outputs"' in xml and '<property name="max_abs_err"' in xml
    outputs = xml.split('name="outputs"')[1]
    bound = float(outputs.split('<property name="tolerance" value="')[1].split('"')[0])
    assert 0 < bound < 1e-12 and '<property name="ratio"' in xml  # float64, derived from the case


def test_a_wrong_layout_makes_the_suite_fail_naming_the_gate_block(pytester, monkeypatch):
    monkeypatch.setattr(engine, "evaluate", engine.evaluate)  # the conftest below patches it in this process
    code, out = run(pytester, {"good.yaml": GOOD}, "-p", "no:xdist", conftest_extra=WRONG_LAYOUT)
    assert code == 1, out
    assert "4 failed" in out
    assert "gate block V['j'] read from kernel columns 4:8 (layout keras read as ijfo)" in out
    assert "it holds the block injected as V['f']" in out
    assert "Mismatched elements:" in out and "Traceback" not in out


def collected(pytester) -> dict:
    """Per case of the shipped cases/: its forms, dtypes and checks as pytest collects them, and the count."""
    project(pytester, {})
    shutil.rmtree(pytester.path / "cases")
    shutil.copytree(ROOT / "cases", pytester.path / "cases")
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:randomly", "-p", "no:xdist", "cases")
    return per_case(result.stdout.lines)


def test_what_is_collected_is_pinned(pytester):
    """No item can vanish: per case, the forms, dtypes and checks collected, and the count, are pinned.
    After adding a case on purpose: python tools/pin_collection.py > tests/data/collected.json"""
    now, pinned = collected(pytester), json.loads(COLLECTED.read_text())
    assert now == pinned, (
        "collection changed; if on purpose: python tools/pin_collection.py > tests/data/collected.json"
    )
    for case, e in now.items():  # every combination, nothing partial
        assert e["items"] == len(e["forms"]) * len(e["dtypes"]) * len(e["checks"]), case
    assert sum(e["items"] for e in now.values()) >= 1400


def test_items_pass_in_random_order(pytester):
    every_form = GOOD.replace("forms: [keras_lstm]\n", "").replace("[float64]", "[float32]")
    project(pytester, {"good.yaml": every_form})
    orders = []
    for seed in ("1", "2"):
        result = pytester.runpytest_inprocess("-p", "randomly", f"--randomly-seed={seed}", "-p", "no:xdist", "-v")
        out = result.stdout.str()
        assert result.ret == 0, out
        available = sum(not form.missing() for form in LSTM_FORMS.values())  # a form without its extra is skipped
        assert f"Using --randomly-seed={seed}" in out and f"{available * 4} passed" in out, out
        orders.append([line.split()[0] for line in out.splitlines() if line.startswith("cases/")])
    assert len(orders[0]) == len(LSTM_FORMS) * 4 and sorted(orders[0]) == sorted(orders[1])
    assert orders[0] != orders[1]  # the two runs really ran the items in different orders


ILL = (
    "name: ill\ninput_depth: 12\nnum_units: 32\ntimesteps: 200\nbatch: 2\nseed: 3\nweight_scale: 8.0\n"
    "dtypes: [float32]\nforms: [keras_lstm]\nchecks: [forward]\n"
)


def test_an_ill_conditioned_pass_warns_under_pytest_and_a_well_conditioned_one_does_not(pytester):
    """chaotic_weights' shape in float32 (bound 3.1 against 1.8 for the closest wrong layout) passes with an
    IllConditioned warning on each computed check; the tiny case beside it passes without one."""
    code, out = run(
        pytester,
        {"ill.yaml": ILL, "tame.yaml": GOOD.replace("[float64]", "[float32]")},
        "-p",
        "no:xdist",
        subprocess=True,
    )
    assert code == 0, out
    assert "8 passed, 3 warnings" in out
    summary = out[out.index("warnings summary") :]
    assert summary.count("IllConditioned: ill-conditioned: float32 cannot separate a wrong layout here") == 1
    assert [line for line in summary.splitlines() if line.startswith("cases/")] == [
        f"cases/ill.yaml::ill::keras_lstm-float32::{check}" for check in ("outputs", "final_h", "final_c")
    ]


def test_which_yaml_files_the_plugin_collects(pytester, monkeypatch):
    """harness/plugin.py: under a configured case folder, named on the command line, under a named folder (or
    the current one) that holds no Python; never under a named folder of tests (tests/data/bad here holds
    deliberately bad files); a link in a case folder counts."""
    project(pytester, {"good.yaml": GOOD})
    for folder in ("mine", "tests/data", "elsewhere"):
        (pytester.path / folder).mkdir(parents=True)
        (pytester.path / folder / f"{folder.replace('/', '_')}.yaml").write_text(GOOD.replace("tiny", "other"))
    (pytester.path / "tests" / "test_nothing.py").write_text("def test_nothing():\n    pass\n")

    def collected(*args):
        result = pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:randomly", "-p", "no:xdist", *args)
        return sorted({line.split("::")[0] for line in result.stdout.lines if "::" in line})

    assert collected() == ["cases/good.yaml", "tests/test_nothing.py"]  # testpaths; yaml from the ini's folder only
    assert collected("mine") == ["mine/mine.yaml"]
    assert collected("tests") == ["tests/test_nothing.py"]
    assert collected("tests/data/tests_data.yaml") == ["tests/data/tests_data.yaml"]
    assert collected("--lstm-equiv-cases", "elsewhere", "cases", "elsewhere") == sorted(
        ["cases/good.yaml", "elsewhere/elsewhere.yaml"]
    )
    (pytester.path / "cases" / "linked.yaml").symlink_to(pytester.path / "elsewhere" / "elsewhere.yaml")
    assert "cases/linked.yaml" in collected()  # a link in a case folder to a file elsewhere is a case file
    (pytester.path / "cases" / "linked.yaml").unlink()
    monkeypatch.chdir(pytester.path / "mine")  # run from inside a case folder, no argument
    assert collected() == ["mine/mine.yaml"]
