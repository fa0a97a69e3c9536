"""Tolerances on their own (no TensorFlow): derived bounds, their floor, and the override for every check."""

from types import SimpleNamespace

import numpy as np

from lstm_equiv.harness import tolerances
from lstm_equiv.harness.sensitivity import UNIT_ROUNDOFF


def _case(**tolerance):
    reason = tolerance.pop("reason", None)
    return SimpleNamespace(tolerance=tolerance, tolerance_reason=reason, where="c.yaml:3")


def test_a_derived_bound_is_the_multiple_of_the_spread_per_element():
    spread = np.array([1e-9, 2e-9, 4e-9])
    tol = tolerances.derived(spread, np.full((2, 3, 4), 1e-3), "float32", "outputs")
    np.testing.assert_array_equal(tol.atol, tolerances.MULTIPLE * spread)
    assert tol.largest == tolerances.MULTIPLE * 4e-9
    assert "50 x the spread of outputs over 4 runs" in tol.source and "float32's unit roundoff" in tol.source


def test_no_bound_goes_below_the_floor_of_the_tensors_own_rounding():
    tol = tolerances.derived(0.0, np.array([-8.0, 2.0]), "float64", "final_c")
    assert tol.atol == tolerances.FLOOR * UNIT_ROUNDOFF["float64"] * 8.0
    assert tolerances.derived(0.0, np.zeros(3), "float32", "x").atol > 0  # even for an all-zero tensor


def test_an_override_wins_for_its_dtype_only():
    case = _case(float32=3e-5, reason="measured 1.6e-6")
    derived = tolerances.derived(1e-9, np.ones(2), "float32", "outputs")
    tol = tolerances.for_case(case, "float32", derived)
    assert tol.atol == 3e-5 and "c.yaml:3" in tol.source and "measured 1.6e-6" in tol.source
    assert tolerances.for_case(case, "float64", derived) is derived
    assert tolerances.for_case(_case(), "float32", derived) is derived
    assert tolerances.EXACT.atol == 0.0 and "bit for bit" in tolerances.EXACT.source
