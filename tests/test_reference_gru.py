"""The per-gate GRU reference: its backpropagation against central finite differences, and the published
ONNX GRU node-test vectors (tests/data/onnx_gru/, from the onnx 1.22.0 wheel: docs/sources.md)."""

from functools import partial

import numpy as np
import pytest
from test_reference_gradients import RTOL, _numeric  # central differences, the LSTM's own

from lstm_equiv.reference import GRU_GATES, GRUParams, gru_backward, gru_forward


def _setup(seed, with_bh=True):
    rng = np.random.default_rng(seed)
    n_in, n, batch, steps = 3, 4, 2, 5
    params = GRUParams(
        V={g: rng.normal(0, 0.6, (n_in, n)) for g in GRU_GATES},
        W={g: rng.normal(0, 0.6, (n, n)) for g in GRU_GATES},
        b={g: rng.normal(0, 0.5, n) for g in GRU_GATES},
        b_h={g: rng.normal(0, 0.5, n) for g in GRU_GATES} if with_bh else None,
    )
    x = rng.normal(size=(batch, steps, n_in))
    h0 = rng.normal(0, 0.3, (batch, n))
    return params, x, h0, rng.normal(size=(batch, steps, n)), rng.normal(size=(batch, n))


@pytest.mark.parametrize("reset_after", [False, True])
@pytest.mark.parametrize("activations", [("tanh", "sigmoid"), ("relu", "hard_sigmoid_0.2")])
def test_every_gru_gradient_matches_finite_differences(reset_after, activations):
    params, x, h0, r_out, r_h = _setup(5)
    kw = dict(reset_after=reset_after, activation=activations[0], recurrent_activation=activations[1])

    def f():
        outputs, h = gru_forward(x, params, h0, **kw)
        return float((r_out * outputs).sum() + (r_h * h).sum())

    grads = gru_backward(x, params, r_out, h0, d_h=r_h, **kw)
    blocks = [(f"{part}[{g}]", a, getattr(grads.params, part)[g]) for part, g, a in params.items()]
    blocks += [("x", x, grads.x), ("h0", h0, grads.h0)]
    for label, array, analytic in blocks:
        numeric = _numeric(f, array)
        np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=RTOL * np.abs(numeric).max(), err_msg=label)


def test_the_reset_position_and_the_update_convention_matter():
    """Reset before and after differ; h = u h + (1 - u) c, not u c + (1 - u) h."""
    params, x, h0, _, _ = _setup(6)
    before, _ = gru_forward(x, params, h0, reset_after=False)
    after, _ = gru_forward(x, params, h0, reset_after=True)
    assert np.abs(before - after).max() > 1e-2
    one_step, h1 = gru_forward(x[:, :1], params, h0)
    from lstm_equiv.reference.gru import gru_step
    from lstm_equiv.reference.lstm import ACTIVATIONS

    s = gru_step(x[:, 0], h0, params, False, ACTIVATIONS["tanh"], ACTIVATIONS["sigmoid"])
    np.testing.assert_array_equal(h1, s.u * h0 + (1 - s.u) * s.c)
    assert np.abs(h1 - (s.u * s.c + (1 - s.u) * h0)).max() > 1e-2


def test_gru_params_refuse_a_wrong_gate_or_shape():
    params, *_ = _setup(7)
    with pytest.raises(ValueError, match="exactly the gates"):
        GRUParams({"r": params.V["r"], "u": params.V["u"], "z": params.V["c"]}, params.W, params.b)
    with pytest.raises(ValueError, match=r"GRUParams.W\['c'\] has shape"):
        GRUParams(params.V, {**params.W, "c": params.W["c"][:2]}, params.b)


def _member(data, test: str, name: str):
    """The array ``name`` of the node test ``test`` in the vectors file, or None where it has none."""
    return data[f"{test}/{name}"] if f"{test}/{name}" in data.files else None


def _onnx_vectors():
    import json
    from pathlib import Path

    data = np.load(Path(__file__).resolve().parent / "data" / "onnx_gru_vectors.npz")
    return data, json.loads(bytes(data["about.json"]))


