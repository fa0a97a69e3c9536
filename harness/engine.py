"""The one engine behind the CLI and pytest: plan the items of a set of cases, run each form once,
and evaluate each check.

An item is (case, form, dtype, check). The TF run and the reference run of a (case, form, dtype) happen
once per process and are shared by all its checks.
"""
from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass, replace

import numpy as np

from harness import compare, layouts, tolerances
from harness.forms import FORMS
from harness.inputs import make_inputs
from reference import dense, lstm_backward, lstm_forward

CHECKS = {"forward": ("weights", "outputs", "final_h", "final_c", "logits"), "gradients": ("grad_weights", "grad_x")}


@dataclass(frozen=True)
class Item:
    """One check of one form of one case in one dtype."""

    case: object
    form: str
    dtype: str
    check: str

    @property
    def run_id(self) -> str:
        """``form-dtype``: the group of items that share one TF run."""
        return f"{self.form}-{self.dtype}"


@dataclass(frozen=True)
class Result:
    """The outcome of one item."""

    item: Item
    status: str  # pass, fail, skip, error, xfail (a documented TF bug, expected to fail)
    max_abs_err: float | None
    tolerance: float | None
    message: str
    digest: str | None = None  # sha256 of TF's tensor(s) for this check: equal digests, equal bits
    sample: tuple = ()  # TF's values at up to SAMPLE evenly spaced elements, for `lstm-equiv drift`
    inputs_digest: str | None = None  # sha256 of x and the injected weights: runs are comparable when equal

    def as_dict(self) -> dict:
        """The item's row of the JSON report."""
        return {
            "case": self.item.case.name, "file": str(self.item.case.path), "line": self.item.case.line,
            "form": self.item.form, "dtype": self.item.dtype, "check": self.item.check,
            "status": self.status, "max_abs_err": self.max_abs_err, "tolerance": self.tolerance,
            "message": self.message, "digest": self.digest, "sample": list(self.sample),
            "inputs_digest": self.inputs_digest,
        }


def checks_of(case) -> list:
    """The checks a case asks for (``checks:`` forward, gradients), ``logits`` only with a head."""
    return [c for kind in case.checks for c in CHECKS[kind] if c != "logits" or case.num_classes]


def plan(cases) -> list:
    """Every item of ``cases``, in a deterministic order (case, form, dtype, check)."""
    return [Item(case, form, dtype, check)
            for case in cases for form in case.forms for dtype in case.dtypes for check in checks_of(case)]


@dataclass
class Run:
    """One (case, form, dtype) run: the form's output, the params read back, the reference's output."""

    inputs: object = None
    form_out: object = None
    params: object = None  # per-gate params read back from TF through the layout
    reference: dict = None
    error: str | None = None
    skip: str | None = None
    reference_grads: object = None  # reference.LSTMGrads, computed when a gradient check first asks
    inputs_digest: str | None = None  # sha256 of x and the injected weights, once per TF run


class Reading:
    """How the harness reads a TF run: the identity here. The self-test's mutations override these
    hooks to read it wrongly on purpose, through the same comparison as real items."""

    def layout(self, layout):
        """The layout the weights are read back through."""
        return layout

    def params(self, params):
        """The per-gate params read back."""
        return params

    def semantics(self, kwargs: dict) -> dict:
        """The reference's configuration."""
        return kwargs

    def x(self, x):
        """The input sequence fed to the reference."""
        return x

    def reference(self, ref: dict) -> dict:
        """The reference's results, as they are lined up against TF's."""
        return ref


_TF_RUNS, _RUNS = {}, {}


def forget_runs():
    """Drop every cached run, so that the next evaluation builds and runs TF again (for the bench)."""
    _TF_RUNS.clear()
    _RUNS.clear()


def tf_run(case, form_name: str, dtype: str, weights: str = "random") -> Run:
    """Build and run ``form_name`` on ``case`` once per process (``weights``: random, or constant for the
    self-test's demonstration of what constant weights miss). The Run holds inputs and TF's output."""
    key = (str(case.path), case.name, form_name, dtype, weights)
    if key not in _TF_RUNS:
        form, out = FORMS[form_name], Run()
        out.skip = form.skip_reason(case, dtype)
        if not out.skip:
            try:
                out.inputs = make_inputs(case, dtype, constant=weights == "constant")
                p = out.inputs.params
                out.inputs_digest = _digest([out.inputs.x, *(a for _, _, a in p.items()),
                                             *([] if p.projection is None else [p.projection])])
                gradients = "gradients" in case.checks and weights == "random" and not form.no_gradient
                out.form_out = form.run(case, out.inputs, dtype, gradients=gradients)
            except Exception:  # a TF crash is reported on every check of the run, with its traceback
                out.error = traceback.format_exc()
        _TF_RUNS[key] = out
    return _TF_RUNS[key]


