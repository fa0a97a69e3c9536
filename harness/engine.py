"""The one engine behind the CLI and pytest: plan the items of a set of cases, run each form once,
and evaluate each check.

An item is (case, form, dtype, check). The TF run and the reference run of a (case, form, dtype) happen
once per process and are shared by all its checks.
"""
from __future__ import annotations

import hashlib
import traceback
from dataclasses import dataclass, field, replace

import numpy as np

from harness import compare, layouts, sensitivity, tolerances
from harness.forms import FORMS
from harness.inputs import loss_weights, make_inputs
from reference import GATES, dense, gru_backward, gru_forward, network_backward, network_forward

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


STATUSES = ("pass", "fail", "error", "undecided", "skip", "xfail")  # every status a Result can have, in report order


def unexpected_undecided(status: str, flag) -> bool:
    """An undecided item whose case does not say ``expect_undecided``: what makes run and gather exit 3, the
    report's verdict UNDECIDED and the pytest item fail (the one rule, for Results and report rows alike)."""
    return status == "undecided" and flag != "expected"


@dataclass(frozen=True)
class Result:
    """The outcome of one item."""

    item: Item
    status: str  # pass, fail, error, undecided (passed a bound no dtype can decide with), skip, xfail (a
    #              documented TF bug, expected to fail)
    max_abs_err: float | None
    tolerance: float | None
    message: str
    digest: str | None = None  # sha256 of TF's tensor(s) for this check: equal digests, equal bits
    sample: tuple = ()  # TF's values at up to SAMPLE evenly spaced elements, for `lstm-equiv drift`
    inputs_digest: str | None = None  # sha256 of x and the injected weights: runs are comparable when equal
    compared: tuple = ()  # every tensor or block this check compared, by name
    ratio: float | None = None  # max abs error over its bound: below 1 passes; 1 / ratio is the headroom
    flag: str | None = None  # ill-conditioned: a pass only float64 decides; expected: an undecided item whose
    #                          case declares expect_undecided

    def as_dict(self) -> dict:
        """The item's row of the JSON report."""
        return {
            "case": self.item.case.name, "file": str(self.item.case.path), "line": self.item.case.line,
            "form": self.item.form, "dtype": self.item.dtype, "check": self.item.check,
            "status": self.status, "max_abs_err": self.max_abs_err, "tolerance": self.tolerance,
            "message": self.message, "digest": self.digest, "sample": list(self.sample),
            "inputs_digest": self.inputs_digest, "compared": list(self.compared), "ratio": self.ratio,
            "flag": self.flag,
        }


def checks_of(case) -> list:
    """The checks a case asks for (``checks:`` forward, gradients), ``logits`` only with a head."""
    return [c for kind in case.checks for c in CHECKS[kind]
            if (c != "logits" or case.num_classes) and (c != "final_c" or case.cell == "lstm")]  # a GRU has no c


def plan(cases) -> list:
    """Every item of ``cases``, in a deterministic order (case, form, dtype, check)."""
    return [Item(case, form, dtype, check)
            for case in cases for form in case.forms for dtype in case.dtypes for check in checks_of(case)]


@dataclass
class TFRun:
    """One (case, form, dtype, weights) run of TF: its inputs and output, built and run once per process.
    Every reading of it (the right one, the self-test's wrong ones) is kept in ``reads``."""

    inputs: object = None
    form_out: object = None
    error: str | None = None
    skip: str | None = None
    inputs_digest: str | None = None  # sha256 of x and the injected weights
    reads: dict = field(default_factory=dict)  # Reading -> Run


@dataclass
class Run:
    """A TF run read back through a :class:`Reading`: the params read, the reference run on them."""

    tf: TFRun
    layout: object = None  # the layout the weights were read through
    params: object = None  # per-gate params read back from TF through the layout (the first cell's)
    cells: tuple = ()  # every cell's params read back, layer by layer, forward before backward
    reference: dict = None  # outputs, final_h, final_c (and logits) of the reference
    error: str | None = None
    reference_grads: object = None  # reference.LSTMGrads, computed when a gradient check first asks

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
        """The reference's gradients (a reference.LSTMGrads), as they are lined up against TF's."""
        return grads


IDENTITY = Reading()


@dataclass(frozen=True)
class ReadAs(Reading):
    """Read the weights back through another layout (a wrong one, in the tests of wrong layouts)."""

    other: object = None

    def layout(self, layout):
        return self.other


_RUNS = {}  # (case file, case name, form, dtype, weights) -> TFRun: the one run cache


def forget_runs():
    """Drop every cached run, so that the next evaluation builds and runs TF again (for the bench)."""
    _RUNS.clear()
    _SPREADS.clear()
    _SEPARATIONS.clear()


