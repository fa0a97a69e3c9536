"""The comparison on its own (no TensorFlow): symmetric, NaN-safe, and as talkative as numpy.testing."""

import numpy as np

from lstm_equiv.harness import compare
from lstm_equiv.harness.tolerances import Tolerance

TOL = Tolerance(1e-6, "test")
AXES = ("batch", "timestep", "unit")


def test_a_nan_in_the_reference_fails():
    desired = np.array([[0.1, np.nan]])
    outcome = compare.compare(np.array([[0.1, 0.2]]), desired, TOL, "t", ("batch", "unit"))
    assert not outcome.passed and "Non-finite values in the reference: 1 / 2 elements" in outcome.message


def test_a_difference_below_and_above_counts_alike():
    desired = np.zeros((1, 3, 2))
    for sign in (1.0, -1.0):
        actual = desired.copy()
        actual[0, 1, 0] = sign * 2e-6
        outcome = compare.compare(actual, desired, TOL, "t", ("batch", "timestep", "unit"))
        assert not outcome.passed and outcome.max_abs_err == 2e-6
        assert "First mismatch at batch 0, timestep 1, unit 0" in outcome.message


def test_the_message_lists_rel_difference_first_mismatches_and_what_next():
    desired = np.ones((2, 4, 3))
    actual = desired + np.arange(24).reshape(2, 4, 3) * 1e-5
    outcome = compare.compare(actual, desired, TOL, "t", ("batch", "timestep", "unit"))
    m = outcome.message
    assert "Mismatched elements: 23 / 24 (95.8%)" in m
    assert "Max absolute difference: 0.00023" in m and "Max relative difference: 0.00023" in m
    assert "First 5 mismatches (form | reference | difference | bound):" in m
    assert "  batch 0, timestep 0, unit 1: 1.00001" in m and "batch 1, timestep 0, unit 0" in m
    assert "What to check next:" in m


def test_equal_within_the_tolerance_passes_and_reports_both_differences():
    desired = np.full((1, 2, 2), 2.0)
    outcome = compare.compare(desired + 5e-7, desired, TOL, "t", AXES)
    assert outcome.passed and outcome.message == ""
    assert abs(outcome.max_abs_err - 5e-7) < 1e-15 and abs(outcome.max_rel_err - 2.5e-7) < 1e-15


def test_exactly_at_the_tolerance_passes_and_just_above_fails():
    desired = np.zeros((1, 1, 1))
    assert compare.compare(desired + 1e-6, desired, TOL, "t", AXES).passed
    assert not compare.compare(desired + np.nextafter(1e-6, 1.0), desired, TOL, "t", AXES).passed


def test_a_nan_or_inf_in_the_form_fails():
    for bad in (np.nan, np.inf, -np.inf):
        actual = np.array([[bad, 0.0]])
        outcome = compare.compare(actual, np.zeros((1, 2)), TOL, "t", ("batch", "unit"))
        assert not outcome.passed and outcome.max_abs_err is None
        assert "Non-finite values in the form: 1 / 2 elements, first at batch 0, unit 0" in outcome.message


def test_a_shape_mismatch_fails_before_any_value_is_read():
    outcome = compare.compare(np.zeros((2, 3)), np.zeros((3, 2)), TOL, "what", ("batch", "unit"))
    assert not outcome.passed and "Shape mismatch: form (2, 3), reference (3, 2)" in outcome.message
    assert outcome.message.startswith("what\nTolerance: atol=1e-06 (test)")


def test_mismatches_are_listed_in_time_order_across_batch_entries():
    desired = np.zeros((2, 3, 1))
    actual = desired.copy()
    actual[0, 2, 0] = actual[1, 1, 0] = 1.0
    m = compare.compare(actual, desired, TOL, "t", AXES).message
    assert m.index("batch 1, timestep 1, unit 0:") < m.index("batch 0, timestep 2, unit 0:")
    assert "First mismatch at batch 1, timestep 1, unit 0" in m


def test_at_most_five_mismatches_are_listed_and_the_ulp_distance_is_in_the_dtype_asked():
    desired = np.ones((1, 10, 1))
    m = compare.compare(desired + 1e-3, desired, TOL, "t", AXES, ulp_dtype="float32").message
    assert "First 5 mismatches" in m and "timestep 5" not in m
    assert "Max ULP difference (float32): 8388" in m  # 1e-3 / float32's spacing at 1.0 (2**-23)


def test_ulp_distance_counts_units_in_the_last_place():
    one = np.array([1.0])
    assert compare.ulp_distance(np.nextafter(one, 2.0), one, np.float64)[0] == 1.0
    assert compare.ulp_distance(one + 3 * 2.0**-23, one, np.float32)[0] == 3.0
