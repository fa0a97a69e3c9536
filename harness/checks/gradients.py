"""The gradient checks, written once over every cell: TF's gradients (tf.GradientTape, or the framework's
autograd), cut into gate blocks through the form's layout, against the reference's BPTT, block by block,
each within its own bound; d loss / d x likewise, and exactly 0 past each padded row's length. A form
that declares a known gradient bug (harness.forms.KnownGradientBug) is expected to fail with the bug's
signature, and only with it."""

from __future__ import annotations

import numpy as np

from lstm_equiv.harness import compare, tolerances
from lstm_equiv.harness.cells import CELLS
from lstm_equiv.harness.checks import Check
from lstm_equiv.harness.checks.bounds import verdict
from lstm_equiv.harness.forms import FORMS
from lstm_equiv.harness.inputs import loss_weights
from lstm_equiv.harness.items import Item, Result, digest, what
from lstm_equiv.harness.runs import RUNS, Run, cell_grads
from lstm_equiv.harness.sensitivity import block_name


def reference_grads(item: Item, r: Run, reading):
    """The reference's BPTT gradients for this reading's params, semantics, x and loss, once per run."""
    if r.reference_grads is None:
        case = item.case
        x64 = reading.x(r.inputs.x.astype(np.float64))
        d_outputs = loss_weights(r.inputs.loss_draw, reading.loss(case.loss)).astype(np.float64)
        cells64 = tuple(p.astype(np.float64) for p in r.cells)
        r.reference_grads = reading.gradients(
            CELLS[case.cell].backward(reading, x64, cells64, d_outputs, r.inputs, FORMS[item.form], case)
        )
    return r.reference_grads


def grad_blocks(item: Item, layout, grads: dict, ref) -> list:
    """(label, TF's block, the reference's block) for every block of ``item``'s gradient check, cell by
    cell (``grads``: {"x": ..., "cells": one dict of layout tensors per cell}; ``ref``: the reference's
    gradients, ``.cells`` and ``.x``). A layout with two biases has d loss / d b in each of them: both are
    compared with the reference's."""
    case = item.case
    if item.check == "grad_x":
        return [("d loss / d x", grads["x"], ref.x)]
    tf_cells = grads["cells"]
    if len(tf_cells) != len(ref.cells):
        return [(f"d loss / d the cells (TF has {len(tf_cells)}, the reference {len(ref.cells)})", None, None)]
    return [
        (f"d loss / d {block_name(case.cell_name(k), part, g)} ({where})", ours, theirs)
        for k, (tensors, ref_k) in enumerate(zip(tf_cells, ref.cells))
        for part, g, where, ours, theirs in layout.gradient_blocks(tensors, ref_k, case, k)
    ]


def compare_grads(item: Item, blocks: list, spread) -> tuple:
    """Compare every block within its own bound: (worst Outcome by error over bound, its bound, failure
    messages, whether a failure is structural: a block missing, a shape, a NaN or inf)."""
    worst, worst_tol, failures, structural = None, None, [], False
    for label, actual, desired in blocks:
        if actual is None or desired is None:
            failures.append(f"{what(item)}: {label}: {'TF' if actual is None else 'the reference'} has no such block")
            structural = True
            continue
        name = grad_name(label)
        tol = tolerances.for_case(
            item.case,
            item.dtype,
            tolerances.derived(
                spread.grads[name], desired, item.dtype, f"d loss / d {name}", tolerances.GRADIENT_MULTIPLE
            ),
        )
        axes = ("batch", "timestep", "feature") if np.ndim(desired) == 3 else ("row", "column")[: np.ndim(desired)]
        outcome = compare.compare(actual, desired, tol, f"{what(item)}: {label}", axes, ulp_dtype=item.dtype)
        if outcome.ratio is not None and (worst is None or outcome.ratio > worst.ratio):
            worst, worst_tol = outcome, tol
        if not outcome.passed:
            failures.append(outcome.message)
            structural = structural or outcome.max_abs_err is None
    return worst, worst_tol, failures, structural


def compared_name(label: str, two_biases: bool) -> str:
    """The block's name; with two biases, whose name alone is not unique, ``d loss / d b['i']
    (bias_hh_l0[0:4])`` -> ``b['i'] in bias_hh_l0``."""
    name, where = grad_name(label), label.partition(" (")[2]
    bias = name.rsplit(" ", 1)[-1].startswith("b[")  # "b['i']", or "layer 1 forward b['i']"
    return f"{name} in {where.split('[')[0]}" if two_biases and bias else name


def grad_name(label: str) -> str:
    """``d loss / d V['i'] (kernel columns 0:4)`` -> ``V['i']``."""
    return label.split(" (")[0].removeprefix("d loss / d ")


def leaks(item: Item, dx, lengths) -> list:
    """A gradient that reaches x past a row's length (the padding): every form computes those steps and
    discards them, so anything but an exact 0 there is a leak, however small."""
    out = []
    for row, length in enumerate(lengths):
        padding = np.asarray(dx)[row, int(length) :]
        if padding.size and np.any(padding != 0):
            step = int(length) + int(np.argmax(np.abs(padding).max(axis=-1)))
            out.append(
                f"{what(item)}: the gradient leaked through the padding: d loss / d x of row {row} (length "
                f"{int(length)}) is {float(np.abs(padding).max()):.3g} at timestep {step}, where it must be "
                "exactly 0"
            )
    return out


class GradientCheck(Check):
    """d loss / d the weights (``grad_weights``) or d loss / d x (``grad_x``)."""

    kind = "gradients"

    def __init__(self, name: str):
        self.name = name

    def evaluate(self, item, r, reading) -> Result:
        form = FORMS[item.form]
        if form.no_gradient:
            return Result(item, "skip", None, None, f"{item.form}: {form.no_gradient}")
        ref, spread = reference_grads(item, r, reading), RUNS.spread(item.case, item.form, item.dtype, r)
        blocks = grad_blocks(item, r.layout, {"x": r.form_out.grads["x"], "cells": cell_grads(r.form_out)}, ref)
        worst, tol, failures, structural = compare_grads(item, blocks, spread)
        two = len(getattr(r.layout, "biases", ())) > 1  # an LSTM layout's; a GRU's b_h has its own name
        compared = tuple(compared_name(label, two) for label, _, _ in blocks)
        if item.check == "grad_x" and r.inputs.lengths is not None:
            leaked = leaks(item, r.form_out.grads["x"], r.inputs.lengths)
            failures, structural = failures + leaked, structural or bool(leaked)  # exactly 0 whatever the rounding
            compared += ("d loss / d x past each row's length: exactly 0",)
        flag = None
        if form.gradient_bug:

            def compare_own(grads):
                own, _, own_failures, _ = compare_grads(item, grad_blocks(item, r.layout, grads, ref), spread)
                return own.ratio, own_failures

            status, message = form.gradient_bug.judge(what(item), item.form, r.form_out, failures, compare_own)
        else:
            status, message, flag = verdict(item, r, not failures, "\n\n".join(failures), structural)
        return Result(
            item,
            status,
            worst and worst.max_abs_err,
            tol and tol.largest,
            message,
            digest([actual for _, actual, _ in blocks if actual is not None]),
            compared=compared,
            ratio=worst and worst.ratio,
            flag=flag,
        )


CHECKS = (GradientCheck("grad_weights"), GradientCheck("grad_x"))