def tf_run(case, form_name: str, dtype: str, weights: str = "random") -> TFRun:
    """Build and run ``form_name`` on ``case`` once per process (``weights``: random, or constant for the
    self-test's demonstration of what constant weights miss)."""
    key = (str(case.path), case.name, form_name, dtype, weights)
    if key not in _RUNS:
        form, out = FORMS[form_name], TFRun()
        out.skip = form.skip_reason(case, dtype)
        if not out.skip:
            try:
                out.inputs = make_inputs(case, dtype, constant=weights == "constant")
                p = out.inputs.params
                more = [a for q in out.inputs.cells[1:] for _, _, a in q.items()]  # beyond one cell, when any
                more += [a for q in out.inputs.cells[1:] if q.projection is not None for a in [q.projection]]
                more += [*(out.inputs.h0 or ()), *(out.inputs.c0 or ())]
                more += [] if out.inputs.lengths is None else [out.inputs.lengths]
                out.inputs_digest = _digest([out.inputs.x, *(a for _, _, a in p.items()),
                                             *([] if getattr(p, "projection", None) is None else [p.projection]),
                                             *more])
                gradients = "gradients" in case.checks and weights == "random" and not form.no_gradient
                out.form_out = form.run(case, out.inputs, dtype, gradients=gradients)
            except Exception:  # noqa: BLE001  a TF crash is reported on every check of the run, with its traceback
                out.error = traceback.format_exc()
        _RUNS[key] = out
    return _RUNS[key]


def read(case, form_name: str, dtype: str, reading: Reading = IDENTITY, weights: str = "random") -> Run:
    """The TF run of ``form_name`` read back through ``reading``, and the reference run on what was read;
    once per process and reading."""
    tf = tf_run(case, form_name, dtype, weights)
    if reading not in tf.reads:
        tf.reads[reading] = _read(case, FORMS[form_name], tf, reading)
    return tf.reads[reading]


def _read(case, form, tf: TFRun, reading: Reading) -> Run:
    out = Run(tf, error=tf.error)
    if tf.skip or tf.error:
        return out
    if case.cell == "gru":
        return _read_gru(case, form, tf, reading, out)
    try:
        out.layout = reading.layout(form.layout_for(case))
        out.cells = tuple(reading.cells(tuple(
            reading.params(out.layout.split(t, case.cell_input_depth(k), case.forget_bias))
            for k, t in enumerate(cell_tensors(tf.form_out)))))
        out.params = out.cells[0]
        x64 = reading.x(tf.inputs.x.astype(np.float64))
        cells64 = tuple(p.astype(np.float64) for p in out.cells)
        h0, c0 = _states64(tf.inputs)
        outputs, (h, c) = reading.forward(network_forward)(
            x64, cells64, h0, c0, **reading.sequence(form.sequence(case)), **reading.semantics(form.semantics(case)))
        if case.cells == 1:
            h, c = h[0], c[0]
        ref = {"outputs": outputs, "final_h": h, "final_c": c}
        if case.num_classes:
            ref["logits"] = dense(outputs[:, -1], tf.inputs.head_kernel.astype(np.float64),
                                  tf.inputs.head_bias.astype(np.float64))
        out.reference = reading.reference(ref)
    except Exception:  # noqa: BLE001  a reading that crashes is this run's error, with its traceback
        out.error = traceback.format_exc()
    return out


def _read_gru(case, form, tf: TFRun, reading: Reading, out: Run) -> Run:
    """_read for a GRU case: one cell, the GRU reference (reference.gru_forward)."""
    try:
        out.layout = reading.layout(form.layout_for(case))
        out.params = reading.params(out.layout.split(tf.form_out.tensors, case.input_depth, case.reset_after))
        out.cells = (out.params,)
        x64, p64 = reading.x(tf.inputs.x.astype(np.float64)), out.params.astype(np.float64)
        h0 = None if tf.inputs.h0 is None else tf.inputs.h0[0].astype(np.float64)
        outputs, h = reading.forward(gru_forward)(x64, p64, h0, **reading.semantics(form.semantics(case)))
        ref = {"outputs": outputs, "final_h": h}
        if case.num_classes:
            ref["logits"] = dense(outputs[:, -1], tf.inputs.head_kernel.astype(np.float64),
                                  tf.inputs.head_bias.astype(np.float64))
        out.reference = reading.reference(ref)
    except Exception:  # noqa: BLE001  a reading that crashes is this run's error, with its traceback
        out.error = traceback.format_exc()
    return out


def cell_tensors(form_out) -> tuple:
    """The layout tensors of every cell a form ran (one dict per cell, in the case's cell order)."""
    return form_out.cells or (form_out.tensors,)


def cell_grads(form_out) -> tuple:
    """d loss / d every layout tensor, one dict per cell (the form's ``x`` gradient left out)."""
    return form_out.cell_grads or ({k: v for k, v in form_out.grads.items() if k != "x"},)


