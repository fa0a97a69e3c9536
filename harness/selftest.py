"""The self-test: a catalogue of the mistakes people make with LSTM weights, each of which must be caught.

Over 400 lines, on purpose: the catalogue (81 named mistakes, each a line or two of data and the small
function that makes it) is read as one list.

Every mutation reads a real TF run wrongly on purpose — through a permuted layout, with the forget bias
moved, with the wrong activation, a step out of line — and goes through the same comparison as a real
item (:func:`harness.engine.evaluate`, every check of the item: weights, outputs, final h and c, and the
gradients). A mutation is detected when one of those checks fails; a check that raises is an error,
never a detection. Each entry runs in every dtype its form takes. The catalogue is run with the random,
gate-distinct weights every case uses, where all must be detected, and its forward entries again with
constant weights (as the published TF, Keras and ONNX test vectors use), to show what those would miss.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, replace

import numpy as np

from lstm_equiv.harness import casefile, engine, sensitivity, tolerances
from lstm_equiv.harness.checks import KINDS
from lstm_equiv.harness.forms import FORMS, LSTM_FORMS, keras
from lstm_equiv.harness.forms.tf import compat as tf_compat
from lstm_equiv.harness.forms.tf import fused as block
from lstm_equiv.harness.inputs import make_inputs
from lstm_equiv.reference import ACTIVATIONS, GATES, GRUParams, LSTMParams, RNNParams, lstm_backward, lstm_forward

DTYPES = ("float32", "float64")  # each entry runs in every dtype its form takes
CONSTANT_DTYPE = "float32"  # the constant-weights demonstration is about gate order, not precision

# Square shapes (input_depth = num_units = num_proj) so that swapped and transposed blocks still fit
# and are caught by their values, not by a shape error. forget_bias 2.5 drives |c| past the fused
# ops' default clip of 3.0 (the self-test reports how far, and a test checks it).
_BASE = "input_depth: 5\nnum_units: 5\ntimesteps: 40\nbatch: 3\nforget_bias: 2.5\n"
CASES = {
    "plain": "seed: 101\n",
    "peepholes": "seed: 102\nuse_peepholes: true\ncell_clip: 1.0\n",
    "projection": "seed: 103\nnum_proj: 5\nproj_clip: 0.3\nforms: [lstm_cell]\n",
    "hard_sigmoid": "seed: 104\nrecurrent_activation: hard_sigmoid\n",
    "relu_last_output": "seed: 105\nactivation: relu\nloss: last_output\n",
    "onnx_options": "seed: 106\nuse_peepholes: true\ngate_clip: 1.0\ninput_forget: true\n",
    "go_backwards": "seed: 107\ngo_backwards: true\n",
    "bidirectional": "seed: 108\nbidirectional: {merge_mode: concat}\nsequence_lengths: [40, 17, 29]\n"
    "initial_state: random\n",
    "padded": "seed: 109\nsequence_lengths: [40, 17, 29]\n",
    "stateful": "seed: 110\nstateful_chunks: 4\n",
    "stacked": "seed: 111\nlayers: 2\ninitial_state: random\n",
    "gru": "seed: 112\ncell: gru\ninitial_state: random\n",
    "gru_reset_after": "seed: 113\ncell: gru\nreset_after: true\n",
    "rnn": "seed: 114\ncell: rnn\ninitial_state: random\n",
    "gru_sequences": "seed: 115\ncell: gru\nreset_after: true\nlayers: 2\nbidirectional: {merge_mode: concat}\n"
    "sequence_lengths: [40, 17, 29]\ninitial_state: random\n",
}
"""Every option a case can set is set by one of these, so that a mistake that ignores it can be shown."""

NO_CONSTANT = {
    "relu_last_output": "relu with constant positive weights grows |c| to 7e4 in 40 steps (measured), "
    "where float32's own rounding (8.5e-3) exceeds any absolute bound"
}
"""Cases left out of the constant-weights demonstration, and why."""


def selftest_cases() -> dict:
    """The self-test's cases, validated like any case file."""
    out = {}
    for name, extra in CASES.items():
        base = _BASE.replace("forget_bias: 2.5\n", "") if "cell: " in extra else _BASE  # only an LSTM has a forget gate
        text = f"name: selftest_{name}\n{base}{extra}"
        (out[name],) = casefile.parse(f"<selftest {name}>", text.encode())
    return out


