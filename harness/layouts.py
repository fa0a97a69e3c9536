"""Every fused weight layout, as named data (the LSTM's here; those of the cells of per-gate blocks, the GRU
and the plain RNN, in harness.block_layouts, named here too).

This module is the one place that knows which rows of a TensorFlow kernel multiply ``x`` and which
multiply ``h``, which column block belongs to which gate, and where the forget bias lives. Each layout
composes per-gate :class:`reference.LSTMParams` into a form's named tensors and splits them back.

A layout is data: a wrong layout for the self-tests is ``dataclasses.replace(KERAS, gate_order=...)``,
never a patched function.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from harness.biases import BIAS_SHARE, split_bias
from harness.block_layouts import (
    BASIC_RNN_CELL,
    GRU_BLOCK,
    GRU_CELL,
    GRU_LAYOUTS,
    KERAS_GRU,
    KERAS_GRU_RESET_AFTER,
    KERAS_SIMPLE_RNN,
    ONNX_GRU,
    ONNX_RNN,
    RNN_LAYOUTS,
    TORCH_GRU,
    TORCH_RNN,
    BlockLayout,
    BlockTensor,
)
from reference import GATES, LSTMParams

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
    transposed: bool = False  # matrices stored as [4u, input_depth] (gate blocks are row blocks), the
    #                           projection as [num_proj, num_units]: PyTorch's and ONNX's [out, in]
    x_name: str = "kernel"  # the matrix that multiplies x (STACKED: x and h)
    h_name: str = "recurrent_kernel"  # the matrix that multiplies h (SPLIT only)
    biases: tuple = ("bias",)  # the bias tensor, or the input bias and the recurrent bias, which the form adds

    def __post_init__(self):
        if sorted(self.gate_order) != sorted(GATES):
            raise ValueError(f"layout {self.name}: gate_order {self.gate_order} is not a permutation of {GATES}")
        if len(self.biases) not in (1, 2):
            raise ValueError(f"layout {self.name}: biases must name one or two tensors, got {self.biases}")

    def column_block(self, gate: str, num_units: int) -> slice:
        """The columns of the fused matrices (rows, where transposed) that hold ``gate``."""
        k = self.gate_order.index(gate)
        return slice(k * num_units, (k + 1) * num_units)

    def _stored(self, shape: tuple) -> tuple:
        return shape[::-1] if self.transposed else shape

    def shapes(self, input_depth: int, num_units: int, num_proj=None, use_peepholes=False) -> dict:
        """The shape of every named tensor this layout stores."""
        width, h_depth = 4 * num_units, num_proj or num_units
        if self.kernel == STACKED:
            out = {self.x_name: self._stored((input_depth + h_depth, width))}
        else:
            out = {self.x_name: self._stored((input_depth, width)), self.h_name: self._stored((h_depth, width))}
        out.update({name: (width,) for name in self.biases})
        if use_peepholes:
            out.update({name: (num_units,) for _, name in self.peepholes})
        if num_proj:
            out[self.projection] = self._stored((num_units, num_proj))
        return out

    def compose(self, params: LSTMParams, forget_bias: float, bias_share=None) -> dict:
        """Stack and fuse per-gate ``params`` into this layout's named tensors.

        With two biases, ``bias_share`` ({gate: fraction}, each in [0.55, 0.85]) says how much of each
        bias goes to the recurrent one: both tensors then hold distinct, non-zero values that add back to
        the bias exactly (see :func:`split_bias`). Without it the recurrent bias is zero, as a converter
        writes it.
        """
        bias = dict(params.b)
        if self.forget_bias == STORED:
            bias["f"] = bias["f"] + np.asarray(forget_bias, dtype=bias["f"].dtype)
        blocks = lambda part: [part[g] for g in self.gate_order]
        stored = lambda a: np.ascontiguousarray(a.T) if self.transposed else a
        kernel_x = np.concatenate(blocks(params.V), axis=1)
        kernel_h = np.concatenate(blocks(params.W), axis=1)
        if len(self.biases) == 1:
            tensors = {self.biases[0]: np.concatenate(blocks(bias))}
        else:
            parts = {g: split_bias(bias[g], None if bias_share is None else bias_share[g]) for g in GATES}
            tensors = {
                name: np.concatenate([parts[g][k] for g in self.gate_order]) for k, name in enumerate(self.biases)
            }
        if self.kernel == STACKED:
            tensors[self.x_name] = stored(np.concatenate([kernel_x, kernel_h], axis=0))
        else:
            tensors[self.x_name], tensors[self.h_name] = stored(kernel_x), stored(kernel_h)
        if params.peephole is not None:
            tensors.update({name: params.peephole[g] for g, name in self._peephole_names()})
        if params.projection is not None:
            tensors[self._projection_name()] = stored(params.projection)
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
        """Cut this layout's named tensors back into per-gate parameters (two biases are added)."""
        matrix = lambda name: np.asarray(tensors[name]).T if self.transposed else np.asarray(tensors[name])
        kernel = matrix(self.x_name)
        num_units = kernel.shape[1] // 4
        if self.kernel == STACKED:
            kernel_x, kernel_h = kernel[:input_depth], kernel[input_depth:]
        else:
            kernel_x, kernel_h = kernel, matrix(self.h_name)
        bias = np.asarray(tensors[self.biases[0]])
        for name in self.biases[1:]:
            bias = bias + np.asarray(tensors[name])
        cols = {g: self.column_block(g, num_units) for g in GATES}
        b = {g: bias[cols[g]].copy() for g in GATES}
        if self.forget_bias == STORED:
            b["f"] = b["f"] - np.asarray(forget_bias, dtype=b["f"].dtype)
        peephole = None
        if any(name in tensors for _, name in self.peepholes):
            peephole = {g: np.asarray(tensors[name]) for g, name in self.peepholes}
        projection = matrix(self.projection) if self.projection in tensors else None
        return LSTMParams(
            V={g: kernel_x[:, cols[g]] for g in GATES},
            W={g: kernel_h[:, cols[g]] for g in GATES},
            b=b,
            peephole=peephole,
            projection=projection,
        )

    def where(self, part: str, gate: str, input_depth: int, num_units: int, h_depth=None) -> str:
        """Where block ``part[gate]`` lives in this layout, in words (for failure messages)."""
        if part == "peephole":
            return dict(self.peepholes)[gate]
        cols = self.column_block(gate, num_units)
        span = f"{'rows' if self.transposed else 'columns'} {cols.start}:{cols.stop}"
        if part == "b":
            return " + ".join(f"{name}[{cols.start}:{cols.stop}]" for name in self.biases)
        if self.kernel == STACKED:
            rows = f"0:{input_depth}" if part == "V" else f"{input_depth}:{input_depth + (h_depth or num_units)}"
            return f"{self.x_name} {'columns' if self.transposed else 'rows'} {rows}, {span}"
        return f"{self.x_name if part == 'V' else self.h_name} {span}"

    # the interface every cell's layout offers the engine, in a case's terms (harness.cells, harness.checks)

    def read(self, tensors: dict, case, k: int) -> LSTMParams:
        """Cell ``k`` of ``case`` read back from this layout's tensors."""
        return self.split(tensors, case.cell_input_depth(k), case.forget_bias)

    def stored(self, params: LSTMParams, case, share=None) -> dict:
        """What this layout stores for ``params`` in ``case`` (``share``: the recurrent bias's, see compose)."""
        return self.compose(params, case.forget_bias, share)

    def shapes_of(self, case, k: int) -> dict:
        """The shape of every tensor this layout stores for cell ``k`` of ``case``."""
        return self.shapes(case.cell_input_depth(k), case.num_units, case.num_proj, case.use_peepholes)

    def locate(self, part: str, gate: str, case, k: int) -> str:
        """Where block ``part[gate]`` of cell ``k`` lives, in words."""
        return self.where(part, gate, case.cell_input_depth(k), case.num_units, case.h_depth)

    @property
    def stored_biases(self) -> tuple:
        """The names of the biases the form adds, where it stores more than one (each compared on its own)."""
        return self.biases if len(self.biases) > 1 else ()

    def can_hold(self, params: LSTMParams) -> bool:
        """Whether ``params`` fit this layout (every LSTM's do: peepholes and projection are checked apart)."""
        return True

    def gradient_blocks(self, tensors: dict, ref: LSTMParams, case, k: int) -> list:
        """(part, gate, where, TF's block, the reference's block) of d loss / d every block of cell ``k``;
        a gate TF or the reference lacks is paired with None. Each of two stored biases is paired with
        the reference's d b (the gradient reaches both alike)."""
        first = replace(self, biases=self.biases[:1])
        ours = first.split(tensors, case.cell_input_depth(k), forget_bias=0.0)
        blocks = []
        for part in ("V", "W", "b", "peephole"):
            mine, theirs = getattr(ours, part) or {}, getattr(ref, part) or {}
            blocks += [
                (part, g, first.locate(part, g, case, k) if g in mine else "absent", mine.get(g), theirs.get(g))
                for g in GATES
                if g in mine or g in theirs
            ]
        for bias in self.biases[1:]:
            other = replace(self, biases=(bias,))
            b = other.split(tensors, case.cell_input_depth(k), forget_bias=0.0).b
            blocks += [("b", g, other.locate("b", g, case, k), b[g], ref.b[g]) for g in GATES]
        if ref.projection is not None or ours.projection is not None:
            blocks.append(("projection", None, self.projection, ours.projection, ref.projection))
        return blocks


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