def _states64(inputs) -> tuple:
    """The initial states given to every cell, in float64 (None: zeros)."""
    widen = lambda s: None if s is None else tuple(a.astype(np.float64) for a in s)
    return widen(inputs.h0), widen(inputs.c0)


def network_of(case, form, inputs) -> sensitivity.Network:
    """The case's cells, initial states and sequence keywords as the form computes them."""
    return sensitivity.Network(inputs.cells, inputs.h0, inputs.c0, form.sequence(case),
                               tuple(case.cell_name(k) for k in range(case.cells)))


def evaluate(item: Item, reading: Reading = IDENTITY, weights: str = "random") -> Result:
    """Run (or reuse) the item's run, read it through ``reading``, and evaluate its check: the one
    evaluation path of real items and of the self-test."""
    r = read(item.case, item.form, item.dtype, reading, weights)
    try:
        result = _evaluate(item, r, reading)
    except Exception:  # noqa: BLE001  the harness's own crash is an error too, never a pass
        result = Result(item, "error", None, None, f"{_what(item)}\nThe check raised:\n{traceback.format_exc()}")
    return replace(result, inputs_digest=r.tf.inputs_digest)


def _evaluate(item: Item, r: Run, reading: Reading) -> Result:
    if r.skip:
        return Result(item, "skip", None, None, r.skip)
    if r.error:
        return Result(item, "error", None, None, f"{_what(item)}\nThe run raised:\n{r.error}")
    if item.check == "weights":
        return _check_weights(item, r)
    if item.check.startswith("grad_"):
        return _check_gradients(item, r, reading)
    actual = {"outputs": r.form_out.outputs, "final_h": r.form_out.h, "final_c": r.form_out.c,
              "logits": r.form_out.logits}[item.check]
    tol = _tolerance(item, r)
    axes = {"outputs": ("batch", "timestep", "unit"), "logits": ("batch", "class")}.get(item.check, ("batch", "unit"))
    outcome = compare.compare(actual, r.reference[item.check], tol, _what(item), axes, ulp_dtype=item.dtype)
    status, message, flag = _verdict(item, r, outcome.passed, outcome.message, outcome.max_abs_err is None)
    return Result(item, status, outcome.max_abs_err, tol.largest, message, _digest([actual]), _sample(actual),
                  compared=(item.check,), ratio=outcome.ratio, flag=flag)


def _verdict(item: Item, r: Run, passed: bool, message: str, structural: bool = False) -> tuple:
    """(status, message, flag) of a computed value against its bound. A pass proves the layout only where
    the bound separates it from a wrong one (:func:`_conditioning`). Where no dtype does, an error past the
    bound is no evidence either (the chaotic runs the bound is drawn from are heavy-tailed: a float32
    gradient block of 1e23 reached 0.74 of its bound in the sweep), so it is undecided too, unless it is
    structural (a shape, a missing block, a NaN or inf, a gradient through padding), which no rounding
    explains."""
    if not passed and structural:
        return "fail", message, None
    conditioning = _conditioning(item, r)
    if conditioning is None or (not passed and conditioning[0] == "pass"):
        return ("pass" if passed else "fail"), message, None
    status, why = conditioning
    if status == "pass":
        return "pass", why, "ill-conditioned"
    expected = item.case.expect_undecided
    why += (f"; the case expects it: {expected}" if expected else
            f"; if that is expected, say why with expect_undecided in {item.case.where}")
    if not passed:
        why += ("\nIt exceeded even that bound, which on such a case is no evidence of a wrong layout either:\n"
                + message)
    return "undecided", why, "expected" if expected else None


def _tolerance(item: Item, r: Run) -> tolerances.Tolerance:
    """The bound of a forward value check (outputs: one per timestep, as [1, timesteps, 1]), or the override."""
    spread = _spread(item, r)
    scale = spread.outputs[None, :, None] if item.check == "outputs" else getattr(spread, item.check)
    derived = tolerances.derived(scale, r.reference[item.check], item.dtype, item.check)
    return tolerances.for_case(item.case, item.dtype, derived)


def outputs_tolerance(case, form_name: str, dtype: str) -> tolerances.Tolerance:
    """The bound of the outputs check of (case, form, dtype): one per timestep, or the case's override."""
    return _tolerance(Item(case, form_name, dtype, "outputs"), read(case, form_name, dtype))


_SPREADS, _SEPARATIONS = {}, {}  # derived from the case alone: shared by every form with the same semantics