@dataclass(frozen=True)
class Mistake(engine.Reading):
    """One deliberate mistake, as overrides of the reading hooks."""

    name: str
    case: str  # which self-test case it needs
    forms: tuple = ()  # the forms it applies to (empty: every form of its case)
    kinds: tuple = ("forward", "gradients")  # the checks it reaches (gradients: named activations only)
    gate_order: tuple | None = None
    change_layout: object = None
    change_loss: object = None
    change_gradients: object = None
    dtypes: tuple = DTYPES
    change_params: object = None
    change_semantics: object = None
    change_x: object = None
    change_reference: object = None
    change_cells: object = None
    change_sequence: object = None
    change_forward: object = None

    def layout(self, layout):
        layout = replace(layout, gate_order=self.gate_order) if self.gate_order else layout
        return self.change_layout(layout) if self.change_layout else layout

    def params(self, params):
        return self.change_params(params) if self.change_params else params

    def semantics(self, kwargs):
        return self.change_semantics(dict(kwargs)) if self.change_semantics else kwargs

    def x(self, x):
        return self.change_x(x) if self.change_x else x

    def reference(self, ref):
        return self.change_reference(dict(ref)) if self.change_reference else ref

    def loss(self, loss):
        return self.change_loss(loss) if self.change_loss else loss

    def gradients(self, grads):
        return self.change_gradients(grads) if self.change_gradients else grads

    def cells(self, cells):
        return self.change_cells(cells) if self.change_cells else cells

    def sequence(self, kwargs):
        return self.change_sequence(dict(kwargs)) if self.change_sequence else kwargs

    def forward(self, run):
        return self.change_forward(run) if self.change_forward else run


def _with(params: LSTMParams, **parts) -> LSTMParams:
    """``params`` with some of V, W, b, peephole, projection replaced."""
    fields = {k: getattr(params, k) for k in ("V", "W", "b", "peephole", "projection")}
    return LSTMParams(**{**fields, **parts})


def _permutations(form_name):
    """The 23 wrong orders of the form's four column blocks."""
    right = FORMS[form_name].layout.gate_order
    for perm in itertools.permutations(right):
        if perm != right:
            yield perm


_ORDER_OWNERS = {"i j f o": "TF1's", "i f j o": "Keras's i f c o, PyTorch's i f g o", "i o f j": "ONNX's i o f c"}


def _order_name(perm) -> str:
    """``gate blocks read as i f j o (Keras's i f c o, PyTorch's i f g o)``: the wrong order, and whose it is."""
    order = " ".join(perm)
    return f"gate blocks read as {order}" + (f" ({_ORDER_OWNERS[order]} order)" if order in _ORDER_OWNERS else "")


def _transposed_blocks(p):
    """Every gate block of V and W taken without its transpose, as a converter slicing PyTorch's or ONNX's
    [4u, in] matrices into [u, in] blocks and forgetting .T does: the shapes only hold on a square case."""
    return _with(p, V={g: p.V[g].T for g in GATES}, W={g: p.W[g].T for g in GATES})


def _onnx_peepholes_as_ifo(layout):
    """P read as [P_i, P_f, P_o] (the reference's, TF's order) where ONNX stores [P_i, P_o, P_f]."""
    names = dict(layout.peepholes)
    return replace(layout, peepholes=(("i", names["i"]), ("f", names["o"]), ("o", names["f"])))


def _shift_one_step(ref):
    outputs = ref["outputs"]
    shifted = np.concatenate([np.zeros_like(outputs[:, :1]), outputs[:, :-1]], axis=1)
    return {**ref, "outputs": shifted, "final_h": outputs[:, -2]}


