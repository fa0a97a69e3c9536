"""Per-gate weights of a cell whose every gate has one input matrix, one recurrent matrix and a bias (and,
where the cell keeps it apart, a recurrent bias): the GRU's (reference.gru) and the plain RNN's
(reference.rnn). The LSTM's, with peepholes and a projection, are reference.lstm.LSTMParams."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from lstm_equiv.reference.lstm import PADDED, time_order, valid_steps


@dataclass(frozen=True)
class BlockParams:
    """Mappings from gate name to array: ``V[g]`` [input_depth, num_units], ``W[g]`` [num_units, num_units],
    ``b[g]`` and ``b_h[g]`` [num_units] (``b_h`` None: zeros). ``GATES``: the cell's gate names."""

    GATES: ClassVar[tuple] = ()

    V: Mapping[str, np.ndarray]
    W: Mapping[str, np.ndarray]
    b: Mapping[str, np.ndarray]
    b_h: Mapping[str, np.ndarray] | None = None

    def __post_init__(self):
        kind = type(self).__name__
        for part in ("V", "W", "b") + (("b_h",) if self.b_h is not None else ()):
            keys = tuple(getattr(self, part))
            if sorted(keys) != sorted(self.GATES):
                raise ValueError(f"{kind}.{part} must have exactly the gates {self.GATES}, got {keys}")
        for part, g, a in self.items():
            if np.shape(a) != self.shape_of(part):
                raise ValueError(f"{kind}.{part}[{g!r}] has shape {np.shape(a)}, expected {self.shape_of(part)}")

    @property
    def input_depth(self) -> int:
        """Rows of every ``V[g]``."""
        return int(np.shape(self.V[self.GATES[0]])[0])

    @property
    def num_units(self) -> int:
        """The width of h."""
        return int(np.shape(self.V[self.GATES[0]])[1])

    def shape_of(self, part: str) -> tuple:
        """The shape of every block of ``part`` (V, W, b, b_h)."""
        n = self.num_units
        return {"V": (self.input_depth, n), "W": (n, n), "b": (n,), "b_h": (n,)}[part]

    def astype(self, dtype):
        """The same parameters cast to ``dtype``."""
        return self.map(lambda a: np.asarray(a, dtype=dtype))

    def map(self, f):
        """The same parameters with every block replaced by ``f(block)``."""
        each = lambda m: None if m is None else {g: f(a) for g, a in m.items()}
        return type(self)(each(self.V), each(self.W), each(self.b), each(self.b_h))

    def items(self):
        """Yield ``(part, gate, array)`` for every per-gate block: V, W, b, then b_h where present."""
        for part in ("V", "W", "b") + (("b_h",) if self.b_h is not None else ()):
            for g in self.GATES:
                yield part, g, getattr(self, part)[g]


def run_steps(x, params: BlockParams, h0, step, after_step=None, *, lengths=None, padded="zero", reverse=False):
    """A one-layer cell over ``x`` [batch, timesteps, input_depth], in the dtype of x: ``step(x_t, h, p)`` ->
    the next h (``p``: the params in that dtype), ``after_step(h)`` -> h replacing it where given
    (harness.sensitivity rounds it there). Returns ``outputs`` [batch, timesteps, num_units] (in time order)
    and the final h. ``lengths``, ``padded`` and ``reverse`` as in :func:`reference.lstm_forward`: a row past
    its length keeps its state and emits zeros (``zero``) or its last output (``carry``); ``reverse``
    processes T-1 .. 0."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != params.input_depth:
        raise ValueError(f"x must be [batch, timesteps, {params.input_depth}], got {x.shape}")
    if padded not in PADDED:
        raise ValueError(f"padded must be one of {PADDED}, got {padded!r}")
    p = params.astype(x.dtype)
    h = np.zeros((x.shape[0], p.num_units), x.dtype) if h0 is None else np.asarray(h0, x.dtype)
    valid = valid_steps(lengths, x.shape[1])
    outputs = np.empty((x.shape[0], x.shape[1], p.num_units), x.dtype)
    emitted = np.zeros_like(h)  # what a carrying row emits before its first step
    for t in time_order(x.shape[1], reverse):
        new = step(x[:, t], h, p)
        if valid is None:
            h = emitted = new
        else:
            h, emitted = np.where(valid[t], new, h), np.where(valid[t], new, emitted if padded == "carry" else 0.0)
        if after_step is not None:
            h = after_step(h)
            emitted = h if valid is None else np.where(valid[t], h, emitted)
        outputs[:, t] = emitted
    return outputs, h


def backward_steps(
    x, params: BlockParams, d_outputs, h0, d_h, step, step_back, *, lengths=None, padded="zero", reverse=False
) -> tuple:
    """Backpropagation through time of a one-layer cell, written once for every cell of per-gate blocks.

    ``step(x_t, h, p)`` -> what the step computed, kept for the way back (``.h``: the next h);
    ``step_back(kept, x_t, dh, p, grads)`` adds the step's share to ``grads`` ({part: {gate: array}}, every
    part with b_h) and returns ``(dx_t, dh_prev)``. ``lengths``, ``padded`` and ``reverse`` as in
    :func:`run_steps`: at a step past a row's length the row's dh passes to the step before unchanged, no
    gradient reaches that step's gates, x or weights, and (``carry``) the gradient of the output it emitted
    goes to the output it carried. Returns ``(grads as the params' type, dx, dh0)`` in the dtype of x.
    """
    if padded not in PADDED:
        raise ValueError(f"padded must be one of {PADDED}, got {padded!r}")
    x = np.asarray(x)
    dtype, p = x.dtype, params.astype(x.dtype)
    batch, timesteps, _ = x.shape
    h = np.zeros((batch, p.num_units), dtype) if h0 is None else np.asarray(h0, dtype)
    valid, order = valid_steps(lengths, timesteps), time_order(timesteps, reverse)
    kept = [None] * timesteps
    for t in order:
        kept[t] = step(x[:, t], h, p)
        h = kept[t].h if valid is None else np.where(valid[t], kept[t].h, h)
    d_outputs = np.asarray(d_outputs, dtype)
    dh_next = np.zeros((batch, p.num_units), dtype) if d_h is None else np.asarray(d_h, dtype).copy()
    grads = {part: {g: np.zeros(p.shape_of(part), dtype) for g in p.GATES} for part in ("V", "W", "b", "b_h")}
    dx = np.zeros_like(x)
    carried = np.zeros_like(dh_next)  # d loss / d the output a padded step carried (padded="carry")
    for t in reversed(order):
        if valid is None:
            dh, dh_skip = dh_next + d_outputs[:, t], 0.0
        else:  # a padded step: its state's gradient skips it, its output's goes to what it carried
            v = valid[t]
            d_out = d_outputs[:, t] + carried
            carried = np.where(v, 0.0, d_out) if padded == "carry" else carried
            dh_all = dh_next + np.where(v, d_out, 0.0)
            dh, dh_skip = np.where(v, dh_all, 0.0), np.where(v, 0.0, dh_all)
        dx[:, t], dh_prev = step_back(kept[t], x[:, t], dh, p, grads)
        dh_next = dh_prev + dh_skip
    return type(p)(grads["V"], grads["W"], grads["b"], grads["b_h"]), dx, dh_next