def _spread(item: Item, r: Run):
    """The spread of every tensor of this run's case, dtype and semantics (harness.sensitivity), once."""
    case, form, inputs = item.case, FORMS[item.form], r.inputs
    semantics, gradient_semantics = form.semantics(case), form.gradient_semantics(case)
    key = (str(case.path), case.name, item.dtype, r.tf.inputs_digest, repr(sorted(semantics.items())),
           repr(sorted(gradient_semantics.items())), repr(sorted(form.sequence(case).items())))
    if key not in _SPREADS:
        head = (inputs.head_kernel, inputs.head_bias) if case.num_classes else None
        d_outputs = inputs.loss_weights if "gradients" in case.checks else None
        _SPREADS[key] = sensitivity.spread(inputs.x, inputs.params, semantics, item.dtype, case.seed, head=head,
                                           d_outputs=d_outputs, gradient_semantics=gradient_semantics,
                                           network=network_of(case, form, inputs))
    return _SPREADS[key]


def _outputs_bound(item: Item, r: Run, dtype: str) -> float:
    """The largest bound of the outputs of ``item``'s run in ``dtype`` (float64's derived without TF for a
    float32 run: on the same weights, what a float64 run of the case would be held to)."""
    return _tolerance(replace(item, check="outputs", dtype=dtype), r).largest


def _conditioning(item: Item, r: Run) -> tuple | None:
    """None when the item's dtype separates a wrong gate layout from rounding on this case: its outputs bound
    is more than SEPARATION times below the smallest error a wrong layout gives. Else ("pass", why) when
    float64 still separates them (the case is decided there), or ("undecided", why) when no dtype does."""
    if item.dtype in item.case.tolerance:
        return None
    case, form = item.case, FORMS[item.form]
    semantics = form.semantics(case)
    key = (str(case.path), case.name, r.tf.inputs_digest, repr(sorted(semantics.items())),
           repr(sorted(form.sequence(case).items())))
    if key not in _SEPARATIONS:
        _SEPARATIONS[key] = sensitivity.separation(r.inputs.x, r.inputs.params, semantics,
                                                   network_of(case, form, r.inputs))
    smallest, swap = _SEPARATIONS[key]
    separates = lambda bound: not swap or bound * tolerances.SEPARATION < smallest
    bound = _outputs_bound(item, r, item.dtype)
    if separates(bound):
        return None
    within = (f"within {tolerances.SEPARATION:g}x of {smallest:.3g}, the smallest error a wrong gate layout gives "
              f"on this case ({swap})")
    bound64 = bound if item.dtype == "float64" else _outputs_bound(item, r, "float64")
    if separates(bound64):
        return "pass", (f"ill-conditioned: {item.dtype} cannot separate a wrong layout here (the derived bound on "
                        f"the outputs, {bound:.3g}, is {within}); float64 still can (its bound: {bound64:.3g})")
    return "undecided", (f"undecided: no dtype can separate a wrong gate layout from rounding on this case: the "
                         f"derived float64 bound on the outputs, {bound64:.3g}, is {within}."
                         " Its dynamics amplify rounding until any correct float64 run may differ by that much "
                         "(large weights, long sequences: docs/tolerances.md), so this check passed a bound that "
                         "proves nothing about the layout")


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


def _check_weights(item: Item, r: Run) -> Result:
    """Shapes as the layout says; every gate block read back through the layout equals, bit for bit, the
    same block of the injected weights taken through the same layout; the BasicLSTMCell stacked kernel
    composed from them has its documented shape and splits back to the same params."""
    if item.case.cell == "gru":
        return _check_gru_weights(item, r)
    case, problems, layout, compared = item.case, [], r.layout, []
    tensors = cell_tensors(r.form_out)
    if len(tensors) != case.cells or len(r.cells) != case.cells:
        problems.append(f"the form returned the weights of {len(tensors)} cell(s), read back as {len(r.cells)}; the "
                        f"case has {case.cells} ({case.layers} layer(s) x {case.directions} direction(s))")
    for k, (cell_tensors_k, read_k) in enumerate(zip(tensors, r.cells)):
        injected_k = r.inputs.cells[k] if k < len(r.inputs.cells) else None
        more, names = _check_cell_weights(case, k, layout, cell_tensors_k, read_k, injected_k)
        if injected_k is not None and len(layout.biases) > 1 and not more:
            stored = layout.compose(injected_k, case.forget_bias, r.inputs.bias_shares[k])
            more, names = more + _two_biases(layout.biases, cell_tensors_k, stored), names + list(layout.biases)
        cell = case.cell_name(k)
        problems += [f"{cell}: {p}" if cell else p for p in more]
        compared += [f"{cell} {n}" if cell else n for n in names]
    tol = tolerances.EXACT
    digest = _digest(t[k] for t in tensors for k in sorted(t))
    status = "fail" if problems else "pass"
    return Result(item, status, None if problems else 0.0, tol.atol,
                  "\n".join([_what(item), f"Tolerance: {tol.source}", *problems]) if problems else "", digest,
                  compared=tuple(compared))