def _after_sigmoid(kw):
    fb = kw["forget_bias"]
    sig = ACTIVATIONS[kw["recurrent_activation"]]
    return {**kw, "gate_activations": {"f": lambda z: sig(z - fb) + fb}}


def _on_input_gate(kw):
    fb = kw["forget_bias"]
    sig = ACTIVATIONS[kw["recurrent_activation"]]
    return {**kw, "gate_activations": {"i": lambda z: sig(z + fb), "f": lambda z: sig(z - fb)}}


def _other_hard_sigmoid(kw):
    other = {"hard_sigmoid_1/6": "hard_sigmoid_0.2", "hard_sigmoid_0.2": "hard_sigmoid_1/6"}
    return {**kw, "recurrent_activation": other[kw["recurrent_activation"]]}


def _other_order(kw):
    """A go_backwards layer's outputs read in the other time order (Keras's last-step-first taken for
    ONNX's time order, or the reverse)."""
    return {**kw, "outputs_order": "time" if kw.get("outputs_order", "processing") == "processing" else "processing"}


def _halves(change):
    """A change of the [forward | backward] halves of a concat-merged output."""

    def on(ref):
        out = ref["outputs"]
        width = out.shape[-1] // 2
        fw, bw = out[..., :width], out[..., width:]
        return {**ref, "outputs": np.concatenate(change(fw, bw), axis=-1)}

    return on


def _reset_between_chunks(chunks):
    """The reference run chunk by chunk, each from the initial state: a stateful layer reset between chunks."""

    def wrap(run):
        def reset(x, cells, h0=None, c0=None, **kw):
            pieces = []
            for steps in np.array_split(np.arange(x.shape[1]), chunks):
                outputs, state = run(x[:, steps], cells, h0, c0, **kw)
                pieces.append(outputs)
            return np.concatenate(pieces, axis=1), state

        return reset

    return wrap


def _zero_state(run):
    return lambda x, cells, h0=None, c0=None, **kw: run(x, cells, None, None, **kw)


def _gru_swap(a: str, b: str):
    """GRU params with the blocks of gates a and b swapped (V, W, b and the recurrent biases)."""

    def change(p: GRUParams) -> GRUParams:
        swap = lambda m: None if m is None else {**m, a: m[b], b: m[a]}
        return GRUParams(swap(p.V), swap(p.W), swap(p.b), swap(p.b_h))

    return change


def _gru_update_reversed(p: GRUParams) -> GRUParams:
    """h = u c + (1 - u) h, read as the reference's h = u h + (1 - u) c: 1 - sigmoid(z) = sigmoid(-z) (and for
    the symmetric hard_sigmoid too), so it is the update gate's every block negated."""
    negate = lambda m: None if m is None else {**m, "u": -m["u"]}
    return GRUParams(negate(p.V), negate(p.W), negate(p.b), negate(p.b_h))


def _gru_folded(p: GRUParams) -> GRUParams:
    """PyTorch's b_hn (the candidate's recurrent bias, inside the reset) folded into the input bias."""
    return GRUParams(p.V, p.W, {**p.b, "c": p.b["c"] + p.b_h["c"]}, {**p.b_h, "c": 0 * p.b_h["c"]})


def promised(dtype: str) -> dict:
    """Twice the derived bound at the element the "off by" entries nudge, on the plain self-test case:
    for the outputs (batch 0, last timestep, unit 0) and for the gradient of b['o'] (unit 0). Those
    entries must be detected, at an error over bound of 2."""
    case = selftest_cases()["plain"]
    inputs = make_inputs(case, dtype)
    semantics = {"forget_bias": case.forget_bias}
    s = sensitivity.spread(inputs.x, inputs.params, semantics, dtype, case.seed, d_outputs=inputs.loss_weights)
    p64 = inputs.params.astype(np.float64)
    outputs = lstm_forward(inputs.x.astype(np.float64), p64, **semantics)[0]
    grad = lstm_backward(inputs.x.astype(np.float64), p64, inputs.loss_weights.astype(np.float64), **semantics)
    return {
        "forward": 2 * float(tolerances.derived(s.outputs, outputs, dtype, "outputs").atol[-1]),
        "gradients": 2
        * tolerances.derived(s.grads["b['o']"], grad.params.b["o"], dtype, "b['o']", tolerances.GRADIENT_MULTIPLE).atol,
    }


