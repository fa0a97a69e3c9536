"""Comparing a form's tensors with the reference's, with messages in the style of numpy.testing.

Structure is checked before values: shape, then NaN/Inf on either side, then the values against an
absolute tolerance. The comparison is symmetric: the form and the reference are held to the same rules,
and an element is off unless ``|form - reference| <= atol`` holds (so a NaN difference is off too). A
failure says what was compared, how many elements are off, the max absolute, relative and ULP
difference, the first few mismatches in time order with both sides, the tolerance with its source, and
what to check next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_equiv.harness.tolerances import Tolerance

SHOWN = 5
"""How many mismatched elements a message lists."""

NEXT = (
    "What to check next: the 'weights' check of the same run names any gate block read from the wrong "
    "place; if it passes, the semantics the reference was given for this form (forget_bias, activations, "
    "clips, peepholes: Form.semantics in harness/forms), then the first timestep that broke."
)


@dataclass(frozen=True)
class Outcome:
    """The result of one comparison: whether it held, the max absolute and relative differences."""

    passed: bool
    max_abs_err: float | None
    message: str
    max_rel_err: float | None = None
    ratio: float | None = None  # the largest |form - reference| / bound: below 1 passes, its inverse is the headroom


def ulp_distance(actual: np.ndarray, desired: np.ndarray, dtype) -> np.ndarray:
    """|actual - desired| in units of the last place of ``dtype`` at ``desired``."""
    spacing = np.spacing(np.abs(desired).astype(dtype)).astype(np.float64)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return np.abs(actual.astype(np.float64) - desired.astype(np.float64)) / spacing


def _index(shape, flat: int) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def _non_finite(side: str, a: np.ndarray, axes: tuple):
    bad = ~np.isfinite(a)
    if not bad.any():
        return None
    first = _index(a.shape, int(np.flatnonzero(bad)[0]))
    return (
        f"Non-finite values in the {side}: {int(bad.sum())} / {a.size} elements, first at "
        f"{_label(axes, first)}: {float(a[first])}"
    )


def compare(actual, desired, tol: Tolerance, what: str, axes: tuple, ulp_dtype=None) -> Outcome:
    """Compare ``actual`` (the form) with ``desired`` (the reference) within ``tol.atol``: a number, or one
    bound per element of any shape that broadcasts to the tensor's (one per timestep, say).

    ``what`` says which tensor of which item; ``axes`` names the axes (e.g. ``("batch", "timestep",
    "unit")``), and mismatches are listed in timestep order when there is one.
    """
    actual, desired = np.asarray(actual, dtype=np.float64), np.asarray(desired, dtype=np.float64)
    ulp_dtype = ulp_dtype or np.float64
    atol = np.asarray(tol.atol, dtype=np.float64)
    text = f"atol={float(atol):g}" if atol.ndim == 0 else f"atol from {atol.min():g} to {atol.max():g} per timestep"
    head = f"{what}\nTolerance: {text} ({tol.source})"
    if actual.shape != desired.shape:
        return Outcome(False, None, f"{head}\nShape mismatch: form {actual.shape}, reference {desired.shape}")
    problems = [p for p in (_non_finite("form", actual, axes), _non_finite("reference", desired, axes)) if p]
    if problems:
        return Outcome(False, None, "\n".join([head, *problems]))
    diff = np.abs(actual - desired)
    rel = diff / np.maximum(np.abs(desired), np.finfo(np.float64).tiny)
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float(rel.max()) if rel.size else 0.0
    bound = np.broadcast_to(atol, diff.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratios = np.where(diff == 0, 0.0, diff / bound)
    ratio = float(ratios.max()) if ratios.size else 0.0
    mismatch = ~(diff <= bound)
    if not mismatch.any():
        return Outcome(True, max_abs, "", max_rel, ratio)
    # list mismatches in time order: move the timestep axis first if there is one
    order = np.moveaxis(mismatch, axes.index("timestep"), 0) if "timestep" in axes else mismatch
    firsts = [_unmove(_index(order.shape, int(k)), axes) for k in np.flatnonzero(order)[:SHOWN]]
    n, total = int(mismatch.sum()), mismatch.size
    ulps = ulp_distance(actual, desired, ulp_dtype)
    lines = [
        head,
        f"Mismatched elements: {n} / {total} ({100.0 * n / total:.3g}%)",
        f"Max absolute difference: {max_abs:.6g}",
        f"Max relative difference: {max_rel:.6g}",
        f"Largest difference over its bound: {ratio:.3g}",
        f"Max ULP difference ({np.dtype(ulp_dtype).name}): {float(ulps.max()):.6g}",
        f"First mismatch at {_label(axes, firsts[0])}",
        f"First {len(firsts)} mismatches (form | reference | difference | bound):",
        *(
            f"  {_label(axes, k)}: {actual[k]:.17g} | {desired[k]:.17g} | {actual[k] - desired[k]:.3g} | {bound[k]:.3g}"
            for k in firsts
        ),
        NEXT,
    ]
    return Outcome(False, max_abs, "\n".join(lines), max_rel, ratio)


def _unmove(index: tuple, axes: tuple) -> tuple:
    """Undo moving the timestep axis to the front."""
    if "timestep" not in axes:
        return index
    k = axes.index("timestep")
    rest = list(index[1:])
    rest.insert(k, index[0])
    return tuple(rest)


def _label(axes: tuple, index: tuple) -> str:
    return ", ".join(f"{a} {i}" for a, i in zip(axes, index)) if axes else "the only element"