def _check_gru_weights(item: Item, r: Run) -> Result:
    """A GRU's weights: shapes as the layout says; every gate block read back equals, bit for bit, the
    injected one taken through the same layout; TF1's GRUCell form composed from them (gates/kernel
    [input_depth + u, 2u], candidate/kernel [input_depth + u, u]) splits back unchanged."""
    case, layout, problems = item.case, r.layout, []
    n_in, n = case.input_depth, case.num_units
    tensors = r.form_out.tensors
    expected, got = layout.shapes(n_in, n), {name: tuple(t.shape) for name, t in tensors.items()}
    compared = ["shapes"]
    if got != expected:
        problems.append(f"TF's variables have shapes {got}; layout {layout.name} expects {expected} ({layout.about})")
    else:
        injected = layout.split(layout.compose(r.inputs.params, r.inputs.bias_share), n_in, case.reset_after)
        for part, g, a in r.params.items():
            compared.append(_block_name(part, g))
            want = getattr(injected, part)
            if want is None or not _equal(a, want[g]):
                owner = [h for h in (want or {}) if h != g and _equal(a, want[h])]
                whose = (f"it holds the block injected as {part}[{owner[0]!r}]" if owner else
                         "it matches no injected gate block")
                problems.append(f"gate block {part}[{g!r}] read from {layout.where(part, g, n_in, n)} (layout "
                                f"{layout.name}) differs from the injected {part}[{g!r}]: {whose}")
        if layout.two_biases:  # each stored bias bit for bit: a sum of two can round an error away
            stored = layout.compose(r.inputs.params, r.inputs.bias_share)
            names = [t.name for t in layout.tensors if t.holds in ("b", "b_h")]
            problems += _two_biases(names, tensors, stored)
            compared += names
        if (injected.b_h is None) != (r.params.b_h is None):
            problems.append(f"recurrent biases were {'injected' if injected.b_h is not None else 'not injected'} "
                            f"but {'none' if r.params.b_h is None else 'some'} were read back (layout {layout.name})")
    if r.params.b_h is None:  # TF1's GRUCell holds one bias: the reset before the product
        cell = layouts.GRU_CELL.compose(r.params)
        compared.append("GRUCell gates/kernel and candidate/kernel")
        want = {"gates/kernel": (n_in + n, 2 * n), "candidate/kernel": (n_in + n, n)}
        if {k: tuple(cell[k].shape) for k in want} != want:
            problems.append(f"GRUCell's kernels have shapes {[cell[k].shape for k in want]}, expected {want}")
        back = layouts.GRU_CELL.split(cell, n_in, False)
        problems += [f"splitting GRUCell's kernels back changed {part}[{g!r}]" for part, g, a in back.items()
                     if not np.array_equal(a, getattr(r.params, part)[g])]
    tol, digest = tolerances.EXACT, _digest(tensors[k] for k in sorted(tensors))
    status = "fail" if problems else "pass"
    return Result(item, status, None if problems else 0.0, tol.atol,
                  "\n".join([_what(item), f"Tolerance: {tol.source}", *problems]) if problems else "", digest,
                  compared=tuple(compared))


def _check_cell_weights(case, k: int, layout, tensors: dict, read, injected_params) -> tuple:
    """(problems, what was compared) of one cell's weights: shapes as the layout says; every gate block read
    back through the layout equals, bit for bit, the injected one taken through the same layout; the
    BasicLSTMCell stacked kernel composed from them has its documented shape and splits back unchanged."""
    problems, compared = [], ["shapes"]
    n_in, n = case.cell_input_depth(k), case.num_units
    expected = layout.shapes(n_in, n, case.num_proj, case.use_peepholes)
    got = {name: tuple(t.shape) for name, t in tensors.items()}
    if got != expected:
        problems.append(f"TF's variables have shapes {got}; layout {layout.name} expects {expected} ({layout.about})")
    elif injected_params is not None:
        # the same arithmetic on both sides (a stored forget bias is added, then taken off again), so a
        # right reading is equal bit for bit, with no slack
        injected = layout.split(layout.compose(injected_params, case.forget_bias), n_in, case.forget_bias)
        compared += [_block_name(part, g) for part, g, _ in read.items()]
        compared += ["projection"] if read.projection is not None or injected.projection is not None else []
        problems += _gate_mismatches(injected, read, layout, case, n_in)
    stacked = layouts.BASIC_LSTM_CELL.compose(read, case.forget_bias)
    want = {"kernel": (n_in + case.h_depth, 4 * n), "bias": (4 * n,)}
    have = {name: tuple(stacked[name].shape) for name in want}
    compared.append("BasicLSTMCell stacked kernel and bias")
    if have != want:
        problems.append(f"BasicLSTMCell stacked form has shapes {have}, expected {want}: kernel rows are "
                        f"input_depth {n_in} x-rows then h_depth {case.h_depth} h-rows, columns 4 x {n} "
                        f"gate blocks i j f o")
    back = layouts.BASIC_LSTM_CELL.split(stacked, n_in, case.forget_bias)
    for part, g, a in back.items():
        if not np.array_equal(a, getattr(read, part)[g]):
            problems.append(f"splitting the BasicLSTMCell stacked kernel back changed {part}[{g!r}]")
    return problems, compared