def _nudge_outputs(amount):
    def change(ref):
        out = ref["outputs"].copy()
        out[0, -1, 0] += amount
        return {**ref, "outputs": out, "final_h": out[:, -1]}

    return change


def _nudge_gradient(amount):
    def change(grads):
        b = dict(grads.params.b)
        b["o"] = b["o"].copy()
        b["o"][0] += amount
        return replace(grads, cells=(_with(grads.params, b=b), *grads.cells[1:]))

    return change


def named_mistakes() -> list:
    """The catalogue's named mistakes (every entry but the gate-block permutations), whether or not a form
    they reach is installed here."""
    keras_forms = tuple(f.name for f in keras.FORMS if f.cell == "lstm")  # its framework's folder, not a name prefix
    block_forms = tuple(f.name for f in block.FORMS)
    two_bias_forms = tuple(n for n, f in LSTM_FORMS.items() if len(f.layout.biases) == 2)
    forward = ("forward",)
    fixed = [
        Mistake("x rows and h rows swapped (V read as W)", "plain", change_params=lambda p: _with(p, V=p.W, W=p.V)),
        Mistake(
            "recurrent block W[f] transposed", "plain", change_params=lambda p: _with(p, W={**p.W, "f": p.W["f"].T})
        ),
        Mistake("input block V[i] transposed", "plain", change_params=lambda p: _with(p, V={**p.V, "i": p.V["i"].T})),
        Mistake("bias ignored", "plain", change_params=lambda p: _with(p, b={g: 0 * p.b[g] for g in GATES})),
        Mistake("forget_bias dropped", "plain", change_semantics=lambda kw: {**kw, "forget_bias": 0.0}),
        Mistake(
            "forget_bias doubled", "plain", change_semantics=lambda kw: {**kw, "forget_bias": 2 * kw["forget_bias"]}
        ),
        Mistake("forget_bias applied after the sigmoid", "plain", kinds=forward, change_semantics=_after_sigmoid),
        Mistake("forget_bias added to the input gate", "plain", kinds=forward, change_semantics=_on_input_gate),
        Mistake(
            "unit_forget_bias (+1.0) on top of forget_bias",
            "plain",
            change_semantics=lambda kw: {**kw, "forget_bias": kw["forget_bias"] + 1.0},
        ),
        Mistake(
            "hard_sigmoid in place of sigmoid",
            "plain",
            change_semantics=lambda kw: {**kw, "recurrent_activation": tf_compat.keras_hard_sigmoid()},
        ),
        Mistake(
            f"Keras {5 - tf_compat.keras_major()}'s hard_sigmoid in place of Keras {tf_compat.keras_major()}'s",
            "hard_sigmoid",
            keras_forms,
            change_semantics=_other_hard_sigmoid,
        ),
        Mistake(
            "recurrent_activation ignored (hard_sigmoid read as sigmoid)",
            "hard_sigmoid",
            change_semantics=lambda kw: {**kw, "recurrent_activation": "sigmoid"},
        ),
        Mistake(
            "tanh in place of sigmoid on the gates",
            "plain",
            change_semantics=lambda kw: {**kw, "recurrent_activation": "tanh"},
        ),
        Mistake(
            "sigmoid in place of tanh on the block input j",
            "plain",
            kinds=forward,
            change_semantics=lambda kw: {**kw, "gate_activations": {"j": ACTIVATIONS["sigmoid"]}},
        ),
        Mistake(
            "activation ignored (relu read as tanh)",
            "relu_last_output",
            change_semantics=lambda kw: {**kw, "activation": "tanh"},
        ),
        Mistake(
            "loss ignored (last_output read as outputs)",
            "relu_last_output",
            kinds=("gradients",),
            change_loss=lambda loss: "outputs",
        ),
        Mistake(
            "every gate block taken without its transpose (square case)", "plain", change_params=_transposed_blocks
        ),
        Mistake(
            "the recurrent bias dropped (PyTorch's bias_hh, ONNX's Rb)",
            "plain",
            two_bias_forms,
            change_layout=lambda layout: replace(layout, biases=layout.biases[:1]),
        ),
        Mistake(
            "the input bias dropped (PyTorch's bias_ih, ONNX's Wb)",
            "plain",
            two_bias_forms,
            change_layout=lambda layout: replace(layout, biases=layout.biases[1:]),
        ),
        Mistake("gate_clip ignored", "onnx_options", change_semantics=lambda kw: {**kw, "gate_clip": None}),
        Mistake(
            "ONNX's clip read as TF's cell_clip",
            "onnx_options",
            change_semantics=lambda kw: {**kw, "cell_clip": kw["gate_clip"], "gate_clip": None},
        ),
        Mistake("input_forget ignored", "onnx_options", change_semantics=lambda kw: {**kw, "input_forget": False}),
        Mistake("ONNX's peepholes P read in TF's order i f o", "onnx_options", change_layout=_onnx_peepholes_as_ifo),
        Mistake(
            "the fused ops' default cell_clip=3.0 left on",
            "plain",
            block_forms,
            change_semantics=lambda kw: {**kw, "cell_clip": 3.0},
        ),
        Mistake("cell_clip ignored", "peepholes", change_semantics=lambda kw: {**kw, "cell_clip": None}),
        Mistake(
            "peephole diagonals of i and f swapped",
            "peepholes",
            change_params=lambda p: _with(p, peephole={**p.peephole, "i": p.peephole["f"], "f": p.peephole["i"]}),
        ),
        Mistake("peepholes ignored", "peepholes", change_params=lambda p: _with(p, peephole=None)),
        Mistake(
            "projection omitted",
            "projection",
            change_params=lambda p: _with(p, projection=None),
            change_semantics=lambda kw: {**kw, "proj_clip": None},
        ),
        Mistake("proj_clip ignored", "projection", change_semantics=lambda kw: {**kw, "proj_clip": None}),
        Mistake("time reversed", "plain", change_x=lambda x: x[:, ::-1]),
        Mistake(
            "go_backwards outputs read in the other time order (last step first / time order)",
            "go_backwards",
            change_sequence=_other_order,
        ),
        Mistake(
            "backward outputs not re-reversed (left in processing order)",
            "bidirectional",
            kinds=forward,
            change_reference=_halves(lambda fw, bw: (fw, bw[:, ::-1])),
        ),
        Mistake(
            "forward and backward halves swapped in concat",
            "bidirectional",
            kinds=forward,
            change_reference=_halves(lambda fw, bw: (bw, fw)),
        ),
        Mistake(
            "forward and backward cells' weights swapped",
            "bidirectional",
            change_cells=lambda cells: (cells[1], cells[0], *cells[2:]),
        ),
        Mistake(
            "padded steps read as zeros where the form carries its last output",
            "padded",
            keras_forms,
            change_sequence=lambda kw: {**kw, "padded": "zero"},
        ),
        Mistake(
            "padded steps read as the last output carried where the form emits zeros",
            "padded",
            tuple(n for n in LSTM_FORMS if n not in keras_forms),
            change_sequence=lambda kw: {**kw, "padded": "carry"},
        ),
        Mistake(
            "sequence lengths ignored (padding run as data)",
            "padded",
            change_sequence=lambda kw: {k: v for k, v in kw.items() if k not in ("lengths", "padded")},
        ),
        Mistake(
            "the state reset between chunks",
            "stateful",
            kinds=forward,
            change_forward=_reset_between_chunks(selftest_cases()["stateful"].stateful_chunks),
        ),
        Mistake(
            "layer 2 reading layer 1's weights", "stacked", change_cells=lambda cells: (cells[0], cells[0], *cells[2:])
        ),
        Mistake("initial state ignored (read as zeros)", "stacked", kinds=forward, change_forward=_zero_state),
        Mistake(
            "GRU: z and r swapped (Keras's and ONNX's z r h read as r z h)", "gru", change_params=_gru_swap("u", "r")
        ),
        Mistake("GRU: z and r swapped, reset after the product", "gru_reset_after", change_params=_gru_swap("u", "r")),
        Mistake(
            "GRU: the reset applied before the product instead of after",
            "gru_reset_after",
            change_semantics=lambda kw: {**kw, "reset_after": False},
        ),
        Mistake(
            "GRU: the reset applied after the product instead of before",
            "gru",
            change_semantics=lambda kw: {**kw, "reset_after": True},
        ),
        Mistake(
            "GRU: b_hn folded into the input bias (PyTorch's n gate)", "gru_reset_after", change_params=_gru_folded
        ),
        Mistake(
            "GRU: the recurrent biases dropped (bias_hh, Rb, Keras's bias row 1)",
            "gru_reset_after",
            change_params=lambda p: GRUParams(p.V, p.W, p.b, None),
        ),
        Mistake("GRU: update convention reversed (h = u c + (1 - u) h)", "gru", change_params=_gru_update_reversed),
        Mistake(
            "GRU: update convention reversed, reset after the product",
            "gru_reset_after",
            change_params=_gru_update_reversed,
        ),
        Mistake(
            "GRU: initial state ignored (read as zeros)",
            "gru",
            kinds=forward,
            change_forward=_zero_state,
        ),
        Mistake(
            "RNN: kernel and recurrent kernel exchanged (V read as W)",
            "rnn",
            change_params=lambda p: RNNParams(p.W, p.V, p.b, p.b_h),
        ),
        Mistake(
            "RNN: the recurrent kernel read transposed",
            "rnn",
            change_params=lambda p: RNNParams(p.V, {"h": p.W["h"].T}, p.b, p.b_h),
        ),
        Mistake(
            "RNN: initial state ignored (read as zeros)",
            "rnn",
            kinds=forward,
            change_forward=_zero_state,
        ),
        Mistake(
            "GRU: forward and backward cells' weights swapped",
            "gru_sequences",
            change_cells=lambda cells: (cells[1], cells[0], *cells[2:]),
        ),
        Mistake(
            "GRU: sequence lengths ignored (padding run as data)",
            "gru_sequences",
            change_sequence=lambda kw: {k: v for k, v in kw.items() if k not in ("lengths", "padded")},
        ),
        Mistake("state carried off by one step", "plain", kinds=forward, change_reference=_shift_one_step),
    ]
    for dtype in DTYPES:
        amount = promised(dtype)
        fixed += [
            Mistake(
                f"one output off by twice its {dtype} bound",
                "plain",
                kinds=forward,
                dtypes=(dtype,),
                change_reference=_nudge_outputs(amount["forward"]),
            ),
            Mistake(
                f"one gradient entry off by twice its {dtype} bound",
                "plain",
                kinds=("gradients",),
                dtypes=(dtype,),
                change_gradients=_nudge_gradient(amount["gradients"]),
            ),
        ]
    return fixed


