"""Running a form and reading it back: the one run cache of a process, owned by :data:`RUNS`.

A (case, form, dtype, weights) is built and run in its framework once per process (:class:`FormRun`); each
:class:`Reading` of it (the right one; the self-test's deliberately wrong ones) reads its weights back
through the form's layout and runs the cell's reference on what was read, once (:class:`Run`). The
spreads and separations the bounds are drawn from are derived once per run's case, dtype and semantics,
in the same cache.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field

import numpy as np

from lstm_equiv.harness import sensitivity
from lstm_equiv.harness.cells import CELLS
from lstm_equiv.harness.forms import FORMS
from lstm_equiv.harness.inputs import make_inputs
from lstm_equiv.harness.items import digest
from lstm_equiv.reference import dense


@dataclass(frozen=True)
class Reading:
    """How the harness reads a TF run: the identity here. The self-test's mutations override these
    hooks to read it wrongly on purpose; real items and the self-test go through the same evaluation."""

    def layout(self, layout):
        """The layout the weights are read back through."""
        return layout

    def params(self, params):
        """The per-gate params read back."""
        return params

    def semantics(self, kwargs: dict) -> dict:
        """The reference's configuration."""
        return kwargs

    def cells(self, cells: tuple) -> tuple:
        """Every cell's params read back (layer by layer, forward before backward)."""
        return cells

    def sequence(self, kwargs: dict) -> dict:
        """The reference network's sequence keywords (layers, merge_mode, go_backwards, lengths, padded)."""
        return kwargs

    def forward(self, run):
        """The function that runs the reference network (a mistake may wrap it)."""
        return run

    def x(self, x):
        """The input sequence fed to the reference."""
        return x

    def loss(self, loss: str) -> str:
        """The case's ``loss`` as the reference's gradients take it."""
        return loss

    def reference(self, ref: dict) -> dict:
        """The reference's results, as they are lined up against TF's."""
        return ref

    def gradients(self, grads):
        """The reference's gradients, as they are lined up against TF's."""
        return grads


IDENTITY = Reading()


@dataclass(frozen=True)
class ReadAs(Reading):
    """Read the weights back through another layout (a wrong one, in the tests of wrong layouts)."""

    other: object = None

    def layout(self, layout):
        return self.other


@dataclass
class FormRun:
    """One (case, form, dtype, weights) run of a form in its framework: its inputs and output, built and run
    once per process. Every reading of it (the right one, the self-test's wrong ones) is kept in ``reads``."""

    inputs: object = None
    form_out: object = None
    error: str | None = None
    skip: str | None = None
    inputs_digest: str | None = None  # sha256 of x and the injected weights
    reads: dict = field(default_factory=dict)  # Reading -> Run


@dataclass
class Run:
    """A TF run read back through a :class:`Reading`: the params read, the reference run on them."""

    tf: FormRun
    layout: object = None  # the layout the weights were read through
    params: object = None  # the first cell's per-gate params read back from TF through the layout
    cells: tuple = ()  # every cell's params read back, layer by layer, forward before backward
    reference: dict = None  # outputs and the final states (and logits) of the reference, by check name
    error: str | None = None
    reference_grads: object = None  # the reference's gradients, computed when a gradient check first asks

    @property
    def skip(self):
        """Why the TF run was skipped, or None."""
        return self.tf.skip

    @property
    def inputs(self):
        """What TF was fed."""
        return self.tf.inputs

    @property
    def form_out(self):
        """What TF computed."""
        return self.tf.form_out


def cell_tensors(form_out) -> tuple:
    """The layout tensors of every cell a form ran (one dict per cell, in the case's cell order)."""
    return form_out.cells or (form_out.tensors,)


def cell_grads(form_out) -> tuple:
    """d loss / d every layout tensor, one dict per cell (the form's ``x`` gradient left out)."""
    return form_out.cell_grads or ({k: v for k, v in form_out.grads.items() if k != "x"},)


def network_of(case, form, inputs) -> sensitivity.Network:
    """The case's cells, initial states and sequence keywords as the form computes them."""
    return sensitivity.Network(
        inputs.cells, inputs.h0, inputs.c0, form.sequence(case), tuple(case.cell_name(k) for k in range(case.cells))
    )


def _inputs_digest(inputs) -> str:
    """sha256 of x, every cell's injected weights, the initial states and the lengths."""
    p = inputs.params
    more = [a for q in inputs.cells[1:] for _, _, a in q.items()]  # beyond one cell, when any
    more += [q.projection for q in inputs.cells[1:] if getattr(q, "projection", None) is not None]
    more += [*(inputs.h0 or ()), *(inputs.c0 or ())]
    more += [] if inputs.lengths is None else [inputs.lengths]
    return digest(
        [
            inputs.x,
            *(a for _, _, a in p.items()),
            *([] if getattr(p, "projection", None) is None else [p.projection]),
            *more,
        ]
    )