def read(case, form_name: str, dtype: str, reading: Reading = Reading(), weights: str = "random") -> Run:
    """The TF run of ``form_name`` read back through ``reading``, and the reference run on what was read."""
    form, tf = FORMS[form_name], tf_run(case, form_name, dtype, weights)
    out = Run(inputs=tf.inputs, form_out=tf.form_out, error=tf.error, skip=tf.skip, inputs_digest=tf.inputs_digest)
    if out.skip or out.error:
        return out
    try:
        layout = reading.layout(form.layout)
        out.params = reading.params(layout.split(out.form_out.tensors, case.input_depth, case.forget_bias))
        x64, p64 = reading.x(out.inputs.x.astype(np.float64)), out.params.astype(np.float64)
        outputs, (h, c) = lstm_forward(x64, p64, **reading.semantics(form.semantics(case)))
        ref = {"outputs": outputs, "final_h": h, "final_c": c}
        if case.num_classes:
            ref["logits"] = dense(outputs[:, -1], out.inputs.head_kernel.astype(np.float64),
                                  out.inputs.head_bias.astype(np.float64))
        out.reference = reading.reference(ref)
    except Exception:
        out.error = traceback.format_exc()
    return out


class _ReadAs(Reading):
    def __init__(self, layout):
        self._layout = layout

    def layout(self, layout):
        return self._layout


def run(case, form_name: str, dtype: str, read_layout=None) -> Run:
    """Run ``form_name`` on ``case`` in ``dtype`` and the reference on what it holds; cached per process.

    ``read_layout`` replaces the form's layout when reading its weights back: the self-tests use it to
    show that a wrong layout is caught.
    """
    layout = read_layout or FORMS[form_name].layout
    key = (str(case.path), case.name, form_name, dtype, layout)
    if key not in _RUNS:
        _RUNS[key] = read(case, form_name, dtype, _ReadAs(layout))
    return _RUNS[key]


def evaluate(item: Item, read_layout=None) -> Result:
    """Run (or reuse) the item's run and evaluate its check."""
    r = run(item.case, item.form, item.dtype, read_layout)
    return replace(_evaluate(item, r, read_layout), inputs_digest=r.inputs_digest)


def _evaluate(item: Item, r: Run, read_layout) -> Result:
    if r.skip:
        return Result(item, "skip", None, None, r.skip)
    if r.error:
        return Result(item, "error", None, None, f"{_what(item)}\nThe run raised:\n{r.error}")
    if item.check == "weights":
        return _check_weights(item, r, read_layout or FORMS[item.form].layout)
    if item.check.startswith("grad_"):
        return _check_gradients(item, r, read_layout or FORMS[item.form].layout)
    tol = tolerances.for_case(item.case, item.dtype)
    actual = {"outputs": r.form_out.outputs, "final_h": r.form_out.h, "final_c": r.form_out.c,
              "logits": r.form_out.logits}[item.check]
    axes = {"outputs": ("batch", "timestep", "unit"), "logits": ("batch", "class")}.get(item.check, ("batch", "unit"))
    outcome = compare.compare(actual, r.reference[item.check], tol, _what(item), axes, ulp_dtype=item.dtype)
    return Result(item, "pass" if outcome.passed else "fail", outcome.max_abs_err, tol.atol, outcome.message,
                  _digest([actual]), _sample(actual))


SAMPLE = 64


def _sample(a) -> tuple:
    """Up to SAMPLE values of ``a``, evenly spaced over its flattened elements, first and last included."""
    flat = np.asarray(a).ravel()
    if flat.size == 0:
        return ()
    idx = np.unique(np.linspace(0, flat.size - 1, min(flat.size, SAMPLE)).round().astype(int))
    return tuple(float(v) for v in flat[idx])


