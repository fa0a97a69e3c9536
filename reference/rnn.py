"""The plain (Elman) RNN, and its backpropagation through time: the third cell, added to show what a cell
costs (docs/third-cell.md).

For every timestep t, with ``x_t`` [batch, input_depth] and the previous state ``h``::

    h = act(x_t V[h] + h W[h] + b[h] + b_h[h])

Keras's ``SimpleRNN``, PyTorch's ``nn.RNN`` (bias_ih + bias_hh), ONNX's ``RNN`` (Wb + Rb) and TF1's
``BasicRNNCell`` compute this. Its one "gate" is the new state itself, named h.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from lstm_equiv.reference.backward import _derivative
from lstm_equiv.reference.blocks import BlockParams, backward_steps, run_steps
from lstm_equiv.reference.lstm import ACTIVATIONS

RNN_GATES = ("h",)
"""The one block of every part: the new state."""


@dataclass(frozen=True)
class RNNParams(BlockParams):
    """The plain RNN's weights: ``V['h']`` [input_depth, u], ``W['h']`` [u, u], ``b['h']`` and ``b_h['h']`` [u]
    (``b_h`` None: zeros; the two biases only add)."""

    GATES: ClassVar[tuple] = RNN_GATES


class RNNStep(NamedTuple):
    """What one timestep computed, kept for the backward pass."""

    h_prev: np.ndarray
    z: np.ndarray
    h: np.ndarray


def _step(x_t, h, p: RNNParams, act) -> RNNStep:
    z = x_t @ p.V["h"] + h @ p.W["h"] + p.b["h"]
    z = z if p.b_h is None else z + p.b_h["h"]
    return RNNStep(h, z, act(z))


def rnn_forward(x, params: RNNParams, h0=None, *, activation: str = "tanh", after_step=None, **sequence):
    """Run the RNN over ``x`` [batch, timesteps, input_depth] in the dtype of ``x``: ``outputs`` [batch,
    timesteps, num_units] (h at every step) and the final ``h``. ``after_step(h)`` -> h replaces the state
    after every step (harness.sensitivity rounds it there); ``sequence``: ``lengths``, ``padded``,
    ``reverse`` (:func:`reference.blocks.run_steps`)."""
    act = ACTIVATIONS[activation]
    return run_steps(x, params, h0, lambda x_t, h, p: _step(x_t, h, p, act).h, after_step, **sequence)


@dataclass(frozen=True)
class RNNGrads:
    """dL for every block (an :class:`RNNParams`, b_h always present) and for ``x`` and ``h0``."""

    params: RNNParams
    x: np.ndarray
    h0: np.ndarray


def rnn_backward(x, params: RNNParams, d_outputs, h0=None, *, d_h=None, activation: str = "tanh", **sequence):
    """Gradients of ``sum(d_outputs * outputs) + sum(d_h * h_T)``, in the dtype of x (``sequence`` as in
    rnn_forward). One step, walking back::

    dz = dh act'(z);  dV += x_t.T dz;  dW += h_prev.T dz;  db = db_h += sum dz
    dx_t = dz V.T;  dh_prev = dz W.T
    """
    act, d_act = ACTIVATIONS[activation], _derivative(activation)

    def step_back(s: RNNStep, x_t, dh, p, grads):
        dz = dh * d_act(s.z)
        grads["V"]["h"] += x_t.T @ dz
        grads["W"]["h"] += s.h_prev.T @ dz
        grads["b"]["h"] += dz.sum(axis=0)
        grads["b_h"]["h"] += dz.sum(axis=0)
        return dz @ p.V["h"].T, dz @ p.W["h"].T

    step = lambda x_t, h, p: _step(x_t, h, p, act)
    return RNNGrads(*backward_steps(x, params, d_outputs, h0, d_h, step, step_back, **sequence))