def read_back(case, form, tf: FormRun, reading: Reading) -> Run:
    """``tf`` read back through ``reading``: every cell's params through the form's layout, and the cell's
    reference run on them (a reading that crashes is the run's error, with its traceback)."""
    out = Run(tf, error=tf.error)
    if tf.skip or tf.error:
        return out
    cell = CELLS[case.cell]
    try:
        out.layout = reading.layout(form.layout_for(case))
        out.cells = tuple(
            reading.cells(
                tuple(
                    reading.params(cell.read(out.layout, t, case, k)) for k, t in enumerate(cell_tensors(tf.form_out))
                )
            )
        )
        out.params = out.cells[0]
        x64 = reading.x(tf.inputs.x.astype(np.float64))
        ref = cell.forward(reading, x64, tuple(p.astype(np.float64) for p in out.cells), tf.inputs, form, case)
        if case.num_classes:
            ref["logits"] = dense(
                ref["outputs"][:, -1], tf.inputs.head_kernel.astype(np.float64), tf.inputs.head_bias.astype(np.float64)
            )
        out.reference = reading.reference(ref)
    except Exception:  # noqa: BLE001  a reading that crashes is this run's error, with its traceback
        out.error = traceback.format_exc()
    return out


class Runs:
    """The run cache of a process: TF runs, their readings, and what the bounds derive from each run's case."""

    def __init__(self):
        self._tf = {}  # (case file, case name, form, dtype, weights) -> FormRun
        self._spreads = {}  # shared by every form with the same semantics
        self._separations = {}

    def forget(self):
        """Drop everything, so that the next evaluation builds and runs TF again (for the bench)."""
        self._tf.clear()
        self._spreads.clear()
        self._separations.clear()

    @staticmethod
    def key(case, form_name: str, dtype: str, weights: str = "random") -> tuple:
        """The key of a TF run (for the tests that put a changed run in its place)."""
        return (str(case.path), case.name, form_name, dtype, weights)

    def form_run(self, case, form_name: str, dtype: str, weights: str = "random") -> FormRun:
        """Build and run ``form_name`` on ``case`` once per process (``weights``: random, or constant for the
        self-test's demonstration of what constant weights miss)."""
        key = self.key(case, form_name, dtype, weights)
        if key not in self._tf:
            form, out = FORMS[form_name], FormRun()
            out.skip = form.skip_reason(case, dtype)
            if not out.skip:
                try:
                    out.inputs = make_inputs(case, dtype, constant=weights == "constant")
                    out.inputs_digest = _inputs_digest(out.inputs)
                    gradients = "gradients" in case.checks and weights == "random" and not form.no_gradient
                    out.form_out = form.run(case, out.inputs, dtype, gradients=gradients)
                except Exception:  # noqa: BLE001  a TF crash is reported on every check of the run, with its traceback
                    out.error = traceback.format_exc()
            self._tf[key] = out
        return self._tf[key]

    def put(self, case, form_name: str, dtype: str, tf: FormRun, weights: str = "random"):
        """Put ``tf`` in place of the run of (case, form, dtype): the tests of what a changed TF run does."""
        self._tf[self.key(case, form_name, dtype, weights)] = tf

    def read(self, case, form_name: str, dtype: str, reading: Reading = IDENTITY, weights: str = "random") -> Run:
        """The TF run of ``form_name`` read back through ``reading``, and the reference run on what was read;
        once per process and reading."""
        tf = self.form_run(case, form_name, dtype, weights)
        if reading not in tf.reads:
            tf.reads[reading] = read_back(case, FORMS[form_name], tf, reading)
        return tf.reads[reading]

    def spread(self, case, form_name: str, dtype: str, r: Run):
        """The spread of every tensor of this run's case, dtype and semantics (harness.sensitivity), once."""
        form, inputs = FORMS[form_name], r.inputs
        semantics, gradient_semantics = form.semantics(case), form.gradient_semantics(case)
        key = (
            str(case.path),
            case.name,
            dtype,
            r.tf.inputs_digest,
            repr(sorted(semantics.items())),
            repr(sorted(gradient_semantics.items())),
            repr(sorted(form.sequence(case).items())),
        )
        if key not in self._spreads:
            head = (inputs.head_kernel, inputs.head_bias) if case.num_classes else None
            d_outputs = inputs.loss_weights if "gradients" in case.checks else None
            self._spreads[key] = sensitivity.spread(
                inputs.x,
                inputs.params,
                semantics,
                dtype,
                case.seed,
                head=head,
                d_outputs=d_outputs,
                gradient_semantics=gradient_semantics,
                network=network_of(case, form, inputs),
            )
        return self._spreads[key]

    def separation(self, case, form_name: str, r: Run) -> tuple:
        """(the smallest error a wrong gate layout gives on this run's case, which swap gives it), once."""
        form = FORMS[form_name]
        semantics = form.semantics(case)
        key = (
            str(case.path),
            case.name,
            r.tf.inputs_digest,
            repr(sorted(semantics.items())),
            repr(sorted(form.sequence(case).items())),
        )
        if key not in self._separations:
            self._separations[key] = sensitivity.separation(
                r.inputs.x, r.inputs.params, semantics, network_of(case, form, r.inputs)
            )
        return self._separations[key]


RUNS = Runs()
"""The process's one run cache."""
