"""Backpropagation through time for the per-gate LSTM of :mod:`reference.lstm`.

For a scalar loss ``L = sum(d_outputs * outputs) + sum(d_h * h_T) + sum(d_c * c_T)`` it returns dL for
every ``V[g]``, ``W[g]``, ``b[g]``, the peephole diagonals and the projection where present, and for
``x``, ``h0`` and ``c0`` — each gate with its own gradient, nothing stacked. Walking back from step T to
step 1, with the forward's values at each step (the forward pass is :func:`reference.lstm.lstm_step`,
the same equations the forward reference runs, kept for every step)::

    dm      = (dh * clip mask) @ projection.T          (dm = dh without a projection)
    dz_o    = dm * act(c) * rec_act'(z_o)
    dc     += dm * o * act'(c) + dz_o * p[o]           then times the cell-clip mask
    dz_i    = dc * j * rec_act'(z_i);  dz_j = dc * i * act'(z_j);  dz_f = dc * c_prev * rec_act'(z_f)
              (with input_forget, f = 1 - i: dz_i = dc * (j - c_prev) * rec_act'(z_i), dz_f = 0)
    dz_g   *= the gate-clip mask of g (with gate_clip: zero where z_g was clipped)
    dc_prev = dc * f + dz_i * p[i] + dz_f * p[f]
    dh_prev = sum over g of dz_g @ W[g].T;   dx_t = sum over g of dz_g @ V[g].T
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_equiv.reference.lstm import (
    ACTIVATIONS,
    GATES,
    PEEPHOLE_GATES,
    LSTMParams,
    activations,
    initial_state,
    input_projections,
    lstm_step,
    per_step,
    time_order,
    valid_steps,
)


def _derivative(name):
    """d act / dz as a function of z, for every activation in ACTIVATIONS."""
    if name == "tanh":
        return lambda z: 1.0 - np.tanh(z) ** 2
    if name == "sigmoid":
        sig = ACTIVATIONS["sigmoid"]
        return lambda z: sig(z) * (1.0 - sig(z))
    if name == "relu":
        return lambda z: (z > 0).astype(z.dtype)
    if name.startswith("hard_sigmoid"):
        slope = 0.2 if name == "hard_sigmoid_0.2" else 1.0 / 6.0
        return lambda z: np.where(np.abs(slope * z) < 0.5, slope, 0.0).astype(z.dtype)
    raise ValueError(f"no derivative for activation {name!r}")


def _unclipped(dz, step, gate):
    """``dz`` through the gate clip's derivative: zero where the gate's pre-activation was clipped."""
    return dz if step.unclipped is None else dz * step.unclipped[gate]


@dataclass(frozen=True)
class LSTMGrads:
    """dL for every parameter block (an :class:`LSTMParams`, projection and peepholes included) and for
    the inputs ``x`` [batch, timesteps, input_depth], ``h0`` and ``c0``."""

    params: LSTMParams
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray


def lstm_backward(
    x,
    params: LSTMParams,
    d_outputs,
    h0=None,
    c0=None,
    forget_bias: float = 0.0,
    *,
    d_h=None,
    d_c=None,
    cell_clip=None,
    proj_clip=None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    cell_clip_gradient: str = "mask",
    gate_clip=None,
    input_forget: bool = False,
    lengths=None,
    padded: str = "zero",
    reverse: bool = False,
) -> LSTMGrads:
    """Gradients of ``sum(d_outputs * outputs) + sum(d_h * h_T) + sum(d_c * c_T)``, in the dtype of x.

    Takes the arguments of :func:`reference.lstm_forward` (named activations only) and ``d_outputs``
    [batch, timesteps, h_depth]. ``cell_clip_gradient`` is ``"mask"`` (the derivative of the clip: zero
    where c was clipped) or ``"straight_through"`` (the gradient passes the clip unchanged, which is what
    TF's fused BlockLSTM gradient kernel computes). ``lengths``, ``padded`` and ``reverse`` as in
    lstm_forward: at a step past a row's length the row's dh and dc pass to the step before unchanged, no
    gradient reaches that step's gates, x or weights, and (``carry``) the gradient of the output it emitted
    goes to the output it carried.
    """
    if cell_clip_gradient not in ("mask", "straight_through"):
        raise ValueError(f"cell_clip_gradient must be 'mask' or 'straight_through', got {cell_clip_gradient!r}")
    x = np.asarray(x)
    dtype = x.dtype
    p = params.astype(dtype)
    batch, timesteps, _ = x.shape
    act = activations(activation, recurrent_activation)
    d_act, d_rec = _derivative(activation), _derivative(recurrent_activation)
    n, h_depth = p.num_units, p.h_depth
    peep = p.peephole

    # the forward pass, step by step through the same equations, keeping every step for the way back
    h, c = initial_state(x, p, h0, c0)
    xV = per_step(input_projections(x, p, forget_bias))
    valid = valid_steps(lengths, timesteps)
    order = time_order(timesteps, reverse)
    steps, h_prev = [None] * timesteps, np.empty((timesteps, batch, h_depth), dtype)
    for t in order:
        h_prev[t] = h
        s = lstm_step(xV[t], h, c, p.W, act, peep, p.projection, cell_clip, proj_clip, None, gate_clip, input_forget)
        steps[t] = s
        h, c = (s.h, s.c) if valid is None else (np.where(valid[t], s.h, h), np.where(valid[t], s.c, c))

    d_outputs = np.asarray(d_outputs, dtype)
    dh_next = np.zeros((batch, h_depth), dtype) if d_h is None else np.asarray(d_h, dtype).copy()
    dc_next = np.zeros((batch, n), dtype) if d_c is None else np.asarray(d_c, dtype).copy()
    dz_all = {g: np.empty((timesteps, batch, n), dtype) for g in GATES}
    dP = None if p.projection is None else np.zeros_like(p.projection)
    dpeep = None if peep is None else {g: np.zeros(n, dtype) for g in PEEPHOLE_GATES}
    carried = np.zeros((batch, h_depth), dtype)  # d loss / d the output a padded step carried (padded="carry")
    for t in reversed(order):
        s = steps[t]
        if valid is None:
            dh = dh_next + d_outputs[:, t]
        else:  # a padded step: its state's gradient skips it, its output's goes to what it carried
            v = valid[t]
            d_out = d_outputs[:, t] + carried
            carried = np.where(v, 0.0, d_out) if padded == "carry" else carried
            dh_all, dc_all = dh_next + np.where(v, d_out, 0.0), dc_next
            dh, dc_next = np.where(v, dh_all, 0.0), np.where(v, dc_all, 0.0)
            dh_skip, dc_skip = np.where(v, 0.0, dh_all), np.where(v, 0.0, dc_all)
        if proj_clip is not None:
            dh = dh * (np.abs(s.h_raw) <= proj_clip)
        if p.projection is not None:
            dP += s.m.T @ dh
            dm = dh @ p.projection.T
        else:
            dm = dh
        dz_o = _unclipped(dm * act["c"](s.c) * d_rec(s.z["o"]), s, "o")
        dc = dc_next + dm * s.o * d_act(s.c)
        if peep is not None:
            dc = dc + dz_o * peep["o"]
            dpeep["o"] += (dz_o * s.c).sum(axis=0)
        if cell_clip is not None and cell_clip_gradient == "mask":
            dc = dc * (np.abs(s.c_raw) <= cell_clip)
        dz_i = _unclipped(dc * (s.j - s.c_prev if input_forget else s.j) * d_rec(s.z["i"]), s, "i")
        dz_j = _unclipped(dc * s.i * d_act(s.z["j"]), s, "j")
        dz_f = np.zeros_like(dc) if input_forget else _unclipped(dc * s.c_prev * d_rec(s.z["f"]), s, "f")
        dc_next = dc * s.f
        if peep is not None:
            dc_next = dc_next + dz_i * peep["i"] + dz_f * peep["f"]
            dpeep["i"] += (dz_i * s.c_prev).sum(axis=0)
            dpeep["f"] += (dz_f * s.c_prev).sum(axis=0)
        dz = {"i": dz_i, "j": dz_j, "f": dz_f, "o": dz_o}
        dh_next = sum(dz[g] @ p.W[g].T for g in GATES)
        if valid is not None:
            dh_next, dc_next = dh_next + dh_skip, dc_next + dc_skip
        for g in GATES:
            dz_all[g][t] = dz[g]

    x_by_time = np.swapaxes(x, 0, 1)
    flat = lambda a: a.reshape(-1, a.shape[-1])  # [T * batch, features]
    grads = LSTMParams(
        V={g: flat(x_by_time).T @ flat(dz_all[g]) for g in GATES},
        W={g: flat(h_prev).T @ flat(dz_all[g]) for g in GATES},
        b={g: dz_all[g].sum(axis=(0, 1)) for g in GATES},
        peephole=dpeep,
        projection=dP,
    )
    dx = np.swapaxes(sum(dz_all[g] @ p.V[g].T for g in GATES), 0, 1)
    return LSTMGrads(params=grads, x=dx, h0=dh_next, c0=dc_next)
