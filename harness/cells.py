"""The recurrent cells, as data the engine and the checks are handed: one :class:`Cell` per value of the case
key ``cell``.

A cell says what the engine would otherwise have to know about it: its gates, its states (the LSTM's h and
c, the GRU's h), its parameter blocks, how a layout's tensors are read back for a case, its reference
forward and backward passes, and its canonical stacked form (the one whose shapes the question asks about:
BasicLSTMCell's kernel, GRUCell's kernels). Reading, the weights check and the gradient check are written
once over any cell (harness.runs, harness.checks); a new cell is a reference module, its layouts, one
``Cell`` here and its forms.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_equiv.harness import layouts
from lstm_equiv.reference import (
    GATES,
    GRU_GATES,
    RNN_GATES,
    GRUParams,
    LSTMParams,
    RNNParams,
    network_backward,
    network_forward,
)


def _widen(states) -> tuple | None:
    """Initial states (one per cell, or None: zeros) in float64."""
    return None if states is None else tuple(np.asarray(a, np.float64) for a in states)


@dataclass(frozen=True)
class Cell:
    """What differs between recurrent cells, and nothing else."""

    name: str  # the case key ``cell``
    gates: tuple  # the reference's gate names, in the reference's order
    states: tuple  # final state checks, in order: ("final_h", "final_c") or ("final_h",)
    parts: tuple  # the parameter blocks a gradient check compares, in order
    canonical: object  # the layout of the stacked form the question is about (shape and round trip checked)
    canonical_label: str  # that form's tensors, in words
    about: str  # one line, for explain and the README
    params: type  # its per-gate params (reference.LSTMParams, GRUParams, RNNParams)
    reset_positions: tuple = (False,)  # the case key reset_after's values it has (the GRU: before and after)

    def read(self, layout, tensors: dict, case, k: int):
        """Cell ``k``'s per-gate params, read back from ``tensors`` through ``layout``."""
        return layout.read(tensors, case, k)

    def canonical_shapes(self, case, k: int) -> dict:
        """The documented shapes of the canonical stacked form of cell ``k``."""
        raise NotImplementedError  # pragma: no cover

    # the reference, through reference.network (written once over every cell: layers, directions, padding)

    def forward(self, reading, x64, cells64: tuple, inputs, form, case) -> dict:
        """The reference's outputs and final states for the params read back, as {check name: array}."""
        outputs, (h, c) = reading.forward(network_forward)(
            x64,
            cells64,
            _widen(inputs.h0),
            _widen(inputs.c0),
            **reading.sequence(form.sequence(case)),
            **reading.semantics(form.semantics(case)),
        )
        if case.cells == 1:
            h, c = h[0], None if c is None else c[0]
        return {"outputs": outputs, "final_h": h, "final_c": c}

    def backward(self, reading, x64, cells64: tuple, d_outputs, inputs, form, case):
        """The reference's gradients (``.cells``: one params of gradients per cell; ``.x``)."""
        return network_backward(
            x64,
            cells64,
            d_outputs,
            _widen(inputs.h0),
            _widen(inputs.c0),
            **reading.sequence(form.sequence(case)),
            **reading.semantics(form.semantics(case)),
            **form.gradient_semantics(case),
        )

    # the reference as harness.sensitivity runs it: every cell's params, states and keywords given apart

    def run(self, x, cells: tuple, h0, c0, sequence: dict, semantics: dict, after_step=None) -> tuple:
        """(outputs, final h, final c or None); ``after_step(*states)`` replaces the states after every step.
        Final states are [batch, width] for one cell, [cells, batch, width] for more."""
        outputs, (h, c) = network_forward(x, cells, h0, c0, after_step=after_step, **sequence, **semantics)
        if len(cells) == 1:
            h, c = h[0], None if c is None else c[0]
        return outputs, h, c

    def run_gradients(
        self, x, cells: tuple, d_outputs, h0, c0, sequence: dict, semantics: dict, gradient_semantics: dict
    ):
        """The reference's gradients (``.cells``, ``.x``) of ``sum(d_outputs * outputs)``."""
        return network_backward(x, cells, d_outputs, h0, c0, **sequence, **semantics, **gradient_semantics)


class _LSTM(Cell):
    def canonical_shapes(self, case, k):
        n_in = case.cell_input_depth(k)
        return {"kernel": (n_in + case.h_depth, 4 * case.num_units), "bias": (4 * case.num_units,)}


@dataclass(frozen=True)
class _BlockCell(Cell):
    """A cell of per-gate blocks (reference.blocks): the GRU, the plain RNN."""

    keys: tuple = ()  # the case keys its reference takes (form.semantics of its forms)
    words: tuple = ()  # (gate, what it is) for explain
    equations: tuple = ()  # its equations, for explain
    canonical_shape: object = None  # (input_depth, num_units) -> the canonical form's documented shapes

    def canonical_shapes(self, case, k):
        return self.canonical_shape(case.cell_input_depth(k), case.num_units)


LSTM = _LSTM(
    "lstm",
    GATES,
    ("final_h", "final_c"),
    ("V", "W", "b", "peephole"),
    layouts.BASIC_LSTM_CELL,
    "BasicLSTMCell stacked kernel and bias",
    "the LSTM: gates i j f o, states h and c (tf.compat.v1 BasicLSTMCell's names)",
    LSTMParams,
)
GRU = _BlockCell(
    "gru",
    GRU_GATES,
    ("final_h",),
    ("V", "W", "b", "b_h"),
    layouts.GRU_CELL,
    "GRUCell gates/kernel and candidate/kernel",
    "the GRU: gates r u c, state h (tf.compat.v1 GRUCell's names)",
    GRUParams,
    reset_positions=(False, True),
    keys=("reset_after", "activation", "recurrent_activation"),
    words=(("r", "reset gate"), ("u", "update gate"), ("c", "candidate")),
    equations=(
        "r = sigmoid(x_t V[r] + h W[r] + b[r] + b_h[r]);  u = sigmoid(x_t V[u] + h W[u] + b[u] + b_h[u])",
        "reset before: c = tanh(x_t V[c] + (r * h) W[c] + b[c] + b_h[c])",
        "reset after:  c = tanh(x_t V[c] + b[c] + r * (h W[c] + b_h[c]))",
        "h = u * h + (1 - u) * c",
    ),
    canonical_shape=lambda n_in, n: {"gates/kernel": (n_in + n, 2 * n), "candidate/kernel": (n_in + n, n)},
)
RNN = _BlockCell(
    "rnn",
    RNN_GATES,
    ("final_h",),
    ("V", "W", "b", "b_h"),
    layouts.BASIC_RNN_CELL,
    "BasicRNNCell kernel and bias",
    "the plain RNN: h = act(x V + h W + b), state h",
    RNNParams,
    keys=("activation",),
    words=(("h", "new state"),),
    equations=("h = act(x_t V[h] + h W[h] + b[h] + b_h[h])",),
    canonical_shape=lambda n_in, n: {"kernel": (n_in + n, n), "bias": (n,)},
)

CELLS = {cell.name: cell for cell in (LSTM, GRU, RNN)}
"""Every cell, by its case-file name."""


def cell_of(params) -> Cell:
    """The cell whose params ``params`` are."""
    return next(cell for cell in CELLS.values() if isinstance(params, cell.params))


def spoken(name: str) -> str:
    """A cell's name with its article, as an acronym is read: "an LSTM", "a GRU", "an RNN" (the letters
    whose names start with a vowel sound take "an")."""
    return f"{'an' if name[:1].upper() in 'AEFHILMNORSX' else 'a'} {name.upper()}"
