"""Every cell can fail, not only the first: a wrong bit in any cell's TF variables fails the `weights` check,
a wrong gradient block or one gradient entry off by twice its bound in any cell fails `grad_weights`, and
so does a tampered gradient of the second bias (PyTorch's bias_hh). Cells 2 to 4 of a stacked
bidirectional case are layer 1 backward, layer 2 forward and layer 2 backward."""

from dataclasses import replace

import numpy as np
import pytest

from lstm_equiv.harness import engine, runs, selftest, tolerances
from lstm_equiv.harness.checks import gradients
from lstm_equiv.harness.engine import Item
from lstm_equiv.harness.forms import FORMS
from lstm_equiv.harness.runs import RUNS

STACKED = "layers: 2\nbidirectional: {merge_mode: concat}\nforms: [%s]\n"  # 4 cells, on make_case's sizes
FORMS_HERE = [("keras_lstm", "float64"), ("lstm_cell", "float64"), ("torch_lstm", "float64"), ("onnx_lstm", "float32")]
WITH_GRADIENTS = [(f, d) for f, d in FORMS_HERE if not FORMS[f].no_gradient]


def _stacked(make_case, form, dtype):
    if FORMS[form].missing():
        pytest.skip(FORMS[form].missing())
    return make_case(name=f"stacked_{form}", dtypes=dtype, extra=STACKED % form)


def _tampered(case, form, dtype, **changes):
    """The run of (case, form, dtype) with some of its TF output replaced, read again."""
    tf = engine.form_run(case, form, dtype)
    changed = replace(tf, form_out=replace(tf.form_out, **changes), reads={})
    return runs.read_back(case, FORMS[form], changed, engine.IDENTITY)


def _one_ulp(a: np.ndarray, at=0) -> np.ndarray:
    a = np.array(a, copy=True)
    a.flat[at] = np.nextafter(a.flat[at], np.inf)
    return a