def catalogue() -> list:
    """Every mutation, for every form and dtype it applies to: a list of (Mistake, form name, dtype)."""
    cases = selftest_cases()
    out = []
    for form_name in LSTM_FORMS:  # the GRU's gate swaps are named mistakes of their own
        for perm in _permutations(form_name):
            out += [
                (Mistake(_order_name(perm), "plain", gate_order=perm), form_name, dtype)
                for dtype in _dtypes(form_name, DTYPES)
            ]
    for m in named_mistakes():
        out += [
            (m, f, dtype)
            for f in cases[m.case].forms
            if (not m.forms or f in m.forms) and _reaches(m, f)
            for dtype in _dtypes(f, m.dtypes)
        ]
    return out


def _reaches(mutation, form_name) -> bool:
    """Whether any check the mutation reaches runs on the form (LSTMBlockCell has no gradient)."""
    return "forward" in mutation.kinds or not FORMS[form_name].no_gradient


def _dtypes(form_name, wanted) -> list:
    """The dtypes of ``wanted`` the form takes; none where an optional extra it needs is not installed (the
    pytest items of such a form are skipped with the extra's name)."""
    return [d for d in wanted if d in FORMS[form_name].dtypes] if not FORMS[form_name].missing() else []


@dataclass(frozen=True)
class Verdict:
    """What one mutation on one form in one dtype gave: ``detected`` (a check failed), ``missed`` (every
    check passed) or ``error`` (a check raised: never counted as detected)."""

    mutation: Mistake
    form: str
    dtype: str
    outcome: str  # detected, missed, error
    max_abs_err: float | None  # the outputs check's, where it ran
    ratio: float | None  # the largest error over its bound among the checks that failed
    outcome_constant: str | None  # with constant weights (forward checks), where the entry reaches them
    how: str  # which checks caught it, or what raised

    @property
    def detected(self) -> bool:
        """Caught by a failing check (an error is not a detection)."""
        return self.outcome == "detected"


