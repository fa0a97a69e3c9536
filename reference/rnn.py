"""The plain (Elman) RNN, and its backpropagation through time: the third cell, added to show what a cell
costs (README: "Adding a cell").

For every timestep t, with ``x_t`` [batch, input_depth] and the previous state ``h``::

    h = act(x_t V[h] + h W[h] + b[h] + b_h[h])

Keras's ``SimpleRNN``, PyTorch's ``nn.RNN`` (bias_ih + bias_hh), ONNX's ``RNN`` (Wb + Rb) and TF1's
``BasicRNNCell`` compute this. Its one "gate" is the new state itself, named h.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from reference.backward import _derivative
from reference.blocks import BlockParams, run_steps
from reference.lstm import ACTIVATIONS

RNN_GATES = ("h",)
"""The one block of every part: the new state."""


@dataclass(frozen=True)
class RNNParams(BlockParams):
    """The plain RNN's weights: ``V['h']`` [input_depth, u], ``W['h']`` [u, u], ``b['h']`` and ``b_h['h']`` [u]
    (``b_h`` None: zeros; the two biases only add)."""

    GATES: ClassVar[tuple] = RNN_GATES


def _z(x_t, h, p: RNNParams):
    z = x_t @ p.V["h"] + h @ p.W["h"] + p.b["h"]
    return z if p.b_h is None else z + p.b_h["h"]


def rnn_forward(x, params: RNNParams, h0=None, *, activation: str = "tanh", after_step=None):
    """Run the RNN over ``x`` [batch, timesteps, input_depth] in the dtype of ``x``: ``outputs`` [batch,
    timesteps, num_units] (h at every step) and the final ``h``. ``after_step(h)`` -> h replaces the state
    after every step (harness.sensitivity rounds it there)."""
    act = ACTIVATIONS[activation]
    return run_steps(x, params, h0, lambda x_t, h, p: act(_z(x_t, h, p)), after_step)


@dataclass(frozen=True)
class RNNGrads:
    """dL for every block (an :class:`RNNParams`, b_h always present) and for ``x`` and ``h0``."""

    params: RNNParams
    x: np.ndarray
    h0: np.ndarray


def rnn_backward(x, params: RNNParams, d_outputs, h0=None, *, d_h=None, activation: str = "tanh") -> RNNGrads:
    """Gradients of ``sum(d_outputs * outputs) + sum(d_h * h_T)``, in the dtype of x. Walking back::

    dz = dh act'(z);  dV += x_t.T dz;  dW += h_prev.T dz;  db = db_h += sum dz
    dx_t = dz V.T;  dh_prev = dz W.T
    """
    x = np.asarray(x)
    dtype, p = x.dtype, params.astype(x.dtype)
    act, d_act = ACTIVATIONS[activation], _derivative(activation)
    h = np.zeros((x.shape[0], p.num_units), dtype) if h0 is None else np.asarray(h0, dtype)
    states, zs = [h], []
    for t in range(x.shape[1]):
        zs.append(_z(x[:, t], states[-1], p))
        states.append(act(zs[-1]))
    d_outputs = np.asarray(d_outputs, dtype)
    dh = np.zeros_like(h) if d_h is None else np.asarray(d_h, dtype).copy()
    dV, dW, db = np.zeros_like(p.V["h"]), np.zeros_like(p.W["h"]), np.zeros(p.num_units, dtype)
    dx = np.zeros_like(x)
    for t in reversed(range(x.shape[1])):
        dz = (dh + d_outputs[:, t]) * d_act(zs[t])
        dV += x[:, t].T @ dz
        dW += states[t].T @ dz
        db += dz.sum(axis=0)
        dx[:, t] = dz @ p.V["h"].T
        dh = dz @ p.W["h"].T
    return RNNGrads(RNNParams({"h": dV}, {"h": dW}, {"h": db}, {"h": db.copy()}), dx, dh)
