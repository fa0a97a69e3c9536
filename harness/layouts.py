"""Every fused weight layout, as named data.

This module is the one place that knows which rows of a TensorFlow kernel multiply ``x`` and which
multiply ``h``, which column block belongs to which gate, and where the forget bias lives. Each layout
composes per-gate :class:`reference.LSTMParams` into a form's named tensors and splits them back.

A layout is data: a wrong layout for the self-tests is ``dataclasses.replace(KERAS, gate_order=...)``,
never a patched function.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from reference import GATES, GRU_GATES, GRUParams, LSTMParams

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
            tensors = {name: np.concatenate([parts[g][k] for g in self.gate_order])
                       for k, name in enumerate(self.biases)}
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
            b=b, peephole=peephole, projection=projection,
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
            blocks += [(part, g, first.locate(part, g, case, k) if g in mine else "absent", mine.get(g), theirs.get(g))
                       for g in GATES if g in mine or g in theirs]
        for bias in self.biases[1:]:
            other = replace(self, biases=(bias,))
            b = other.split(tensors, case.cell_input_depth(k), forget_bias=0.0).b
            blocks += [("b", g, other.locate("b", g, case, k), b[g], ref.b[g]) for g in GATES]
        if ref.projection is not None or ours.projection is not None:
            blocks.append(("projection", None, self.projection, ours.projection, ref.projection))
        return blocks


BIAS_SHARE = (0.55, 0.85)
"""The range of the recurrent bias's share of each bias element in the harness's runs of two-bias layouts."""


def split_bias(bias, share=None) -> tuple:
    """``(input bias, recurrent bias)`` that add back to ``bias`` exactly, in its dtype.

    ``recurrent = bias * share`` rounded, with ``share`` in BIAS_SHARE, lies within [bias / 2, 2 bias], so
    ``bias - recurrent`` is exact (Sterbenz's lemma) and so is adding the two back. Each then differs from
    the bias by at least 15 %: a converter that drops either one is off by that much. ``share=None``: all of
    the bias in the input one, zeros in the recurrent one.
    """
    bias = np.asarray(bias)
    if share is None:
        return bias.copy(), np.zeros_like(bias)
    recurrent = (bias * np.asarray(share, np.float64)).astype(bias.dtype)
    return bias - recurrent, recurrent


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

LAYOUTS = {layout.name: layout for layout in (BASIC_LSTM_CELL, KERAS, BLOCK_LSTM, BLOCK_LSTM_V2, TORCH, TORCH_CELL,
                                              ONNX)}


# ---------------------------------------------------------------------------------------------- GRU

@dataclass(frozen=True)
class GRUTensor:
    """One stored tensor of a GRU layout: what it holds and which gate blocks, in order along its gate axis."""

    name: str
    holds: str  # "x" (the V blocks), "h" (W), "xh" (V rows, then W rows: one matrix on concat([x, h])), "b", "b_h"
    gates: tuple  # reference gate names (r u c) of its blocks, in order
    row: int | None = None  # the row of a [2, 3u] tensor (Keras's reset-after bias: input, then recurrent)


@dataclass(frozen=True)
class GRULayout:
    """How one form stores a GRU's weights: every tensor, and which gate blocks it holds where."""

    name: str
    about: str
    tensors: tuple  # GRUTensor
    own_names: tuple  # (reference gate, the form's own letter) of each gate
    transposed: bool = False  # matrices stored [gates * u, in] (gate blocks are row blocks): PyTorch, ONNX

    def __post_init__(self):
        for part in ("V", "W", "b"):
            held = [g for t in self.tensors if part in _PARTS[t.holds] for g in t.gates]
            if sorted(held) != sorted(GRU_GATES):
                raise ValueError(f"layout {self.name}: the {part} blocks held are {held}, not {GRU_GATES}")

    def own(self, gate: str) -> str:
        """The gate's letter in the form's own source."""
        return dict(self.own_names)[gate]

    @property
    def two_biases(self) -> bool:
        """Whether it stores a recurrent bias next to the input one (PyTorch's bias_hh, ONNX's Rb, Keras's
        reset-after bias row 1)."""
        return any(t.holds == "b_h" for t in self.tensors)

    def shapes(self, input_depth: int, num_units: int) -> dict:
        """The shape of every named tensor this layout stores."""
        return {t.name: self._shape(t, input_depth, num_units) for t in self.tensors}

    def _shape(self, t: GRUTensor, input_depth: int, num_units: int) -> tuple:
        width = len(t.gates) * num_units
        if t.row is not None:
            return (2, width)
        if t.holds in ("b", "b_h"):
            return (width,)
        rows = {"x": input_depth, "h": num_units, "xh": input_depth + num_units}[t.holds]
        return (width, rows) if self.transposed else (rows, width)

    def _tensor(self, part: str, gate: str) -> tuple:
        """(the tensor holding ``part`` of ``gate``, its block index)."""
        for t in self.tensors:
            if part in _PARTS[t.holds] and gate in t.gates:
                return t, t.gates.index(gate)
        raise KeyError(f"layout {self.name} holds no {part}[{gate!r}]")

    def where(self, part: str, gate: str, input_depth: int, num_units: int) -> str:
        """Where ``part[gate]`` lives, in the form's own terms."""
        t, k = self._tensor(part, gate)
        cols = f"{k * num_units}:{(k + 1) * num_units}"
        name = t.name if t.row is None else f"{t.name}[{t.row}]"
        if t.holds in ("b", "b_h"):
            return f"{name}[{cols}]"
        rows = {"V": f"0:{input_depth}", "W": f"{input_depth}:{input_depth + num_units}"}[part] if t.holds == "xh" \
            else ":"
        return f"{name} rows {cols}" if self.transposed else f"{name}[{rows}, {cols}]"

    def compose(self, params: GRUParams, share=None) -> dict:
        """The stored tensors of ``params``. With two bias tensors and no recurrent biases in ``params`` (the
        reset before the product, where they only add), each bias is split into distinct exact shares
        (split_bias); a layout of one bias cannot hold recurrent biases of their own."""
        n, n_in = params.num_units, params.input_depth
        if params.b_h is not None and not self.two_biases:
            raise ValueError(f"layout {self.name} has one bias: it cannot hold recurrent biases of their own "
                             "(the reset after the product)")
        b, b_h = dict(params.b), params.b_h
        if b_h is None and self.two_biases:
            pairs = {g: split_bias(params.b[g], None if share is None else share[g]) for g in GRU_GATES}
            b, b_h = {g: pairs[g][0] for g in GRU_GATES}, {g: pairs[g][1] for g in GRU_GATES}
        dtype = np.asarray(params.V["r"]).dtype
        out = {}
        for t in self.tensors:
            if t.holds in ("b", "b_h"):
                value = np.concatenate([(b if t.holds == "b" else b_h)[g] for g in t.gates])
                if t.row is not None:
                    out.setdefault(t.name, np.zeros(self._shape(t, n_in, n), dtype))[t.row] = value
                else:
                    out[t.name] = value
                continue
            blocks = []
            for g in t.gates:
                parts = [params.V[g]] if t.holds == "x" else [params.W[g]] if t.holds == "h" else [params.V[g],
                                                                                                   params.W[g]]
                blocks.append(np.concatenate(parts, axis=0))
            matrix = np.concatenate(blocks, axis=1)
            out[t.name] = np.ascontiguousarray(matrix.T) if self.transposed else matrix
        return out

    def split(self, tensors: dict, input_depth: int, reset_after: bool) -> GRUParams:
        """Per-gate params read back from the stored tensors. Without the reset after the product, two
        stored biases only add: they are read back as one b (exactly, for a split_bias pair)."""
        V, W, b, b_h = {}, {}, {}, {}
        for t in self.tensors:
            value = np.asarray(tensors[t.name])
            value = value[t.row] if t.row is not None else value
            n = value.shape[0 if self.transposed and t.holds not in ("b", "b_h") else -1] // len(t.gates)
            for k, g in enumerate(t.gates):
                if t.holds in ("b", "b_h"):
                    (b if t.holds == "b" else b_h)[g] = value[k * n:(k + 1) * n]
                    continue
                block = value[k * n:(k + 1) * n].T if self.transposed else value[:, k * n:(k + 1) * n]
                if t.holds == "x":
                    V[g] = block
                elif t.holds == "h":
                    W[g] = block
                else:
                    V[g], W[g] = block[:input_depth], block[input_depth:]
        if b_h and not reset_after:
            b, b_h = {g: b[g] + b_h[g] for g in GRU_GATES}, {}
        return GRUParams(V, W, b, b_h or None)

    # the interface every cell's layout offers the engine (see Layout.read)

    def read(self, tensors: dict, case, k: int) -> GRUParams:
        """The case's cell read back from this layout's tensors."""
        return self.split(tensors, case.cell_input_depth(k), case.reset_after)

    def stored(self, params: GRUParams, case, share=None) -> dict:
        """What this layout stores for ``params``."""
        return self.compose(params, share)

    def shapes_of(self, case, k: int) -> dict:
        """The shape of every tensor this layout stores for the case."""
        return self.shapes(case.cell_input_depth(k), case.num_units)

    def locate(self, part: str, gate: str, case, k: int) -> str:
        """Where block ``part[gate]`` lives, in words."""
        return self.where(part, gate, case.cell_input_depth(k), case.num_units)

    @property
    def stored_biases(self) -> tuple:
        """The names of the bias tensors, where it stores a recurrent one too (each compared on its own)."""
        return tuple(t.name for t in self.tensors if t.holds in ("b", "b_h")) if self.two_biases else ()

    def can_hold(self, params: GRUParams) -> bool:
        """Whether ``params`` fit this layout: recurrent biases of their own need a second bias tensor."""
        return params.b_h is None or self.two_biases

    def gradient_blocks(self, tensors: dict, ref: GRUParams, case, k: int) -> list:
        """(part, gate, where, TF's block, the reference's block) of d loss / d every stored block: V, W, b
        and, where stored, b_h (with the reset before the product d loss / d b_h equals d loss / d b: both
        stored biases are paired with the reference's d b)."""
        ours = self.split(tensors, case.cell_input_depth(k), True)
        blocks = []
        for part in ("V", "W", "b", "b_h"):
            theirs = getattr(ref, "b" if part == "b_h" and not case.reset_after else part)
            blocks += [(part, g, self.locate(part, g, case, k), a, theirs[g])
                       for g, a in (getattr(ours, part) or {}).items()]
        return blocks


_PARTS = {"x": ("V",), "h": ("W",), "xh": ("V", "W"), "b": ("b",), "b_h": ("b_h",)}

GRU_CELL = GRULayout(
    name="gru_cell",
    about="tf.compat.v1 GRUCell: gates/kernel [input_depth + u, 2u] on concat([x, h]), blocks r u; "
    "candidate/kernel [input_depth + u, u] on concat([x, r * h]); gates/bias [2u], candidate/bias [u]",
    tensors=(GRUTensor("gates/kernel", "xh", ("r", "u")), GRUTensor("gates/bias", "b", ("r", "u")),
             GRUTensor("candidate/kernel", "xh", ("c",)), GRUTensor("candidate/bias", "b", ("c",))),
    own_names=(("r", "r"), ("u", "u"), ("c", "c")),
)

GRU_BLOCK = GRULayout(
    name="gru_block",
    about="tf.raw_ops.GRUBlockCell: w_ru [input_depth + u, 2u] on [x, h_prev], blocks r u; w_c [input_depth + u, "
    "u] on [x, r * h_prev]; b_ru [2u], b_c [u] (GRUCell's layout under other names)",
    tensors=(GRUTensor("w_ru", "xh", ("r", "u")), GRUTensor("b_ru", "b", ("r", "u")), GRUTensor("w_c", "xh", ("c",)),
             GRUTensor("b_c", "b", ("c",))),
    own_names=(("r", "r"), ("u", "u"), ("c", "c")),
)

KERAS_GRU = GRULayout(
    name="keras_gru",
    about="Keras GRU(reset_after=False): kernel [input_depth, 3u] and recurrent_kernel [u, 3u], blocks z r h; "
    "bias [3u]",
    tensors=(GRUTensor("kernel", "x", ("u", "r", "c")), GRUTensor("recurrent_kernel", "h", ("u", "r", "c")),
             GRUTensor("bias", "b", ("u", "r", "c"))),
    own_names=(("r", "r"), ("u", "z"), ("c", "h")),
)

KERAS_GRU_RESET_AFTER = GRULayout(
    name="keras_gru_reset_after",
    about="Keras GRU(reset_after=True), the TF2 default: kernel [input_depth, 3u], recurrent_kernel [u, 3u], "
    "blocks z r h; bias [2, 3u]: row 0 the input bias, row 1 the recurrent bias (inside the reset for h)",
    tensors=(GRUTensor("kernel", "x", ("u", "r", "c")), GRUTensor("recurrent_kernel", "h", ("u", "r", "c")),
             GRUTensor("bias", "b", ("u", "r", "c"), row=0), GRUTensor("bias", "b_h", ("u", "r", "c"), row=1)),
    own_names=(("r", "r"), ("u", "z"), ("c", "h")),
)

TORCH_GRU = GRULayout(
    name="torch_gru",
    about="PyTorch nn.GRU: weight_ih_l0 [3u, input_depth] and weight_hh_l0 [3u, u], row blocks r z n; bias_ih_l0 "
    "and bias_hh_l0 [3u]; n = tanh(x W_in + b_in + r * (h W_hn + b_hn)): the reset after the product",
    tensors=(GRUTensor("weight_ih_l0", "x", ("r", "u", "c")), GRUTensor("weight_hh_l0", "h", ("r", "u", "c")),
             GRUTensor("bias_ih_l0", "b", ("r", "u", "c")), GRUTensor("bias_hh_l0", "b_h", ("r", "u", "c"))),
    own_names=(("r", "r"), ("u", "z"), ("c", "n")),
    transposed=True,
)

ONNX_GRU = GRULayout(
    name="onnx_gru",
    about="ONNX GRU: W [1, 3u, input_depth] and R [1, 3u, u], row blocks z r h; B [1, 6u] = [Wb, Rb]; "
    "linear_before_reset=1 puts the reset after the recurrent product (Rb_h inside it), 0 before (added)",
    tensors=(GRUTensor("W", "x", ("u", "r", "c")), GRUTensor("R", "h", ("u", "r", "c")),
             GRUTensor("Wb", "b", ("u", "r", "c")), GRUTensor("Rb", "b_h", ("u", "r", "c"))),
    own_names=(("r", "r"), ("u", "z"), ("c", "h")),
    transposed=True,
)

GRU_LAYOUTS = {layout.name: layout for layout in (GRU_CELL, GRU_BLOCK, KERAS_GRU, KERAS_GRU_RESET_AFTER, TORCH_GRU,
                                                  ONNX_GRU)}
