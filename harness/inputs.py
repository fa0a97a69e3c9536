"""Seeded, random, gate-distinct weights and inputs for a case.

Constant weights cannot reveal a gate swap (a wrong gate order then gives exactly zero difference), so
every block is drawn at random from the case's seed. Draws are made in float64 and rounded to the run's
dtype, so a float32 run holds the float64 draws rounded once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from lstm_equiv.harness.biases import BIAS_SHARE
from lstm_equiv.harness.cells import CELLS
from lstm_equiv.reference import GATES, PEEPHOLE_GATES, LSTMParams


@dataclass(frozen=True)
class Inputs:
    """Everything a form is fed: per-gate params, the input sequence and the head's weights."""

    params: LSTMParams
    x: np.ndarray  # [batch, timesteps, input_depth]
    head_kernel: np.ndarray | None  # [h_depth, num_classes]
    head_bias: np.ndarray | None  # [num_classes]
    loss_weights: np.ndarray  # [batch, timesteps, h_depth]: the loss is sum(loss_weights * outputs)
    loss_draw: np.ndarray  # the random draw behind loss_weights, before the case's ``loss`` masks it
    bias_share: dict | None = None  # {gate: [num_units]}: the recurrent bias's share, for two-bias layouts
    cells: tuple = ()  # every cell's params, layer by layer, forward before backward; cells[0] is params
    bias_shares: tuple = ()  # each cell's bias_share
    h0: tuple | None = None  # one [batch, h_depth] per cell (initial_state: random), or None: zeros
    c0: tuple | None = None  # one [batch, num_units] per cell
    lengths: np.ndarray | None = None  # [batch], or None: every row is full

    def __post_init__(self):  # one cell, when built by hand (harness.convert): its params and bias share
        if not self.cells:
            object.__setattr__(self, "cells", (self.params,))
            object.__setattr__(self, "bias_shares", (self.bias_share,))


CONSTANT = 0.1  # the self-test's constant weights: every V, W, peephole and projection entry; biases 0


def make_inputs(case, dtype: str, constant: bool = False) -> Inputs:
    """The case's weights and inputs in ``dtype``; the same draws for every dtype and form.

    ``constant`` replaces the weights (not x) by constants, as the published test vectors do: only the
    self-test uses it, to show which mistakes such weights cannot reveal.
    """
    if case.cell != "lstm":
        return _block_inputs(case, dtype, constant, CELLS[case.cell].params)
    rng = np.random.default_rng(case.seed)
    n_in, n, h_depth = case.input_depth, case.num_units, case.h_depth
    # 1 / sqrt(fan-in) keeps pre-activations O(1): gates neither saturate nor vanish; weight_scale models
    # trained weights' larger magnitudes
    scale = case.weight_scale / np.sqrt(n_in + h_depth)
    V, W, b = {}, {}, {}
    for g in GATES:
        V[g] = rng.normal(0.0, scale, (n_in, n))
        W[g] = rng.normal(0.0, scale, (h_depth, n))
        b[g] = rng.normal(0.0, 0.5, n)
    x = rng.normal(0.0, case.input_scale, (case.batch, case.timesteps, n_in))
    head = _head(rng, case)
    # drawn last, so that adding them to a case leaves its other draws as they were
    peephole = {g: rng.normal(0.0, 0.5 * case.weight_scale, n) for g in PEEPHOLE_GATES} if case.use_peepholes else None
    projection = rng.normal(0.0, case.weight_scale / np.sqrt(n), (n, case.num_proj)) if case.num_proj else None
    # a fixed random projection of the outputs, so that every timestep and unit reaches the loss
    loss_draw = rng.normal(0.0, 1.0, (case.batch, case.timesteps, case.output_width))
    params = LSTMParams(V, W, b, peephole, projection)
    if case.weights is not None:  # real weights (x, the head and the loss stay seeded)
        from lstm_equiv.harness import npz

        params = npz.load(case.weights)[0]
    # every other cell (stacked layers, the backward direction) from a stream of its own per cell, so that
    # the first cell's draws are those of the same case without the sequence keys
    cells = [params] + [_cell(case, k) for k in range(1, case.cells)]
    cells = [(_constant_like(p) if constant else p).astype(dtype) for p in cells]
    return _seeded_rest(case, dtype, cells, x, head, loss_draw, GATES, c=True)


def _head(rng, case) -> tuple:
    """The dense head's kernel and bias (None, None without one)."""
    if not case.num_classes:
        return None, None
    width = case.output_width
    return rng.normal(0.0, 1.0 / np.sqrt(width), (width, case.num_classes)), rng.normal(0.0, 0.1, case.num_classes)


