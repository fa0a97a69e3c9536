"""The bounds a check compares within, and what a comparison means on the case (harness.sensitivity,
docs/tolerances.md): a pass proves the layout only where the bound separates it from a wrong one."""

from __future__ import annotations

from dataclasses import replace

from lstm_equiv.harness import tolerances
from lstm_equiv.harness.items import Item
from lstm_equiv.harness.runs import RUNS, Run


def tolerance(item: Item, r: Run) -> tolerances.Tolerance:
    """The bound of a forward value check (outputs: one per timestep, as [1, timesteps, 1]), or the override."""
    spread = RUNS.spread(item.case, item.form, item.dtype, r)
    scale = spread.outputs[None, :, None] if item.check == "outputs" else getattr(spread, item.check)
    derived = tolerances.derived(scale, r.reference[item.check], item.dtype, item.check)
    return tolerances.for_case(item.case, item.dtype, derived)


def outputs_tolerance(case, form_name: str, dtype: str) -> tolerances.Tolerance:
    """The bound of the outputs check of (case, form, dtype): one per timestep, or the case's override."""
    return tolerance(Item(case, form_name, dtype, "outputs"), RUNS.read(case, form_name, dtype))


def _outputs_bound(item: Item, r: Run, dtype: str) -> float:
    """The largest bound of the outputs of ``item``'s run in ``dtype`` (float64's derived without TF for a
    float32 run: on the same weights, what a float64 run of the case would be held to)."""
    return tolerance(replace(item, check="outputs", dtype=dtype), r).largest


def conditioning(item: Item, r: Run) -> tuple | None:
    """None when the item's dtype separates a wrong gate layout from rounding on this case: its outputs bound
    is more than SEPARATION times below the smallest error a wrong layout gives. Else ("pass", why) when
    float64 still separates them (the case is decided there), or ("undecided", why) when no dtype does."""
    if item.dtype in item.case.tolerance:
        return None
    smallest, swap = RUNS.separation(item.case, item.form, r)
    separates = lambda bound: not swap or bound * tolerances.SEPARATION < smallest
    bound = _outputs_bound(item, r, item.dtype)
    if separates(bound):
        return None
    within = (
        f"within {tolerances.SEPARATION:g}x of {smallest:.3g}, the smallest error a wrong gate layout gives "
        f"on this case ({swap})"
    )
    bound64 = bound if item.dtype == "float64" else _outputs_bound(item, r, "float64")
    if separates(bound64):
        return "pass", (
            f"ill-conditioned: {item.dtype} cannot separate a wrong layout here (the derived bound on "
            f"the outputs, {bound:.3g}, is {within}); float64 still can (its bound: {bound64:.3g})"
        )
    return "undecided", (
        f"undecided: no dtype can separate a wrong gate layout from rounding on this case: the "
        f"derived float64 bound on the outputs, {bound64:.3g}, is {within}."
        " Its dynamics amplify rounding until any correct float64 run may differ by that much "
        "(large weights, long sequences: docs/tolerances.md), so this check passed a bound that "
        "proves nothing about the layout"
    )


def verdict(item: Item, r: Run, passed: bool, message: str, structural: bool = False) -> tuple:
    """(status, message, flag) of a computed value against its bound. A pass proves the layout only where
    the bound separates it from a wrong one (:func:`conditioning`). Where no dtype does, an error past the
    bound is no evidence either (the chaotic runs the bound is drawn from are heavy-tailed: a float32
    gradient block of 1e23 reached 0.74 of its bound in the sweep), so it is undecided too, unless it is
    structural (a shape, a missing block, a NaN or inf, a gradient through padding), which no rounding
    explains."""
    if not passed and structural:
        return "fail", message, None
    outcome = conditioning(item, r)
    if outcome is None or (not passed and outcome[0] == "pass"):
        return ("pass" if passed else "fail"), message, None
    status, why = outcome
    if status == "pass":
        return "pass", why, "ill-conditioned"
    expected = item.case.expect_undecided
    why += (
        f"; the case expects it: {expected}"
        if expected
        else f"; if that is expected, say why with expect_undecided in {item.case.where}"
    )
    if not passed:
        why += (
            "\nIt exceeded even that bound, which on such a case is no evidence of a wrong layout either:\n" + message
        )
    return "undecided", why, "expected" if expected else None
