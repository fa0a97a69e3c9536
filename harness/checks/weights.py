"""The weights check, written once over every cell (harness.cells): TF's variables have the shapes the
layout says; every gate block read back through the layout equals, bit for bit, the same block of the
injected weights taken through the same layout; each of two stored biases equals the one injected; the
cell's canonical stacked form (BasicLSTMCell's kernel and bias, GRUCell's kernels) composed from what was
read has its documented shapes and splits back unchanged."""

from __future__ import annotations

import numpy as np

from lstm_equiv.harness import tolerances
from lstm_equiv.harness.cells import CELLS
from lstm_equiv.harness.checks import Check
from lstm_equiv.harness.items import Result, digest, what
from lstm_equiv.harness.runs import cell_tensors
from lstm_equiv.harness.sensitivity import block_name

OPTIONAL = {"peephole": "peephole diagonals", "b_h": "recurrent biases"}
"""Per-gate parts a cell may or may not have, in words: injected and read back must agree on them."""


def equal(a, b) -> bool:
    """Same shape and the same values, bit for bit."""
    return np.shape(a) == np.shape(b) and np.array_equal(a, b)


def two_biases(names, tensors: dict, injected: dict) -> list:
    """Each stored bias of a layout that adds two (PyTorch's bias_ih and bias_hh, ONNX's Wb and Rb, Keras's
    reset-after bias rows), bit for bit against the one injected: their sum, which the gate blocks compare,
    can round a one-ULP error in either of them away (measured: one ULP in a bias_hh element left the sum
    unchanged)."""
    out = []
    for name in names:  # shapes were checked before
        a, want = np.asarray(tensors[name]), np.asarray(injected[name]).astype(np.asarray(tensors[name]).dtype)
        off = np.flatnonzero(a != want)
        if off.size:
            out.append(
                f"the stored {name} differs from the one injected at {off.size} of {a.size} elements (first at "
                f"flat index {off[0]}: {a.flat[off[0]]!r} against {want.flat[off[0]]!r}); each of the biases "
                "the form adds is compared on its own, bit for bit"
            )
    return out


def mismatches(injected, read, layout, case, k: int) -> list:
    """Name every gate block that was read back from the wrong place, and say whose block it holds."""
    out = []
    if getattr(injected, "projection", None) is not None or getattr(read, "projection", None) is not None:
        if (read.projection is None) != (injected.projection is None) or not equal(
            read.projection, injected.projection
        ):
            out.append(
                f"the projection read from {layout.projection} (layout {layout.name}) differs from the injected one"
            )
    for part, g, a in read.items():
        want = getattr(injected, part)
        if want is None or g not in want:
            out.append(f"{part}[{g!r}] was read back (layout {layout.name}) but none was injected")
            continue
        if equal(a, want[g]):
            continue
        owner = [h for h in want if h != g and equal(a, want[h])]
        whose = f"it holds the block injected as {part}[{owner[0]!r}]" if owner else "it matches no injected gate block"
        out.append(
            f"gate block {part}[{g!r}] read from {layout.locate(part, g, case, k)} (layout {layout.name}) "
            f"differs from the injected {part}[{g!r}]: {whose}"
        )
    for part, words in OPTIONAL.items():
        if hasattr(injected, part) and getattr(injected, part) is not None and getattr(read, part) is None:
            out.append(f"{words} were injected but none were read back (layout {layout.name})")
    return out


def cell_problems(case, k: int, layout, tensors: dict, read, injected, share) -> tuple:
    """(problems, what was compared) of cell ``k``'s weights."""
    cell = CELLS[case.cell]
    problems, compared = [], ["shapes"]
    expected, got = layout.shapes_of(case, k), {name: tuple(t.shape) for name, t in tensors.items()}
    if got != expected:
        problems.append(f"TF's variables have shapes {got}; layout {layout.name} expects {expected} ({layout.about})")
    elif injected is not None:
        # the same arithmetic on both sides (a stored forget bias is added, then taken off again; two biases
        # split exactly and added back), so a right reading is equal bit for bit, with no slack
        want = layout.read(layout.stored(injected, case, share), case, k)
        compared += [block_name("", part, g) for part, g, _ in read.items()]
        compared += (
            ["projection"]
            if getattr(read, "projection", None) is not None or getattr(want, "projection", None) is not None
            else []
        )
        problems += mismatches(want, read, layout, case, k)
        if layout.stored_biases:
            problems += two_biases(layout.stored_biases, tensors, layout.stored(injected, case, share))
            compared += list(layout.stored_biases)
    if cell.canonical.can_hold(read):
        problems += _canonical(cell, case, k, read)
        compared.append(cell.canonical_label)
    return problems, compared


def _canonical(cell, case, k: int, read) -> list:
    """The cell's canonical stacked form composed from ``read``: its documented shapes, and back unchanged."""
    canonical = cell.canonical
    stacked = canonical.stored(read, case)
    want = cell.canonical_shapes(case, k)
    have = {name: tuple(stacked[name].shape) for name in want}
    if have != want:
        return [f"the {cell.canonical_label} have shapes {have}, expected {want} ({canonical.about})"]
    back = canonical.read(stacked, case, k)
    return [
        f"splitting the {cell.canonical_label} back changed {part}[{g!r}]"
        for part, g, a in back.items()
        if not np.array_equal(a, getattr(read, part)[g])
    ]


class WeightsCheck(Check):
    """Every cell's weights, bit for bit (tolerances.EXACT)."""

    name, kind = "weights", "forward"

    def evaluate(self, item, r, reading) -> Result:
        case, problems, compared = item.case, [], []
        tensors = cell_tensors(r.form_out)
        if len(tensors) != case.cells or len(r.cells) != case.cells:
            problems.append(
                f"the form returned the weights of {len(tensors)} cell(s), read back as {len(r.cells)}; "
                f"the case has {case.cells} ({case.layers} layer(s) x {case.directions} direction(s))"
            )
        for k, (tensors_k, read_k) in enumerate(zip(tensors, r.cells)):
            injected = r.inputs.cells[k] if k < len(r.inputs.cells) else None
            share = r.inputs.bias_shares[k] if k < len(r.inputs.bias_shares) else None
            more, names = cell_problems(case, k, r.layout, tensors_k, read_k, injected, share)
            name = case.cell_name(k)
            problems += [f"{name}: {p}" if name else p for p in more]
            compared += [f"{name} {n}" if name else n for n in names]
        tol = tolerances.EXACT
        status = "fail" if problems else "pass"
        return Result(
            item,
            status,
            None if problems else 0.0,
            tol.atol,
            "\n".join([what(item), f"Tolerance: {tol.source}", *problems]) if problems else "",
            digest(t[k] for t in tensors for k in sorted(t)),
            compared=tuple(compared),
        )


CHECKS = (WeightsCheck(),)
