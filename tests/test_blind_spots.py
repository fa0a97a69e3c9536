"""Blind spots a harness like this one can have, each found by the independent audit of issue 11 and not
covered where its mechanism lives: the blocks each check compares, every case key reaching the run, the
comparison's symmetry, one ULP in one weight. Each test fails if the harness goes back to passing what it
should not."""

from dataclasses import replace

import numpy as np
import pytest

from lstm_equiv.harness import engine, runs, selftest, spec
from lstm_equiv.harness.engine import Item, evaluate
from lstm_equiv.harness.forms import FORMS
from lstm_equiv.harness.inputs import loss_weights, make_inputs
from lstm_equiv.harness.runs import RUNS

GATE_BLOCKS = [
    "V['i']",
    "V['j']",
    "V['f']",
    "V['o']",
    "W['i']",
    "W['j']",
    "W['f']",
    "W['o']",
    "b['i']",
    "b['j']",
    "b['f']",
    "b['o']",
]
PEEPHOLES = ["peephole['i']", "peephole['f']", "peephole['o']"]


# finding 3: every comparison knows the blocks it compares, pinned per form and option
@pytest.mark.parametrize(
    "form, extra, grad_blocks",
    [
        ("keras_lstm", "", GATE_BLOCKS),
        ("basic_lstm_cell_dynamic_rnn", "", GATE_BLOCKS),
        ("block_lstm", "use_peepholes: true\n", GATE_BLOCKS + PEEPHOLES),
        ("lstm_cell", "use_peepholes: true\nnum_proj: 3\n", GATE_BLOCKS + PEEPHOLES + ["projection"]),
        ("lstm_cell", "num_proj: 3\n", GATE_BLOCKS + ["projection"]),
    ],
)
def test_the_blocks_each_check_compares_are_pinned(make_case, form, extra, grad_blocks):
    case = make_case(name=f"pinned_{form}_{len(extra)}", dtypes="float32", extra=extra + f"forms: [{form}]\n")
    results = {check: evaluate(Item(case, form, "float32", check)) for check in engine.checks_of(case)}
    assert all(r.status == "pass" for r in results.values()), [r.message for r in results.values()]
    assert list(results["grad_weights"].compared) == grad_blocks
    assert list(results["grad_x"].compared) == ["x"]
    assert list(results["outputs"].compared) == ["outputs"]
    extra_weights = ["projection"] if "num_proj" in extra else []
    assert list(results["weights"].compared) == (
        ["shapes"]
        + grad_blocks[: len(grad_blocks) - len(extra_weights)]
        + extra_weights
        + ["BasicLSTMCell stacked kernel and bias"]
    )


def test_a_dropped_projection_gradient_does_not_pass(make_case, monkeypatch):
    case = make_case(name="noproj_grad", dtypes="float32", extra="num_proj: 3\nforms: [lstm_cell]\n")
    tf = engine.form_run(case, "lstm_cell", "float32")
    grads = {k: v for k, v in tf.form_out.grads.items() if k != "projection/kernel"}
    key = (str(case.path), case.name, "lstm_cell", "float32", "random")
    monkeypatch.setitem(RUNS._tf, key, replace(tf, form_out=replace(tf.form_out, grads=grads), reads={}))
    result = evaluate(Item(case, "lstm_cell", "float32", "grad_weights"))
    assert result.status == "error" and "The check raised" in result.message


# finding 5: a case's tolerance override reaches the gradient checks too
def test_the_tolerance_override_applies_to_the_gradient_checks(make_case):
    extra = "tolerance:\n  float32: 1.0e-30\n  reason: deliberately impossible\nforms: [keras_lstm]\n"
    case = make_case(name="strict_grads", dtypes="float32", extra=extra)
    for check in ("grad_weights", "grad_x", "outputs"):
        result = evaluate(Item(case, "keras_lstm", "float32", check))
        assert result.status == "fail" and result.tolerance == 1e-30
        assert "override in" in result.message and "deliberately impossible" in result.message