def _two_biases(names, tensors: dict, injected: dict) -> list:
    """Each stored bias of a layout that adds two (PyTorch's bias_ih and bias_hh, ONNX's Wb and Rb), bit for
    bit against the one injected: their sum, which the gate blocks compare, can round a one-ULP error in
    either of them away (measured: one ULP in a bias_hh element left the sum unchanged)."""
    out = []
    for name in names:  # shapes were checked before
        a, want = np.asarray(tensors[name]), np.asarray(injected[name]).astype(np.asarray(tensors[name]).dtype)
        off = np.flatnonzero(a != want)
        if off.size:
            out.append(f"the stored {name} differs from the one injected at {off.size} of {a.size} elements (first at "
                       f"flat index {off[0]}: {a.flat[off[0]]!r} against {want.flat[off[0]]!r}); each of the biases "
                       "the form adds is compared on its own, bit for bit")
    return out


def _block_name(part: str, gate: str) -> str:
    return f"{part}[{gate!r}]"


def _gate_mismatches(injected, read, layout, case, n_in: int) -> list:
    """Name every gate block that was read back from the wrong place, and say whose block it holds."""
    out = []
    if (read.projection is None) != (injected.projection is None) or (
            read.projection is not None and not _equal(read.projection, injected.projection)):
        out.append(f"the projection read from {layout.projection} (layout {layout.name}) differs from the injected one")
    for part, g, a in read.items():
        want = getattr(injected, part)
        if want is None or g not in want:
            out.append(f"{part}[{g!r}] was read back (layout {layout.name}) but none was injected")
            continue
        if _equal(a, want[g]):
            continue
        where = layout.where(part, g, n_in, case.num_units, case.h_depth)
        owner = [h for h in want if h != g and _equal(a, want[h])]
        whose = f"it holds the block injected as {part}[{owner[0]!r}]" if owner else "it matches no injected gate block"
        out.append(f"gate block {part}[{g!r}] read from {where} (layout {layout.name}) differs from the "
                   f"injected {part}[{g!r}]: {whose}")
    if injected.peephole is not None and read.peephole is None:
        out.append(f"peephole diagonals were injected but none were read back (layout {layout.name})")
    return out


def _equal(a, b) -> bool:
    return np.shape(a) == np.shape(b) and np.array_equal(a, b)


def _reference_grads(item: Item, r: Run, reading: Reading):
    """The reference's BPTT gradients for this reading's params, semantics, x and loss, once per run."""
    if r.reference_grads is None and item.case.cell == "gru":
        case, form = item.case, FORMS[item.form]
        x64 = reading.x(r.inputs.x.astype(np.float64))
        d_outputs = loss_weights(r.inputs.loss_draw, reading.loss(case.loss)).astype(np.float64)
        h0 = None if r.inputs.h0 is None else r.inputs.h0[0].astype(np.float64)
        r.reference_grads = reading.gradients(gru_backward(x64, r.params.astype(np.float64), d_outputs, h0,
                                                           **reading.semantics(form.semantics(case))))
    if r.reference_grads is None:
        case, form = item.case, FORMS[item.form]
        cells64 = tuple(p.astype(np.float64) for p in r.cells)
        x64 = reading.x(r.inputs.x.astype(np.float64))
        d_outputs = loss_weights(r.inputs.loss_draw, reading.loss(case.loss)).astype(np.float64)
        h0, c0 = _states64(r.inputs)
        r.reference_grads = reading.gradients(network_backward(
            x64, cells64, d_outputs, h0, c0, **reading.sequence(form.sequence(case)),
            **reading.semantics(form.semantics(case)), **form.gradient_semantics(case)))
    return r.reference_grads


def _grad_blocks(item: Item, layout, grads: dict, ref) -> list:
    """(label, TF's block, the reference's block) for every block of ``item``'s gradient check, cell by
    cell (``grads``: {"x": ..., "cells": one dict of layout tensors per cell}; ``ref``: a
    reference.NetworkGrads). A layout with two biases (PyTorch's bias_ih and bias_hh, ONNX's Wb and Rb)
    has d loss / d b in each of them: both are compared with the reference's."""
    case = item.case
    if item.check == "grad_x":
        return [("d loss / d x", grads["x"], ref.x)]
    if case.cell == "gru":
        return _gru_grad_blocks(case, layout, grads["cells"][0], ref.params)
    blocks = []
    tf_cells = grads["cells"]
    if len(tf_cells) != len(ref.cells):
        return [(f"d loss / d the cells (TF has {len(tf_cells)}, the reference {len(ref.cells)})", None, None)]
    for k, (tensors, theirs_k) in enumerate(zip(tf_cells, ref.cells)):
        blocks += _cell_grad_blocks(case, k, layout, tensors, theirs_k)
    return blocks


