"""The layout model of the cells whose weights are per-gate blocks (reference.blocks): the GRU's and the plain
RNN's, each tensor described by what it holds and which gate blocks, in order (the LSTM's, with its
stacked or split kernels, forget bias, peepholes and projection, is harness.layouts.Layout; both are
harness.layouts.CellLayout). The layouts themselves are data in harness/forms/<framework>/layouts.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lstm_equiv.harness.biases import split_bias
from lstm_equiv.harness.layouts import CellLayout
from lstm_equiv.reference import GRUParams


@dataclass(frozen=True)
class BlockTensor:
    """One stored tensor of a BlockLayout: what it holds and which gate blocks, in order along its gate axis."""

    name: str
    holds: str  # "x" (the V blocks), "h" (W), "xh" (V rows, then W rows: one matrix on concat([x, h])), "b", "b_h"
    gates: tuple  # reference gate names (the GRU's r u c, the RNN's h) of its blocks, in order
    row: int | None = None  # the row of a [2, 3u] tensor (Keras's reset-after bias: input, then recurrent)


@dataclass(frozen=True)
class BlockLayout(CellLayout):
    """How one form stores the weights of a cell of BlockParams (reference.blocks: the GRU's, the plain
    RNN's): every tensor, and which gate blocks it holds where."""

    name: str
    about: str
    tensors: tuple  # BlockTensor
    own_names: tuple  # (reference gate, the form's own letter) of each gate
    transposed: bool = False  # matrices stored [gates * u, in] (gate blocks are row blocks): PyTorch, ONNX
    params: type = GRUParams  # the cell's params (its GATES)

    def __post_init__(self):
        for part in ("V", "W", "b"):
            held = [g for t in self.tensors if part in _PARTS[t.holds] for g in t.gates]
            if sorted(held) != sorted(self.params.GATES):
                raise ValueError(f"layout {self.name}: the {part} blocks held are {held}, not {self.params.GATES}")

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

    def _shape(self, t: BlockTensor, input_depth: int, num_units: int) -> tuple:
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
        rows = (
            {"V": f"0:{input_depth}", "W": f"{input_depth}:{input_depth + num_units}"}[part] if t.holds == "xh" else ":"
        )
        return f"{name} rows {cols}" if self.transposed else f"{name}[{rows}, {cols}]"

    def compose(self, params: GRUParams, share=None) -> dict:
        """The stored tensors of ``params``. With two bias tensors and no recurrent biases in ``params`` (the
        reset before the product, where they only add), each bias is split into distinct exact shares
        (split_bias); a layout of one bias cannot hold recurrent biases of their own."""
        n, n_in = params.num_units, params.input_depth
        if params.b_h is not None and not self.two_biases:
            raise ValueError(
                f"layout {self.name} has one bias: it cannot hold recurrent biases of their own "
                "(the reset after the product)"
            )
        b, b_h = dict(params.b), params.b_h
        if b_h is None and self.two_biases:
            pairs = {g: split_bias(params.b[g], None if share is None else share[g]) for g in params.GATES}
            b, b_h = {g: pairs[g][0] for g in params.GATES}, {g: pairs[g][1] for g in params.GATES}
        dtype = np.asarray(params.V[params.GATES[0]]).dtype
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
                parts = (
                    [params.V[g]] if t.holds == "x" else [params.W[g]] if t.holds == "h" else [params.V[g], params.W[g]]
                )
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
                    (b if t.holds == "b" else b_h)[g] = value[k * n : (k + 1) * n]
                    continue
                block = value[k * n : (k + 1) * n].T if self.transposed else value[:, k * n : (k + 1) * n]
                if t.holds == "x":
                    V[g] = block
                elif t.holds == "h":
                    W[g] = block
                else:
                    V[g], W[g] = block[:input_depth], block[input_depth:]
        if b_h and not reset_after:
            b, b_h = {g: b[g] + b_h[g] for g in self.params.GATES}, {}
        return self.params(V, W, b, b_h or None)

    # the interface every cell's layout offers the engine (see Layout.read)

    def read(self, tensors: dict, case, k: int) -> GRUParams:
        """The case's cell read back from this layout's tensors."""
        return self.split(tensors, case.cell_input_depth(k), case.reset_after)  # False for every cell but the GRU

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
            blocks += [
                (part, g, self.locate(part, g, case, k), a, theirs[g]) for g, a in (getattr(ours, part) or {}).items()
            ]
        return blocks


_PARTS = {"x": ("V",), "h": ("W",), "xh": ("V", "W"), "b": ("b",), "b_h": ("b_h",)}
