"""The one engine behind the CLI and pytest: plan the items of a set of cases, and evaluate each on its
run, read back once per process.

An item is (case, form, dtype, check). The engine knows no check, cell, framework or TF bug: the checks
are harness.checks (each declares what it applies to), the cells harness.cells, the forms and their known
bugs harness.forms, and the runs and the one run cache harness.runs. What its callers use is named here.
"""

from __future__ import annotations

import traceback
from dataclasses import replace

from lstm_equiv.harness.checks import CHECKS, checks_of
from lstm_equiv.harness.checks.bounds import outputs_tolerance
from lstm_equiv.harness.items import STATUSES, Item, Result, unexpected_undecided, what
from lstm_equiv.harness.runs import IDENTITY, RUNS, FormRun, ReadAs, Reading, Run, cell_grads

__all__ = [
    "IDENTITY",
    "STATUSES",
    "Item",
    "ReadAs",
    "Reading",
    "Result",
    "Run",
    "FormRun",
    "cell_grads",
    "checks_of",
    "evaluate",
    "forget_runs",
    "outputs_tolerance",
    "plan",
    "read",
    "form_run",
    "unexpected_undecided",
]


def plan(cases) -> list:
    """Every item of ``cases``, in a deterministic order (case, form, dtype, check)."""
    return [
        Item(case, form, dtype, check)
        for case in cases
        for form in case.forms
        for dtype in case.dtypes
        for check in checks_of(case)
    ]


def form_run(case, form_name: str, dtype: str, weights: str = "random") -> FormRun:
    """The run of (case, form, dtype) in its framework, built and run once per process (harness.runs.Runs.form_run)."""
    return RUNS.form_run(case, form_name, dtype, weights)


def read(case, form_name: str, dtype: str, reading: Reading = IDENTITY, weights: str = "random") -> Run:
    """That run read back through ``reading``, and the reference run on what was read (once per reading)."""
    return RUNS.read(case, form_name, dtype, reading, weights)


def forget_runs():
    """Drop every cached run, so that the next evaluation builds and runs TF again (for the bench)."""
    RUNS.forget()


def evaluate(item: Item, reading: Reading = IDENTITY, weights: str = "random") -> Result:
    """Run (or reuse) the item's run, read it through ``reading``, and evaluate its check: the one
    evaluation path of real items and of the self-test."""
    r = read(item.case, item.form, item.dtype, reading, weights)
    try:
        result = judge(item, r, reading)
    except Exception:  # noqa: BLE001  the harness's own crash is an error too, never a pass
        result = Result(item, "error", None, None, f"{what(item)}\nThe check raised:\n{traceback.format_exc()}")
    return replace(result, inputs_digest=r.tf.inputs_digest)


def judge(item: Item, r: Run, reading: Reading = IDENTITY) -> Result:
    """The item's check on the run ``r``: skip and error first, then the check itself."""
    if r.skip:
        return Result(item, "skip", None, None, r.skip)
    if r.error:
        return Result(item, "error", None, None, f"{what(item)}\nThe run raised:\n{r.error}")
    return CHECKS[item.check].evaluate(item, r, reading)