def _from_onnx(W, R, B, n):
    """ONNX's GRU tensors (one direction: W [3u, in], R [3u, u], B [6u]; row blocks z r h, B = Wb then Rb)
    as per-gate params: z is our u, h our c; the blocks are [out, in], so each is transposed."""
    order = ("u", "r", "c")
    block = lambda m, k: m[k * n : (k + 1) * n]
    V = {g: block(W, k).T for k, g in enumerate(order)}
    Wr = {g: block(R, k).T for k, g in enumerate(order)}
    zeros = np.zeros(6 * n, W.dtype) if B is None else B
    b = {g: block(zeros, k) for k, g in enumerate(order)}
    b_h = {g: block(zeros, 3 + k) for k, g in enumerate(order)}
    return GRUParams(V, Wr, b, b_h)


def test_the_reference_reproduces_onnx_published_gru_vectors():
    """ONNX's node tests test_gru_defaults, test_gru_seq_length, test_gru_with_initial_bias and
    test_gru_batchwise (onnx 1.22.0's shipped data: inputs and expected Y / Y_h, float32), run through the
    per-gate reference in float64 on the same float32 inputs: equal to float32's printing, 1e-6."""
    data, about = _onnx_vectors()
    assert sorted(about["tests"]) == [
        "test_gru_batchwise",
        "test_gru_defaults",
        "test_gru_seq_length",
        "test_gru_with_initial_bias",
    ]
    for test, spec in about["tests"].items():
        attrs = spec["attributes"]
        get = partial(_member, data, test)
        n = attrs["hidden_size"]
        params = _from_onnx(get("W")[0], get("R")[0], None if get("B") is None else get("B")[0], n)
        x = get("X").astype(np.float64)
        batch_major = attrs.get("layout", 0) == 1
        outputs, h = gru_forward(
            x if batch_major else np.swapaxes(x, 0, 1), params, reset_after=bool(attrs.get("linear_before_reset", 0))
        )
        want_h = get("Y_h")
        np.testing.assert_allclose(h, want_h[:, 0] if batch_major else want_h[0], atol=1e-6, err_msg=test)
        if get("Y") is not None:
            want = get("Y")[:, :, 0] if batch_major else np.swapaxes(get("Y")[:, 0], 0, 1)
            np.testing.assert_allclose(outputs, want, atol=1e-6, err_msg=test)
        assert np.abs(want_h).max() > 0.05, test  # the vectors are not all zero


def test_three_of_the_four_published_gru_vectors_cannot_see_a_gate_swap_or_the_reset_position():
    """Measured: ONNX's constant-weight vectors (every W and R entry 0.1; test_gru_with_initial_bias's bias
    is one value per half) give exactly the same Y_h with z and r swapped, and with the reset applied after
    the product instead of before; only test_gru_seq_length, with random weights, tells both apart. Why the
    harness draws random, gate-distinct weights for the GRU too."""
    data, about = _onnx_vectors()
    blind = []
    for test, spec in about["tests"].items():
        attrs = spec["attributes"]
        get = partial(_member, data, test)
        p = _from_onnx(get("W")[0], get("R")[0], None if get("B") is None else get("B")[0], attrs["hidden_size"])
        swap = lambda m: {**m, "r": m["u"], "u": m["r"]}
        swapped = GRUParams(swap(p.V), swap(p.W), swap(p.b), swap(p.b_h))
        x = get("X").astype(np.float64)
        x = x if attrs.get("layout", 0) == 1 else np.swapaxes(x, 0, 1)
        right = gru_forward(x, p)[1]
        gate_swap = np.abs(gru_forward(x, swapped)[1] - right).max()
        reset_after = np.abs(gru_forward(x, p, reset_after=True)[1] - right).max()
        if gate_swap == 0.0 and reset_after == 0.0:
            blind.append(test)
        else:
            assert gate_swap > 0.5 and reset_after > 1e-3, (test, gate_swap, reset_after)
    assert sorted(blind) == ["test_gru_batchwise", "test_gru_defaults", "test_gru_with_initial_bias"]
