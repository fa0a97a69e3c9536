"""Sequences as real models run them: reversed, bidirectional, padded, from a given state, stacked.

Written once over every cell, from each cell's one-layer, per-gate reference (:data:`ONE_LAYER`: the LSTM's
:func:`reference.lstm_forward` / :func:`reference.lstm_backward`, the GRU's and the plain RNN's); nothing here
stacks or fuses a weight. A network is ``layers`` layers of one cell each, or of two with ``merge_mode``
(bidirectional): ``cells`` lists their params (:class:`reference.LSTMParams`, ``GRUParams`` or ``RNNParams``,
all of one cell) layer by layer, the forward cell before the backward one. Layer l + 1 reads layer l's
merged outputs. A cell without c (the GRU, the RNN) takes no ``c0`` and returns None for c.

* The forward cell processes steps 0 .. T-1; the backward cell (and a ``go_backwards`` layer) T-1 .. 0.
  With ``lengths`` a row's padded steps therefore come first for a reversed cell and leave its initial
  state alone, which makes reversing the whole padded sequence (Keras) and reversing each row within its
  length (tf.reverse_sequence, PyTorch's packed sequences, ONNX's reverse) the same function at every
  valid step.
* ``go_backwards`` (Keras's, one direction) returns the outputs in the order it processed them, the last
  timestep first; a bidirectional layer returns its backward cell's outputs in time order.
* ``merge_mode``: ``concat`` [forward | backward] along the features, ``sum``, ``mul``, ``ave``, or
  ``none`` (the two returned apart, compared here side by side as [forward | backward]).
* The final states are one h (and c, the LSTM's) per cell, stacked in ``cells`` order: [cells, batch,
  width].
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from lstm_equiv.reference.backward import lstm_backward
from lstm_equiv.reference.gru import GRUParams, gru_backward, gru_forward
from lstm_equiv.reference.lstm import LSTMParams, lstm_forward
from lstm_equiv.reference.rnn import RNNParams, rnn_backward, rnn_forward

MERGE_MODES = ("concat", "sum", "mul", "ave", "none")


def _lstm_forward(x, p, h0, c0, **kw):
    outputs, (h, c) = lstm_forward(x, p, h0, c0, **kw)
    return outputs, h, c


def _lstm_backward(x, p, d_outputs, h0, c0, d_h, d_c, **kw):
    return lstm_backward(x, p, d_outputs, h0, c0, d_h=d_h, d_c=d_c, **kw)


def _without_c(forward, backward) -> tuple:
    """A one-layer reference of a cell whose only state is h, seen through the LSTM's signature."""

    def no_c(c0, d_c=None):
        if c0 is not None or d_c is not None:
            raise ValueError(f"{forward.__name__}: this cell has no c (c0 and d_c must be None)")

    def run(x, p, h0, c0, **kw):
        no_c(c0)
        return (*forward(x, p, h0, **kw), None)

    def back(x, p, d_outputs, h0, c0, d_h, d_c, cell_clip_gradient="mask", **kw):
        no_c(c0, d_c)
        g = backward(x, p, d_outputs, h0, d_h=d_h, **kw)
        return CellGrads(g.params, g.x, g.h0, None)

    return run, back


@dataclass(frozen=True)
class CellGrads:
    """One cell's gradients: its params', x's, h0's and c0's (None for a cell without c)."""

    params: object
    x: np.ndarray
    h0: np.ndarray
    c0: np.ndarray | None


ONE_LAYER = {
    LSTMParams: (_lstm_forward, _lstm_backward),
    GRUParams: _without_c(gru_forward, gru_backward),
    RNNParams: _without_c(rnn_forward, rnn_backward),
}
"""Each cell's one-layer reference by its params' type: ``forward(x, p, h0, c0, **semantics)`` -> (outputs,
h, c or None) and ``backward(x, p, d_outputs, h0, c0, d_h, d_c, **semantics)`` -> gradients (``.params``,
``.x``, ``.h0``, ``.c0``). ``semantics`` includes ``lengths``, ``padded`` and ``reverse``."""


def _one_layer(cells) -> tuple:
    kinds = {type(p) for p in cells}
    if len(kinds) != 1 or not kinds <= set(ONE_LAYER):
        names = ", ".join(k.__name__ for k in ONE_LAYER)
        raise ValueError(f"cells must be the params of one cell ({names}), got {sorted(k.__name__ for k in kinds)}")
    return ONE_LAYER[kinds.pop()]


def directions(merge_mode) -> int:
    """Cells per layer: 2 with a merge mode (bidirectional), else 1."""
    return 1 if merge_mode is None else 2


