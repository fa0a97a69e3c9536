"""Comparing a form's tensors with the reference's, with messages in the style of numpy.testing.

Structure is checked before values: shape, then NaN/Inf, then the values against an absolute tolerance.
A failure says what was compared, where it first broke (the first failing timestep), how many elements
are off, the max absolute and max ULP difference, and the tolerance with its source.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.tolerances import Tolerance


@dataclass(frozen=True)
class Outcome:
    """The result of one comparison."""

    passed: bool
    max_abs_err: float | None
    message: str


def ulp_distance(actual: np.ndarray, desired: np.ndarray, dtype) -> np.ndarray:
    """|actual - desired| in units of the last place of ``dtype`` at ``desired``."""
    spacing = np.spacing(np.abs(desired).astype(dtype)).astype(np.float64)
    return np.abs(actual.astype(np.float64) - desired.astype(np.float64)) / spacing


def _index(shape, flat: int) -> tuple:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def compare(actual, desired, tol: Tolerance, what: str, axes: tuple, ulp_dtype=None) -> Outcome:
    """Compare ``actual`` (the form) with ``desired`` (the reference) within ``tol.atol``.

    ``what`` says which tensor of which item; ``axes`` names the axes (e.g. ``("batch", "timestep",
    "unit")``), and the first failing element is the first in timestep order when there is one.
    """
    actual, desired = np.asarray(actual), np.asarray(desired)
    ulp_dtype = ulp_dtype or actual.dtype
    head = f"{what}\nTolerance: atol={tol.atol:g} ({tol.source})"
    if actual.shape != desired.shape:
        return Outcome(False, None, f"{head}\nShape mismatch: form {actual.shape}, reference {desired.shape}")
    bad = ~np.isfinite(actual)
    if bad.any():
        first = _index(actual.shape, int(np.flatnonzero(bad)[0]))
        return Outcome(False, None, f"{head}\nNon-finite values: {int(bad.sum())} / {actual.size} elements, "
                                    f"first at {_label(axes, first)}: {float(actual[first])}")
    diff = np.abs(actual.astype(np.float64) - desired.astype(np.float64))
    max_abs = float(diff.max()) if diff.size else 0.0
    mismatch = diff > tol.atol
    if not mismatch.any():
        return Outcome(True, max_abs, "")
    # the first failing element in time order: move the timestep axis first if there is one
    order = np.moveaxis(mismatch, axes.index("timestep"), 0) if "timestep" in axes else mismatch
    first_moved = _index(order.shape, int(np.flatnonzero(order)[0]))
    first = _unmove(first_moved, axes)
    n, total = int(mismatch.sum()), mismatch.size
    ulps = ulp_distance(actual, desired, ulp_dtype)
    lines = [
        head,
        f"Mismatched elements: {n} / {total} ({100.0 * n / total:.3g}%)",
        f"First mismatch at {_label(axes, first)}: form {float(actual[first]):.17g}, "
        f"reference {float(desired[first]):.17g}",
        f"Max absolute difference: {max_abs:.6g}",
        f"Max ULP difference ({np.dtype(ulp_dtype).name}): {float(ulps.max()):.6g}",
    ]
    return Outcome(False, max_abs, "\n".join(lines))


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
