"""ruff over the whole repository with the rule set of pyproject.toml ([tool.ruff]: pycodestyle, pyflakes,
bugbear, blind except, import order, pyupgrade to 3.9, unused noqa markers; lines of 120), and ruff format:
any finding, or any file the formatter would change, fails the suite."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("ruff", reason="ruff is not installed: pip install -e '.[test]'")
ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_repository_passes_ruff():
    run = _ruff("check", "--output-format", "concise", ".")
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_finds_what_the_rule_set_names(tmp_path):
    """The same configuration on a file with an unused import, a blind except and a late-bound loop
    variable: ruff must say so (the check above could otherwise pass by looking at nothing)."""
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "bad.py").write_text(
        "import os\n\nfns = []\nfor i in range(3):\n    fns.append(lambda: i)\n"
        "try:\n    pass\nexcept Exception:\n    pass\n"
    )
    run = _ruff("check", "--output-format", "concise", ".", cwd=tmp_path)
    assert run.returncode == 1
    assert all(code in run.stdout for code in ("F401", "B023", "BLE001")), run.stdout


def test_the_repository_is_ruff_formatted():
    """ruff format (the line length of [tool.ruff]): the code reads one way everywhere, and a diff shows only
    what changed."""
    run = _ruff("format", "--check", ".")
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_format_sees_a_file_it_would_change(tmp_path):
    (tmp_path / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text())
    (tmp_path / "ugly.py").write_text("x = {  'a':1 }\n")
    run = _ruff("format", "--check", ".", cwd=tmp_path)
    assert run.returncode == 1 and "ugly.py" in run.stdout + run.stderr


def test_every_import_goes_through_the_one_import_name():
    """The code imports lstm_equiv.harness and lstm_equiv.reference, never harness or reference as top-level
    packages: one module object per file (a second name would give a second RUNS cache, and monkeypatches
    that miss), and the installed wheel has no top-level harness or reference to find."""
    import re
    import subprocess

    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True).stdout.split()
    pattern = re.compile(r"^\s*(from|import) (harness|reference)\b|-m\", \"harness\"", re.M)
    offenders = [f for f in files if pattern.search((ROOT / f).read_text())]
    assert offenders == [], offenders