@pytest.mark.parametrize("form, dtype", FORMS_HERE)
def test_one_ulp_in_any_tensor_of_any_cell_fails_the_weights_check(make_case, form, dtype):
    case = _stacked(make_case, form, dtype)
    assert case.cells == 4
    tf = engine.form_run(case, form, dtype)
    assert engine.judge(Item(case, form, dtype, "weights"), engine.read(case, form, dtype)).status == "pass"
    for k in range(1, case.cells):
        for name in sorted(tf.form_out.cells[k]):
            cells = list(tf.form_out.cells)
            cells[k] = {**cells[k], name: _one_ulp(cells[k][name], at=cells[k][name].size // 2)}
            r = _tampered(case, form, dtype, cells=tuple(cells))
            result = engine.judge(Item(case, form, dtype, "weights"), r)
            assert result.status == "fail", (k, name)
            assert f"{case.cell_name(k)}:" in result.message, (k, name, result.message)


def _ref_grads_nudged(k: int, part: str, gate: str, amount: float):
    """A reading whose reference gradient of cell k's part[gate] has element 0 moved by ``amount``."""

    def change(grads):
        cells = list(grads.cells)
        block = dict(getattr(cells[k], part))
        block[gate] = np.array(block[gate], copy=True)
        block[gate].flat[0] += amount
        cells[k] = selftest._with(cells[k], **{part: block})
        return replace(grads, cells=tuple(cells))

    return selftest.Mistake(f"cell {k} {part}[{gate}] nudged", "plain", change_gradients=change)


@pytest.mark.parametrize("form, dtype", WITH_GRADIENTS)
def test_a_gradient_entry_of_any_cell_off_by_twice_its_bound_fails(make_case, form, dtype):
    case = _stacked(make_case, form, dtype)
    item = Item(case, form, dtype, "grad_weights")
    r = engine.read(case, form, dtype)
    assert engine.evaluate(item).status == "pass"
    spread = RUNS.spread(item.case, item.form, item.dtype, r)
    ref = gradients.reference_grads(item, r, engine.IDENTITY)
    for k in range(1, case.cells):
        name = f"{case.cell_name(k)} b['o']"
        bound = tolerances.derived(
            spread.grads[name], ref.cells[k].b["o"], dtype, name, tolerances.GRADIENT_MULTIPLE
        ).atol
        result = engine.evaluate(item, _ref_grads_nudged(k, "b", "o", 2 * bound))
        assert result.status == "fail" and 1.9 < result.ratio < 2.1, (k, result.ratio)
        assert f"d loss / d {name}" in result.message


@pytest.mark.parametrize("form, dtype", WITH_GRADIENTS)
def test_a_gradient_block_of_any_cell_read_from_the_wrong_gate_fails(make_case, form, dtype):
    """TF's gradient of one cell's input weights with two gate blocks swapped: the mapping of that cell's
    gradients is wrong, the other cells' right."""
    case = _stacked(make_case, form, dtype)
    tf = engine.form_run(case, form, dtype)
    layout = FORMS[form].layout_for(case)
    kernel, axis = layout.x_name, 0 if layout.transposed else 1  # gate blocks: PyTorch's rows, TF's columns
    n = case.num_units
    for k in range(1, case.cells):
        grads = list(tf.form_out.cell_grads)
        g = np.array(grads[k][kernel], copy=True)
        first, second = (np.take(g, range(j * n, (j + 1) * n), axis=axis) for j in (0, 1))
        swapped = np.concatenate([second, first, np.take(g, range(2 * n, 4 * n), axis=axis)], axis=axis)
        grads[k] = {**grads[k], kernel: swapped}
        r = _tampered(case, form, dtype, cell_grads=tuple(grads))
        result = engine.judge(Item(case, form, dtype, "grad_weights"), r, engine.IDENTITY)
        assert result.status == "fail", k
        assert f"d loss / d {case.cell_name(k)} V[" in result.message


@pytest.mark.parametrize("form", ["torch_lstm", "torch_lstm_cell"])
def test_a_tampered_gradient_of_the_second_bias_fails(make_case, form):
    """PyTorch stores two biases that it adds: d loss / d bias_hh is compared on its own, so a harness that
    read only bias_ih's gradient would miss this. (ONNX's Rb has no gradient: onnxruntime runs inference.)"""
    if FORMS[form].missing():
        pytest.skip(FORMS[form].missing())
    case = make_case(name=f"two_bias_{form}", dtypes="float64", extra=f"forms: [{form}]\n")
    second = FORMS[form].layout.biases[1]
    tf = engine.form_run(case, form, "float64")
    assert engine.evaluate(Item(case, form, "float64", "grad_weights")).status == "pass"
    grads = {**tf.form_out.grads, second: tf.form_out.grads[second] * (1 + 1e-6)}
    r = _tampered(case, form, "float64", grads=grads)
    result = engine.judge(Item(case, form, "float64", "grad_weights"), r, engine.IDENTITY)
    assert result.status == "fail"
    assert f"in {second}" in " ".join(result.compared) and f"({second}[" in result.message


@pytest.mark.parametrize("form, reset_after", [("onnx_gru", "false"), ("onnx_gru", "true"), ("torch_gru", "true")])
def test_one_ulp_in_either_stored_gru_bias_fails_the_weights_check(make_case, form, reset_after):
    """With the reset before the product the two stored biases only add (ONNX's Wb + Rb): each is compared
    bit for bit on its own, as with the reset after, where the recurrent one is a block of its own."""
    if FORMS[form].missing():
        pytest.skip(FORMS[form].missing())
    dtype = "float32"
    case = make_case(
        name=f"gru_{form}_{reset_after}",
        dtypes=dtype,
        extra=f"cell: gru\nreset_after: {reset_after}\nforms: [{form}]\n",
    )
    tf = engine.form_run(case, form, dtype)
    item = Item(case, form, dtype, "weights")
    assert engine.judge(item, engine.read(case, form, dtype)).status == "pass"
    layout = FORMS[form].layout_for(case)
    for name in [t.name for t in layout.tensors if t.holds in ("b", "b_h")]:
        tensors = {**tf.form_out.tensors, name: _one_ulp(tf.form_out.tensors[name], at=5)}
        result = engine.judge(item, _tampered(case, form, dtype, tensors=tensors))
        assert result.status == "fail", name
