"""The third cell, the plain RNN (issue 23's proof that a cell is data): a reference (reference/rnn.py), its
layouts (harness/block_layouts.py), one Cell (harness/cells.py) and one form per framework
(harness/forms/<framework>/cells.py) make every check run for it, and a wrong layout of it fails."""

from dataclasses import replace

import pytest

from lstm_equiv.harness import layouts, spec
from lstm_equiv.harness.block_layouts import BlockTensor
from lstm_equiv.harness.casefile import parse
from lstm_equiv.harness.cells import CELLS
from lstm_equiv.harness.engine import Item, ReadAs, checks_of, evaluate
from lstm_equiv.harness.forms import FORMS, RNN_FORMS, params_of


def _square(tmp_path, name, form):
    """input_depth == num_units: a wrong reading keeps its shape, so only the values can tell."""
    text = (
        f"name: {name}\ncell: rnn\ninput_depth: 4\nnum_units: 4\ntimesteps: 6\nbatch: 2\nseed: 943\n"
        f"dtypes: [float32]\nforms: [{form}]\n"
    )
    (case,) = parse(tmp_path / f"{name}.yaml", text.encode())
    return case


def test_the_cell_key_and_the_forms_know_the_third_cell():
    assert spec.FIELDS["cell"].enum == tuple(CELLS) and "rnn" in CELLS
    assert sorted(RNN_FORMS) == ["basic_rnn_cell_static_rnn", "keras_simple_rnn", "onnx_rnn", "torch_rnn"]


@pytest.mark.parametrize("form", params_of(sorted(RNN_FORMS)))
def test_every_check_passes_on_every_rnn_form(make_case, form):
    case = make_case(name=f"rnn_{form}", dtypes="float32", extra=f"cell: rnn\ninitial_state: random\nforms: [{form}]\n")
    results = {check: evaluate(Item(case, form, "float32", check)) for check in checks_of(case)}
    assert "final_c" not in results and {"weights", "outputs", "final_h"} <= set(results)
    assert {r.status for r in results.values()} <= {"pass", "skip"}, [r.message for r in results.values()]
    assert results["weights"].status == "pass" and results["outputs"].status == "pass"


@pytest.mark.parametrize(
    "form, wrong",
    [
        ("torch_rnn", replace(layouts.TORCH_RNN, transposed=False)),  # [out, in] read as [in, out]
        (
            "keras_simple_rnn",
            replace(
                layouts.KERAS_SIMPLE_RNN,
                tensors=(  # kernel and recurrent_kernel exchanged
                    BlockTensor("recurrent_kernel", "x", ("h",)),
                    BlockTensor("kernel", "h", ("h",)),
                    BlockTensor("bias", "b", ("h",)),
                ),
            ),
        ),
        (
            "onnx_rnn",
            replace(
                layouts.ONNX_RNN,
                tensors=(  # W and R exchanged
                    BlockTensor("R", "x", ("h",)),
                    BlockTensor("W", "h", ("h",)),
                    BlockTensor("Wb", "b", ("h",)),
                    BlockTensor("Rb", "b_h", ("h",)),
                ),
            ),
        ),
    ],
)
def test_a_wrong_rnn_layout_fails_the_weights_and_the_outputs(tmp_path, form, wrong):
    if FORMS[form].missing():
        pytest.skip(FORMS[form].missing())
    case = _square(tmp_path, f"rnn_wrong_{form}", form)
    right = evaluate(Item(case, form, "float32", "outputs"))
    assert right.status == "pass", right.message
    for check in ("weights", "outputs"):
        result = evaluate(Item(case, form, "float32", check), reading=ReadAs(other=wrong))
        assert result.status == "fail", (check, result.message)


def test_a_form_of_another_cell_refuses_by_name(make_case):
    case = make_case(name="rnn_only", dtypes="float32", extra="cell: rnn\n")
    assert set(case.forms) == set(RNN_FORMS)  # every form that applies: the RNN's, no LSTM or GRU form
    why = dict(FORMS["keras_gru"].cannot_express({**spec.DEFAULTS, "cell": "rnn"}))["cell"]
    assert "is a GRU form: it cannot express another cell (cell: 'rnn')" in why
    assert dict(FORMS["keras_lstm"].cannot_express({**spec.DEFAULTS, "cell": "rnn"}))["cell"].startswith(
        "cannot express this cell (cell: 'rnn')"
    )


def test_a_cell_is_named_with_the_article_its_letters_take():
    from lstm_equiv.harness.cells import spoken

    assert [spoken(name) for name in CELLS] == ["an LSTM", "a GRU", "an RNN"]


def test_explain_shows_every_rnn_form_once_with_its_one_layout():
    from lstm_equiv.harness import explain

    lines = []
    assert explain.main_blocks("rnn", 3, 4, out=lines.append) == 0
    for name in RNN_FORMS:
        layout = FORMS[name].layout_for(type("Case", (), {"reset_after": False})())
        assert sum(line.startswith(f"{name}:") for line in lines) == 1
        assert sum(line.strip().startswith(f"layout {layout.name}:") for line in lines) == 1, name
    assert all(FORMS[name].reset_after_values == (False,) for name in RNN_FORMS)  # an RNN has no reset


def test_the_conditioning_rule_measures_a_wrong_rnn_layout_too():
    """A one-gate cell has no gate pair to swap: its recurrent matrix read transposed is the wrong layout the
    bound is measured against, so an RNN item can be ill-conditioned or undecided like any other."""
    import numpy as np

    from lstm_equiv.harness import sensitivity
    from lstm_equiv.reference import RNNParams

    rng = np.random.default_rng(3)
    params = RNNParams(
        {"h": rng.normal(0, 0.3, (4, 5))}, {"h": rng.normal(0, 0.5, (5, 5))}, {"h": rng.normal(0, 0.5, 5)}
    )
    smallest, what = sensitivity.separation(rng.normal(size=(2, 30, 4)), params, {"activation": "tanh"})
    assert np.isfinite(smallest) and smallest > 0 and what == "W['h'] read transposed"
