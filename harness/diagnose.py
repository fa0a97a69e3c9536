"""What is wrong with a conversion, named: the layer, the block and the evidence, instead of a max-diff.

Two layers are compared in three ways (harness/check.py reads them, per gate, from any two model files):

1. **Matching** (:func:`match`): by order and shape: the k-th recurrent layer of one file with the k-th of
   the other, each pair of the same cell, input width, units and number of directions. Anything else is
   refused, naming the layers left over or the first pair that differs.
2. **Weights, block by block** (:func:`weights`): every per-gate block of the conversion against the
   source's. Where they differ, the relation between them is solved for: the permutation of gate blocks
   that makes the input matrices equal (gate blocks swapped), a bias block off by one constant in every
   unit (a forget bias added or dropped), a bias equal to twice the source's or to the source's plus or
   minus one of its stored biases (two biases counted twice, or one dropped), a block equal to the
   source's transposed, the two directions' cells exchanged. The forget bias a form adds at run time
   (TF1's) is folded into the f block first, so that where it lives does not count as a difference.
3. **Behaviour** (:func:`behaviour`): where the two runs differ, the source's reference is run again under
   each reading a converter gets wrong (no lengths: sequence_lens missing; padded steps emitting zeros
   instead of the last output or back; the GRU's reset before instead of after the product or back; the
   backward half run forwards; the directions exchanged) and each that reproduces the conversion's own
   run within the bound is reported, with its error.

Two blocks are equal within ``BLOCK_RTOL`` of the source block's largest entry: a float32 file stores
each weight rounded once (at most 2^-24 relative, 6e-8), and a converter that adds two stored biases
rounds once more; 1e-6 is 16 such roundings, and a real layout error changes a block by the size of its
entries (the smallest difference between two different gates' trained blocks seen here: 0.05 of the
block's largest entry).
"""

from __future__ import annotations

import itertools

import numpy as np

BLOCK_RTOL = 1e-6
KNOWN = (
    "gate blocks swapped",
    "a forget bias added or dropped",
    "a bias counted twice or dropped",
    "a transposed matrix",
    "the directions exchanged",
    "the backward half not reversed",
    "a go_backwards layer run forwards or back",
    "the GRU's reset before or after the product",
    "padded steps emitting zeros or the last output",
    "sequence_lens (the lengths) missing",
)
"""What the diagnosis recognises (check says so when a difference is none of them)."""


class Unmatched(Exception):
    """The two files' recurrent layers do not pair up: the message names the layers."""


def match(layers_a: list, layers_b: list, name_a: str, name_b: str) -> list:
    """The layers paired by order and shape (see the module)."""
    if len(layers_a) != len(layers_b):
        more, fewer, extra = (
            (name_a, name_b, layers_a[len(layers_b) :])
            if len(layers_a) > len(layers_b)
            else (name_b, name_a, layers_b[len(layers_a) :])
        )
        raise Unmatched(
            f"{more} has {max(len(layers_a), len(layers_b))} recurrent layers, {fewer} "
            f"{min(len(layers_a), len(layers_b))}: not covered: "
            + ", ".join(f"{lay.name} ({lay.shape})" for lay in extra)
        )
    for a, b in zip(layers_a, layers_b):
        if (a.cell, a.input_depth, a.units, a.directions) != (b.cell, b.input_depth, b.units, b.directions):
            raise Unmatched(
                f"layer {a.name} of {name_a} ({a.shape}, {a.units} units) and layer {b.name} of {name_b} "
                f"({b.shape}, {b.units} units), in the same place, are not the same shape: the files' layers "
                "do not match by order"
            )
    return list(zip(layers_a, layers_b))


# ---------------------------------------------------------------------------------------------- weights


def _close(a, b) -> bool:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False
    scale = max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)), 1e-30)
    return bool(np.max(np.abs(a - b), initial=0.0) <= BLOCK_RTOL * scale)


def _biases(layer, k: int) -> dict:
    """Cell k's effective bias per gate: the stored one, with a run-time forget bias folded into f."""
    p = layer.cells[k]
    b = {g: np.asarray(v, np.float64) for g, v in p.b.items()}
    if layer.cell == "lstm":
        b["f"] = b["f"] + float(layer.semantics.get("forget_bias", 0.0))
    return b


def _permutation(mine: dict, theirs: dict) -> dict | None:
    """{gate of ours: gate of theirs} that makes every block equal, or None."""
    gates = list(mine)
    for perm in itertools.permutations(gates):
        if all(_close(mine[g], theirs[h]) for g, h in zip(gates, perm)):
            return dict(zip(gates, perm))
    return None


def _cell_name(layer, k: int) -> str:
    return "" if layer.directions == 1 else (" forward cell" if k == 0 else " backward cell")


