"""The spread behind every derived bound, on its own (no TensorFlow)."""
from dataclasses import replace

import numpy as np
import pytest

from harness import sensitivity
from reference import GATES, PEEPHOLE_GATES, LSTMParams, dense, lstm_backward, lstm_forward


def _params(seed, n_in=3, n=4, scale=0.5, peepholes=False, num_proj=None):
    rng = np.random.default_rng(seed)
    h = num_proj or n
    return LSTMParams({g: rng.normal(0, scale, (n_in, n)) for g in GATES},
                      {g: rng.normal(0, scale, (h, n)) for g in GATES},
                      {g: rng.normal(0, 0.5, n) for g in GATES},
                      {g: rng.normal(0, 0.5, n) for g in PEEPHOLE_GATES} if peepholes else None,
                      rng.normal(0, scale, (n, num_proj)) if num_proj else None)


X = np.random.default_rng(7).normal(size=(2, 12, 3))
SEMANTICS = {"forget_bias": 1.0, "cell_clip": None, "proj_clip": None, "activation": "tanh",
             "recurrent_activation": "sigmoid"}


def test_the_unperturbed_forward_is_the_reference_exactly():
    for p in (_params(1), _params(2, peepholes=True, num_proj=2)):
        outputs, h, c = sensitivity._forward(X, p, 0.0, None, **SEMANTICS)
        ref_outputs, (ref_h, ref_c) = lstm_forward(X, p, **SEMANTICS)
        np.testing.assert_array_equal(outputs, ref_outputs)
        np.testing.assert_array_equal(h, ref_h)
        np.testing.assert_array_equal(c, ref_c)


def test_the_spread_has_every_tensor_and_is_reproducible():
    p, d = _params(3), np.random.default_rng(4).normal(size=(2, 12, 4))
    head = (np.random.default_rng(5).normal(size=(4, 2)), np.zeros(2))
    s = sensitivity.spread(X, p, SEMANTICS, "float32", 11, head=head, d_outputs=d)
    again = sensitivity.spread(X, p, SEMANTICS, "float32", 11, head=head, d_outputs=d)
    np.testing.assert_array_equal(s.outputs, again.outputs)
    assert s.outputs.shape == (12,) and (s.outputs > 0).all()
    assert s.final_h > 0 and s.final_c > 0 and s.logits > 0
    assert s.final_h == pytest.approx(s.outputs[-1])  # the last output is the final h
    assert sorted(s.grads) == sorted([f"{part}[{g!r}]" for part in "VWb" for g in GATES] + ["x"])
    assert all(v > 0 for v in s.grads.values())
    other = sensitivity.spread(X, p, SEMANTICS, "float32", 12, head=head, d_outputs=d)
    assert not np.array_equal(other.outputs, s.outputs)  # the seed chooses the perturbations


def test_the_spread_is_the_size_of_the_dtypes_roundoff():
    """float32's unit roundoff is 2^29 times float64's: so are the spreads, within the noise of 4 draws."""
    p = _params(6)
    s32 = sensitivity.spread(X, p, SEMANTICS, "float32", 1)
    s64 = sensitivity.spread(X, p, SEMANTICS, "float64", 1)
    ratio = s32.outputs.max() / s64.outputs.max()
    assert 2.0 ** 29 / 30 < ratio < 2.0 ** 29 * 30
    assert 1e-9 < s32.outputs.max() < 1e-5  # O(u) for a tame case: gates neither saturate nor explode


def test_no_head_no_gradients_means_none():
    s = sensitivity.spread(X, _params(8), SEMANTICS, "float64", 2)
    assert s.logits is None and s.grads == {}


def test_the_spread_grows_with_the_weights_where_the_dynamics_amplify_rounding():
    x = np.random.default_rng(9).normal(size=(1, 60, 3))
    tame = sensitivity.spread(x, _params(10, scale=0.3), SEMANTICS, "float32", 3).outputs.max()
    wild = sensitivity.spread(x, _params(10, scale=6.0), SEMANTICS, "float32", 3).outputs.max()
    assert wild > 10 * tame  # measured: 62 times


def test_gradient_spreads_follow_the_reference_gradients():
    p, d = _params(13, num_proj=2, peepholes=True), np.random.default_rng(14).normal(size=(2, 12, 2))
    s = sensitivity.spread(X, p, SEMANTICS, "float32", 5, d_outputs=d)
    g = lstm_backward(X, p, d, **SEMANTICS)
    assert "projection" in s.grads and "peephole['o']" in s.grads
    for name, spread in s.grads.items():  # a spread is a small fraction of the gradient it perturbs
        exact = g.x if name == "x" else (g.params.projection if name == "projection" else
                                          getattr(g.params, name[:-5])[name[-3]])
        assert 0 < spread < 1e-4 * max(1.0, np.abs(exact).max()), name


def test_the_separation_is_the_closest_wrong_gate_layout():
    p = _params(15)
    smallest, label = sensitivity.separation(X, p, SEMANTICS)
    right = lstm_forward(X, p, **SEMANTICS)[0]
    swapped = replace(p, V={**p.V, "i": p.V["o"], "o": p.V["i"]}, W={**p.W, "i": p.W["o"], "o": p.W["i"]},
                      b={**p.b, "i": p.b["o"], "o": p.b["i"]})
    assert 0 < smallest <= np.abs(lstm_forward(X, swapped, **SEMANTICS)[0] - right).max()
    assert label.startswith("gate blocks ") and label.endswith(" swapped")
    twins = replace(p, V={**p.V, "f": p.V["i"]}, W={**p.W, "f": p.W["i"]}, b={**p.b, "f": p.b["i"]})
    assert sensitivity.separation(X, twins, {**SEMANTICS, "forget_bias": 0.0})[1] != "gate blocks i and f swapped"


def test_logits_spread_uses_the_head():
    p = _params(16)
    head = (np.eye(4)[:, :2], np.zeros(2))
    s = sensitivity.spread(X, p, SEMANTICS, "float64", 4, head=head)
    assert s.logits <= s.final_h  # the head picks two units of the last output unchanged
    assert dense(np.ones((1, 4)), *head).shape == (1, 2)
