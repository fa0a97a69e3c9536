"""Every tolerance, with where it comes from: derived from the case itself, or a case's override.

All comparisons are against the float64 reference run on the weights the form really holds (float32
weights are widened exactly), so a bound limits only the form's own arithmetic error. The bound of each
compared tensor (outputs per timestep, final h, final c, logits, each gradient block) is derived from
the case's own sensitivity, without TF (:mod:`harness.sensitivity`): ``MULTIPLE`` times the spread of
the reference perturbed at the dtype's unit roundoff, and never below ``FLOOR`` units of roundoff of the
tensor's own size. docs/tolerances.md gives the reasoning and the measurements behind both numbers. A
case may override the bound of a dtype, for every check, with a ``reason``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_equiv.harness.sensitivity import DRAWS, UNIT_ROUNDOFF

MULTIPLE = 50.0
"""The bound over the spread of outputs, final h and c, and logits. Measured over every shipped case with
seeds 0-15, every form (TF 2.21): a correct form reaches at most 10.3 times the spread (docs/tolerances.md)."""

GRADIENT_MULTIPLE = 200.0
"""The bound over the spread of a gradient block. A gradient sums over every timestep and batch entry, and
the rounding of those sums is not in the perturbed data; measured: a correct form reaches up to 43 times
the spread (all_ones, float64, one element per block), so the gradients get a multiple of their own."""

FLOOR = 16.0
"""Units of roundoff of the tensor's own largest entry below which no bound goes: a tensor the
perturbations cannot move (a clipped c, a relu at 0) still gets the rounding of its own size."""

SEPARATION = 10.0
"""A float32 bound within this factor of the smallest error a wrong gate layout gives on the same case
flags the case ill-conditioned: float32 can no longer tell a wrong layout from rounding there."""


@dataclass(frozen=True)
class Tolerance:
    """An absolute tolerance (a number, or one per timestep) and the measurement or argument behind it."""

    atol: object
    source: str

    @property
    def largest(self) -> float:
        """The largest bound, for tables and reports."""
        return float(np.max(self.atol))


EXACT = Tolerance(
    0.0,
    "weights are stored and read back, not computed: every block read back through the layout "
    "equals, bit for bit, the same block of the injected weights taken through the same layout",
)


def derived(spread, reference, dtype: str, what: str, multiple: float = MULTIPLE) -> Tolerance:
    """The bound of one tensor: ``multiple`` x its spread, at least FLOOR roundoffs of its largest entry."""
    floor = FLOOR * UNIT_ROUNDOFF[dtype] * max(float(np.max(np.abs(reference), initial=0.0)), np.finfo(float).tiny)
    atol = np.maximum(multiple * np.asarray(spread, dtype=np.float64), floor)
    return Tolerance(
        atol if np.ndim(atol) else float(atol),
        f"derived for this case: {multiple:g} x the spread of {what} over {DRAWS} runs of the reference "
        f"perturbed at {dtype}'s unit roundoff, at least {FLOOR:g} roundoffs of its size "
        f"(docs/tolerances.md)",
    )


def for_case(case, dtype: str, derived_tolerance: Tolerance) -> Tolerance:
    """The tolerance of one check of ``case`` in ``dtype``: its override (with its reason), which applies
    to every check of that dtype, gradients included, or the derived one."""
    if dtype in case.tolerance:
        return Tolerance(case.tolerance[dtype], f"override in {case.where}: {case.tolerance_reason}")
    return derived_tolerance
