"""The harness can fail: every mistake in the catalogue is caught, and the reasons cases use random weights."""
import subprocess
import sys
from pathlib import Path

import pytest

from harness import layouts, mutations
from harness.forms import FORMS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def verdicts():
    return mutations.run_catalogue()


def test_the_catalogue_has_the_required_mistakes(verdicts):
    names = {v.mutation.name for v in verdicts}
    assert len(names) >= 35
    for form in FORMS:  # all 23 wrong gate-block permutations, for each fused form
        assert sum(v.form == form and v.mutation.gate_order is not None for v in verdicts) == 23
    for needed in ("x rows and h rows swapped (V read as W)", "recurrent block W[f] transposed", "forget_bias dropped",
                   "forget_bias doubled", "forget_bias applied after the sigmoid",
                   "unit_forget_bias (+1.0) on top of forget_bias", "hard_sigmoid in place of sigmoid",
                   "the fused ops' default cell_clip=3.0 left on", "peephole diagonals of i and f swapped",
                   "projection omitted", "time reversed", "state carried off by one step"):
        assert needed in names
    assert any(n.endswith("hard_sigmoid in place of Keras 3's") or n.endswith("in place of Keras 2's") for n in names)


def test_every_mistake_is_detected_with_random_weights(verdicts):
    missed = [(v.mutation.name, v.form, v.how) for v in verdicts if not v.detected]
    assert missed == []


def test_the_right_readings_pass():
    assert [b for b in mutations.baseline() if not b[3]] == []


def test_constant_weights_cannot_see_a_gate_swap(verdicts):
    """Where forget_bias is added at run time, every permutation is invisible with constant weights."""
    runtime = {n for n, f in FORMS.items() if f.layout.forget_bias == layouts.RUNTIME}
    swaps = [v for v in verdicts if v.mutation.gate_order is not None and v.form in runtime]
    assert len(swaps) == 23 * len(runtime)
    assert not any(v.detected_constant for v in swaps)
    assert all(v.detected for v in swaps)


def test_the_selftest_case_drives_c_past_the_default_clip():
    assert mutations.max_abs_c() > 3.0


def test_selftest_command_prints_the_catalogue_and_exits_0():
    proc = subprocess.run([sys.executable, "-m", "harness", "selftest"], cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[-1].startswith("selftest: ") and "entries detected" in lines[-1]
    detected, total = lines[-1].split()[1].split("/")
    assert detected == total and int(total) >= 35
    assert any(line.startswith("gate blocks read as i f o j") and "9/9 detected" in line for line in lines)
    assert "MISSED" not in proc.stdout
