"""The per-gate plain RNN reference (the third cell): its backpropagation against central finite
differences, and its forward pass written out by hand for one step."""

import numpy as np
import pytest
from test_reference_gradients import RTOL, _numeric  # central differences, the LSTM's own

from lstm_equiv.reference import RNNParams, rnn_backward, rnn_forward


def _setup(seed, with_bh=True):
    rng = np.random.default_rng(seed)
    n_in, n, batch, steps = 3, 4, 2, 5
    params = RNNParams(
        V={"h": rng.normal(0, 0.6, (n_in, n))},
        W={"h": rng.normal(0, 0.6, (n, n))},
        b={"h": rng.normal(0, 0.5, n)},
        b_h={"h": rng.normal(0, 0.5, n)} if with_bh else None,
    )
    x = rng.normal(size=(batch, steps, n_in))
    return params, x, rng.normal(0, 0.3, (batch, n)), rng.normal(size=(batch, steps, n)), rng.normal(size=(batch, n))


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("with_bh", [False, True])
def test_every_rnn_gradient_matches_finite_differences(activation, with_bh):
    params, x, h0, r_out, r_h = _setup(5, with_bh)

    def f():
        outputs, h = rnn_forward(x, params, h0, activation=activation)
        return float((r_out * outputs).sum() + (r_h * h).sum())

    grads = rnn_backward(x, params, r_out, h0, d_h=r_h, activation=activation)
    blocks = [(f"{part}[{g}]", a, getattr(grads.params, part)[g]) for part, g, a in params.items()]
    blocks += [("x", x, grads.x), ("h0", h0, grads.h0)]
    for label, array, analytic in blocks:
        numeric = _numeric(f, array)
        np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=RTOL * np.abs(numeric).max(), err_msg=label)


def test_one_step_is_the_equation_and_the_recurrent_matrix_acts_on_h():
    params, x, h0, _, _ = _setup(6)
    _, h1 = rnn_forward(x[:, :1], params, h0)
    want = np.tanh(x[:, 0] @ params.V["h"] + h0 @ params.W["h"] + params.b["h"] + params.b_h["h"])
    np.testing.assert_array_equal(h1, want)
    swapped = RNNParams(params.V, {"h": params.W["h"].T}, params.b, params.b_h)  # W read transposed
    assert np.abs(rnn_forward(x, swapped, h0)[0] - rnn_forward(x, params, h0)[0]).max() > 1e-2


def test_rnn_params_refuse_a_wrong_gate_or_shape():
    params, *_ = _setup(7)
    with pytest.raises(ValueError, match="exactly the gates"):
        RNNParams({"c": params.V["h"]}, params.W, params.b)
    with pytest.raises(ValueError, match=r"RNNParams.W\['h'\] has shape"):
        RNNParams(params.V, {"h": params.W["h"][:2]}, params.b)
