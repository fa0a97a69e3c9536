"""The suite as users run it: pytest (and pytest -n) over case files, in a fresh process each time."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = "name: tiny\ninput_depth: 3\nnum_units: 4\ntimesteps: 6\nbatch: 2\nseed: 7\ndtypes: [float64]\nforms: [keras_lstm]\nchecks: [forward]\n"
BAD = "name: typo\ninput_depth: 3\nnum_unit: 4\ntimesteps: 6\nbatch: 2\nseed: 8\n"
WRONG_LAYOUT = '''
from dataclasses import replace
from harness import engine, layouts
_wrong = replace(layouts.KERAS, name="keras read as ijfo", gate_order=("i", "j", "f", "o"))
_evaluate = engine.evaluate
engine.evaluate = lambda item, reading=None, weights="random": _evaluate(item, engine.ReadAs(other=_wrong), weights)
'''


def run_pytest(tmp_path, cases: dict, *args, conftest_extra=""):
    """Run pytest in a copy of the project's conftest and config, over ``cases`` written to cases/."""
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text() + conftest_extra)
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    (tmp_path / "cases").mkdir(exist_ok=True)
    for name, content in cases.items():
        target = tmp_path / "cases" / name
        target.write_bytes(content) if isinstance(content, bytes) else target.write_text(content)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=300)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize("workers", ["0", "2"])
def test_a_bad_file_is_a_collection_error_and_the_other_files_still_run(tmp_path, workers):
    code, out = run_pytest(tmp_path, {"a_good.yaml": GOOD, "b_bad.yaml": BAD, "c_good.yaml": GOOD.replace("tiny", "tiny2")},
                           "-n", workers)
    assert code == 1, out
    assert "ERROR collecting cases/b_bad.yaml" in out
    assert "cases/b_bad.yaml:3: key 'num_unit': unknown key; did you mean 'num_units'?" in out
    assert "   3 | num_unit: 4" in out
    assert "Traceback" not in out
    assert "8 passed, 1 error" in out, out


def test_ids_are_readable_and_k_selects(tmp_path):
    code, out = run_pytest(tmp_path, {"good.yaml": GOOD}, "--collect-only", "-q", "-k", "float64 and outputs")
    assert code == 0, out
    assert "cases/good.yaml::tiny::keras_lstm-float64::outputs" in out
    assert "1/4 tests collected (3 deselected)" in out


def test_header_shows_the_versions_and_device(tmp_path):
    code, out = run_pytest(tmp_path, {"good.yaml": GOOD}, "--collect-only", "-q", "-v")
    header = next(line for line in out.splitlines() if line.startswith("lstm-equiv:"))
    assert "tensorflow 2." in header and "numpy" in header and "device CPU" in header or "device GPU" in header


def test_junitxml_records_each_check_with_its_error(tmp_path):
    code, out = run_pytest(tmp_path, {"good.yaml": GOOD}, "-n", "0", "--junitxml=report.xml")
    assert code == 0, out
    xml = (tmp_path / "report.xml").read_text()
    assert 'name="outputs"' in xml and '<property name="max_abs_err"' in xml
    assert '<property name="tolerance" value="1e-12"' in xml


def test_a_wrong_layout_makes_the_suite_fail_naming_the_gate_block(tmp_path):
    code, out = run_pytest(tmp_path, {"good.yaml": GOOD}, "-n", "0", conftest_extra=WRONG_LAYOUT)
    assert code == 1, out
    assert "4 failed" in out
    assert "gate block V['j'] read from kernel columns 4:8 (layout keras read as ijfo)" in out
    assert "it holds the block injected as V['f']" in out
    assert "Mismatched elements:" in out and "Traceback" not in out


def test_every_bad_file_is_a_collection_error_under_xdist(tmp_path):
    bad = {p.name: p.read_bytes() for p in (ROOT / "tests" / "data" / "bad").glob("*.yaml")}
    code, out = run_pytest(tmp_path, {"zz_good.yaml": GOOD, **bad}, "-n", "2")
    assert code == 1, out
    for name in bad:
        assert f"ERROR collecting cases/{name}" in out
    assert f"4 passed, {len(bad)} errors" in out, out
    assert "Traceback" not in out


def test_items_pass_in_random_order(tmp_path):
    every_form = GOOD.replace("forms: [keras_lstm]\n", "").replace("[float64]", "[float32]")
    orders = []
    for seed in ("1", "2"):
        workdir = tmp_path / seed
        workdir.mkdir()
        code, out = run_pytest(workdir, {"good.yaml": every_form}, "-p", "randomly", f"--randomly-seed={seed}",
                               "--collect-only", "-q")
        orders.append([line for line in out.splitlines() if line.startswith("cases/")])
        code, out = run_pytest(workdir, {"good.yaml": every_form}, "-p", "randomly", f"--randomly-seed={seed}", "-n", "2")
        assert code == 0, out
        assert f"Using --randomly-seed={seed}" in out and "36 passed" in out, out
    assert len(orders[0]) == 36 and sorted(orders[0]) == sorted(orders[1])
    assert orders[0] != orders[1]  # the two runs really ran the items in different orders
