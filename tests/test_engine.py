"""The engine against real TensorFlow: right layouts pass, wrong layouts fail and say which gate block."""

from dataclasses import replace

import pytest

from lstm_equiv.harness import engine, layouts
from lstm_equiv.harness.engine import Item, ReadAs, evaluate
from lstm_equiv.harness.forms import FORMS, LSTM_FORMS

WRONG_ORDER = replace(layouts.KERAS, name="keras read as ijfo", gate_order=("i", "j", "f", "o"))
FORGET_BIAS_AT_RUN_TIME = replace(layouts.KERAS, name="keras without stored forget_bias", forget_bias=layouts.RUNTIME)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_check_passes_with_the_right_layout(make_case, dtype):
    case = make_case(extra="head:\n  num_classes: 3\n")
    results = [evaluate(Item(case, "keras_lstm", dtype, check)) for check in engine.checks_of(case)]
    assert [r.item.check for r in results] == [
        "weights",
        "outputs",
        "final_h",
        "final_c",
        "logits",
        "grad_weights",
        "grad_x",
    ]
    assert [r.status for r in results] == ["pass"] * 7, [r.message for r in results]
    assert all(r.max_abs_err <= r.tolerance for r in results)


def test_reading_the_keras_kernel_as_ijfo_fails_and_names_the_gate_block(make_case):
    case = make_case()
    weights = evaluate(Item(case, "keras_lstm", "float64", "weights"), reading=ReadAs(other=WRONG_ORDER))
    assert weights.status == "fail"
    assert (
        "gate block V['j'] read from kernel columns 4:8 (layout keras read as ijfo) differs from the "
        "injected V['j']: it holds the block injected as V['f']"
    ) in weights.message
    assert "gate block W['f'] read from recurrent_kernel columns 8:12" in weights.message
    outputs = evaluate(Item(case, "keras_lstm", "float64", "outputs"), reading=ReadAs(other=WRONG_ORDER))
    assert outputs.status == "fail" and outputs.max_abs_err > 1e-3
    assert "Mismatched elements:" in outputs.message
    assert "First mismatch at batch 0, timestep 0, unit" in outputs.message
    assert "Tolerance: atol from " in outputs.message
    assert "per timestep (derived for this case: 50 x the spread" in outputs.message
    assert "Max ULP difference (float64):" in outputs.message


@pytest.mark.parametrize("check", ["outputs", "final_h", "final_c"])
def test_forget_bias_in_the_wrong_place_fails(make_case, check):
    case = make_case(forget_bias=1.0)
    result = evaluate(Item(case, "keras_lstm", "float32", check), reading=ReadAs(other=FORGET_BIAS_AT_RUN_TIME))
    assert result.status == "fail" and result.max_abs_err > 1e-3


def test_forget_bias_in_the_wrong_place_names_b_f(make_case):
    result = evaluate(
        Item(make_case(), "keras_lstm", "float64", "weights"), reading=ReadAs(other=FORGET_BIAS_AT_RUN_TIME)
    )
    assert "gate block b['f'] read from bias[4:8]" in result.message
    assert "it matches no injected gate block" in result.message


def test_a_crashing_form_is_an_error_on_every_check(make_case, monkeypatch):

    def boom(*args, **kwargs):
        raise RuntimeError("the form fell over")

    monkeypatch.setattr(FORMS["keras_lstm"], "run", boom)
    case = make_case(name="crashing")
    result = evaluate(Item(case, "keras_lstm", "float32", "outputs"))
    assert result.status == "error" and "RuntimeError: the form fell over" in result.message


def test_plan_is_deterministic_and_complete(make_case):
    case = make_case(extra="head:\n  num_classes: 2\n")
    items = engine.plan([case])
    assert items == engine.plan([case])
    assert case.forms == tuple(sorted(LSTM_FORMS)) and len(LSTM_FORMS) == 13  # every LSTM form can express it
    assert len(items) == 13 * 2 * 7  # forms x dtypes x checks (5 forward, 2 gradient)
    assert [i.run_id for i in items[:7]] == [f"{case.forms[0]}-float32"] * 7


def test_runs_are_shared_by_the_checks_of_one_form_and_dtype(make_case, monkeypatch):

    calls = []
    real = FORMS["keras_lstm"].run
    monkeypatch.setattr(FORMS["keras_lstm"], "run", lambda *a, **kw: calls.append(a) or real(*a, **kw))
    case = make_case(name="shared")
    for check in engine.checks_of(case):
        evaluate(Item(case, "keras_lstm", "float64", check))
    assert len(calls) == 1
