"""How much any honest implementation in a dtype may differ from the exact result, case by case, without TF.

A float32 (or float64) LSTM computes, at best, the exact LSTM of slightly different data: weights and
inputs each off by up to the dtype's unit roundoff u, relative, and every step's state h, c rounded
again. So the reference is run in float64 on ``DRAWS`` such perturbations of the case itself — every
weight, input and loss weight times (1 + u e) with e uniform in [-1, 1], and h and c times (1 + u e)
after every step — and the spread of each compared tensor across the draws (max |perturbed - exact|) is
the scale of the error the dtype cannot avoid on this case (for float64, whose roundoff a float64 run
cannot represent as a perturbation, the runs are perturbed by ``PROBE`` and the spread scaled back
linearly, wherever a second probe shows the response is linear: see :func:`spread`). Where the dynamics
amplify rounding (long sequences, large weights, chaotic cases) the spread grows with it; where they damp
it, it stays near u. The bound is ``MULTIPLE`` times that scale (measured: see docs/tolerances.md), never
below ``FLOOR`` units of roundoff of the tensor's own size.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np

from lstm_equiv.harness.cells import cell_of
from lstm_equiv.reference import (
    LSTMParams,
    dense,
)

DRAWS = 4
UNIT_ROUNDOFF = {"float32": 2.0**-24, "float64": 2.0**-53}
PROBE = 2.0**-40
"""The smallest relative perturbation actually applied. The perturbed runs are float64: a perturbation of
float64's own roundoff would mostly round away (measured: a spread of exactly 0 on one-element gradient
blocks), so below PROBE the runs are perturbed by PROBE and the spread is scaled back by u / PROBE, the
first-order sensitivity. That holds only where the response to PROBE is linear: at 2^-30 the perturbation
of a chaotic case (chaotic_weights, seeds 11 and 24) saturated and the scaled-back float64 bound came out
up to 107 times too small, and at 2^-40 a longer chaotic case (64 units, weight_scale 8, 400 steps)
saturates from step 160 on, where float64's own rounding has grown to O(1) too. So linearity is checked,
not assumed: see LINEARITY."""

LINEARITY = 64.0
"""The float64 runs are perturbed twice, at PROBE and at PROBE / LINEARITY (2^-46, still 128 times
float64's roundoff), with the same random draws. Where the response is linear the two spreads differ by
LINEARITY (measured: 62.5 to 65.9 at every step of the question's network, 61.4 to 70.4 over the first
140 steps of the 400-step chaotic case); where the larger spread is less than half LINEARITY times the
smaller one, the response has saturated (that case: below 32 from step 158, about 1 from step 175),
float64's own rounding is amplified the same way, and the spread is the smaller probe's own, not scaled
back: the bound then says what the case allows, which is no separation."""


@dataclass(frozen=True)
class Spread:
    """The spread of every compared tensor across the perturbed runs: outputs per timestep [timesteps],
    final h and c, logits, and each gradient block by name (``V['i']``, ..., ``x``)."""

    outputs: np.ndarray
    final_h: float
    final_c: float
    logits: float | None
    grads: dict


def _perturb(a, u, rng):
    a = np.asarray(a, dtype=np.float64)
    return a * (1.0 + u * rng.uniform(-1.0, 1.0, a.shape))


def _perturb_params(p, u, rng):
    return p.map(lambda a: _perturb(a, u, rng))


@dataclass(frozen=True)
class Network:
    """What a case runs beyond one cell (reference.network): every cell's params, their initial states,
    the sequence keywords (layers, merge_mode, go_backwards, lengths, padded) and each cell's name."""

    cells: tuple
    h0: tuple | None = None
    c0: tuple | None = None
    sequence: dict = field(default_factory=dict)
    names: tuple = ("",)


def _forward(x, p, u, rng, network: Network | None = None, **semantics):
    """The reference's forward pass with every state rounded by (1 + u e) after every step (u = 0: exact):
    ``p`` is one cell's params, or a tuple of every cell's with ``network``. Final h and c (None for a cell
    without c) are [batch, width] for one cell, [cells, batch, width] for more."""
    cells = p if isinstance(p, tuple) else (p,)
    net = network or Network(cells)
    first = lambda a: np.ascontiguousarray(_perturb(a, u, rng))
    after = None if not u else (lambda h, *c: (first(h), *(_perturb(s, u, rng) for s in c)) if c else first(h))
    return cell_of(cells[0]).run(x, cells, net.h0, net.c0, net.sequence, semantics, after)


def spread(
    x,
    params: LSTMParams,
    semantics: dict,
    dtype: str,
    seed: int,
    *,
    head=None,
    d_outputs=None,
    gradient_semantics=None,
    network: Network | None = None,
) -> Spread:
    """The spread of every tensor over DRAWS perturbations at ``dtype``'s unit roundoff (see the module).

    ``head`` is (kernel, bias) of the dense head; ``d_outputs`` the loss weights when gradients are
    compared (``gradient_semantics`` then holds lstm_backward's extra arguments). ``network``: every cell
    of a case with more than one, or with sequence keys (``params`` is then its first cell).
    """
    net = network or Network((params,))
    x = np.asarray(x, np.float64)
    cells = tuple(p.astype(np.float64) for p in net.cells)
    f64 = lambda s: None if s is None else tuple(np.asarray(a, np.float64) for a in s)
    net = replace(net, cells=cells, h0=f64(net.h0), c0=f64(net.c0))
    exact = _forward(x, cells, 0.0, None, net, **semantics)
    grads0 = _grads(x, cells, d_outputs, semantics, gradient_semantics, net)
    run = lambda u, *stream: _draws(
        x,
        cells,
        exact,
        grads0,
        u,
        np.random.default_rng([seed, 0x5E75, *stream]),
        net,
        semantics,
        head,
        d_outputs,
        gradient_semantics,
    )
    u = UNIT_ROUNDOFF[dtype]
    if u >= PROBE:  # float32: perturbed at its own roundoff
        return run(u)
    big, small = run(PROBE), run(PROBE / LINEARITY)  # the same draws e: only the size differs
    combine = lambda b, s: _scaled_back(b, s, u / PROBE)
    return Spread(
        combine(big.outputs, small.outputs),
        combine(big.final_h, small.final_h),
        combine(big.final_c, small.final_c),
        combine(big.logits, small.logits),
        {name: combine(g, small.grads[name]) for name, g in big.grads.items()},
    )


def _scaled_back(big, small, back: float):
    """The float64 spread from the spreads at PROBE (``big``) and PROBE / LINEARITY (``small``): ``big``
    scaled back by ``back`` where ``big`` is at least half LINEARITY times ``small`` (a linear response),
    ``small`` as it is elsewhere (saturated). Element by element; a float for floats, None for None."""
    if big is None:
        return None
    linear = np.asarray(big) * 2.0 >= LINEARITY * np.asarray(small)
    out = np.where(linear, np.asarray(big) * back, small)
    return out if np.ndim(out) else float(out)


def _draws(x, cells, exact, grads0, u, rng, net, semantics, head, d_outputs, gradient_semantics) -> Spread:
    """The largest |perturbed - exact| of every tensor over DRAWS runs perturbed by u, unscaled."""
    out_s, h_s, c_s, logit_s = np.zeros(x.shape[1]), 0.0, 0.0, 0.0
    grad_s = dict.fromkeys(grads0 or {}, 0.0)
    for _ in range(DRAWS):
        xk = _perturb(x, u, rng)
        pk = tuple(_perturb_params(p, u, rng) for p in cells)
        outputs, h, c = _forward(xk, pk, u, rng, net, **semantics)
        out_s = np.maximum(out_s, np.abs(outputs - exact[0]).max(axis=(0, 2)))
        h_s = max(h_s, float(np.abs(h - exact[1]).max()))
        c_s = c_s if c is None else max(c_s, float(np.abs(c - exact[2]).max()))
        if head is not None:
            kernel, bias = (np.asarray(a, np.float64) for a in head)
            logit_s = max(
                logit_s, float(np.abs(dense(outputs[:, -1], kernel, bias) - dense(exact[0][:, -1], kernel, bias)).max())
            )
        if grads0:
            dk = _perturb(d_outputs, u, rng)
            for name, g in _grads(xk, pk, dk, semantics, gradient_semantics, net).items():
                grad_s[name] = max(grad_s[name], float(np.abs(g - grads0[name]).max()))
    return Spread(out_s, h_s, c_s, logit_s if head is not None else None, grad_s)


def block_name(cell: str, part: str, gate: str | None = None) -> str:
    """``V['i']``, ``projection``; ``layer 2 backward V['i']`` in a case of more than one cell."""
    name = part if gate is None else f"{part}[{gate!r}]"
    return f"{cell} {name}" if cell else name


def _grads(x, cells, d_outputs, semantics, gradient_semantics, network: Network) -> dict | None:
    """Every gradient block by name, from the reference's BPTT (None when no gradient is compared)."""
    if d_outputs is None:
        return None
    g = cell_of(cells[0]).run_gradients(
        x,
        cells,
        np.asarray(d_outputs, np.float64),
        network.h0,
        network.c0,
        network.sequence,
        semantics,
        gradient_semantics or {},
    )
    out = {}
    for name, grads in zip(network.names, g.cells):
        out.update({block_name(name, part, gate): a for part, gate, a in grads.items()})
        if getattr(grads, "projection", None) is not None:
            out[block_name(name, "projection")] = grads.projection
    out["x"] = g.x
    return out


def separation(x, params: LSTMParams, semantics: dict, network: Network | None = None) -> tuple:
    """(the smallest max |outputs| difference that a wrong layout makes on this case, which one): the
    reference run exactly on each of the cell's wrong readings that keep every shape (:func:`wrong_layouts`:
    the blocks of two gates swapped; a one-gate cell's recurrent matrix transposed), against the right run.
    A mistake that changes nothing even in float64 (below 1e-12 of the outputs' size: with activation
    sigmoid, i and j are interchangeable, c = f c + i j) is a symmetry of the case, not a question of
    precision, and is left out; (inf, "") when every one is."""
    x, params = np.asarray(x, np.float64), params.astype(np.float64)
    net = network or Network((params,))
    net = replace(net, cells=tuple(p.astype(np.float64) for p in net.cells))
    rest = net.cells[1:]  # a wrong layout of the first cell is what a case of several shows here
    right = _forward(x, (params, *rest), 0.0, None, net, **semantics)[0]
    out = [
        (float(np.abs(_forward(x, (wrong, *rest), 0.0, None, net, **semantics)[0] - right).max()), what)
        for what, wrong in wrong_layouts(params)
    ]
    symmetric = 1e-12 * max(1.0, float(np.abs(right).max()))
    return min([o for o in out if o[0] > symmetric], default=(float("inf"), ""))


def wrong_layouts(params) -> list:
    """(what, the params read through it) for every wrong layout of the cell of ``params`` that keeps every
    shape: two gates' blocks swapped (V, W, b and any b_h or peepholes; 6 pairs for an LSTM, 3 for a GRU);
    a cell of one gate (the plain RNN) has no pair to swap, so its recurrent matrix read transposed stands
    for it (W [u, u] keeps its shape either way)."""
    gates = cell_of(params).gates
    per_gate = [part for part in ("V", "W", "b", "b_h", "peephole") if hasattr(params, part)]
    out = []
    for a, b in itertools.combinations(gates, 2):
        swap = partial(_swapped, a=a, b=b)
        out.append(
            (f"gate blocks {a} and {b} swapped", replace(params, **{p: swap(getattr(params, p)) for p in per_gate}))
        )
    if len(gates) == 1:
        (g,) = gates
        out.append((f"W[{g!r}] read transposed", replace(params, W={g: params.W[g].T})))
    return out


def _swapped(blocks, a: str, b: str):
    """``blocks`` (gate -> array) with gates a and b exchanged where it holds both; None stays None."""
    if blocks is None:
        return None
    return {**blocks, **({a: blocks[b], b: blocks[a]} if a in blocks and b in blocks else {})}