def _check(cells, layers, merge_mode, go_backwards):
    if merge_mode is not None and merge_mode not in MERGE_MODES:
        raise ValueError(f"merge_mode must be one of {MERGE_MODES} or None, got {merge_mode!r}")
    if len(cells) != layers * directions(merge_mode):
        raise ValueError(
            f"{layers} layer(s) of {directions(merge_mode)} cell(s) need {layers * directions(merge_mode)}"
            f" params, got {len(cells)}"
        )
    if go_backwards and (merge_mode is not None or layers != 1):
        raise ValueError("go_backwards is one reversed layer: not with merge_mode or layers > 1")


def _merge(fw, bw, merge_mode):
    if bw is None:
        return fw
    if merge_mode in ("concat", "none"):  # the two outputs side by side (outputs, never weights)
        out = np.empty(fw.shape[:-1] + (fw.shape[-1] + bw.shape[-1],), fw.dtype)
        out[..., : fw.shape[-1]], out[..., fw.shape[-1] :] = fw, bw
        return out
    return {"sum": fw + bw, "mul": fw * bw, "ave": (fw + bw) / 2}[merge_mode]


def _state(states, k):
    return None if states is None else states[k]


def _run(x, cells, h0, c0, layers, merge_mode, go_backwards, lengths, padded, semantics):
    """Every cell's outputs (time order) and final state, and every layer's input."""
    per, inputs, outs, finals = directions(merge_mode), [], [], []
    forward = _one_layer(cells)[0]
    layer_in = x
    for layer in range(layers):
        inputs.append(layer_in)
        pair = []
        for d in range(per):
            k = layer * per + d
            out, h, c = forward(
                layer_in,
                cells[k],
                _state(h0, k),
                _state(c0, k),
                lengths=lengths,
                padded=padded,
                reverse=d == 1 or go_backwards,
                **semantics,
            )
            pair.append(out)
            outs.append(out)
            finals.append((h, c))
        layer_in = _merge(pair[0], pair[1] if per == 2 else None, merge_mode)
    return inputs, outs, finals, layer_in


def network_forward(
    x,
    cells,
    h0=None,
    c0=None,
    *,
    layers: int = 1,
    merge_mode=None,
    go_backwards: bool = False,
    lengths=None,
    padded: str = "zero",
    outputs_order: str = "processing",
    **semantics,
):
    """``outputs`` [batch, timesteps, width] and the final states ``(h, c)``, each [cells, batch, width] (c
    None for a cell without c).

    ``h0``/``c0``: one initial state per cell, or None (zeros). ``semantics``: the one-layer reference's
    keyword arguments (forget_bias, clips, activations, reset_after, ...), the same for every cell.
    ``outputs_order``: in which order a ``go_backwards`` layer returns its outputs, ``processing`` (Keras's:
    the last timestep first) or ``time`` (ONNX's reverse direction: output t is h at timestep t).
    """
    if outputs_order not in ("processing", "time"):
        raise ValueError(f"outputs_order must be 'processing' or 'time', got {outputs_order!r}")
    x = np.asarray(x)
    _check(cells, layers, merge_mode, go_backwards)
    _, _, finals, outputs = _run(x, cells, h0, c0, layers, merge_mode, go_backwards, lengths, padded, semantics)
    if go_backwards and outputs_order == "processing":
        outputs = outputs[:, ::-1]  # in the order it processed them
    return outputs, (_by_cell([h for h, _ in finals]), _by_cell([c for _, c in finals]))


def _by_cell(states) -> np.ndarray | None:
    """One state per cell as [cells, batch, width] (None for a cell without that state)."""
    if states[0] is None:
        return None
    out = np.empty((len(states),) + states[0].shape, states[0].dtype)
    for k, s in enumerate(states):
        out[k] = s
    return out


@dataclass(frozen=True)
class NetworkGrads:
    """dL for every cell's parameters (in ``cells`` order), for ``x``, and for each cell's h0 and c0."""

    cells: tuple
    x: np.ndarray
    h0: tuple
    c0: tuple

    @property
    def params(self):
        """The first cell's gradients (the only cell's, in a one-cell network)."""
        return self.cells[0]


