"""The self-test: a catalogue of the mistakes people make with LSTM weights, each of which must be caught.

Every mutation reads a real TF run wrongly on purpose — through a permuted layout, with the forget bias
moved, with the wrong activation, a step out of line — and goes through the same comparison as a real
item. A mutation is detected when that comparison fails. The catalogue is run twice: with the random,
gate-distinct weights every case uses, where all must be detected, and with constant weights (as the
published TF, Keras and ONNX test vectors use), to show what those would miss.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

import numpy as np

from harness import casefile, compare, engine, tf_compat, tolerances
from harness.forms import FORMS, block
from reference import ACTIVATIONS, GATES, LSTMParams

DTYPE = "float32"  # every form takes it

# Square shapes (input_depth = num_units = num_proj) so that swapped and transposed blocks still fit
# and are caught by their values, not by a shape error. forget_bias 2.5 drives |c| past the fused
# ops' default clip of 3.0 (the self-test reports how far, and a test checks it).
_BASE = ("input_depth: 5\nnum_units: 5\ntimesteps: 40\nbatch: 3\nforget_bias: 2.5\ndtypes: [float32]\n"
         "checks: [forward]\n")  # the catalogue compares outputs: no TF gradient work
CASES = {
    "plain": "seed: 101\n",
    "peepholes": "seed: 102\nuse_peepholes: true\n",
    "projection": "seed: 103\nnum_proj: 5\nforms: [lstm_cell]\n",
    "hard_sigmoid": "seed: 104\nrecurrent_activation: hard_sigmoid\n",
}


def selftest_cases() -> dict:
    """The self-test's cases, validated like any case file."""
    out = {}
    for name, extra in CASES.items():
        text = f"name: selftest_{name}\n{_BASE}{extra}"
        (out[name],) = casefile.parse(f"<selftest {name}>", text.encode())
    return out


@dataclass(frozen=True)
class Mutation(engine.Reading):
    """One deliberate mistake, as overrides of the reading hooks."""

    name: str
    case: str  # which self-test case it needs
    forms: tuple = ()  # the forms it applies to (empty: every form of its case)
    gate_order: tuple | None = None
    change_params: object = None
    change_semantics: object = None
    change_x: object = None
    change_reference: object = None

    def layout(self, layout):
        return replace(layout, gate_order=self.gate_order) if self.gate_order else layout

    def params(self, params):
        return self.change_params(params) if self.change_params else params

    def semantics(self, kwargs):
        return self.change_semantics(dict(kwargs)) if self.change_semantics else kwargs

    def x(self, x):
        return self.change_x(x) if self.change_x else x

    def reference(self, ref):
        return self.change_reference(dict(ref)) if self.change_reference else ref


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