def _gru_grad_blocks(case, layout, tensors: dict, ref_params) -> list:
    """A GRU's (label, TF's block, the reference's block): V, W, b of every gate and, where the layout
    stores recurrent biases, b_h (with the reset before the product, d loss / d b_h equals d loss / d b:
    both stored biases are compared with the reference's d b)."""
    n_in, n = case.input_depth, case.num_units
    tf_params = layout.split(tensors, n_in, True)
    blocks = []
    for part in ("V", "W", "b", "b_h"):
        ours = getattr(tf_params, part) or {}
        theirs = getattr(ref_params, "b" if part == "b_h" and not case.reset_after else part)
        for g in ours:
            blocks.append((f"d loss / d {_block_name(part, g)} ({layout.where(part, g, n_in, n)})", ours[g], theirs[g]))
    return blocks


def _cell_grad_blocks(case, k: int, layout, tensors: dict, ref_params) -> list:
    """One cell's (label, TF's block, the reference's block)."""
    n_in, cell = case.cell_input_depth(k), case.cell_name(k)
    name = lambda part, g=None: sensitivity.block_name(cell, part, g)
    first = replace(layout, biases=layout.biases[:1])
    tf_params = first.split(tensors, n_in, forget_bias=0.0)
    blocks = []
    for part in ("V", "W", "b", "peephole"):
        ours, theirs = getattr(tf_params, part) or {}, getattr(ref_params, part) or {}
        for g in [g for g in GATES if g in ours or g in theirs]:
            where = first.where(part, g, n_in, case.num_units, case.h_depth) if g in ours else "absent"
            blocks.append((f"d loss / d {name(part, g)} ({where})", ours.get(g), theirs.get(g)))
    for bias in layout.biases[1:]:
        other = replace(layout, biases=(bias,))
        b = other.split(tensors, n_in, forget_bias=0.0).b
        blocks += [(f"d loss / d {name('b', g)} ({other.where('b', g, n_in, case.num_units)})", b[g], ref_params.b[g])
                   for g in GATES]
    if ref_params.projection is not None or tf_params.projection is not None:
        blocks.append((f"d loss / d {name('projection')} ({layout.projection})", tf_params.projection,
                       ref_params.projection))
    return blocks


def _compare_grads(item: Item, blocks: list, spread) -> tuple:
    """Compare every block within its own bound: (worst Outcome by error over bound, its bound, failure
    messages, whether a failure is structural: a block missing, a shape, a NaN or inf)."""
    worst, worst_tol, failures, structural = None, None, [], False
    for label, actual, desired in blocks:
        if actual is None or desired is None:
            failures.append(f"{_what(item)}: {label}: {'TF' if actual is None else 'the reference'} has no such block")
            structural = True
            continue
        name = _grad_name(label)
        tol = tolerances.for_case(item.case, item.dtype,
                                  tolerances.derived(spread.grads[name], desired, item.dtype, f"d loss / d {name}",
                                                     tolerances.GRADIENT_MULTIPLE))
        axes = ("batch", "timestep", "feature") if np.ndim(desired) == 3 else ("row", "column")[:np.ndim(desired)]
        outcome = compare.compare(actual, desired, tol, f"{_what(item)}: {label}", axes, ulp_dtype=item.dtype)
        if outcome.ratio is not None and (worst is None or outcome.ratio > worst.ratio):
            worst, worst_tol = outcome, tol
        if not outcome.passed:
            failures.append(outcome.message)
            structural = structural or outcome.max_abs_err is None
    return worst, worst_tol, failures, structural


def _compared_name(label: str, two_biases: bool) -> str:
    """The block's name; with two biases, whose name alone is not unique, ``d loss / d b['i']
    (bias_hh_l0[0:4])`` -> ``b['i'] in bias_hh_l0``."""
    name, where = _grad_name(label), label.partition(" (")[2]
    bias = name.rsplit(" ", 1)[-1].startswith("b[")  # "b['i']", or "layer 1 forward b['i']"
    return f"{name} in {where.split('[')[0]}" if two_biases and bias else name


def _grad_name(label: str) -> str:
    """``d loss / d V['i'] (kernel columns 0:4)`` -> ``V['i']``."""
    return label.split(" (")[0].removeprefix("d loss / d ")