# finding 6: every case key does something the suite would notice if it were ignored
KEY_COVERAGE = {
    "name": "tests/test_pytest_collection.py::test_what_is_collected_is_pinned (the item ids)",
    "description": "free text, shown nowhere in a computation (read by people only)",
    "input_depth": "test_the_drawn_inputs_follow_every_size_key",
    "num_units": "test_the_drawn_inputs_follow_every_size_key",
    "timesteps": "test_the_drawn_inputs_follow_every_size_key",
    "batch": "test_the_drawn_inputs_follow_every_size_key",
    "seed": "test_the_drawn_inputs_follow_every_size_key",
    "weight_scale": "test_the_drawn_inputs_follow_every_size_key",
    "input_scale": "test_the_drawn_inputs_follow_every_size_key",
    "dtypes": "tests/test_pytest_collection.py::test_what_is_collected_is_pinned",
    "forms": "tests/test_pytest_collection.py::test_what_is_collected_is_pinned",
    "checks": "tests/test_pytest_collection.py::test_what_is_collected_is_pinned",
    "head": "tests/test_pytest_collection.py::test_what_is_collected_is_pinned (logits items) and "
    "tests/test_engine.py::test_every_check_passes_with_the_right_layout",
    "tolerance": "test_the_tolerance_override_applies_to_the_gradient_checks, tests/test_cli.py",
    "forget_bias": "self-test: forget_bias dropped",
    "activation": "self-test: activation ignored (relu read as tanh)",
    "recurrent_activation": "self-test: recurrent_activation ignored (hard_sigmoid read as sigmoid)",
    "use_peepholes": "self-test: peepholes ignored",
    "num_proj": "self-test: projection omitted",
    "cell_clip": "self-test: cell_clip ignored",
    "proj_clip": "self-test: proj_clip ignored",
    "weights": "tests/test_casefile.py::test_a_case_with_weights_runs_every_form_on_them",
    "gate_clip": "self-test: gate_clip ignored",
    "input_forget": "self-test: input_forget ignored",
    "loss": "self-test: loss ignored (last_output read as outputs)",
    "go_backwards": "self-test: go_backwards outputs read in the other time order (last step first / time order)",
    "bidirectional": "self-test: forward and backward halves swapped in concat",
    "sequence_lengths": "self-test: sequence lengths ignored (padding run as data)",
    "initial_state": "self-test: initial state ignored (read as zeros)",
    "stateful_chunks": "self-test: the state reset between chunks",
    "layers": "self-test: layer 2 reading layer 1's weights",
    "cell": "self-test: GRU: z and r swapped (Keras's and ONNX's z r h read as r z h)",
    "reset_after": "self-test: GRU: the reset applied before the product instead of after",
    "expect_undecided": "tests/test_undecided.py::test_a_case_that_expects_it_exits_0_and_names_its_reason",
}


def test_every_case_key_has_a_test_that_fails_if_it_is_ignored():
    assert sorted(KEY_COVERAGE) == sorted(spec.FIELDS), "a new case key needs a test that fails if it is ignored"
    names = {m.name for m in selftest.named_mistakes()}  # installed or not: test_selftest runs them
    for key, where in KEY_COVERAGE.items():
        if where.startswith("self-test: "):
            assert where.removeprefix("self-test: ") in names, key
        elif where.startswith("test_"):
            assert where.split(",")[0] in globals(), key


