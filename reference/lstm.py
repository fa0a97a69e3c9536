"""The LSTM equations, one gate at a time.

For every timestep t, with ``x_t`` [batch, input_depth] and the previous state ``h``, ``c``::

    i = sigmoid(x_t V[i] + h W[i] + b[i])                  input gate
    j = tanh   (x_t V[j] + h W[j] + b[j])                  block input (the candidate)
    f = sigmoid(x_t V[f] + h W[f] + b[f] + forget_bias)    forget gate
    o = sigmoid(x_t V[o] + h W[o] + b[o])                  output gate
    c = f * c + i * j
    h = o * tanh(c)

``forget_bias`` is added to the forget gate's pre-activation at run time, as TensorFlow's BasicLSTMCell
does; it is never folded into ``b[f]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np

GATES = ("i", "j", "f", "o")
"""Gate names: input gate, block input (the tanh candidate), forget gate, output gate."""


@dataclass(frozen=True)
class LSTMParams:
    """Per-gate LSTM weights: mappings from gate name to array.

    ``V[g]`` is [input_depth, num_units] (input weights), ``W[g]`` is [num_units, num_units] (recurrent
    weights) and ``b[g]`` is [num_units].
    """

    V: Mapping[str, np.ndarray]
    W: Mapping[str, np.ndarray]
    b: Mapping[str, np.ndarray]

    def __post_init__(self):
        for part in ("V", "W", "b"):
            keys = tuple(getattr(self, part))
            if sorted(keys) != sorted(GATES):
                raise ValueError(f"LSTMParams.{part} must have exactly the gates {GATES}, got {keys}")
        n_in, n_units = np.shape(self.V["i"])
        expected = {"V": (n_in, n_units), "W": (n_units, n_units), "b": (n_units,)}
        for part, shape in expected.items():
            for g in GATES:
                got = np.shape(getattr(self, part)[g])
                if got != shape:
                    raise ValueError(f"LSTMParams.{part}[{g!r}] has shape {got}, expected {shape}")

    @property
    def input_depth(self) -> int:
        """Rows of every ``V[g]``."""
        return int(np.shape(self.V["i"])[0])

    @property
    def num_units(self) -> int:
        """Columns of every ``V[g]`` and ``W[g]``."""
        return int(np.shape(self.V["i"])[1])

    def astype(self, dtype) -> "LSTMParams":
        """The same parameters cast to ``dtype``."""
        cast = lambda m: {g: np.asarray(m[g], dtype=dtype) for g in GATES}  # noqa: E731
        return LSTMParams(V=cast(self.V), W=cast(self.W), b=cast(self.b))

    def items(self):
        """Yield ``(part, gate, array)`` for every block, parts V, W, b and gates in GATES order."""
        for part in ("V", "W", "b"):
            for g in GATES:
                yield part, g, getattr(self, part)[g]


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function, written through tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


_ACTIVATION = {"i": sigmoid, "j": np.tanh, "f": sigmoid, "o": sigmoid}


def lstm_forward(x, params: LSTMParams, h0=None, c0=None, forget_bias: float = 0.0):
    """Run the LSTM over ``x`` [batch, timesteps, input_depth] in the dtype of ``x``.

    Returns ``outputs`` [batch, timesteps, num_units] (h at every step) and the final state ``(h, c)``,
    each [batch, num_units]. ``h0`` and ``c0`` default to zeros.
    """
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != params.input_depth:
        raise ValueError(f"x must be [batch, timesteps, {params.input_depth}], got {x.shape}")
    dtype = x.dtype
    batch, timesteps, _ = x.shape
    p = params.astype(dtype)
    zeros = np.zeros((batch, p.num_units), dtype=dtype)
    h = zeros if h0 is None else np.asarray(h0, dtype=dtype)
    c = zeros if c0 is None else np.asarray(c0, dtype=dtype)
    extra = {g: dtype.type(0) for g in GATES}
    extra["f"] = dtype.type(forget_bias)
    # The input projections of all timesteps at once, gate by gate: the time loop carries only h.
    xV = {g: x @ p.V[g] + (p.b[g] + extra[g]) for g in GATES}
    outputs = np.empty((batch, timesteps, p.num_units), dtype=dtype)
    for t in range(timesteps):
        gate = {g: _ACTIVATION[g](xV[g][:, t] + h @ p.W[g]) for g in GATES}
        c = gate["f"] * c + gate["i"] * gate["j"]
        h = gate["o"] * np.tanh(c)
        outputs[:, t] = h
    return outputs, (h, c)


def dense(x, kernel, bias):
    """A dense layer, ``x @ kernel + bias``: the classification head on the last output."""
    x = np.asarray(x)
    return x @ np.asarray(kernel, dtype=x.dtype) + np.asarray(bias, dtype=x.dtype)
