"""lstm-equiv as a user meets it: the wheel built from this checkout, installed into a fresh virtual
environment outside it, and plain ``pytest`` in a project of the user's own collecting that project's case
files through the ``pytest11`` entry point (harness/plugin.py): items pass, a deliberately wrong tolerance
fails them with the file and line, a folder named on the command line is a case folder.

The fresh environment gets the wheel only; its dependencies (TensorFlow and the rest, already installed
here) are reached through a ``.pth`` line naming this environment's site-packages, whose own ``.pth`` files
(this checkout's editable install among them) Python does not process there.
"""

import importlib.util
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CASE = """\
cases:
  - name: my_shape
    input_depth: 3
    num_units: 4
    timesteps: 6
    batch: 2
    seed: 7
    forms: [keras_lstm]
    checks: [forward]
"""
TOO_TIGHT = """\
name: my_tight_shape
input_depth: 3
num_units: 4
timesteps: 6
batch: 2
seed: 8
forms: [keras_lstm]
checks: [forward]
dtypes: [float32]
tolerance:
  float32: 1.0e-15
  reason: "deliberately impossible"
"""


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """The python of a fresh venv with the wheel of this checkout installed, and nothing else of lstm-equiv."""
    if importlib.util.find_spec("pip") is None:  # tox-uv's environments: uv installs, there is no pip
        pytest.skip("pip is not installed in this environment (tox-uv): the main job builds and installs the wheel")
    where = tmp_path_factory.mktemp("installed")
    # built from a copy: a build in the checkout leaves build/ and an egg-info there, whose entry point
    # and top_level.txt pytest then reads from the rootdir (measured: every later in-process pytest run of
    # the suite warned that lstm-equiv's modules were imported before it could rewrite their asserts)
    source, wheels = where / "source", where / "wheels"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("lstm_equiv", "harness", "reference"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", wheels, source])
    (wheel,) = wheels.glob("lstm_equiv-*.whl")
    _check_wheel(wheel)
    venv.EnvBuilder(with_pip=True).create(where / "venv")
    python = where / "venv" / "bin" / "python"
    _run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel])
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    Path(purelib, "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return python


def _check_wheel(wheel):
    """One top-level import package, lstm_equiv, holding every package of harness/ and reference/ (a folder
    with an __init__.py that pyproject.toml's list misses would be absent) and the package data."""
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"lstm_equiv"}
    (top_level,) = [n for n in names if n.endswith(".dist-info/top_level.txt")] or [None]
    if top_level:  # setuptools writes it: the import names the wheel installs
        assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["lstm_equiv"]
    for folder in ("harness", "reference"):
        for init in (ROOT / folder).rglob("__init__.py"):
            assert f"lstm_equiv/{init.relative_to(ROOT).as_posix()}" in names, init
    assert {"lstm_equiv/harness/question.yaml", "lstm_equiv/harness/case.schema.json"} <= set(names)


def _run(cmd, cwd=None, check=True) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc.stdout if check else proc


def test_the_installed_package_is_the_wheel_outside_the_checkout(fresh):
    where = _run([fresh, "-c", "import lstm_equiv.harness.plugin as p; print(p.__file__)"], cwd=fresh.parent).strip()
    assert "site-packages" in where and not Path(where).is_relative_to(ROOT), where
    shown = _run([fresh, "-m", "pip", "show", "-f", "lstm-equiv"], cwd=fresh.parent)
    files = [line.strip() for line in shown.split("Files:")[1].splitlines() if line.strip()]
    assert {f.split("/")[0] for f in files if ".dist-info" not in f and not f.startswith("..")} == {"lstm_equiv"}, files
    answered = _run([fresh.parent / "lstm-equiv", "run", "--help"], cwd=fresh.parent)
    assert "question" in answered


def test_plain_pytest_in_a_users_project_collects_and_passes_its_cases(fresh, tmp_path):
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "my_shapes.yaml").write_text(CASE)
    (tmp_path / "pytest.ini").write_text("[pytest]\nlstm_equiv_cases = cases\n")
    out = _run([fresh, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "-v"], cwd=tmp_path)
    assert "cases/my_shapes.yaml::my_shape::keras_lstm-float32::outputs PASSED" in out, out
    assert "case folders: cases" in out and " 8 passed" in out, out
    under_xdist = _run([fresh, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2"], cwd=tmp_path)
    assert " 8 passed" in under_xdist, under_xdist


def test_a_wrong_tolerance_fails_with_the_file_and_line_and_a_named_folder_is_a_case_folder(fresh, tmp_path):
    (tmp_path / "mycases").mkdir()
    (tmp_path / "mycases" / "tight.yaml").write_text(TOO_TIGHT)
    proc = _run([fresh, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:randomly", "mycases"], tmp_path, False)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "FAILED mycases/tight.yaml::my_tight_shape::keras_lstm-float32::outputs" in proc.stdout, proc.stdout
    assert f"case my_tight_shape ({tmp_path}/mycases/tight.yaml:1), form keras_lstm" in proc.stdout, proc.stdout
    # a project of Python tests: its YAML is no case file until the ini option names a folder, and a run
    # without case files the plugin leaves alone (no header, so no TensorFlow imported)
    (tmp_path / "test_other.py").write_text("def test_other():\n    pass\n")
    other = _run([fresh, "-m", "pytest", "-p", "no:cacheprovider"], tmp_path, False)
    assert other.returncode == 0 and " 1 passed" in other.stdout, other.stdout[-2000:]
    assert "lstm-equiv:" not in other.stdout, other.stdout[-2000:]
    (tmp_path / "pytest.ini").write_text("[pytest]\nlstm_equiv_cases = mycases\n")
    configured = _run([fresh, "-m", "pytest", "-p", "no:cacheprovider"], tmp_path, False)
    assert configured.returncode == 1 and "3 failed, 2 passed" in configured.stdout, configured.stdout[-2000:]
    assert "case folders: mycases" in configured.stdout