def _check_gradients(item: Item, r: Run, reading: Reading) -> Result:
    """TF's gradients, cut into gate blocks through the form's layout, against the reference's, block by
    block, each within its own bound."""
    form = FORMS[item.form]
    if form.no_gradient:
        return Result(item, "skip", None, None, f"{item.form}: {form.no_gradient}")
    ref, spread = _reference_grads(item, r, reading), _spread(item, r)
    blocks = _grad_blocks(item, r.layout, {"x": r.form_out.grads["x"], "cells": cell_grads(r.form_out)}, ref)
    worst, tol, failures, structural = _compare_grads(item, blocks, spread)
    two_biases = len(getattr(r.layout, "biases", ())) > 1  # an LSTM layout's; a GRU's b_h has its own name
    compared = tuple(_compared_name(label, two_biases) for label, _, _ in blocks)
    if item.check == "grad_x" and r.inputs.lengths is not None:
        leaks = _leaks(item, r.form_out.grads["x"], r.inputs.lengths)
        failures, structural = failures + leaks, structural or bool(leaks)  # exactly 0 whatever the rounding
        compared += ("d loss / d x past each row's length: exactly 0",)
    digest = _digest([actual for _, actual, _ in blocks if actual is not None])
    flag = None
    if form.gradient_bug:
        status, message = _known_bug(item, r, ref, spread, failures)
    else:
        status, message, flag = _verdict(item, r, not failures, "\n\n".join(failures), structural)
    return Result(item, status, worst and worst.max_abs_err, tol and tol.largest, message, digest,
                  compared=compared, ratio=worst and worst.ratio, flag=flag)


def _leaks(item: Item, dx, lengths) -> list:
    """A gradient that reaches x past a row's length (the padding): every form computes those steps and
    discards them, so anything but an exact 0 there is a leak, however small."""
    out = []
    for row, length in enumerate(lengths):
        padding = np.asarray(dx)[row, int(length):]
        if padding.size and np.any(padding != 0):
            step = int(length) + int(np.argmax(np.abs(padding).max(axis=-1)))
            out.append(f"{_what(item)}: the gradient leaked through the padding: d loss / d x of row {row} (length "
                       f"{int(length)}) is {float(np.abs(padding).max()):.3g} at timestep {step}, where it must be "
                       "exactly 0")
    return out


def _known_bug(item: Item, r: Run, ref, spread, failures: list) -> tuple:
    """A form whose tape gradients TF gets wrong: expected to fail, but only with the bug's own signature.

    The signature (BlockLSTMV2): the tape's gradients equal, bit for bit, those of the V1 kernel
    ``BlockLSTMGrad`` run on V2's outputs, while V2's own kernel ``BlockLSTMGradV2`` matches the reference.
    The first part is TF against TF, so it holds even where a case's float32 bounds are too wide to see
    the bug. Anything else — the tape right and no longer the V1 kernel's (TF fixed it), or wrong in
    another way (a harness regression hiding under the bug) — fails.
    """
    form, what = FORMS[item.form], _what(item)
    evidence = r.form_out.evidence or {}
    if "registered" not in evidence or "own" not in evidence:
        return "fail", (f"{what}: the form gave no evidence of the known bug ({form.gradient_bug})\n\n"
                        + "\n\n".join(failures))
    registered = max(float(np.max(np.abs(np.asarray(r.form_out.grads[k], np.float64)
                                          - np.asarray(evidence["registered"][k], np.float64)), initial=0.0))
                     for k in r.form_out.grads)
    if registered != 0.0 and not failures:
        return "fail", (f"{what}: expected the known TF bug ({form.gradient_bug}) but the tape's gradients are no "
                        "longer BlockLSTMGrad's and match the reference: TF fixed it; drop gradient_bug in "
                        "harness/forms")
    own_grads = {"x": evidence["own"]["x"], "cells": ({k: v for k, v in evidence["own"].items() if k != "x"},)}
    own, _, own_failures, _ = _compare_grads(item, _grad_blocks(item, r.layout, own_grads, ref), spread)
    facts = (f"tape vs the V1 kernel BlockLSTMGrad run on V2's outputs: max abs difference {registered:.3g}; "
             f"tf.raw_ops.BlockLSTMGradV2 vs the reference: largest error over its bound {own.ratio:.3g}")
    if registered == 0.0 and not own_failures:
        unseen = "" if failures else " (this case's bounds are too wide to see it in the tape's gradients)"
        return "xfail", f"{item.form}: known TF bug, confirmed by its signature{unseen}: {facts}. {form.gradient_bug}"
    return "fail", (f"{what}: the gradients are wrong, but not with the known bug's signature ({facts}); "
                    "the harness's own mapping or TF changed\n\n" + "\n\n".join(failures + own_failures))