def weights(a, b) -> list:
    """Diagnoses of ``b``'s weights against ``a``'s, block by block (an empty list: every block equal)."""
    findings = []
    pairs = list(range(a.directions))
    if a.directions == 2 and not _same_cell(a, 0, b, 0) and _same_cell(a, 0, b, 1) and _same_cell(a, 1, b, 0):
        findings.append(
            f"layer {b.name}: the directions exchanged: its forward cell holds the weights of {a.name}'s backward "
            "cell and its backward cell those of the forward one (every V and W block equal once exchanged)"
        )
        pairs = [1, 0]
    for k, kb in enumerate(pairs):
        findings += _cell(a, k, b, kb)
    semantics = _semantics(a, b)
    return findings + semantics


def _same_cell(a, ka: int, b, kb: int) -> bool:
    pa, pb = a.cells[ka], b.cells[kb]
    return all(_close(pa.V[g], pb.V[g]) and _close(pa.W[g], pb.W[g]) for g in pa.V)


def _cell(a, ka: int, b, kb: int) -> list:
    pa, pb = a.cells[ka], b.cells[kb]
    where = f"layer {b.name}{_cell_name(b, kb)}"
    out = []
    perm, perms = {g: g for g in pa.V}, {}
    for part in ("V", "W"):
        mine, theirs = getattr(pb, part), getattr(pa, part)
        if all(_close(mine[g], theirs[g]) for g in mine):
            continue
        found = _permutation(mine, theirs)
        if found is not None:
            perms[part] = found
            perm = found if part == "V" else perm
            continue
        for g in mine:
            if _close(mine[g], theirs[g]):
                continue
            if mine[g].shape == theirs[g].T.shape and _close(mine[g], theirs[g].T):
                out.append(f"{where}: {part}[{g}] is {a.name}'s {part}[{g}] transposed")
            else:
                diff = float(np.max(np.abs(np.asarray(mine[g], np.float64) - theirs[g])))
                out.append(
                    f"{where}: {part}[{g}] differs from {a.name}'s (max |diff| {diff:.3g}), not by a known relation"
                )
    for found in dict.fromkeys(tuple(p.items()) for p in perms.values()):
        parts = " and ".join(part for part, p in perms.items() if tuple(p.items()) == found)
        moved = [f"its {g} block holds {a.name}'s {h}" for g, h in found if g != h]
        out.append(f"{where}: gate blocks swapped in {parts}: {'; '.join(moved)} (every block equal once permuted)")
    out += _bias(a, ka, b, kb, perm, where)
    return out


def _bias(a, ka: int, b, kb: int, perm: dict, where: str) -> list:
    mine, theirs = _biases(b, kb), {g: _biases(a, ka)[h] for g, h in perm.items()}
    if a.cell == "gru":
        return _gru_bias(a, ka, b, kb, perm, where)
    diff = {g: mine[g] - theirs[g] for g in mine}
    if all(_close(mine[g], theirs[g]) for g in mine):
        return []
    scale = max(float(np.max(np.abs(v))) for v in theirs.values())
    zero = lambda v: float(np.max(np.abs(v))) <= BLOCK_RTOL * max(scale, 1.0)
    if all(zero(diff[g]) for g in mine if g != "f") and np.ptp(diff["f"]) <= BLOCK_RTOL * max(scale, 1.0):
        c = float(np.mean(diff["f"]))
        return [
            f"{where}: a forget bias of {abs(c):.6g} {'added' if c > 0 else 'dropped'}: b[f] is {a.name}'s "
            f"{c:+.6g} in every unit (every other bias block equal; a run-time forget_bias counted in)"
        ]
    if all(_close(mine[g], 2 * theirs[g]) for g in mine):
        return [f"{where}: the bias counted twice: every b block is twice {a.name}'s"]
    for name, stored in (a.stored_biases[ka] if a.stored_biases else {}).items():
        stored = {g: np.asarray(stored[h], np.float64) for g, h in perm.items()}
        if all(_close(diff[g], stored[g]) for g in mine):
            return [f"{where}: {a.name}'s {name} counted twice: b = {a.name}'s bias sum + {name} again, in every gate"]
        if all(_close(diff[g], -stored[g]) for g in mine):
            return [f"{where}: {a.name}'s {name} dropped: b is {a.name}'s bias sum without {name}, in every gate"]
    bad = [g for g in mine if not zero(diff[g])]
    largest = max(float(np.max(np.abs(diff[g]))) for g in bad)
    return [f"{where}: b[{', '.join(bad)}] differ from {a.name}'s (max |diff| {largest:.3g}), not by a known relation"]


