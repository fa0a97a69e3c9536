"""The forms: every real implementation of every cell (TensorFlow's, Keras's, PyTorch's, ONNX's). Each form
builds, runs and reads back one implementation.

A form injects per-gate parameters through its layout into TF variables, runs TF once, and returns what
TF computed together with the tensors read back from those variables. Importing this package does not
import TensorFlow: forms import it when they run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ANY = "any"
"""In :attr:`Form.options`: the form can express every value the case format allows."""


@dataclass(frozen=True)
class FormOutput:
    """What one form computed, and the weight tensors read back from its TF variables."""

    tensors: dict  # layout tensor name -> array, as TF holds it
    outputs: np.ndarray  # [batch, timesteps, h_depth]
    h: np.ndarray
    c: np.ndarray
    logits: np.ndarray | None
    grads: dict | None = None  # d loss / d tensor for each layout tensor name, and "x"; None if not asked
    evidence: dict | None = None  # for a form with a known gradient bug: the gradients that confirm it
    cells: tuple | None = None  # a case of more than one cell: each cell's layout tensors (then h, c are
    # [cells, batch, width] and ``tensors`` is the first cell's)
    cell_grads: tuple | None = None  # each cell's d loss / d layout tensor; grads then holds "x"


@dataclass(frozen=True)
class KnownGradientBug:
    """A TF bug that makes a form's tape gradients wrong, declared by the form that has it, with its signature.

    The signature: the tape's gradients equal, bit for bit, those of the kernel TF registers for the op
    (the form's evidence ``registered``), while the op's own gradient kernel (evidence ``own``) matches the
    reference. The first part is TF against TF, so it holds even where a case's float32 bounds are too wide
    to see the bug. Anything else — the tape right and no longer the registered kernel's (TF fixed it), or
    wrong in another way (a harness regression hiding under the bug) — fails.
    """

    why: str  # the bug, where it lives in TF's source, and where it was measured
    registered: str  # the kernel TF registers as the op's gradient, as the evidence ``registered`` ran it
    own: str  # the op's own gradient kernel

    def judge(self, what: str, form_name: str, form_out: FormOutput, failures: list, compare_own) -> tuple:
        """(status, message) of a gradient check of a form with this bug. ``failures``: the tape's gradients
        against the reference; ``compare_own(grads)`` -> (largest error over its bound, failures) of the
        own kernel's gradients ({"x": ..., "cells": (one dict of layout tensors,)})."""
        evidence = form_out.evidence or {}
        if "registered" not in evidence or "own" not in evidence:
            return "fail", (
                f"{what}: the form gave no evidence of the known bug ({self.why})\n\n" + "\n\n".join(failures)
            )
        registered = max(
            float(
                np.max(
                    np.abs(
                        np.asarray(form_out.grads[k], np.float64) - np.asarray(evidence["registered"][k], np.float64)
                    ),
                    initial=0.0,
                )
            )
            for k in form_out.grads
        )
        if registered != 0.0 and not failures:
            return "fail", (
                f"{what}: expected the known TF bug ({self.why}) but the tape's gradients are no longer "
                f"those of {self.registered} and match the reference: TF fixed it; drop gradient_bug in "
                "harness/forms"
            )
        own = evidence["own"]
        ratio, own_failures = compare_own({"x": own["x"], "cells": ({k: v for k, v in own.items() if k != "x"},)})
        facts = (
            f"tape vs {self.registered}: max abs difference {registered:.3g}; "
            f"{self.own} vs the reference: largest error over its bound {ratio:.3g}"
        )
        if registered == 0.0 and not own_failures:
            unseen = "" if failures else " (this case's bounds are too wide to see it in the tape's gradients)"
            return "xfail", f"{form_name}: known TF bug, confirmed by its signature{unseen}: {facts}. {self.why}"
        return "fail", (
            f"{what}: the gradients are wrong, but not with the known bug's signature ({facts}); "
            "the harness's own mapping or TF changed\n\n" + "\n\n".join(failures + own_failures)
        )


class Form:
    """Base of every form: a name, a layout, the dtypes and options it takes, and a way to run it."""

    name: str = ""
    cell: str = "lstm"  # the recurrent cell it runs (the case key ``cell``: harness.cells)
    layout = None
    dtypes: tuple = ("float32", "float64")
    options: dict = {}  # option -> ANY or the tuple of values the form can express besides the default
    about: str = ""
    stacking: str = ""  # where the weights of each layer and direction live, for explain
    no_gradient: str | None = None  # why TF cannot differentiate this form, where it cannot
    gradient_bug: KnownGradientBug | None = None  # a known TF bug that makes its gradients wrong: expected to fail

    def cannot_express(self, options: dict) -> list:
        """``(key, why)`` for every option value in ``options`` this form cannot compute (the option vocabulary:
        harness.spec, which imports this package for the form names, so it is imported here when called)."""
        from lstm_equiv.harness import spec

        out = []
        for key, value in options.items():
            allowed = self.options.get(key, ())
            if value != spec.DEFAULTS[key] and allowed != ANY and value not in allowed:
                out.append((key, f"cannot express {spec.OPTION_WORDS[key]} ({key}: {value!r}): {self.about}"))
        return out or self.cannot_combine(options)

    def cannot_combine(self, options: dict) -> list:
        """``(key, why)`` for a combination of options this form cannot compute, each of which it can."""
        return []

    def missing(self) -> str | None:
        """Why this form cannot run in this environment at all (an optional extra not installed), or None."""
        return None

    def skip_reason(self, case, dtype: str) -> str | None:
        """Why this form cannot run ``case`` in ``dtype`` here (a dtype it does not take, its optional extra
        not installed, a TF it cannot run on), or None when it can."""
        if dtype not in self.dtypes:
            return f"{self.name} takes {'/'.join(self.dtypes)} only, not {dtype}"
        return self.missing()

    def layout_for(self, case):
        """The layout this form stores ``case``'s weights in (a Keras GRU's depends on reset_after)."""
        return self.layout

    def semantics(self, case) -> dict:
        """The reference's keyword arguments that compute what this form computes for ``case``."""
        from lstm_equiv.harness import spec  # see cannot_express

        out = {
            "forget_bias": case.forget_bias,
            "cell_clip": case.cell_clip,
            "proj_clip": case.proj_clip,
            "activation": case.activation,
            "recurrent_activation": case.recurrent_activation,
        }
        # ONNX's options, only where set: the other forms' reference runs stay as they were
        out.update({k: getattr(case, k) for k in ("gate_clip", "input_forget") if getattr(case, k) != spec.DEFAULTS[k]})
        return out

    padded: str = "zero"  # what the form emits past a row's length (reference.lstm.PADDED)

    def sequence(self, case) -> dict:
        """The reference network's keywords (reference.network_forward) that compute what this form
        computes for ``case``'s sequence keys: only those set, so a plain case runs one plain cell."""
        out = {}
        if case.layers != 1:
            out["layers"] = case.layers
        if case.bidirectional is not None:
            out["merge_mode"] = case.bidirectional
        if case.go_backwards:
            out["go_backwards"] = True
        if case.sequence_lengths is not None:
            out["lengths"], out["padded"] = case.sequence_lengths, self.padded_rule(case)
        return out

    def padded_rule(self, case) -> str:
        """What this form emits at a step past a row's length for ``case``."""
        return self.padded

    def gradient_semantics(self, case) -> dict:
        """The reference's backward-pass arguments that compute what TF's gradient of this form computes."""
        return {}

    def run(self, case, inputs, dtype: str, gradients: bool = False) -> FormOutput:  # pragma: no cover
        """Build the TF form with ``inputs``, run it once, read its variables back; with ``gradients``,
        also take d loss / d variable and d loss / d x by tf.GradientTape in the same run."""
        raise NotImplementedError


def forward_and_gradients(tf, forward, variables: dict, x, loss_weights):
    """``forward(x)`` -> (outputs, h, c, logits); with ``loss_weights``, also the gradients of
    ``sum(loss_weights * outputs)`` with respect to every variable and to x, by name."""
    if loss_weights is None:
        return (*forward(x), {})
    with tf.GradientTape() as tape:
        tape.watch(x)
        outputs, h, c, logits = forward(x)
        loss = tf.reduce_sum(outputs * tf.constant(loss_weights, outputs.dtype))
    names = list(variables)
    grads = tape.gradient(loss, [variables[n] for n in names] + [x])
    return outputs, h, c, logits, dict(zip(names + ["x"], grads))


def form_output(variables: dict, outputs, h, c, logits, grads, read=None, evidence=None) -> FormOutput:
    """Everything as NumPy; ``read`` names the variables to report (default: all)."""
    names = [n for n in variables if read is None or n in read]
    keep = lambda g: {n: np.asarray(a) for n, a in g.items() if n == "x" or n in names}
    return FormOutput(
        tensors={n: np.asarray(variables[n].numpy()) for n in names},
        outputs=np.asarray(outputs),
        h=np.asarray(h),
        c=np.asarray(c),
        logits=None if logits is None else np.asarray(logits),
        grads=keep(grads) if grads else None,
        evidence={k: keep(g) for k, g in evidence.items()} if evidence else None,
    )


def cell_variables(cells: list) -> dict:
    """One flat name -> variable dict of every cell's ``{layout name: variable}`` (``k/name`` beyond the
    first cell), for one GradientTape over them all."""
    return {_key(k, name): v for k, cell in enumerate(cells) for name, v in cell.items()}


def _key(k: int, name: str) -> str:
    return name if k == 0 else f"{k}/{name}"


def cells_output(cells: list, outputs, h, c, logits, grads, read=None) -> FormOutput:
    """:func:`form_output` of a form that ran several cells (``cells``: one ``{layout name: variable}`` per
    cell); with one cell, exactly form_output."""
    flat = cell_variables(cells)
    out = form_output(flat, outputs, h, c, logits, grads, read=read)
    if len(cells) == 1:
        return out

    def per_cell(flat_values):
        return tuple(
            {n: flat_values[_key(k, n)] for n in cell if _key(k, n) in flat_values} for k, cell in enumerate(cells)
        )

    return FormOutput(
        tensors=per_cell(out.tensors)[0],
        outputs=out.outputs,
        h=out.h,
        c=out.c,
        logits=out.logits,
        grads=None if out.grads is None else {"x": out.grads["x"]},
        cells=per_cell(out.tensors),
        cell_grads=None if out.grads is None else per_cell(out.grads),
    )


def valid_mask(inputs):
    """[batch, timesteps] booleans, True inside each row's length (None: no lengths)."""
    if inputs.lengths is None:
        return None
    return np.arange(inputs.x.shape[1])[None, :] < inputs.lengths[:, None]


def chunks(timesteps: int, case) -> list:
    """(start, stop) of each chunk a case with stateful_chunks is fed in (one chunk without): as equal as
    numpy's array_split makes them."""
    n = case.stateful_chunks or 1
    bounds = [len(a) for a in np.array_split(np.arange(timesteps), n)]
    starts = np.cumsum([0] + bounds)
    return list(zip(starts[:-1].tolist(), starts[1:].tolist()))


def head_logits(tf, last, inputs, dtype):
    """The question's head: ``tf.matmul(outputs[-1], weights['out']) + biases['out']``."""
    if inputs.head_kernel is None:
        return None
    return tf.matmul(last, tf.constant(inputs.head_kernel, dtype)) + tf.constant(inputs.head_bias, dtype)


FRAMEWORKS = ("keras", "tf", "torch", "onnx")
"""One folder each (harness/forms/<name>/): its forms of every cell, its availability, its version quirks.
Adding a framework is adding its folder and naming it here."""


def _registry() -> dict:
    import importlib

    every = [form for name in FRAMEWORKS for form in importlib.import_module(f"lstm_equiv.harness.forms.{name}").FORMS]
    ordered = [f for f in every if f.cell == "lstm"] + [f for f in every if f.cell != "lstm"]  # LSTM forms first
    return {form.name: form for form in ordered}


def lazy_forms(module, build):
    """A framework package's module ``__getattr__`` (PEP 562): its ``FORMS`` = ``build()``, built when first
    asked for and kept in ``module``'s globals, so that importing the package builds no form and its
    layouts can be read first."""

    def __getattr__(name: str):
        if name != "FORMS":
            raise AttributeError(f"module {module['__name__']!r} has no attribute {name!r}")
        module["FORMS"] = forms = built(build)
        return forms

    return __getattr__


def built(build):
    """``build()``, an AttributeError inside it raised as a RuntimeError: inside a module ``__getattr__`` it
    would read as the attribute missing ("cannot import name 'FORMS'"), its cause lost."""
    try:
        return build()
    except AttributeError as error:
        raise RuntimeError(f"building {getattr(build, '__qualname__', build)} failed: {error!r}") from error


_BY_CELL = {"LSTM_FORMS": "lstm", "GRU_FORMS": "gru", "RNN_FORMS": "rnn"}


def __getattr__(name: str):
    """``FORMS`` (every form, by name, the LSTM's first) and ``LSTM_FORMS``, ``GRU_FORMS``, ``RNN_FORMS`` (each
    cell's), built when first asked for (PEP 562): importing this package imports no framework, so that a
    framework's layouts (harness/forms/<name>/layouts.py) can be read before any form is built."""
    if name == "FORMS":
        value = built(_registry)
    elif name in _BY_CELL:
        value = {n: form for n, form in __getattr__("FORMS").items() if form.cell == _BY_CELL[name]}
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def params_of(names) -> list:
    """``names`` as pytest parameters, each form whose optional extra is not installed marked skip with the
    reason that names the extra (for the harness's own tests that loop over forms)."""
    import pytest

    return [
        pytest.param(n, marks=pytest.mark.skipif(bool(forms[n].missing()), reason=str(forms[n].missing())))
        for forms in [__getattr__("FORMS")]
        for n in names
    ]
