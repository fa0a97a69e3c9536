"""Every form against real TensorFlow: its own layout passes; a permuted gate block or the forget bias in
the wrong place fails; forms do not leak into each other whatever the order they run in."""

from dataclasses import replace

import numpy as np
import pytest

from lstm_equiv.harness import engine, layouts
from lstm_equiv.harness.engine import Item, ReadAs, evaluate
from lstm_equiv.harness.forms import FORMS, GRU_FORMS, LSTM_FORMS, params_of
from lstm_equiv.harness.forms.tf import compat as tf_compat
from lstm_equiv.harness.runs import RUNS

EXTRA = "use_peepholes: true\n"  # the forms that can express peepholes get them; the others drop the key


def _case(make_case, form, name):
    extra = EXTRA if form.options.get("use_peepholes") else ""
    return make_case(name=name, forget_bias=1.0, dtypes="float32", extra=extra + f"forms: [{form.name}]\n")


def _swap_first_two(order):
    return (order[1], order[0], *order[2:])


@pytest.mark.parametrize("name", params_of(sorted(LSTM_FORMS)))
def test_each_form_passes_with_its_own_layout(make_case, name):
    form = FORMS[name]
    case = _case(make_case, form, f"right_{name}")
    results = {check: evaluate(Item(case, name, "float32", check)) for check in engine.checks_of(case)}
    gradient = "skip" if form.no_gradient else "xfail" if form.gradient_bug else "pass"
    expected = {c: gradient if c.startswith("grad_") else "pass" for c in results}
    assert {c: r.status for c, r in results.items()} == expected, [r.message for r in results.values()]


@pytest.mark.parametrize("name", params_of(sorted(LSTM_FORMS)))
def test_each_form_fails_with_a_permuted_gate_block(make_case, name):
    form = FORMS[name]
    wrong = replace(
        form.layout, name=f"{form.layout.name} permuted", gate_order=_swap_first_two(form.layout.gate_order)
    )
    case = _case(make_case, form, f"permuted_{name}")
    outputs = evaluate(Item(case, name, "float32", "outputs"), reading=ReadAs(other=wrong))
    assert outputs.status == "fail" and outputs.max_abs_err > 1e-3, outputs.message
    weights = evaluate(Item(case, name, "float32", "weights"), reading=ReadAs(other=wrong))
    first, second = form.layout.gate_order[:2]
    assert f"gate block V[{first!r}]" in weights.message and f"injected as V[{second!r}]" in weights.message


@pytest.mark.parametrize("name", params_of(sorted(LSTM_FORMS)))
def test_each_form_fails_with_the_forget_bias_in_the_wrong_place(make_case, name):
    form = FORMS[name]
    flipped = layouts.STORED if form.layout.forget_bias == layouts.RUNTIME else layouts.RUNTIME
    wrong = replace(form.layout, name=f"{form.layout.name} forget_bias {flipped}", forget_bias=flipped)
    case = _case(make_case, form, f"forget_{name}")
    outputs = evaluate(Item(case, name, "float32", "outputs"), reading=ReadAs(other=wrong))
    assert outputs.status == "fail" and outputs.max_abs_err > 1e-3, outputs.message
    weights = evaluate(Item(case, name, "float32", "weights"), reading=ReadAs(other=wrong))
    assert "gate block b['f']" in weights.message


def test_block_ops_skip_float64_with_the_reason(make_case):
    case = make_case(name="f64", dtypes="float64")
    for name in ("lstm_block_cell", "block_lstm", "block_lstm_v2"):
        result = evaluate(Item(case, name, "float64", "outputs"))
        assert result.status == "skip" and result.message == f"{name} takes float32 only, not float64"


def test_legacy_cells_skip_with_the_reason_when_tf_keras_is_missing(make_case, monkeypatch):
    monkeypatch.setattr(tf_compat, "legacy_cells_missing", lambda: "the tf.compat.v1 LSTM cells are not available")
    case = make_case(name="no_tf_keras")
    result = evaluate(Item(case, "basic_lstm_cell_static_rnn", "float32", "outputs"))
    assert result.status == "skip" and "not available" in result.message


