"""Every default tolerance, with where it comes from. A case may override one, with a ``reason``.

All comparisons are against the float64 reference run on the weights the form really holds (float32
weights are widened exactly), so the tolerance bounds only the form's own arithmetic error.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerance:
    """An absolute tolerance and the measurement or argument behind it."""

    atol: float
    source: str


DEFAULT = {
    "float64": Tolerance(
        1e-12,
        "float64 default: 3.5e-16 measured (BasicLSTMCell and Keras LSTM vs this reference, 820 steps, "
        "docs/sources.md); 1e-12 leaves ~3000x for longer sequences and wider layers, while a wrong layout is "
        "off by ~1e-1",
    ),
    "float32": Tolerance(
        1e-5,
        "float32 default: 1.3e-7 measured on the question's network (1.6e-6 with weights x6 and inputs "
        "x5, docs/sources.md); 1e-5 is ~80x float32's epsilon (1.2e-7) and still 1e4 below a wrong layout",
    ),
}
"""Outputs, states and logits of a form against the float64 reference."""

EXACT = Tolerance(0.0, "weights are stored and read back, not computed: every block read back through the layout "
                      "equals, bit for bit, the same block of the injected weights taken through the same layout")


def for_case(case, dtype: str) -> Tolerance:
    """The tolerance of ``case`` in ``dtype``: its override (with its reason) or the default."""
    if dtype in case.tolerance:
        return Tolerance(case.tolerance[dtype], f"override in {case.where}: {case.tolerance_reason}")
    return DEFAULT[dtype]


GRADIENT = {
    "float64": Tolerance(1e-12, "float64 gradients: 5.0e-15 worst measured over the shipped cases (long_sequence, "
                                "2000 steps, TF 2.21), relative to each block's largest entry; ~200x headroom"),
    "float32": Tolerance(1e-4, "float32 gradients: 2.3e-6 worst measured over the shipped cases (long_sequence, "
                               "2000 steps, TF 2.21), relative to each block's largest entry; ~40x headroom, "
                               "while a wrong mapping is off by 1e-1 to 1e1"),
}
"""TF's gradient of each gate block against the reference's, scaled by max(1, the block's largest entry):
gradients sum over every timestep and batch entry, so their error grows with their size."""


def gradient(case, dtype: str) -> Tolerance:
    """The gradient tolerance of ``case`` in ``dtype``: its override (with its reason; like the default,
    relative to each block's scale) or the default."""
    if dtype in case.tolerance:
        return Tolerance(case.tolerance[dtype], f"override in {case.where}, applied to the gradients relative "
                                                f"to each block's scale: {case.tolerance_reason}")
    return GRADIENT[dtype]