def catalogue() -> list:
    """Every mutation, for every form it applies to: a list of (Mutation, form name)."""
    keras_forms = tuple(n for n in FORMS if n.startswith("keras"))
    block_forms = tuple(f.name for f in block.FORMS)
    fixed = [
        Mutation("x rows and h rows swapped (V read as W)", "plain",
                 change_params=lambda p: _with(p, V=p.W, W=p.V)),
        Mutation("recurrent block W[f] transposed", "plain",
                 change_params=lambda p: _with(p, W={**p.W, "f": p.W["f"].T})),
        Mutation("input block V[i] transposed", "plain",
                 change_params=lambda p: _with(p, V={**p.V, "i": p.V["i"].T})),
        Mutation("bias ignored", "plain", change_params=lambda p: _with(p, b={g: 0 * p.b[g] for g in GATES})),
        Mutation("forget_bias dropped", "plain", change_semantics=lambda kw: {**kw, "forget_bias": 0.0}),
        Mutation("forget_bias doubled", "plain",
                 change_semantics=lambda kw: {**kw, "forget_bias": 2 * kw["forget_bias"]}),
        Mutation("forget_bias applied after the sigmoid", "plain", change_semantics=_after_sigmoid),
        Mutation("forget_bias added to the input gate", "plain", change_semantics=_on_input_gate),
        Mutation("unit_forget_bias (+1.0) on top of forget_bias", "plain",
                 change_semantics=lambda kw: {**kw, "forget_bias": kw["forget_bias"] + 1.0}),
        Mutation("hard_sigmoid in place of sigmoid", "plain",
                 change_semantics=lambda kw: {**kw, "recurrent_activation": tf_compat.keras_hard_sigmoid()}),
        Mutation(f"Keras {5 - tf_compat.keras_major()}'s hard_sigmoid in place of Keras "
                 f"{tf_compat.keras_major()}'s", "hard_sigmoid", keras_forms, change_semantics=_other_hard_sigmoid),
        Mutation("tanh in place of sigmoid on the gates", "plain",
                 change_semantics=lambda kw: {**kw, "recurrent_activation": "tanh"}),
        Mutation("sigmoid in place of tanh on the block input j", "plain",
                 change_semantics=lambda kw: {**kw, "gate_activations": {"j": ACTIVATIONS["sigmoid"]}}),
        Mutation("the fused ops' default cell_clip=3.0 left on", "plain", block_forms,
                 change_semantics=lambda kw: {**kw, "cell_clip": 3.0}),
        Mutation("peephole diagonals of i and f swapped", "peepholes",
                 change_params=lambda p: _with(p, peephole={**p.peephole, "i": p.peephole["f"], "f": p.peephole["i"]})),
        Mutation("peepholes ignored", "peepholes", change_params=lambda p: _with(p, peephole=None)),
        Mutation("projection omitted", "projection", change_params=lambda p: _with(p, projection=None)),
        Mutation("time reversed", "plain", change_x=lambda x: x[:, ::-1]),
        Mutation("state carried off by one step", "plain", change_reference=_shift_one_step),
    ]
    cases = selftest_cases()
    out = []
    for form_name in FORMS:
        for perm in _permutations(form_name):
            name = "gate blocks read as " + " ".join(perm)
            out.append((Mutation(name, "plain", gate_order=perm), form_name))
    for m in fixed:
        out += [(m, f) for f in cases[m.case].forms if not m.forms or f in m.forms]
    return out


@dataclass(frozen=True)
class Verdict:
    """What one mutation on one form gave."""

    mutation: Mutation
    form: str
    detected: bool  # with random weights
    max_abs_err: float | None
    detected_constant: bool  # with constant weights
    how: str  # which check caught it, or why it counts as caught


def _judge(case, form_name, reading, weights) -> tuple:
    """(detected, max abs error of outputs, how) for one reading."""
    r = engine.read(case, form_name, DTYPE, reading, weights=weights)
    if r.skip:
        raise RuntimeError(f"self-test form {form_name} was skipped: {r.skip}")
    if r.error:
        return True, None, "the reading raised: " + r.error.strip().splitlines()[-1]
    tol = tolerances.for_case(case, DTYPE)
    fails, worst = [], None
    for check, actual in (("outputs", r.form_out.outputs), ("final_h", r.form_out.h), ("final_c", r.form_out.c)):
        outcome = compare.compare(actual, r.reference[check], tol, check, ("batch",) * actual.ndim)
        worst = outcome.max_abs_err if check == "outputs" else worst
        if not outcome.passed:
            fails.append(check)
    return bool(fails), worst, ", ".join(fails) if fails else "nothing failed"


def baseline() -> list:
    """(case, form, passed) for every self-test run read rightly: the catalogue means nothing unless
    these pass, with random and with constant weights."""
    out = []
    for case in selftest_cases().values():
        for form_name in case.forms:
            for weights in ("random", "constant"):
                detected, _, how = _judge(case, form_name, engine.Reading(), weights)
                out.append((case.name, form_name, weights, not detected, how))
    return out


def run_catalogue() -> list:
    """Every Verdict of the catalogue."""
    cases = selftest_cases()
    verdicts = []
    for mutation, form_name in catalogue():
        case = cases[mutation.case]
        detected, err, how = _judge(case, form_name, mutation, "random")
        constant, _, _ = _judge(case, form_name, mutation, "constant")
        verdicts.append(Verdict(mutation, form_name, detected, err, constant, how))
    return verdicts


def max_abs_c(case_name: str = "plain") -> float:
    """The largest final |c| of a self-test case: it must exceed the fused ops' default clip of 3.0."""
    r = engine.read(selftest_cases()[case_name], "keras_lstm", DTYPE)
    return float(np.abs(r.reference["final_c"]).max())
