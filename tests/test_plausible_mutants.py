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
    assert len(ids) == len(set(ids)) == 20