def _digest(arrays) -> str:
    """sha256 over the dtype, shape and bytes of each array."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _what(item: Item) -> str:
    c = item.case
    return (f"case {c.name} ({c.where}), form {item.form}, dtype {item.dtype}, check {item.check}: "
            f"TF against the per-gate float64 reference")


def _check_weights(item: Item, r: Run, layout) -> Result:
    """Shapes as the layout says; each gate block read back equals what was injected; the BasicLSTMCell
    stacked kernel composed from them has its documented shape and splits back to the same params."""
    case, problems = item.case, []
    n_in, n = case.input_depth, case.num_units
    expected = layout.shapes(n_in, n, case.num_proj, case.use_peepholes)
    got = {name: tuple(t.shape) for name, t in r.form_out.tensors.items()}
    if got != expected:
        problems.append(f"TF's variables have shapes {got}; layout {layout.name} expects {expected} ({layout.about})")
    else:
        problems += _gate_mismatches(r.inputs.params, r.params, layout, case, item.dtype)
    stacked = layouts.BASIC_LSTM_CELL.compose(r.params, case.forget_bias)
    want = {"kernel": (n_in + case.h_depth, 4 * n), "bias": (4 * n,)}
    have = {k: tuple(stacked[k].shape) for k in want}
    if have != want:
        problems.append(f"BasicLSTMCell stacked form has shapes {have}, expected {want}: kernel rows are "
                        f"input_depth {n_in} x-rows then h_depth {case.h_depth} h-rows, columns 4 x {n} "
                        f"gate blocks i j f o")
    back = layouts.BASIC_LSTM_CELL.split(stacked, n_in, case.forget_bias)
    for part, g, a in back.items():
        if not np.array_equal(a, getattr(r.params, part)[g]):
            problems.append(f"splitting the BasicLSTMCell stacked kernel back changed {part}[{g!r}]")
    tol, digest = tolerances.EXACT, _digest(r.form_out.tensors[k] for k in sorted(r.form_out.tensors))
    if problems:
        return Result(item, "fail", None, tol.atol, "\n".join([_what(item), *problems]), digest)
    return Result(item, "pass", 0.0, tol.atol, "", digest)


def _gate_mismatches(injected, read, layout, case, dtype) -> list:
    """Name every gate block that was read back from the wrong place, and say whose block it holds."""
    # bias f goes through (b_f + forget_bias) - forget_bias in the run's dtype: allow that rounding only
    slack = 4 * np.finfo(dtype).eps * (1.0 + abs(case.forget_bias))
    out = []
    if (read.projection is None) != (injected.projection is None) or (
            read.projection is not None and not _close(read.projection, injected.projection, 0.0)):
        out.append(f"the projection read from {layout.projection} (layout {layout.name}) differs from the injected one")
    for part, g, a in read.items():
        want = getattr(injected, part)
        if want is None or g not in want:
            out.append(f"{part}[{g!r}] was read back (layout {layout.name}) but none was injected")
            continue
        if _close(a, want[g], slack):
            continue
        where = layout.where(part, g, case.input_depth, case.num_units, case.h_depth)
        owner = [h for h in want if h != g and _close(a, want[h], slack)]
        whose = f"it holds the block injected as {part}[{owner[0]!r}]" if owner else "it matches no injected gate block"
        out.append(f"gate block {part}[{g!r}] read from {where} (layout {layout.name}) differs from the "
                   f"injected {part}[{g!r}]: {whose}")
    return out


def _close(a, b, slack) -> bool:
    return a.shape == b.shape and np.allclose(a, b, rtol=0.0, atol=slack)


def _reference_grads(item: Item, r: Run):
    """The reference's BPTT gradients for this run's params and loss, once per run."""
    if r.reference_grads is None:
        case, form = item.case, FORMS[item.form]
        p64, x64 = r.params.astype(np.float64), r.inputs.x.astype(np.float64)
        r.reference_grads = lstm_backward(x64, p64, r.inputs.loss_weights.astype(np.float64), **form.semantics(case),
                                          **form.gradient_semantics(case))
    return r.reference_grads


def _check_gradients(item: Item, r: Run, layout) -> Result:
    """TF's gradients, cut into gate blocks through the form's layout, against the reference's, block by
    block; each block within the tolerance times the block's own scale (its largest reference entry)."""
    form, case = FORMS[item.form], item.case
    if form.no_gradient:
        return Result(item, "skip", None, None, f"{item.form}: {form.no_gradient}")
    tol = tolerances.gradient(case, item.dtype)
    ref = _reference_grads(item, r)
    grads = r.form_out.grads
    if item.check == "grad_x":
        blocks = [("d loss / d x", grads["x"], ref.x)]
    else:
        tf_params = layout.split({k: v for k, v in grads.items() if k != "x"}, case.input_depth, forget_bias=0.0)
        blocks = [(f"d loss / d {part}[{g!r}] ({layout.where(part, g, case.input_depth, case.num_units, case.h_depth)})",
                   a, getattr(ref.params, part)[g]) for part, g, a in tf_params.items()]
        if ref.params.projection is not None:
            blocks.append((f"d loss / d projection ({layout.projection})", tf_params.projection, ref.params.projection))
    worst, failures = 0.0, []
    for label, actual, desired in blocks:
        scale = max(1.0, float(np.abs(desired).max()))
        scaled = replace(tol, atol=tol.atol * scale)
        axes = ("batch", "timestep", "feature") if np.ndim(desired) == 3 else ("row", "column")[:np.ndim(desired)]
        outcome = compare.compare(actual, desired, scaled, f"{_what(item)}: {label}", axes, ulp_dtype=item.dtype)
        if outcome.max_abs_err is not None:
            worst = max(worst, outcome.max_abs_err / scale)
        if not outcome.passed:
            failures.append(outcome.message)
    digest = _digest([actual for _, actual, _ in blocks])
    if form.gradient_bug:  # expected to fail; passing means TF fixed it, which must be noticed too
        if failures:
            return Result(item, "xfail", worst, tol.atol, f"{item.form}: known TF bug: {form.gradient_bug}", digest)
        return Result(item, "fail", worst, tol.atol, f"{_what(item)}: expected the known TF bug ({form.gradient_bug}) "
                      "but the gradients now match the reference: TF fixed it; drop gradient_bug in harness/forms",
                      digest)
    if failures:
        return Result(item, "fail", worst, tol.atol, "\n\n".join(failures), digest)
    return Result(item, "pass", worst, tol.atol, "", digest)