def _seeded_rest(case, dtype, cells, x, head, loss_draw, gates, c: bool) -> Inputs:
    """The Inputs of ``cells`` (in ``dtype``) and x, with what every cell's case draws from streams of their
    own, so that the other draws stay as they were: how PyTorch's bias_ih + bias_hh and ONNX's Wb + Rb split
    each bias (harness.biases.split_bias), cell by cell; the initial states, a different one for every cell
    (h0, then c0 where the cell has c); the loss weights; the lengths."""
    n = case.num_units
    shares = []
    for k in range(case.cells):
        share_rng = np.random.default_rng([case.seed, 1] if k == 0 else [case.seed, 1, k])
        shares.append({g: share_rng.uniform(*BIAS_SHARE, n) for g in gates})
    h0 = c0 = None
    if case.initial_state == "random":
        state_rng = np.random.default_rng([case.seed, 3])
        h0 = tuple(state_rng.normal(0.0, 0.5, (case.batch, case.h_depth)).astype(dtype) for _ in range(case.cells))
        if c:
            c0 = tuple(state_rng.normal(0.0, 1.0, (case.batch, n)).astype(dtype) for _ in range(case.cells))
    lengths = None if case.sequence_lengths is None else np.asarray(case.sequence_lengths, np.int64)
    cast = lambda a: None if a is None else a.astype(dtype)
    loss = (loss_weights(loss_draw, case.loss), loss_draw)
    return Inputs(
        cells[0], cast(x), *map(cast, head), *map(cast, loss), shares[0], tuple(cells), tuple(shares), h0, c0, lengths
    )


def _block_inputs(case, dtype: str, constant: bool, kind) -> Inputs:
    """The seeded inputs of a case of a cell of per-gate blocks (``kind``: reference.GRUParams, RNNParams):
    V, W, b (and the recurrent biases b_h where they act on their own: the GRU's reset after the product),
    x, the head, the loss, h0 where asked for; every other cell (stacked layers, the backward direction)
    from a stream of its own, so that the first cell's draws are those of the same case without them."""
    rng = np.random.default_rng([case.seed, 4])
    n_in = case.input_depth
    params = _block_cell(kind, rng, case, n_in)
    x = rng.normal(0.0, case.input_scale, (case.batch, case.timesteps, n_in))
    head = _head(rng, case)
    loss_draw = rng.normal(0.0, 1.0, (case.batch, case.timesteps, case.output_width))
    cells = [params] + [
        _block_cell(kind, np.random.default_rng([case.seed, 4, k]), case, case.cell_input_depth(k))
        for k in range(1, case.cells)
    ]
    cells = [(_constant_like(p) if constant else p).astype(dtype) for p in cells]
    return _seeded_rest(case, dtype, cells, x, head, loss_draw, kind.GATES, c=False)


def _block_cell(kind, rng, case, n_in):
    """One cell's seeded, gate-distinct V, W, b (and b_h with the GRU's reset after the product)."""
    n, gates = case.num_units, kind.GATES
    scale = case.weight_scale / np.sqrt(n_in + n)
    V = {g: rng.normal(0.0, scale, (n_in, n)) for g in gates}
    W = {g: rng.normal(0.0, scale, (n, n)) for g in gates}
    b = {g: rng.normal(0.0, 0.5, n) for g in gates}
    b_h = {g: rng.normal(0.0, 0.5, n) for g in gates} if case.reset_after else None
    return kind(V, W, b, b_h)


def _cell(case, k: int) -> LSTMParams:
    """Cell ``k``'s (k >= 1) seeded, gate-distinct weights; it reads case.cell_input_depth(k) features."""
    rng = np.random.default_rng([case.seed, 2, k])
    n_in, n, h_depth = case.cell_input_depth(k), case.num_units, case.h_depth
    scale = case.weight_scale / np.sqrt(n_in + h_depth)
    V = {g: rng.normal(0.0, scale, (n_in, n)) for g in GATES}
    W = {g: rng.normal(0.0, scale, (h_depth, n)) for g in GATES}
    b = {g: rng.normal(0.0, 0.5, n) for g in GATES}
    peephole = {g: rng.normal(0.0, 0.5 * case.weight_scale, n) for g in PEEPHOLE_GATES} if case.use_peepholes else None
    projection = rng.normal(0.0, case.weight_scale / np.sqrt(n), (n, case.num_proj)) if case.num_proj else None
    return LSTMParams(V, W, b, peephole, projection)


def loss_weights(draw: np.ndarray, loss: str) -> np.ndarray:
    """The weights R of the gradient checks' loss ``sum(R * outputs)`` for the case's ``loss``: the whole
    draw (``outputs``), or its last timestep only (``last_output``, what a classifier on the last output
    backpropagates)."""
    if loss == "outputs":
        return draw
    if loss == "last_output":
        out = np.zeros_like(draw)
        out[:, -1] = draw[:, -1]
        return out
    raise ValueError(f"unknown loss {loss!r}")


def _constant_like(p):
    """The same shapes, every weight CONSTANT and every bias 0 (any cell's params)."""

    def full(part, m):
        if m is None:
            return None
        value = 0.0 if part in ("b", "b_h") else CONSTANT
        return {g: np.full_like(a, value) for g, a in m.items()} if isinstance(m, dict) else np.full_like(m, value)

    return type(p)(*(full(f.name, getattr(p, f.name)) for f in fields(p)))
