"""What onnx.reference's LSTM ignores, measured each run: the reason onnx_reference claims no option but
peepholes, while onnxruntime computes every one of them (harness/forms/onnx/lstm.py, docs/sources.md)."""

import numpy as np
import pytest

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms.onnx import lstm as onnx_lstm
from lstm_equiv.harness.runs import RUNS
from lstm_equiv.reference import GATES, LSTMParams, lstm_forward

pytestmark = pytest.mark.skipif(onnx_lstm.missing() is not None, reason=str(onnx_lstm.missing()))

IGNORED = {
    "clip": {"gate_clip": 0.3},
    "input_forget": {"input_forget": True},
    "activations": {"activation": "relu", "recurrent_activation": "hard_sigmoid_0.2"},
}


def _setup():
    rng = np.random.default_rng(9)
    n_in, n = 3, 4
    params = LSTMParams(
        {g: rng.normal(0, 0.8, (n_in, n)) for g in GATES},
        {g: rng.normal(0, 0.8, (n, n)) for g in GATES},
        {g: rng.normal(0, 0.5, n) for g in GATES},
    ).astype(np.float32)
    return params, rng.normal(size=(2, 6, n_in)).astype(np.float32)


@pytest.mark.parametrize("attribute", sorted(IGNORED))
def test_onnx_reference_ignores_what_onnxruntime_computes(attribute):
    params, x = _setup()
    semantics = IGNORED[attribute]
    model = onnx_lstm.lstm_model(layouts.ONNX.compose(params, 0.0), "float32", 3, 4, onnx_lstm.attributes(semantics))
    assert any(a.name == attribute for node in model.graph.node for a in node.attribute)
    x64, p64 = x.astype(np.float64), params.astype(np.float64)
    with_it = lstm_forward(x64, p64, **semantics)[0]
    without = lstm_forward(x64, p64)[0]
    assert np.abs(with_it - without).max() > 1e-2  # the attribute matters on these weights
    runtime = onnx_lstm.run_model(model, x, "onnxruntime")["outputs"]
    ignored = onnx_lstm.run_model(model, x, "reference")["outputs"]
    np.testing.assert_allclose(runtime, with_it, atol=1e-5)  # onnxruntime computes it
    np.testing.assert_allclose(ignored, without, atol=1e-5)  # onnx.reference computes as if it were not there


@pytest.mark.parametrize("reset_after", [False, True])
def test_onnx_gru_weights_are_read_back_from_the_model_so_a_packing_mistake_fails(make_case, monkeypatch, reset_after):
    """onnx_gru reports the tensors held in the model's initializers, so a model packed without its recurrent
    bias Rb (B = [Wb, 0]) fails the weights check, naming the bias block; packed right, every forward check
    passes. (A swap of Wb and Rb is the same function where the reset comes first: the two only add, and
    they are read back as one b.)"""
    from lstm_equiv.harness import engine

    case = make_case(
        name=f"onnx_gru_pack_{int(reset_after)}",
        dtypes="float32",
        extra=f"cell: gru\nreset_after: {str(reset_after).lower()}\nforms: [onnx_gru]\nchecks: [forward]\n",
    )
    right = {c: engine.evaluate(engine.Item(case, "onnx_gru", "float32", c)).status for c in engine.checks_of(case)}
    assert set(right.values()) == {"pass"}, right
    real = onnx_lstm.network_model
    monkeypatch.setattr(
        onnx_lstm,
        "network_model",
        lambda cells, *a, **kw: real([{**t, "Rb": 0 * t["Rb"]} for t in cells], *a, **kw),
    )
    monkeypatch.setattr(RUNS, "_tf", {})
    weights = engine.evaluate(engine.Item(case, "onnx_gru", "float32", "weights"))
    block = "b_h" if reset_after else "b"  # the recurrent biases apart, or the one b they add up to
    assert weights.status == "fail" and f"gate block {block}['u'] read from" in weights.message, weights.message


def test_a_bidirectional_node_lists_its_activations_for_each_direction(make_case):
    """ONNX lists activations (and alpha, beta) per direction; onnxruntime refuses a bidirectional node
    with one direction's list. The LSTM with hard_sigmoid, bidirectional, passes every forward check."""
    from lstm_equiv.harness import engine

    assert onnx_lstm.per_direction({"activations": ["A", "B"], "activation_alpha": [0.2], "clip": 1.0}, 2) == {
        "activations": ["A", "B", "A", "B"],
        "activation_alpha": [0.2, 0.2],
        "clip": 1.0,
    }
    case = make_case(
        name="onnx_bidirectional_hard_sigmoid",
        dtypes="float32",
        extra="recurrent_activation: hard_sigmoid\nbidirectional: {merge_mode: concat}\nforms: [onnx_lstm]\n"
        "checks: [forward]\n",
    )
    got = {c: engine.evaluate(engine.Item(case, "onnx_lstm", "float32", c)).status for c in engine.checks_of(case)}
    assert set(got.values()) == {"pass"}, got