def _gru_bias(a, ka: int, b, kb: int, perm: dict, where: str) -> list:
    pa, pb = a.cells[ka], b.cells[kb]
    zeros = lambda p: {g: np.zeros(p.num_units) for g in p.b}
    ba, bb = pa.b, pb.b
    ha, hb = pa.b_h or zeros(pa), pb.b_h or zeros(pb)
    ba, ha = ({g: ba[h] for g, h in perm.items()}, {g: ha[h] for g, h in perm.items()})
    if all(_close(bb[g], ba[g]) and _close(hb[g], ha[g]) for g in bb):
        return []
    if a.semantics.get("reset_after") != b.semantics.get("reset_after") and all(
        _close(bb[g] + hb[g], ba[g] + ha[g]) for g in bb
    ):  # read with the reset before the product, the two biases are one sum: the reset is the finding
        return []
    if all(_close(bb[g] + hb[g], ba[g] + ha[g]) for g in bb):  # the same sums: only where the candidate's sits
        return [
            f"{where}: b and b_h split differently from {a.name}'s (their sums equal): it matters only where the "
            "reset comes after the product"
        ]
    if all(_close(bb[g], ba[g]) for g in bb) and not any(np.any(hb[g]) for g in hb):
        return [f"{where}: {a.name}'s recurrent bias b_h dropped (zero here, every b block equal)"]
    if all(_close(bb[g], ba[g] + ha[g]) for g in bb) and all(_close(hb[g], ha[g]) for g in hb):
        return [f"{where}: {a.name}'s recurrent bias b_h counted twice: b holds b + b_h and b_h is kept as well"]
    return [f"{where}: the GRU biases differ from {a.name}'s, not by a known relation"]


def _semantics(a, b) -> list:
    """What the two layers compute differently on the same weights, as their files say."""
    out = []
    if a.cell == "gru" and a.semantics.get("reset_after") != b.semantics.get("reset_after"):
        word = lambda lay: "after" if lay.semantics.get("reset_after") else "before"
        out.append(
            f"layer {b.name}: the GRU's reset is applied {word(b)} the recurrent product, {a.name}'s {word(a)} it "
            f"(reset_after / linear_before_reset differ)"
        )
    for key in ("activation", "recurrent_activation"):
        if a.semantics.get(key, _DEFAULT[key]) != b.semantics.get(key, _DEFAULT[key]):
            out.append(
                f"layer {b.name}: {key} {b.semantics.get(key, _DEFAULT[key])}, {a.name}'s "
                f"{a.semantics.get(key, _DEFAULT[key])}"
            )
    if a.lengths and not (b.lengths or b.takes_lengths):
        out.append(
            f"layer {b.name}: {a.name} runs under {a.lengths}, {b.name} takes no lengths (no sequence_lens input): "
            "on padded rows it runs the padding as data"
        )
    if a.go_backwards != b.go_backwards:
        word = lambda lay: "from the last timestep to the first" if lay.go_backwards else "from the first to the last"
        out.append(f"layer {b.name}: it runs {word(b)}, {a.name} {word(a)} (go_backwards / direction differ)")
    if a.directions == 2 and a.backward_reversed != b.backward_reversed:
        out.append(
            f"layer {b.name}: its backward half is NOT reversed: the second cell runs from the first timestep to "
            "the last"
            if not b.backward_reversed
            else f"layer {b.name}: {a.name}'s backward half is not reversed, this one's is"
        )
    return out


_DEFAULT = {"activation": "tanh", "recurrent_activation": "sigmoid"}


# ---------------------------------------------------------------------------------------------- behaviour


def behaviour(a, b, x, lengths, b_run: tuple, tols: dict, valid=None, only_padding=False) -> list:
    """Readings of ``a`` under which its reference reproduces ``b``'s own run ``b_run`` within ``tols``
    (``valid``: only those steps' outputs compared; ``only_padding``: only the reading of what a padded step
    emits, which check asks for apart where a Keras mask hides the padded steps from every later layer)."""
    from lstm_equiv.harness.check import reference_run, verdicts

    readings = [] if only_padding else [("with its own weights (the blocks above)", {"cells": b.cells})]
    if lengths is not None and not only_padding:
        readings.append(("without the lengths (sequence_lens missing: the padding run as data)", {"lengths": None}))
    if lengths is not None and (only_padding or not a.masked_by):
        other = "carry" if a.padded == "zero" else "zero"
        words = "its last output again" if other == "carry" else "zeros"
        theirs = "zeros" if other == "carry" else "its last output"
        readings.append((f"with padded steps emitting {words} ({a.name}'s emit {theirs})", {"padded": other}))
    if a.cell == "gru" and not only_padding:
        flip = not a.semantics.get("reset_after")
        readings.append(
            (f"with the GRU's reset {'after' if flip else 'before'} the recurrent product", {"reset_after": flip})
        )
    if a.directions == 1 and not only_padding:
        readings.append(("with the direction reversed (go_backwards)", {"go_backwards": not a.go_backwards}))
    if a.directions == 2 and not only_padding:
        readings.append(("with the backward half not reversed (its cell run forwards)", {"backward_reversed": False}))
        readings.append(("with the directions exchanged", {"cells": a.cells[::-1]}))
    out = []
    for words, change in readings:
        changes = dict(change)
        cells = changes.pop("cells", None)
        seq_lengths = changes.pop("lengths", lengths)
        try:
            got = reference_run(a, x, seq_lengths, cells=cells, **changes)
        except ValueError:
            continue
        result = verdicts(b_run, got, tols, "", valid)
        if result and all(v.passed for v in result):
            worst = max(v.max_abs_err for v in result)
            out.append(
                f"layer {b.name}: its run is {a.name}'s reference {words} (max abs err {worst:.3g}, within the bound)"
            )
    return out
