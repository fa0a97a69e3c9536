"""The GRU equations, one gate at a time, and their backpropagation through time.

For every timestep t, with ``x_t`` [batch, input_depth] and the previous state ``h``::

    r = rec_act(x_t V[r] + h W[r] + b[r] + b_h[r])          reset gate
    u = rec_act(x_t V[u] + h W[u] + b[u] + b_h[u])          update gate (Keras's and ONNX's z)
    c = act(x_t V[c] + (r * h) W[c] + b[c] + b_h[c])        candidate: the reset before the product
    c = act(x_t V[c] + b[c] + r * (h W[c] + b_h[c]))        ... or after it (``reset_after``)
    h = u * h + (1 - u) * c

TF1's ``GRUCell`` and Keras's ``GRU(reset_after=False)`` apply the reset before the recurrent product;
Keras's ``GRU(reset_after=True)`` (the TF2 default, cuDNN's), PyTorch's ``nn.GRU`` and ONNX's
``linear_before_reset=1`` after it, where the recurrent bias ``b_h[c]`` stays inside the reset (which is
why those layouts keep a second bias). ``b_h`` is optional: without it the recurrent biases are zero.
Nothing here stacks gates or concatenates x with h.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np

from lstm_equiv.reference.backward import _derivative
from lstm_equiv.reference.blocks import BlockParams, backward_steps, run_steps
from lstm_equiv.reference.lstm import ACTIVATIONS

GRU_GATES = ("r", "u", "c")
"""Gate names (TF1's): the reset gate, the update gate, the candidate."""


@dataclass(frozen=True)
class GRUParams(BlockParams):
    """Per-gate GRU weights: mappings from gate name to array.

    ``V[g]`` is [input_depth, num_units], ``W[g]`` [num_units, num_units], ``b[g]`` [num_units]; ``b_h[g]``
    [num_units] is the recurrent bias (None: zeros), added to r and u as b is, and to the candidate's
    recurrent product inside the reset when the reset comes after it.
    """

    GATES: ClassVar[tuple] = GRU_GATES


class GRUStep(NamedTuple):
    """What one timestep computed, kept for the backward pass."""

    h_prev: np.ndarray
    r: np.ndarray
    u: np.ndarray
    c: np.ndarray
    z: dict  # pre-activations of r, u, c
    hW_c: np.ndarray  # h W[c] + b_h[c] (reset after) or (r * h) W[c] (reset before)
    h: np.ndarray


def _recurrent_bias(p: GRUParams, g: str, dtype):
    return p.b_h[g] if p.b_h is not None else np.zeros(p.num_units, dtype)


def gru_step(x_t, h, p: GRUParams, reset_after: bool, act, rec_act) -> GRUStep:
    """The equations of one timestep (``p`` already in the dtype of x_t)."""
    z = {g: x_t @ p.V[g] + p.b[g] for g in GRU_GATES}
    for g in ("r", "u"):
        z[g] = z[g] + h @ p.W[g] + _recurrent_bias(p, g, x_t.dtype)
    r, u = rec_act(z["r"]), rec_act(z["u"])
    if reset_after:
        hW_c = h @ p.W["c"] + _recurrent_bias(p, "c", x_t.dtype)
        z["c"] = z["c"] + r * hW_c
    else:
        hW_c = (r * h) @ p.W["c"]
        z["c"] = z["c"] + hW_c + _recurrent_bias(p, "c", x_t.dtype)
    c = act(z["c"])
    return GRUStep(h, r, u, c, z, hW_c, u * h + (1.0 - u) * c)


def gru_forward(
    x,
    params: GRUParams,
    h0=None,
    reset_after: bool = False,
    *,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    after_step=None,
    **sequence,
):
    """Run the GRU over ``x`` [batch, timesteps, input_depth] in the dtype of ``x``.

    Returns ``outputs`` [batch, timesteps, num_units] (h at every step) and the final ``h``.
    ``after_step(h)`` -> h, when given, replaces the state after every step (harness.sensitivity rounds
    it there). ``sequence``: ``lengths``, ``padded``, ``reverse`` (:func:`reference.blocks.run_steps`).
    """
    act, rec_act = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    step = lambda x_t, h, p: gru_step(x_t, h, p, reset_after, act, rec_act).h
    return run_steps(x, params, h0, step, after_step, **sequence)


@dataclass(frozen=True)
class GRUGrads:
    """dL for every parameter block (a :class:`GRUParams`, b_h always present) and for ``x`` and ``h0``."""

    params: GRUParams
    x: np.ndarray
    h0: np.ndarray


def gru_backward(
    x,
    params: GRUParams,
    d_outputs,
    h0=None,
    reset_after: bool = False,
    *,
    d_h=None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    **sequence,
) -> GRUGrads:
    """Gradients of ``sum(d_outputs * outputs) + sum(d_h * h_T)``, in the dtype of x (``sequence`` as in
    gru_forward). One step, walking back::

    dc = dh (1 - u);  du = dh (h_prev - c);  dh_prev = dh u
    dz_c = dc act'(z_c);  dz_u = du rec_act'(z_u)
    reset before: d(r h) = dz_c W[c].T;  dr = d(r h) h_prev;  dh_prev += d(r h) r
    reset after:  dr = dz_c (h W[c] + b_h[c]);  d(h W[c] + b_h[c]) = dz_c r
    dz_r = dr rec_act'(z_r);  dh_prev += dz_r W[r].T + dz_u W[u].T (+ dz_c r W[c].T after)
    """
    act, rec_act = ACTIVATIONS[activation], ACTIVATIONS[recurrent_activation]
    d_act, d_rec = _derivative(activation), _derivative(recurrent_activation)

    def step_back(s: GRUStep, x_t, dh, p, grads):
        dV, dW, db, dbh = grads["V"], grads["W"], grads["b"], grads["b_h"]
        dc, du = dh * (1.0 - s.u), dh * (s.h_prev - s.c)
        dh_prev = dh * s.u
        dz = {"c": dc * d_act(s.z["c"]), "u": du * d_rec(s.z["u"])}
        if reset_after:
            dr = dz["c"] * s.hW_c
            d_hWc = dz["c"] * s.r
            dW["c"] += s.h_prev.T @ d_hWc
            dbh["c"] += d_hWc.sum(axis=0)
            dh_prev = dh_prev + d_hWc @ p.W["c"].T
        else:
            d_rh = dz["c"] @ p.W["c"].T
            dr = d_rh * s.h_prev
            dW["c"] += (s.r * s.h_prev).T @ dz["c"]
            dbh["c"] += dz["c"].sum(axis=0)
            dh_prev = dh_prev + d_rh * s.r
        dz["r"] = dr * d_rec(s.z["r"])
        for g in ("r", "u"):
            dW[g] += s.h_prev.T @ dz[g]
            dbh[g] += dz[g].sum(axis=0)
            dh_prev = dh_prev + dz[g] @ p.W[g].T
        dx_t = 0.0
        for g in GRU_GATES:
            dV[g] += x_t.T @ dz[g]
            db[g] += dz[g].sum(axis=0)
            dx_t = dx_t + dz[g] @ p.V[g].T
        return dx_t, dh_prev

    step = lambda x_t, h, p: gru_step(x_t, h, p, reset_after, act, rec_act)
    return GRUGrads(*backward_steps(x, params, d_outputs, h0, d_h, step, step_back, **sequence))
