"""The LSTM equations, one gate at a time.

For every timestep t, with ``x_t`` [batch, input_depth] and the previous state ``h``, ``c``::

    i = rec_act(x_t V[i] + h W[i] + b[i]               + p[i] * c)     input gate
    j = act    (x_t V[j] + h W[j] + b[j])                             block input (the candidate)
    f = rec_act(x_t V[f] + h W[f] + b[f] + forget_bias + p[f] * c)     forget gate (1 - i with input_forget)
    c = f * c + i * j                      then clipped to [-cell_clip, cell_clip] if cell_clip is set
    o = rec_act(x_t V[o] + h W[o] + b[o]               + p[o] * c)     output gate (sees the new c)
    h = o * act(c)                         then h @ projection, clipped to proj_clip, if projected

``act`` is tanh and ``rec_act`` sigmoid unless chosen otherwise. ``gate_clip`` (ONNX's ``clip``) clips
every gate's pre-activation, the argument of rec_act or act above, to [-gate_clip, gate_clip];
``input_forget`` (ONNX's) couples the forget gate to the input gate, f = 1 - i. ``forget_bias`` is added to the forget
gate's pre-activation at run time, as TensorFlow's BasicLSTMCell does; it is never folded into ``b[f]``.
The peephole diagonals ``p`` and the ``projection`` exist only when the params carry them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

GATES = ("i", "j", "f", "o")
"""Gate names: input gate, block input (the tanh candidate), forget gate, output gate."""

PEEPHOLE_GATES = ("i", "f", "o")
"""Gates with a peephole diagonal: i and f see the previous c, o sees the new c."""


@dataclass(frozen=True)
class LSTMParams:
    """Per-gate LSTM weights: mappings from gate name to array.

    ``V[g]`` is [input_depth, num_units] (input weights), ``W[g]`` is [h_depth, num_units] (recurrent
    weights; h_depth is num_units, or num_proj with a projection) and ``b[g]`` is [num_units].
    ``peephole[g]`` for g in i, f, o is [num_units]; ``projection`` is [num_units, num_proj].
    """

    V: Mapping[str, np.ndarray]
    W: Mapping[str, np.ndarray]
    b: Mapping[str, np.ndarray]
    peephole: Mapping[str, np.ndarray] | None = None
    projection: np.ndarray | None = None

    def __post_init__(self):
        for part in ("V", "W", "b"):
            keys = tuple(getattr(self, part))
            if sorted(keys) != sorted(GATES):
                raise ValueError(f"LSTMParams.{part} must have exactly the gates {GATES}, got {keys}")
        if self.peephole is not None and sorted(self.peephole) != sorted(PEEPHOLE_GATES):
            raise ValueError(f"LSTMParams.peephole must have exactly the gates {PEEPHOLE_GATES}")
        n_in, n = np.shape(self.V["i"])
        if self.projection is not None and np.shape(self.projection)[0] != n:
            raise ValueError(f"LSTMParams.projection has shape {np.shape(self.projection)}, expected ({n}, num_proj)")
        for part, g, a in self.items():
            if np.shape(a) != self.shape_of(part):
                raise ValueError(f"LSTMParams.{part}[{g!r}] has shape {np.shape(a)}, expected {self.shape_of(part)}")

    @property
    def input_depth(self) -> int:
        """Rows of every ``V[g]``."""
        return int(np.shape(self.V["i"])[0])

    @property
    def num_units(self) -> int:
        """Columns of every ``V[g]`` and ``W[g]``: the width of c."""
        return int(np.shape(self.V["i"])[1])

    @property
    def h_depth(self) -> int:
        """The width of h: num_proj with a projection, else num_units. The rows of every ``W[g]``."""
        return self.num_units if self.projection is None else int(np.shape(self.projection)[1])

    def shape_of(self, part: str) -> tuple:
        """The shape of every block of ``part`` (V, W, b, peephole)."""
        return {
            "V": (self.input_depth, self.num_units),
            "W": (self.h_depth, self.num_units),
            "b": (self.num_units,),
            "peephole": (self.num_units,),
        }[part]

    def astype(self, dtype) -> LSTMParams:
        """The same parameters cast to ``dtype``."""
        return self.map(lambda a: np.asarray(a, dtype=dtype))

    def map(self, f) -> LSTMParams:
        """The same parameters with every block (and the projection) replaced by ``f(block)``, called in the
        order V, W, b, peephole, projection (harness.sensitivity's random draws follow it)."""
        each = lambda m: None if m is None else {g: f(a) for g, a in m.items()}
        V, W, b, peephole = each(self.V), each(self.W), each(self.b), each(self.peephole)
        return LSTMParams(V, W, b, peephole, None if self.projection is None else f(self.projection))

    def items(self):
        """Yield ``(part, gate, array)`` for every per-gate block: V, W, b, then the peepholes."""
        for part in ("V", "W", "b"):
            for g in GATES:
                yield part, g, getattr(self, part)[g]
        for g in PEEPHOLE_GATES if self.peephole is not None else ():
            yield "peephole", g, self.peephole[g]


def sigmoid(z):
    """The logistic function, written through tanh so that it never overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _hard_sigmoid(slope):
    def hard_sigmoid(z):
        return np.clip(slope * z + 0.5, 0.0, 1.0).astype(np.asarray(z).dtype)

    return hard_sigmoid


ACTIVATIONS = {
    "tanh": np.tanh,
    "sigmoid": sigmoid,
    "relu": lambda z: np.maximum(z, 0.0).astype(np.asarray(z).dtype),
    "hard_sigmoid_0.2": _hard_sigmoid(0.2),  # clip(0.2 z + 0.5, 0, 1): Keras 2, TF
    "hard_sigmoid_1/6": _hard_sigmoid(1.0 / 6.0),  # clip(z / 6 + 0.5, 0, 1) = relu6(z + 3) / 6: Keras 3
}
"""Activations by name: ``activation`` acts on j and on c, ``recurrent_activation`` on i, f, o."""


class Step(NamedTuple):
    """What one timestep computed: the pre-activations ``z[g]``, the gates, and the states.

    ``c_raw`` is the cell state before the cell clip, ``m`` the output before the projection, ``h_raw``
    the projected output before the projection clip. The backward pass reads all of them.
    """

    z: dict
    i: np.ndarray
    j: np.ndarray
    f: np.ndarray
    o: np.ndarray
    c_prev: np.ndarray
    c_raw: np.ndarray
    c: np.ndarray
    m: np.ndarray
    h_raw: np.ndarray
    h: np.ndarray
    unclipped: dict | None = None  # with gate_clip: per gate, where the pre-activation was inside the clip


def lstm_step(
    xV_t,
    h,
    c,
    W,
    act,
    peephole=None,
    projection=None,
    cell_clip=None,
    proj_clip=None,
    z=None,
    gate_clip=None,
    input_forget=False,
) -> Step:
    """The equations of one timestep, written once for the forward and the backward pass.

    ``xV_t[g]`` is ``x_t V[g] + b[g]`` (plus forget_bias for f), computed ahead for every step; ``W[g]``
    the recurrent matrices; ``act`` maps i, j, f, o and c to their activation. ``z`` may hold four
    [batch, num_units] buffers for the pre-activations (the forward pass reuses them; the backward pass
    keeps every step's, so it passes none).
    """
    z = {g: np.empty_like(xV_t[g]) for g in GATES} if z is None else z
    for g in GATES:
        np.dot(h, W[g], out=z[g])
        z[g] += xV_t[g]
    if peephole is not None:  # i and f see the previous c
        z["i"] += peephole["i"] * c
        z["f"] += peephole["f"] * c
    unclipped = None if gate_clip is None else {}
    clip = lambda g: _clip_gate(z, g, gate_clip, unclipped)
    i, j = act["i"](clip("i")), act["j"](clip("j"))
    f = 1.0 - i if input_forget else act["f"](clip("f"))
    c_raw = f * c + i * j
    c_new = c_raw if cell_clip is None else np.clip(c_raw, -cell_clip, cell_clip)
    if peephole is not None:  # o sees the new c
        z["o"] += peephole["o"] * c_new
    o = act["o"](clip("o"))
    m = o * act["c"](c_new)
    h_raw = m if projection is None else m @ projection
    h_new = h_raw if proj_clip is None else np.clip(h_raw, -proj_clip, proj_clip)
    return Step(z, i, j, f, o, c, c_raw, c_new, m, h_raw, np.ascontiguousarray(h_new), unclipped)


def _clip_gate(z, g, gate_clip, unclipped):
    """Gate ``g``'s pre-activation, clipped in place to [-gate_clip, gate_clip] when gate_clip is set (the
    mask of the elements it left alone goes to ``unclipped``, for the backward pass)."""
    if gate_clip is not None:
        unclipped[g] = np.abs(z[g]) <= gate_clip
        np.clip(z[g], -gate_clip, gate_clip, out=z[g])
    return z[g]


def activations(activation: str = "tanh", recurrent_activation: str = "sigmoid", gate_activations=None) -> dict:
    """The activation of each of i, j, f, o and of the cell state c, by name, with any replaced."""
    act = {g: ACTIVATIONS[recurrent_activation] for g in ("i", "f", "o")}
    act.update({"j": ACTIVATIONS[activation], "c": ACTIVATIONS[activation]}, **(gate_activations or {}))
    return act


def input_projections(x, params: LSTMParams, forget_bias: float) -> dict:
    """``x_t V[g] + b[g]`` (+ forget_bias for f) for every timestep at once, gate by gate, time-major:
    [timesteps, batch, num_units], so that each step reads contiguous rows and the time loop carries
    only the recurrent products."""
    x_by_time = np.ascontiguousarray(np.swapaxes(x, 0, 1))
    shift = {g: x.dtype.type(forget_bias if g == "f" else 0.0) for g in GATES}
    return {g: x_by_time @ params.V[g] + (params.b[g] + shift[g]) for g in GATES}


def per_step(xV: dict) -> list:
    """The input projections as one ``{gate: [batch, num_units]}`` per timestep."""
    return [dict(zip(GATES, rows)) for rows in zip(*(xV[g] for g in GATES))]


def initial_state(x, params: LSTMParams, h0=None, c0=None) -> tuple:
    """``(h0, c0)`` in the dtype of x, zeros where not given."""
    batch, dtype = x.shape[0], x.dtype
    h = np.zeros((batch, params.h_depth), dtype) if h0 is None else np.ascontiguousarray(h0, dtype=dtype)
    c = np.zeros((batch, params.num_units), dtype) if c0 is None else np.asarray(c0, dtype=dtype)
    return h, c


PADDED = ("zero", "carry")
"""What a row emits at a step past its length (the state is carried unchanged either way): ``zero``, zeros
(dynamic_rnn's sequence_length, PyTorch's packed sequences, ONNX's sequence_lens, Keras's Bidirectional),
or ``carry``, the output it emitted last, zeros before its first (a Keras RNN layer under a mask)."""


def time_order(timesteps: int, reverse: bool) -> range:
    """The timesteps in the order they are processed: 0 .. T-1, or T-1 .. 0 when ``reverse``."""
    return range(timesteps - 1, -1, -1) if reverse else range(timesteps)


def valid_steps(lengths, timesteps: int):
    """[timesteps, batch, 1] booleans, True where step t is inside row b's length (None: every step is)."""
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or np.any(lengths < 0) or np.any(lengths > timesteps):
        raise ValueError(f"lengths must be one per batch row, each in [0, {timesteps}], got {lengths}")
    return (np.arange(timesteps)[:, None] < lengths[None, :])[:, :, None]


def lstm_forward(
    x,
    params: LSTMParams,
    h0=None,
    c0=None,
    forget_bias: float = 0.0,
    *,
    cell_clip=None,
    proj_clip=None,
    activation: str = "tanh",
    recurrent_activation: str = "sigmoid",
    gate_activations=None,
    gate_clip=None,
    input_forget: bool = False,
    lengths=None,
    padded: str = "zero",
    reverse: bool = False,
    after_step=None,
):
    """Run the LSTM over ``x`` [batch, timesteps, input_depth] in the dtype of ``x``.

    Returns ``outputs`` [batch, timesteps, h_depth] (h at every step, in time order) and the final state
    ``(h, c)``. ``h0`` [batch, h_depth] and ``c0`` [batch, num_units] default to zeros. ``cell_clip`` and
    ``proj_clip`` (None: off) clip c and the projected h elementwise. ``gate_activations`` maps any of
    i, j, f, o (and c, the activation of the cell state) to a function that replaces that one
    activation, as ONNX's ``activations`` attribute does. ``gate_clip`` clips every gate's pre-activation
    and ``input_forget`` makes f = 1 - i (ONNX's ``clip`` and ``input_forget``).

    ``lengths`` (one per batch row, None: every row is full): at a step t >= its row's length, the row's
    state (h, c) is carried unchanged and its output is what ``padded`` says (:data:`PADDED`).
    ``reverse`` processes the steps from T-1 down to 0 (the padded steps of a row therefore come first and
    leave its initial state alone); the outputs stay in time order. ``after_step(h, c)`` -> (h, c), when
    given, replaces the state after every step (harness.sensitivity rounds it there).
    """
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != params.input_depth:
        raise ValueError(f"x must be [batch, timesteps, {params.input_depth}], got {x.shape}")
    if proj_clip is not None and params.projection is None:
        raise ValueError("proj_clip needs a projection")
    if padded not in PADDED:
        raise ValueError(f"padded must be one of {PADDED}, got {padded!r}")
    act = activations(activation, recurrent_activation, gate_activations)
    p = params.astype(x.dtype)
    h, c = initial_state(x, p, h0, c0)
    xV = per_step(input_projections(x, p, forget_bias))
    valid = valid_steps(lengths, x.shape[1])
    z = {g: np.empty((x.shape[0], p.num_units), x.dtype) for g in GATES}  # reused by every step
    outputs = np.empty((x.shape[1], x.shape[0], p.h_depth), dtype=x.dtype)
    emitted = np.zeros((x.shape[0], p.h_depth), x.dtype)  # what a carrying row emits before its first step
    for t in time_order(x.shape[1], reverse):
        s = lstm_step(xV[t], h, c, p.W, act, p.peephole, p.projection, cell_clip, proj_clip, z, gate_clip, input_forget)
        if valid is None:
            h, c = s.h, s.c
            emitted = h
        else:  # a row past its length keeps its state and emits zeros or its last output
            h, c = np.where(valid[t], s.h, h), np.where(valid[t], s.c, c)
            emitted = np.where(valid[t], s.h, emitted if padded == "carry" else 0.0)
        if after_step is not None:
            h, c = after_step(h, c)
            emitted = h if valid is None else np.where(valid[t], h, emitted)
        outputs[t] = emitted
    return np.swapaxes(outputs, 0, 1), (h, c)


def dense(x, kernel, bias):
    """A dense layer, ``x @ kernel + bias``: the classification head on the last output."""
    x = np.asarray(x)
    return x @ np.asarray(kernel, dtype=x.dtype) + np.asarray(bias, dtype=x.dtype)