def judge(case, form_name: str, dtype: str, reading, weights: str = "random", kinds=("forward", "gradients")) -> tuple:
    """(outcome, outputs error, error/bound ratio, how) of one reading: every check of the kinds the
    reading reaches goes through engine.evaluate, exactly as a real item does."""
    results = [
        engine.evaluate(engine.Item(case, form_name, dtype, check), reading, weights)
        for kind in kinds
        if kind in case.checks and (weights == "random" or kind == "forward")
        for check in KINDS[kind]
        if check in engine.checks_of(case)
    ]
    skipped = [r for r in results if r.status == "skip" and not r.item.check.startswith("grad_")]
    if skipped:
        raise RuntimeError(f"self-test form {form_name} was skipped in {dtype}: {skipped[0].message}")
    errors = [r for r in results if r.status == "error"]
    if errors:
        return "error", None, None, f"{errors[0].item.check} raised: " + errors[0].message.strip().splitlines()[-1]
    failed = [r for r in results if r.status == "fail"]
    outputs = next((r.max_abs_err for r in results if r.item.check == "outputs"), None)
    ratios = [r.ratio for r in failed if r.ratio is not None]
    how = ", ".join(r.item.check for r in failed) if failed else "nothing failed"
    return ("detected" if failed else "missed"), outputs, max(ratios, default=None), how


