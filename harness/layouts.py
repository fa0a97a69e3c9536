"""Every fused weight layout, as named data.

This module is the one place that knows which rows of a TensorFlow kernel multiply ``x`` and which
multiply ``h``, which column block belongs to which gate, and where the forget bias lives. Each layout
composes per-gate :class:`reference.LSTMParams` into a form's named tensors and splits them back.

A layout is data: a wrong layout for the self-tests is ``dataclasses.replace(KERAS, gate_order=...)``,
never a patched function.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reference import GATES, PEEPHOLE_GATES, LSTMParams

STACKED = "stacked"  # one kernel [input_depth + num_units, 4u] applied to concat([x, h]): x rows first
SPLIT = "split"  # kernel [input_depth, 4u] for x, recurrent_kernel [num_units, 4u] for h

RUNTIME = "runtime"  # forget_bias is added to f's pre-activation when the cell runs, never stored
STORED = "stored"  # the form has no run-time forget bias: it lives in the f block of the stored bias


@dataclass(frozen=True)
class Layout:
    """How one form stores an LSTM's weights."""

    name: str
    gate_order: tuple  # gate of each column block, left to right, in reference names (i j f o)
    kernel: str  # STACKED or SPLIT
    forget_bias: str  # RUNTIME or STORED
    about: str  # one line, in the form's own words
    peepholes: tuple = ()  # (gate, tensor name) of each peephole diagonal, where the layout has them
    projection: str | None = None  # tensor name of the [num_units, num_proj] projection, where it has one

    def __post_init__(self):
        if sorted(self.gate_order) != sorted(GATES):
            raise ValueError(f"layout {self.name}: gate_order {self.gate_order} is not a permutation of {GATES}")

    def column_block(self, gate: str, num_units: int) -> slice:
        """The columns of the fused matrices that hold ``gate``."""
        k = self.gate_order.index(gate)
        return slice(k * num_units, (k + 1) * num_units)

    def shapes(self, input_depth: int, num_units: int, num_proj=None, use_peepholes=False) -> dict:
        """The shape of every named tensor this layout stores."""
        width, h_depth = 4 * num_units, num_proj or num_units
        if self.kernel == STACKED:
            out = {"kernel": (input_depth + h_depth, width), "bias": (width,)}
        else:
            out = {"kernel": (input_depth, width), "recurrent_kernel": (h_depth, width), "bias": (width,)}
        if use_peepholes:
            out.update({name: (num_units,) for _, name in self.peepholes})
        if num_proj:
            out[self.projection] = (num_units, num_proj)
        return out

    def compose(self, params: LSTMParams, forget_bias: float) -> dict:
        """Stack and fuse per-gate ``params`` into this layout's named tensors."""
        bias = dict(params.b)
        if self.forget_bias == STORED:
            bias["f"] = bias["f"] + np.asarray(forget_bias, dtype=bias["f"].dtype)
        blocks = lambda part: [part[g] for g in self.gate_order]  # noqa: E731
        kernel_x = np.concatenate(blocks(params.V), axis=1)
        kernel_h = np.concatenate(blocks(params.W), axis=1)
        tensors = {"bias": np.concatenate(blocks(bias))}
        if self.kernel == STACKED:
            tensors["kernel"] = np.concatenate([kernel_x, kernel_h], axis=0)
        else:
            tensors["kernel"], tensors["recurrent_kernel"] = kernel_x, kernel_h
        if params.peephole is not None:
            tensors.update({name: params.peephole[g] for g, name in self._peephole_names()})
        if params.projection is not None:
            tensors[self._projection_name()] = params.projection
        return tensors

    def _peephole_names(self):
        if not self.peepholes:
            raise ValueError(f"layout {self.name} has no peephole diagonals")
        return self.peepholes

    def _projection_name(self):
        if not self.projection:
            raise ValueError(f"layout {self.name} has no projection")
        return self.projection

    def split(self, tensors: dict, input_depth: int, forget_bias: float) -> LSTMParams:
        """Cut this layout's named tensors back into per-gate parameters."""
        kernel = np.asarray(tensors["kernel"])
        num_units = kernel.shape[1] // 4
        if self.kernel == STACKED:
            kernel_x, kernel_h = kernel[:input_depth], kernel[input_depth:]
        else:
            kernel_x, kernel_h = kernel, np.asarray(tensors["recurrent_kernel"])
        bias = np.asarray(tensors["bias"])
        cols = {g: self.column_block(g, num_units) for g in GATES}
        b = {g: bias[cols[g]].copy() for g in GATES}
        if self.forget_bias == STORED:
            b["f"] = b["f"] - np.asarray(forget_bias, dtype=b["f"].dtype)
        peephole = None
        if any(name in tensors for _, name in self.peepholes):
            peephole = {g: np.asarray(tensors[name]) for g, name in self.peepholes}
        projection = np.asarray(tensors[self.projection]) if self.projection in tensors else None
        return LSTMParams(
            V={g: kernel_x[:, cols[g]] for g in GATES},
            W={g: kernel_h[:, cols[g]] for g in GATES},
            b=b, peephole=peephole, projection=projection,
        )

    def where(self, part: str, gate: str, input_depth: int, num_units: int, h_depth=None) -> str:
        """Where block ``part[gate]`` lives in this layout, in words (for failure messages)."""
        if part == "peephole":
            return dict(self.peepholes)[gate]
        cols = self.column_block(gate, num_units)
        span = f"columns {cols.start}:{cols.stop}"
        if part == "b":
            return f"bias[{cols.start}:{cols.stop}]"
        if self.kernel == STACKED:
            rows = f"0:{input_depth}" if part == "V" else f"{input_depth}:{input_depth + (h_depth or num_units)}"
            return f"kernel rows {rows}, {span}"
        return f"{'kernel' if part == 'V' else 'recurrent_kernel'} {span}"


