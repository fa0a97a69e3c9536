"""The layout model: how a form stores a cell's per-gate weights, as named data (:class:`CellLayout`, the one
interface every layout offers the engine in a case's terms; :class:`Layout`, the LSTM's, with stacked or split
kernels, the forget bias, peepholes and a projection; harness.block_layouts.BlockLayout, the GRU's and the
plain RNN's, tensor by tensor).

The layouts themselves live with their framework, as data: harness/forms/<framework>/layouts.py. This module
gathers them (``LAYOUTS``: the LSTM's, ``GRU_LAYOUTS``, ``RNN_LAYOUTS``, by name) and names each
(``harness.layouts.KERAS``), resolved when first asked for, so that importing it imports no framework.

A layout is data: a wrong layout for the self-tests is ``dataclasses.replace(KERAS, gate_order=...)``,
never a patched function.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from lstm_equiv.harness.biases import BIAS_SHARE, split_bias
from lstm_equiv.reference import GATES, LSTMParams

STACKED = "stacked"  # one kernel [input_depth + num_units, 4u] applied to concat([x, h]): x rows first
SPLIT = "split"  # kernel [input_depth, 4u] for x, recurrent_kernel [num_units, 4u] for h

RUNTIME = "runtime"  # forget_bias is added to f's pre-activation when the cell runs, never stored
STORED = "stored"  # the form has no run-time forget bias: it lives in the f block of the stored bias


class CellLayout:
    """What every layout of every cell offers the engine, in a case's terms (harness.runs, harness.checks,
    harness.cells): the one layout model above the cells' own representations."""

    name: str
    about: str
    params: ClassVar[type]  # the cell's per-gate params (reference.LSTMParams, GRUParams, RNNParams)

    def read(self, tensors: dict, case, k: int):
        """Cell ``k`` of ``case`` read back from this layout's tensors, as per-gate params."""
        raise NotImplementedError  # pragma: no cover

    def stored(self, params, case, share=None) -> dict:
        """What this layout stores for ``params`` in ``case`` (``share``: the recurrent bias's share)."""
        raise NotImplementedError  # pragma: no cover

    def shapes_of(self, case, k: int) -> dict:
        """The shape of every tensor this layout stores for cell ``k`` of ``case``."""
        raise NotImplementedError  # pragma: no cover

    def locate(self, part: str, gate: str, case, k: int) -> str:
        """Where block ``part[gate]`` of cell ``k`` lives, in words."""
        raise NotImplementedError  # pragma: no cover

    @property
    def stored_biases(self) -> tuple:
        """The names of the bias tensors the form adds, where it stores more than one."""
        raise NotImplementedError  # pragma: no cover

    def can_hold(self, params) -> bool:
        """Whether ``params`` fit this layout."""
        raise NotImplementedError  # pragma: no cover

    def gradient_blocks(self, tensors: dict, ref, case, k: int) -> list:
        """(part, gate, where, the form's block, the reference's block) of d loss / d every block of cell k."""
        raise NotImplementedError  # pragma: no cover


@dataclass(frozen=True)
class Layout(CellLayout):
    """How one form stores an LSTM's weights."""

    params: ClassVar[type] = LSTMParams

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


_REGISTRIES = {"LAYOUTS": "LSTMParams", "GRU_LAYOUTS": "GRUParams", "RNN_LAYOUTS": "RNNParams"}


def _framework_modules() -> list:
    from lstm_equiv.harness.forms import FRAMEWORKS  # the framework registry (importing it imports no framework)

    return [importlib.import_module(f"lstm_equiv.harness.forms.{name}.layouts") for name in FRAMEWORKS]


def __getattr__(name: str):
    """``LAYOUTS``, ``GRU_LAYOUTS``, ``RNN_LAYOUTS`` (every framework's layouts of that cell, by name) and
    every layout by its constant's name (``KERAS``, ``ONNX_GRU``), from the framework folders (PEP 562)."""
    if not name.isupper():  # __path__, __wrapped__, ...: asked of every module, never a layout
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from lstm_equiv.harness.forms import built

    modules = built(_framework_modules)
    if name in _REGISTRIES:
        every = [layout for module in modules for layout in module.LAYOUTS]
        value = {layout.name: layout for layout in every if layout.params.__name__ == _REGISTRIES[name]}
    else:
        found = [getattr(m, name) for m in modules if isinstance(getattr(m, name, None), CellLayout)]
        if not found:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = found[0]
    globals()[name] = value
    return value


__all__ = ["BIAS_SHARE", "RUNTIME", "SPLIT", "STACKED", "STORED", "CellLayout", "Layout", "split_bias"]