def test_the_drawn_inputs_follow_every_size_key(make_case):
    case = make_case(name="sizes", extra="num_proj: 2\n")
    inputs = make_inputs(case, "float64")
    assert inputs.x.shape == (case.batch, case.timesteps, case.input_depth)
    assert inputs.params.V["i"].shape == (case.input_depth, case.num_units)
    assert inputs.params.W["i"].shape == (case.num_proj, case.num_units)
    other = make_inputs(replace(case, seed=case.seed + 1), "float64")
    assert not np.array_equal(other.x, inputs.x) and not np.array_equal(other.params.V["i"], inputs.params.V["i"])
    big = make_inputs(replace(case, weight_scale=3.0, input_scale=0.5), "float64")
    np.testing.assert_allclose(big.params.V["f"], 3.0 * inputs.params.V["f"], rtol=1e-15)
    np.testing.assert_allclose(big.params.W["o"], 3.0 * inputs.params.W["o"], rtol=1e-15)
    np.testing.assert_allclose(big.params.projection, 3.0 * inputs.params.projection, rtol=1e-15)
    np.testing.assert_allclose(big.x, 0.5 * inputs.x, rtol=1e-15)
    np.testing.assert_array_equal(big.params.b["i"], inputs.params.b["i"])  # biases are not weights
    last = make_inputs(replace(case, loss="last_output"), "float64")
    assert np.array_equal(last.loss_weights, loss_weights(inputs.loss_draw, "last_output"))
    assert not last.loss_weights[:, :-1].any() and np.array_equal(last.loss_weights[:, -1], inputs.loss_draw[:, -1])


def test_keras2_and_keras3_hard_sigmoid_keep_their_slopes(monkeypatch):
    """Keras 2: clip(0.2 z + 0.5); Keras 3: clip(z / 6 + 0.5) (keras/src/activations: relu6(x + 3) / 6)."""
    from lstm_equiv.harness.forms.tf import compat as tf_compat
    from lstm_equiv.reference import ACTIVATIONS

    z = np.array([-4.0, -1.0, 0.0, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(ACTIVATIONS["hard_sigmoid_0.2"](z), [0.0, 0.3, 0.5, 0.7, 0.9, 1.0])
    np.testing.assert_allclose(ACTIVATIONS["hard_sigmoid_1/6"](z), [0.0, 1 / 3, 0.5, 2 / 3, 5 / 6, 1.0], rtol=1e-15)
    for major, name in ((2, "hard_sigmoid_0.2"), (3, "hard_sigmoid_1/6")):
        monkeypatch.setattr(tf_compat, "keras_major", lambda major=major: major)
        assert tf_compat.keras_hard_sigmoid() == name


# finding 7 (compare is symmetric and says what numpy.testing says): tests/test_compare.py


# finding 9: the weights check is bit for bit, as it says
def test_one_ulp_in_one_weight_block_fails_the_weights_check(make_case):
    case = make_case(name="ulp", dtypes="float64", extra="forms: [keras_lstm]\n")
    tf = engine.form_run(case, "keras_lstm", "float64")
    kernel = tf.form_out.tensors["kernel"].copy()
    kernel[0, 0] = np.nextafter(kernel[0, 0], np.inf)
    changed = replace(tf, form_out=replace(tf.form_out, tensors={**tf.form_out.tensors, "kernel": kernel}), reads={})
    r = runs.read_back(case, FORMS["keras_lstm"], changed, engine.IDENTITY)
    result = engine.judge(Item(case, "keras_lstm", "float64", "weights"), r)
    assert result.status == "fail" and "gate block V['i'] read from kernel columns 0:4" in result.message
    assert "bit for bit" in result.message and result.tolerance == 0.0


# finding 11: every cited source lives in the repository
def test_nothing_cites_a_file_outside_the_repository():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    files = [p for d in ("harness", "reference", "tests", "docs", "cases", "tools") for p in (root / d).rglob("*")]
    files += [root / n for n in ("README.md", "conftest.py", "pyproject.toml", "tox.ini")]
    cited = set()
    for path in files:
        name = str(path.relative_to(root))
        if path.suffix not in (".py", ".md", ".toml", ".ini", ".yaml"):
            continue
        text = path.read_text(errors="replace")
        outside = "FACTS" + ".md", "STYLE" + ".md", "../" + "shared"
        assert not any(o in text for o in outside), f"{name} cites a file outside the repository"
        cited |= set(re.findall(r"\bdocs/[\w./-]+\.md\b", text))
    assert "docs/sources.md" in cited
    assert all((root / c).is_file() for c in cited), cited
