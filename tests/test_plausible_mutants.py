"""tools/plausible_mutants.py keeps applying: every mutant's old text occurs exactly once in its module (a
refactor that moves it would otherwise turn the mutant into an error, found only when the tool runs), and
its tests exist. The tool itself runs by hand (docs/mutation-testing.md): each mutant costs a TF process."""

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import plausible_mutants  # noqa: E402  from tools/, put on sys.path just above


@pytest.mark.parametrize("mutant", plausible_mutants.MUTANTS, ids=lambda m: m.id)
def test_each_mutant_still_applies_once(mutant):
    assert (ROOT / mutant.path).read_text().count(mutant.old) == 1
    assert mutant.old != mutant.new
    paths = [t for t in mutant.tests if not t.startswith("-") and "/" in t]
    assert paths and all((ROOT / t).exists() for t in paths)


def test_the_ids_are_unique():
    ids = [m.id for m in plausible_mutants.MUTANTS]
    assert len(ids) == len(set(ids)) == 31


def test_the_mutmut_copy_lays_the_package_out_as_it_is_imported(tmp_path):
    """tools/mutation_run.py: mutmut names mutants after file paths, so its copy holds lstm_equiv/harness and
    lstm_equiv/reference (which lstm_equiv/__init__.py then uses) and mutates those paths; the checkout is
    not written to."""
    import subprocess
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import mutation_run
    finally:
        sys.path.remove(str(ROOT / "tools"))
    before = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    copy = mutation_run.prepare(tmp_path)
    assert (copy / "lstm_equiv" / "harness" / "layouts.py").read_text() == (ROOT / "harness" / "layouts.py").read_text()
    config = (copy / "pyproject.toml").read_text()
    section = config[config.index("[tool.mutmut]") :]
    assert '"lstm_equiv/reference/"' in section and '"lstm_equiv/harness/layouts.py"' in section
    assert '"harness/' not in section.split("tests_dir")[0] and '"reference/"' in section.split("also_copy")[1]
    probe = "import lstm_equiv.harness.layouts as m; print(m.__file__)"
    where = subprocess.run([sys.executable, "-c", probe], cwd=copy, capture_output=True, text=True, check=True)
    assert where.stdout.strip() == str(copy / "lstm_equiv" / "harness" / "layouts.py")
    assert subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout == before
