"""Per-gate weights of a cell whose every gate has one input matrix, one recurrent matrix and a bias (and,
where the cell keeps it apart, a recurrent bias): the GRU's (reference.gru) and the plain RNN's
(reference.rnn). The LSTM's, with peepholes and a projection, are reference.lstm.LSTMParams."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np


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


def run_steps(x, params: BlockParams, h0, step, after_step=None) -> tuple:
    """A one-layer cell over ``x`` [batch, timesteps, input_depth], in the dtype of x: ``step(x_t, h, p)`` ->
    the next h (``p``: the params in that dtype), ``after_step(h)`` -> h replacing it where given
    (harness.sensitivity rounds it there). Returns ``outputs`` [batch, timesteps, num_units] (h at every
    step) and the final h."""
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != params.input_depth:
        raise ValueError(f"x must be [batch, timesteps, {params.input_depth}], got {x.shape}")
    p = params.astype(x.dtype)
    h = np.zeros((x.shape[0], p.num_units), x.dtype) if h0 is None else np.asarray(h0, x.dtype)
    outputs = np.empty((x.shape[0], x.shape[1], p.num_units), x.dtype)
    for t in range(x.shape[1]):
        h = step(x[:, t], h, p)
        h = h if after_step is None else after_step(h)
        outputs[:, t] = h
    return outputs, h