def baseline() -> list:
    """(case, form, dtype, weights, outcome, how) for every self-test run read rightly: the catalogue means
    nothing unless these all pass ("missed" is the right answer here)."""
    out = []
    for case in selftest_cases().values():
        for form_name in [f for f in case.forms if not FORMS[f].missing()]:
            for dtype in _dtypes(form_name, DTYPES):
                outcome, _, _, how = judge(case, form_name, dtype, engine.IDENTITY)
                out.append((case.name, form_name, dtype, "random", outcome, how))
            if case.name.removeprefix("selftest_") not in NO_CONSTANT:
                outcome, _, _, how = judge(case, form_name, CONSTANT_DTYPE, engine.IDENTITY, "constant")
                out.append((case.name, form_name, CONSTANT_DTYPE, "constant", outcome, how))
    return out


@functools.cache
def run_catalogue() -> tuple:
    """Every Verdict of the catalogue (once per process: the suite and the CLI share it)."""
    cases = selftest_cases()
    verdicts = []
    for mutation, form_name, dtype in catalogue():
        case = cases[mutation.case]
        outcome, err, ratio, how = judge(case, form_name, dtype, mutation, kinds=mutation.kinds)
        constant = None
        if dtype == CONSTANT_DTYPE and "forward" in mutation.kinds and mutation.case not in NO_CONSTANT:
            constant = judge(case, form_name, dtype, mutation, "constant", mutation.kinds)[0]
        verdicts.append(Verdict(mutation, form_name, dtype, outcome, err, ratio, constant, how))
    return tuple(verdicts)


def max_abs_c(case_name: str = "plain") -> float:
    """The largest final |c| of a self-test case: it must exceed the fused ops' default clip of 3.0."""
    r = engine.read(selftest_cases()[case_name], "keras_lstm", "float32")
    return float(np.abs(r.reference["final_c"]).max())