def network_backward(
    x,
    cells,
    d_outputs,
    h0=None,
    c0=None,
    *,
    d_h=None,
    d_c=None,
    layers: int = 1,
    merge_mode=None,
    go_backwards: bool = False,
    lengths=None,
    padded: str = "zero",
    outputs_order: str = "processing",
    cell_clip_gradient: str = "mask",
    chunks: int | None = None,
    **semantics,
) -> NetworkGrads:
    """Gradients of ``sum(d_outputs * outputs) + sum(d_h * h) + sum(d_c * c)`` (h, c: the stacked final
    states), layer by layer from the top, each cell through its one-layer backward pass (:data:`ONE_LAYER`).

    ``chunks``: truncated backpropagation through time, as a stateful Keras layer fed the sequence in
    that many chunks (numpy.array_split's) computes it: the forward pass carries the state from chunk to
    chunk (one pass over the whole sequence), the gradient stops at every chunk's start.
    """
    x = np.asarray(x)
    _check(cells, layers, merge_mode, go_backwards)
    sequence = dict(
        layers=layers,
        merge_mode=merge_mode,
        go_backwards=go_backwards,
        lengths=lengths,
        padded=padded,
        outputs_order=outputs_order,
    )
    if chunks is not None:
        return _truncated(
            x,
            cells,
            d_outputs,
            h0,
            c0,
            d_h,
            d_c,
            chunks,
            sequence,
            dict(semantics, cell_clip_gradient=cell_clip_gradient),
        )
    inputs, outs, _, _ = _run(x, cells, h0, c0, layers, merge_mode, go_backwards, lengths, padded, semantics)
    per, backward = directions(merge_mode), _one_layer(cells)[1]
    d_top = np.asarray(d_outputs, x.dtype)
    d_top = d_top[:, ::-1] if go_backwards and outputs_order == "processing" else d_top
    grads, dh0, dc0 = [None] * len(cells), [None] * len(cells), [None] * len(cells)
    for layer in reversed(range(layers)):
        ks = [layer * per + d for d in range(per)]
        if per == 1:
            d_cells = [d_top]
        elif merge_mode in ("concat", "none"):
            width = outs[ks[0]].shape[-1]
            d_cells = [d_top[..., :width], d_top[..., width:]]
        elif merge_mode == "sum":
            d_cells = [d_top, d_top]
        elif merge_mode == "ave":
            d_cells = [d_top / 2, d_top / 2]
        else:  # mul
            d_cells = [d_top * outs[ks[1]], d_top * outs[ks[0]]]
        d_in = 0.0
        for d, k in enumerate(ks):
            g = backward(
                inputs[layer],
                cells[k],
                d_cells[d],
                _state(h0, k),
                _state(c0, k),
                _state(d_h, k),
                _state(d_c, k),
                lengths=lengths,
                padded=padded,
                reverse=d == 1 or go_backwards,
                cell_clip_gradient=cell_clip_gradient,
                **semantics,
            )
            grads[k], dh0[k], dc0[k] = g.params, g.h0, g.c0
            d_in = d_in + g.x
        d_top = d_in
    return NetworkGrads(tuple(grads), d_top, tuple(dh0), tuple(dc0))


def _truncated(x, cells, d_outputs, h0, c0, d_h, d_c, chunks, sequence, semantics) -> NetworkGrads:
    """network_backward chunk by chunk, each from the state the chunks before it left (as constants)."""
    if sequence["go_backwards"] or sequence["merge_mode"] is not None or sequence["lengths"] is not None:
        raise ValueError("chunks: one direction over full rows only")
    forward_semantics = {k: v for k, v in semantics.items() if k != "cell_clip_gradient"}
    d_outputs = np.asarray(d_outputs, x.dtype)
    parts = np.array_split(np.arange(x.shape[1]), chunks)
    grads, dx, h, c, first = None, np.zeros_like(x), h0, c0, None
    for n, steps in enumerate(parts):
        span = slice(int(steps[0]), int(steps[-1]) + 1)
        last = n == len(parts) - 1
        g = network_backward(
            x[:, span],
            cells,
            d_outputs[:, span],
            h,
            c,
            d_h=d_h if last else None,
            d_c=d_c if last else None,
            **sequence,
            **semantics,
        )
        grads = g.cells if grads is None else tuple(_add(a, b) for a, b in zip(grads, g.cells))
        dx[:, span] = g.x
        first = g if first is None else first
        _, (h_n, c_n) = network_forward(x[:, span], cells, h, c, **sequence, **forward_semantics)
        h, c = tuple(h_n), None if c_n is None else tuple(c_n)
    return NetworkGrads(grads, dx, first.h0, first.c0)


def _add(a, b):
    """Blockwise a + b, for the params of any cell (a part: None, {gate: array} or one array)."""

    def add(m, n):
        if m is None:
            return None
        return {g: m[g] + n[g] for g in m} if isinstance(m, dict) else m + n

    return type(a)(*(add(getattr(a, f.name), getattr(b, f.name)) for f in fields(a)))


__all__ = [
    "MERGE_MODES",
    "ONE_LAYER",
    "LSTMParams",
    "NetworkGrads",
    "directions",
    "network_backward",
    "network_forward",
]
