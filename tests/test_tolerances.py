"""Tolerances on their own (no TensorFlow): the defaults, the override and its reason, for every check."""
from types import SimpleNamespace

from harness import tolerances


def _case(**tolerance):
    reason = tolerance.pop("reason", None)
    return SimpleNamespace(tolerance=tolerance, tolerance_reason=reason, where="c.yaml:3")


def test_the_defaults_carry_their_sources():
    for dtype in ("float32", "float64"):
        assert tolerances.for_case(_case(), dtype) is tolerances.DEFAULT[dtype]
        assert tolerances.gradient(_case(), dtype) is tolerances.GRADIENT[dtype]
    assert tolerances.DEFAULT["float64"].atol < tolerances.DEFAULT["float32"].atol
    assert tolerances.GRADIENT["float64"].atol < tolerances.GRADIENT["float32"].atol
    assert "docs/sources.md" in tolerances.DEFAULT["float32"].source
    assert tolerances.EXACT.atol == 0.0 and "bit for bit" in tolerances.EXACT.source


def test_an_override_wins_for_its_dtype_only_forward_and_gradients_alike():
    case = _case(float32=3e-5, reason="measured 1.6e-6")
    for tol in (tolerances.for_case(case, "float32"), tolerances.gradient(case, "float32")):
        assert tol.atol == 3e-5 and "c.yaml:3" in tol.source and "measured 1.6e-6" in tol.source
    assert tolerances.for_case(case, "float64") is tolerances.DEFAULT["float64"]
    assert tolerances.gradient(case, "float64") is tolerances.GRADIENT["float64"]
    assert "relative to each block's scale" in tolerances.gradient(case, "float32").source