def test_forms_do_not_leak_into_each_other_in_any_order(make_case, monkeypatch):
    """Run every form, then every form again in reverse order in the same process: bit-identical."""
    case = make_case(name="isolation", dtypes="float32")
    names = [n for n in case.forms if not FORMS[n].missing()]  # a form whose extra is absent is skipped
    first = {n: engine.read(case, n, "float32").form_out for n in names}
    for n in reversed(names + names):  # twice, so static_rnn also runs after a traced dynamic_rnn
        monkeypatch.setattr(RUNS, "_tf", {})  # build and run TF again
        again = engine.read(case, n, "float32").form_out
        assert again is not first[n]
        np.testing.assert_array_equal(again.outputs, first[n].outputs, err_msg=n)
        np.testing.assert_array_equal(again.c, first[n].c, err_msg=n)


def test_the_question_network_runs_through_basic_lstm_cell_static_rnn_with_its_head():
    from pathlib import Path

    from lstm_equiv.harness.casefile import CaseLoader

    (case,) = CaseLoader().load(Path(__file__).resolve().parent.parent / "cases" / "question.yaml")
    assert "basic_lstm_cell_static_rnn" in case.forms and case.num_classes == 2
    r = engine.read(case, "basic_lstm_cell_static_rnn", "float32")
    assert r.form_out.tensors["kernel"].shape == (12 + 64, 4 * 64)  # [input_depth + h_depth, 4 num_units]
    assert r.form_out.tensors["bias"].shape == (4 * 64,)
    assert r.form_out.logits.shape == (2, 2)


@pytest.mark.parametrize(
    "name, extra",
    [("torch_lstm", "torch"), ("torch_lstm_cell", "torch"), ("onnx_lstm", "onnx"), ("onnx_reference", "onnx")],
)
def test_without_its_extra_a_form_is_skipped_with_a_reason_that_names_it(name, extra, monkeypatch):
    import importlib.util

    from lstm_equiv.harness.forms.onnx import lstm as onnx_lstm
    from lstm_equiv.harness.forms.torch import lstm as pytorch

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda module, *a: None if module in ("torch", "onnx", "onnxruntime") else real(module, *a),
    )
    form = FORMS[name]
    reason = form.skip_reason(None, form.dtypes[0])
    assert form.missing() == reason and f"pip install -e '.[{extra}]'" in reason
    assert pytorch.missing() and onnx_lstm.missing()


GRU_CASE = "cell: gru\n"


@pytest.mark.parametrize("name", params_of(sorted(GRU_FORMS)))
@pytest.mark.parametrize("reset_after", [False, True])
def test_each_gru_form_passes_with_its_own_layout_and_fails_with_r_and_u_swapped(make_case, name, reset_after):
    """Every GRU form, in each reset position it can compute: its own layout passes every check; the same run
    read through its layout with the r and u blocks swapped fails the outputs, and the weights check names
    the block read from the wrong place."""
    form = FORMS[name]
    if reset_after not in form.reset_after_values:
        pytest.skip(f"{name} cannot put the reset {'after' if reset_after else 'before'} the product")
    case = make_case(
        name=f"gru_{name}_{int(reset_after)}",
        dtypes="float32",
        extra=GRU_CASE + f"reset_after: {str(reset_after).lower()}\nforms: [{name}]\n",
    )
    results = {check: evaluate(Item(case, name, "float32", check)) for check in engine.checks_of(case)}
    assert "final_c" not in results  # a GRU has no c
    gradient = "skip" if form.no_gradient else "pass"
    assert {c: r.status for c, r in results.items()} == {
        c: gradient if c.startswith("grad_") else "pass" for c in results
    }, [r.message for r in results.values()]
    layout = form.layout_for(case)
    swapped = replace(
        layout,
        name=f"{layout.name} r/u swapped",
        tensors=tuple(replace(t, gates=tuple({"r": "u", "u": "r"}.get(g, g) for g in t.gates)) for t in layout.tensors),
    )
    outputs = evaluate(Item(case, name, "float32", "outputs"), reading=ReadAs(other=swapped))
    assert outputs.status == "fail" and outputs.max_abs_err > 1e-3, outputs.message
    weights = evaluate(Item(case, name, "float32", "weights"), reading=ReadAs(other=swapped))
    assert "gate block V['r']" in weights.message and "injected as V['u']" in weights.message, weights.message