TORCH = Layout(
    name="torch",
    gate_order=("i", "f", "j", "o"),
    kernel=SPLIT,
    forget_bias=STORED,
    about="PyTorch nn.LSTM: weight_ih_l0 [4u, input_depth] and weight_hh_l0 [4u, h_depth], row blocks i f g o; "
    "bias_ih_l0 and bias_hh_l0 [4u] are added; no run-time forget bias; proj_size adds weight_hr_l0 [num_proj, u]",
    projection="weight_hr_l0",
    transposed=True,
    x_name="weight_ih_l0",
    h_name="weight_hh_l0",
    biases=("bias_ih_l0", "bias_hh_l0"),
)

TORCH_CELL = replace(
    TORCH,
    name="torch_cell",
    about="PyTorch nn.LSTMCell: weight_ih [4u, input_depth] and weight_hh [4u, u], row blocks i f g o; "
    "bias_ih and bias_hh [4u] are added; no run-time forget bias",
    projection=None,
    x_name="weight_ih",
    h_name="weight_hh",
    biases=("bias_ih", "bias_hh"),
)

ONNX = Layout(
    name="onnx",
    gate_order=("i", "o", "f", "j"),
    kernel=SPLIT,
    forget_bias=STORED,
    about="ONNX LSTM: W [1, 4u, input_depth] and R [1, 4u, u], row blocks i o f c; B [1, 8u] = [Wb, Rb], "
    "added; P [1, 3u] = [P_i, P_o, P_f]; no run-time forget bias (the leading axis is num_directions)",
    peepholes=(("i", "P_i"), ("o", "P_o"), ("f", "P_f")),
    transposed=True,
    x_name="W",
    h_name="R",
    biases=("Wb", "Rb"),
)

LAYOUTS = {
    layout.name: layout for layout in (BASIC_LSTM_CELL, KERAS, BLOCK_LSTM, BLOCK_LSTM_V2, TORCH, TORCH_CELL, ONNX)
}

__all__ = [
    "BASIC_LSTM_CELL",
    "BASIC_RNN_CELL",
    "BIAS_SHARE",
    "BLOCK_LSTM",
    "BLOCK_LSTM_V2",
    "GRU_BLOCK",
    "GRU_CELL",
    "GRU_LAYOUTS",
    "KERAS",
    "KERAS_GRU",
    "KERAS_GRU_RESET_AFTER",
    "KERAS_SIMPLE_RNN",
    "LAYOUTS",
    "ONNX",
    "ONNX_GRU",
    "ONNX_RNN",
    "RNN_LAYOUTS",
    "RUNTIME",
    "SPLIT",
    "STACKED",
    "STORED",
    "TORCH",
    "TORCH_CELL",
    "TORCH_GRU",
    "TORCH_RNN",
    "BlockLayout",
    "BlockTensor",
    "Layout",
    "split_bias",
]
