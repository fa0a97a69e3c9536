"""Seeded, random, gate-distinct weights and inputs for a case.

Constant weights cannot reveal a gate swap (a wrong gate order then gives exactly zero difference), so
every block is drawn at random from the case's seed. Draws are made in float64 and rounded to the run's
dtype, so a float32 run holds the float64 draws rounded once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference import GATES, LSTMParams


@dataclass(frozen=True)
class Inputs:
    """Everything a form is fed: per-gate params, the input sequence and the head's weights."""

    params: LSTMParams
    x: np.ndarray  # [batch, timesteps, input_depth]
    head_kernel: np.ndarray | None  # [num_units, num_classes]
    head_bias: np.ndarray | None  # [num_classes]


def make_inputs(case, dtype: str) -> Inputs:
    """The case's weights and inputs in ``dtype``; the same draws for every dtype and form."""
    rng = np.random.default_rng(case.seed)
    n_in, n = case.input_depth, case.num_units
    scale = 1.0 / np.sqrt(n_in + n)  # keeps pre-activations O(1): gates neither saturate nor vanish
    V, W, b = {}, {}, {}
    for g in GATES:
        V[g] = rng.normal(0.0, scale, (n_in, n))
        W[g] = rng.normal(0.0, scale, (n, n))
        b[g] = rng.normal(0.0, 0.5, n)
    x = rng.normal(0.0, 1.0, (case.batch, case.timesteps, n_in))
    head_kernel = head_bias = None
    if case.num_classes:
        head_kernel = rng.normal(0.0, 1.0 / np.sqrt(n), (n, case.num_classes))
        head_bias = rng.normal(0.0, 0.1, case.num_classes)
    cast = lambda a: None if a is None else a.astype(dtype)  # noqa: E731
    return Inputs(LSTMParams(V, W, b).astype(dtype), cast(x), cast(head_kernel), cast(head_bias))