BASIC_LSTM_CELL = Layout(
    name="basic_lstm_cell",
    gate_order=("i", "j", "f", "o"),
    kernel=STACKED,
    forget_bias=RUNTIME,
    about="tf.compat.v1 BasicLSTMCell/LSTMCell: kernel [input_depth + h_depth, 4u] on concat([x, h]), "
    "blocks i j f o; forget_bias added to f at run time",
    peepholes=(("i", "w_i_diag"), ("f", "w_f_diag"), ("o", "w_o_diag")),
    projection="projection/kernel",
)

KERAS = Layout(
    name="keras",
    gate_order=("i", "f", "j", "o"),
    kernel=SPLIT,
    forget_bias=STORED,
    about="Keras LSTM/LSTMCell: kernel [input_depth, 4u] and recurrent_kernel [u, 4u], blocks i f c o; "
    "no run-time forget bias, so BasicLSTMCell's forget_bias sits in the f block of bias",
)

BLOCK_LSTM = Layout(
    name="block_lstm",
    gate_order=("i", "j", "f", "o"),
    kernel=STACKED,
    forget_bias=RUNTIME,
    about="tf.raw_ops.LSTMBlockCell/BlockLSTM: w [input_depth + u, 4u] on [x, h], blocks i ci f o; "
    "attribute forget_bias added to f at run time; peepholes wci wcf wco",
    peepholes=(("i", "wci"), ("f", "wcf"), ("o", "wco")),
)

BLOCK_LSTM_V2 = Layout(
    name="block_lstm_v2",
    gate_order=("i", "f", "j", "o"),
    kernel=STACKED,
    forget_bias=STORED,
    about="tf.raw_ops.BlockLSTMV2: w [input_depth + u, 4u] on [x, h], blocks i f c o; no forget_bias "
    "attribute, so it sits in the f block of b; peepholes wci wcf wco",
    peepholes=(("i", "wci"), ("f", "wcf"), ("o", "wco")),
)

LAYOUTS = {layout.name: layout for layout in (BASIC_LSTM_CELL, KERAS, BLOCK_LSTM, BLOCK_LSTM_V2)}
