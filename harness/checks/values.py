"""The value checks: TF's outputs, final states and logits against the reference's, each within its
derived bound (harness.checks.bounds)."""

from __future__ import annotations

from lstm_equiv.harness import compare
from lstm_equiv.harness.cells import CELLS
from lstm_equiv.harness.checks import Check
from lstm_equiv.harness.checks.bounds import tolerance, verdict
from lstm_equiv.harness.items import Result, digest, sample, what


class ValueCheck(Check):
    """One computed tensor (``attr`` of the form's output) against the reference's value of the same name."""

    kind = "forward"

    def __init__(self, name: str, attr: str, axes: tuple):
        self.name, self.attr, self.axes = name, attr, axes

    def applies(self, case) -> bool:
        if self.name == "logits":
            return bool(case.num_classes)
        return self.name == "outputs" or self.name in CELLS[case.cell].states  # a GRU has no c

    def evaluate(self, item, r, reading) -> Result:
        actual = getattr(r.form_out, self.attr)
        tol = tolerance(item, r)
        outcome = compare.compare(actual, r.reference[item.check], tol, what(item), self.axes, ulp_dtype=item.dtype)
        status, message, flag = verdict(item, r, outcome.passed, outcome.message, outcome.max_abs_err is None)
        return Result(
            item,
            status,
            outcome.max_abs_err,
            tol.largest,
            message,
            digest([actual]),
            sample(actual),
            compared=(item.check,),
            ratio=outcome.ratio,
            flag=flag,
        )


CHECKS = (
    ValueCheck("outputs", "outputs", ("batch", "timestep", "unit")),
    ValueCheck("final_h", "h", ("batch", "unit")),
    ValueCheck("final_c", "c", ("batch", "unit")),
    ValueCheck("logits", "logits", ("batch", "class")),
)
