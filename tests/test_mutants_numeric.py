"""Behaviour that mutation testing (mutmut) showed no other test pinned, in reference/ and the TF-free
harness modules (compare, layouts). TensorFlow-free. Expected values come from the equations written out
by hand, from hand-computed numbers, or from central differences; where a convention at a kink or a
clip limit is pinned, the comment names the TensorFlow gradient it has to agree with (checked against
TF 2.x / Keras 3: tf.clip_by_value passes the gradient at the limit, relu's gradient is 0 at 0, Keras 3's
hard_sigmoid, relu6(z + 3) / 6, has gradient 0 at z = +-3)."""

import warnings

import numpy as np
import pytest

from lstm_equiv.harness import compare, layouts
from lstm_equiv.harness.tolerances import Tolerance
from lstm_equiv.reference import ACTIVATIONS, GATES, PEEPHOLE_GATES, LSTMParams, dense, lstm_backward, lstm_forward
from lstm_equiv.reference import backward as ref_backward
from lstm_equiv.reference import lstm as ref_lstm

TOL = Tolerance(1e-6, "test")


def _params(seed, n_in=3, n=4, num_proj=None, peepholes=False, scale=0.6):
    """Seeded random per-gate params: every gate and every block drawn separately, so no two are equal."""
    rng = np.random.default_rng(seed)
    h_depth = num_proj or n
    return LSTMParams(
        V={g: rng.normal(0, scale, (n_in, n)) for g in GATES},
        W={g: rng.normal(0, scale, (h_depth, n)) for g in GATES},
        b={g: rng.normal(0, 0.5, n) for g in GATES},
        peephole={g: rng.normal(0, 0.5, n) for g in PEEPHOLE_GATES} if peepholes else None,
        projection=rng.normal(0, scale, (n, num_proj)) if num_proj else None,
    )


def _sig(z):
    return 1.0 / (1.0 + np.exp(-z))


# ---------------------------------------------------------------- reference/lstm.py: LSTMParams


def test_params_refuse_wrong_peepholes_and_projection_naming_the_shapes():
    p = _params(1, n_in=3, n=4)
    with pytest.raises(ValueError, match=r"LSTMParams\.peephole must have exactly the gates \('i', 'f', 'o'\)"):
        LSTMParams(p.V, p.W, p.b, peephole={"i": np.zeros(4), "f": np.zeros(4)})
    with pytest.raises(ValueError, match=r"LSTMParams\.projection has shape \(3, 2\), expected \(4, num_proj\)"):
        LSTMParams(p.V, p.W, p.b, projection=np.zeros((3, 2)))
    # a peephole of the wrong length is caught like any other block
    bad = {"i": np.zeros(4), "f": np.zeros(3), "o": np.zeros(4)}
    with pytest.raises(ValueError, match=r"LSTMParams\.peephole\['f'\] has shape \(3,\), expected \(4,\)"):
        LSTMParams(p.V, p.W, p.b, peephole=bad)


def test_items_lists_every_block_once_peepholes_last():
    p = _params(2, peepholes=True)
    listed = [(part, g) for part, g, _ in p.items()]
    assert listed == [(part, g) for part in ("V", "W", "b") for g in GATES] + [("peephole", g) for g in "ifo"]
    for part, g, a in p.items():
        assert a is getattr(p, part)[g]
    assert [part for part, _, _ in _params(2).items()].count("peephole") == 0


def test_astype_casts_every_block_and_the_projection():
    p = _params(3, num_proj=2, peepholes=True).astype(np.float32)
    assert all(a.dtype == np.float32 for _, _, a in p.items())
    assert p.projection.dtype == np.float32


def test_a_projected_float32_run_stays_float32():
    p = _params(4, n_in=3, n=4, num_proj=2)
    x = np.random.default_rng(40).normal(size=(2, 3, 3)).astype(np.float32)
    outputs, (h, c) = lstm_forward(x, p, proj_clip=0.3)
    assert outputs.dtype == h.dtype == c.dtype == np.float32
    assert outputs.shape == (2, 3, 2) and h.shape == (2, 2) and c.shape == (2, 4)


# ---------------------------------------------------------------- reference/lstm.py: activations


def test_hard_sigmoid_factory_is_clip_slope_z_plus_half_in_the_dtype_of_z():
    """ACTIVATIONS' two hard sigmoids are built once at import (their values are pinned in
    test_blind_spots.py); this calls the factory itself, with a slope whose values are exact."""
    hs = ref_lstm._hard_sigmoid(0.25)
    z = np.array([-5.0, -2.0, -1.0, 0.0, 1.0, 2.0, 5.0])
    np.testing.assert_array_equal(hs(z), [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0])
    out32 = hs(z.astype(np.float32))
    assert out32.dtype == np.float32
    np.testing.assert_array_equal(out32, [0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.0])
    sixth = ref_lstm._hard_sigmoid(1.0 / 6.0)  # Keras 3: relu6(z + 3) / 6
    np.testing.assert_allclose(sixth(np.array([-3.0, -1.5, 1.5, 3.0])), [0.0, 0.25, 0.75, 1.0], rtol=0, atol=1e-16)


def test_activations_default_to_sigmoid_gates_and_tanh_candidate_and_cell():
    act = ref_lstm.activations()
    assert {g: act[g] for g in ("i", "f", "o")} == dict.fromkeys("ifo", ACTIVATIONS["sigmoid"])
    assert act["j"] is np.tanh and act["c"] is np.tanh


def test_gate_activations_replace_one_activation_in_the_forward_pass():
    """One step written out by hand: the candidate j through a sigmoid instead of tanh (ONNX-style)."""
    rng = np.random.default_rng(5)
    p = _params(6, n_in=3, n=2)
    x, h0, c0 = rng.normal(size=(2, 1, 3)), rng.normal(0, 0.3, (2, 2)), rng.normal(0, 0.3, (2, 2))
    z = {g: x[:, 0] @ p.V[g] + h0 @ p.W[g] + p.b[g] for g in GATES}
    c = _sig(z["f"]) * c0 + _sig(z["i"]) * _sig(z["j"])
    h = _sig(z["o"]) * np.tanh(c)
    outputs, (h_T, c_T) = lstm_forward(x, p, h0, c0, gate_activations={"j": ACTIVATIONS["sigmoid"]})
    np.testing.assert_allclose(c_T, c, rtol=0, atol=1e-14)
    np.testing.assert_allclose(h_T, h, rtol=0, atol=1e-14)
    plain = lstm_forward(x, p, h0, c0)[1][0]
    assert np.abs(plain - h).max() > 1e-2  # the replacement really changed the step


# ---------------------------------------------------------------- reference/lstm.py: lstm_forward


def test_initial_state_is_cast_to_the_dtype_of_x():
    rng = np.random.default_rng(7)
    p = _params(8)
    x = rng.normal(size=(2, 3, 3))
    h0, c0 = rng.normal(0, 0.5, (2, 4)), rng.normal(0, 0.5, (2, 4))  # float64 state, float32 input
    outputs, (h, c) = lstm_forward(x.astype(np.float32), p, h0, c0)
    assert outputs.dtype == h.dtype == c.dtype == np.float32
    want_out, (want_h, want_c) = lstm_forward(x.astype(np.float32).astype(np.float64), p, h0, c0)
    np.testing.assert_allclose(outputs, want_out, atol=1e-5)
    np.testing.assert_allclose(c, want_c, atol=1e-5)


def test_forward_refuses_a_wrong_input_and_a_clip_without_projection():
    p = _params(9, n_in=3)
    with pytest.raises(ValueError, match=r"x must be \[batch, timesteps, 3\], got \(2, 3\)"):
        lstm_forward(np.zeros((2, 3)), p)
    with pytest.raises(ValueError, match=r"x must be \[batch, timesteps, 3\], got \(2, 4, 5\)"):
        lstm_forward(np.zeros((2, 4, 5)), p)
    with pytest.raises(ValueError, match="^proj_clip needs a projection$"):
        lstm_forward(np.zeros((2, 4, 3)), p, proj_clip=1.0)


def test_dense_is_x_kernel_plus_bias_in_the_dtype_of_x():
    x = [[1.0, 2.0], [-1.0, 0.5]]
    kernel = [[1.0, 0.0, -1.0], [0.5, 2.0, 1.0]]
    bias = [0.25, -1.0, 0.0]
    # by hand: row 1 = [1 + 1 + 0.25, 0 + 4 - 1, -1 + 2 + 0]; row 2 = [-1 + 0.25 + 0.25, 0 + 1 - 1, 1 + 0.5 + 0]
    np.testing.assert_array_equal(dense(x, kernel, bias), [[2.25, 3.0, 1.0], [-0.5, 0.0, 1.5]])
    out32 = dense(np.asarray(x, np.float32), np.asarray(kernel), np.asarray(bias))
    assert out32.dtype == np.float32
    np.testing.assert_array_equal(out32, [[2.25, 3.0, 1.0], [-0.5, 0.0, 1.5]])


# ---------------------------------------------------------------- reference/backward.py: derivatives


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_every_activation_derivative_matches_central_differences_away_from_kinks(name):
    act, d = ACTIVATIONS[name], ref_backward._derivative(name)
    z = np.array([-7.3, -2.7, -1.1, -0.4, 0.3, 0.9, 1.7, 2.2, 3.6, 8.1])  # no kink of relu or hard_sigmoid
    eps = 1e-6
    numeric = (act(z + eps) - act(z - eps)) / (2 * eps)
    np.testing.assert_allclose(d(z), numeric, rtol=1e-7, atol=1e-9)


def test_derivatives_at_the_kinks_follow_tensorflow():
    relu = ref_backward._derivative("relu")
    np.testing.assert_array_equal(relu(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 1.0])  # ReluGrad: features > 0
    # Keras 3's hard_sigmoid is relu6(z + 3) / 6: Relu6Grad passes only 0 < z + 3 < 6, so 0 at z = +-3
    sixth = ref_backward._derivative("hard_sigmoid_1/6")
    np.testing.assert_allclose(sixth(np.array([-3.0, -2.9, 0.0, 2.9, 3.0])), [0, 1 / 6, 1 / 6, 1 / 6, 0], rtol=1e-15)
    fifth = ref_backward._derivative("hard_sigmoid_0.2")
    np.testing.assert_allclose(fifth(np.array([-3.0, -2.4, 0.0, 2.4, 3.0])), [0, 0.2, 0.2, 0.2, 0], rtol=1e-15)


def test_an_activation_without_a_derivative_is_named():
    with pytest.raises(ValueError, match=r"no derivative for activation 'softplus'"):
        ref_backward._derivative("softplus")


# ---------------------------------------------------------------- reference/backward.py: lstm_backward


@pytest.mark.parametrize("acts", [("tanh", "sigmoid"), ("relu", "hard_sigmoid_0.2"), ("tanh", "hard_sigmoid_1/6")])
@pytest.mark.parametrize("given", [True, False], ids=["state_and_cotangents_given", "defaults"])
def test_backward_computes_every_gradient_in_the_dtype_of_x(acts, given):
    """float32 x, float64 weights, state and cotangents: every gradient is float32 and close to float64's."""
    rng = np.random.default_rng(11)
    p = _params(12, n_in=3, n=4, num_proj=2, peepholes=True)
    x = rng.normal(size=(2, 3, 3)).astype(np.float32)
    d_out = rng.normal(size=(2, 3, 2))
    kw = dict(activation=acts[0], recurrent_activation=acts[1], cell_clip=5.0, proj_clip=5.0)
    if given:
        kw.update(
            h0=rng.normal(0, 0.3, (2, 2)),
            c0=rng.normal(0, 0.3, (2, 4)),
            d_h=rng.normal(size=(2, 2)),
            d_c=rng.normal(size=(2, 4)),
        )
    g32 = lstm_backward(x, p, d_out, **kw)
    g64 = lstm_backward(x.astype(np.float64), p, d_out, **kw)
    blocks = [(f"{part}[{g}]", a, getattr(g64.params, part)[g]) for part, g, a in g32.params.items()]
    blocks += [
        ("projection", g32.params.projection, g64.params.projection),
        ("x", g32.x, g64.x),
        ("h0", g32.h0, g64.h0),
        ("c0", g32.c0, g64.c0),
    ]
    assert len(blocks) == 4 * 3 + 3 + 4
    for label, a32, a64 in blocks:
        assert a32.dtype == np.float32, label
        np.testing.assert_allclose(a32, a64, rtol=0, atol=1e-4 * max(1.0, np.abs(a64).max()), err_msg=label)


def test_backward_state_defaults_to_zeros_and_grads_have_the_params_structure():
    rng = np.random.default_rng(13)
    p = _params(14)
    x, d_out = rng.normal(size=(2, 3, 3)), rng.normal(size=(2, 3, 4))
    default = lstm_backward(x, p, d_out)
    zeros = lstm_backward(x, p, d_out, np.zeros((2, 4)), np.zeros((2, 4)))
    for (part, g, a), (_, _, b) in zip(default.params.items(), zeros.params.items()):
        np.testing.assert_array_equal(a, b, err_msg=f"{part}[{g}]")
    np.testing.assert_array_equal(default.h0, zeros.h0)
    np.testing.assert_array_equal(default.c0, zeros.c0)
    # no peepholes and no projection in the params: none in the gradient either
    assert default.params.peephole is None and default.params.projection is None
    assert len(list(default.params.items())) == 12


def test_hard_sigmoid_0_2_gradients_match_finite_differences():
    """Keras 2's hard_sigmoid (slope 0.2) through the whole backward pass: dL/db and dL/dx by central
    differences (the shipped gradient test covers Keras 3's slope 1/6)."""
    rng = np.random.default_rng(15)
    p = _params(16, n_in=2, n=3, scale=0.8)
    x, h0, c0 = rng.normal(size=(2, 3, 2)), rng.normal(0, 0.3, (2, 3)), rng.normal(0, 0.3, (2, 3))
    r_out = rng.normal(size=(2, 3, 3))
    kw = dict(recurrent_activation="hard_sigmoid_0.2", forget_bias=0.4)
    grads = lstm_backward(x, p, r_out, h0, c0, **kw)

    def loss():
        return float((r_out * lstm_forward(x, p, h0, c0, **kw)[0]).sum())

    eps = 1e-6

    def numeric(a):
        out = np.zeros_like(a)
        for k in np.ndindex(a.shape):
            keep = a[k]
            a[k] = keep + eps
            up = loss()
            a[k] = keep - eps
            out[k] = (up - loss()) / (2 * eps)
            a[k] = keep
        return out

    for g in GATES:
        num = numeric(p.b[g])
        np.testing.assert_allclose(grads.params.b[g], num, rtol=1e-6, atol=1e-6 * np.abs(num).max(), err_msg=g)
    num = numeric(x)
    np.testing.assert_allclose(grads.x, num, rtol=1e-6, atol=1e-6 * np.abs(num).max())


def _max_abs_c_raw(x, p, h0, c0):
    """max |c| over every step of an unclipped run, through the reference's own step equations."""
    act = ref_lstm.activations()
    h, c = ref_lstm.initial_state(x, p, h0, c0)
    largest = 0.0
    for xV_t in ref_lstm.per_step(ref_lstm.input_projections(x, p, 0.0)):
        s = ref_lstm.lstm_step(xV_t, h, c, p.W, act, p.peephole, p.projection)
        largest = max(largest, float(np.abs(s.c_raw).max()))
        h, c = s.h, s.c
    return largest


def test_a_cell_clip_that_the_largest_c_only_touches_leaves_the_gradient_unchanged():
    """tf.clip_by_value passes the gradient where the value equals the limit: a clip that nothing exceeds
    (the largest |c| sits exactly on it) changes neither the forward pass nor any gradient."""
    rng = np.random.default_rng(17)
    p = _params(18, peepholes=True, scale=0.9)
    x, h0, c0 = rng.normal(size=(2, 4, 3)), rng.normal(0, 0.5, (2, 4)), rng.normal(0, 0.5, (2, 4))
    d_out = rng.normal(size=(2, 4, 4))
    limit = _max_abs_c_raw(x, p, h0, c0)
    free = lstm_backward(x, p, d_out, h0, c0)
    touching = lstm_backward(x, p, d_out, h0, c0, cell_clip=limit)
    for (part, g, a), (_, _, b) in zip(touching.params.items(), free.params.items()):
        np.testing.assert_array_equal(a, b, err_msg=f"{part}[{g}]")
    np.testing.assert_array_equal(touching.x, free.x)
    np.testing.assert_array_equal(touching.c0, free.c0)


def test_a_proj_clip_that_the_largest_h_only_touches_leaves_the_gradient_unchanged():
    rng = np.random.default_rng(19)
    p = _params(20, num_proj=3, scale=0.9)
    x, d_out = rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 3))
    outputs, _ = lstm_forward(x, p)  # with a projection and no clip, the outputs are the projected h
    limit = float(np.abs(outputs).max())
    free = lstm_backward(x, p, d_out)
    touching = lstm_backward(x, p, d_out, proj_clip=limit)
    np.testing.assert_array_equal(touching.params.projection, free.params.projection)
    for (part, g, a), (_, _, b) in zip(touching.params.items(), free.params.items()):
        np.testing.assert_array_equal(a, b, err_msg=f"{part}[{g}]")
    np.testing.assert_array_equal(touching.x, free.x)


# ---------------------------------------------------------------- harness/layouts.py


@pytest.mark.parametrize("layout", [layouts.KERAS, layouts.BLOCK_LSTM_V2], ids=lambda layout: layout.name)
def test_a_stored_forget_bias_keeps_float32_weights_float32(layout):
    p = _params(21, n_in=5, n=3).astype(np.float32)
    tensors = layout.compose(p, forget_bias=0.1)
    assert all(t.dtype == np.float32 for t in tensors.values()), {k: t.dtype for k, t in tensors.items()}
    f = layout.column_block("f", 3)
    np.testing.assert_array_equal(tensors["bias"][f], p.b["f"] + np.float32(0.1))  # added in float32
    back = layout.split(tensors, 5, forget_bias=0.1)
    assert all(a.dtype == np.float32 for _, _, a in back.items())
    np.testing.assert_allclose(back.b["f"], p.b["f"], rtol=0, atol=2 * np.finfo(np.float32).eps)


def test_a_layout_without_peepholes_refuses_them():
    with pytest.raises(ValueError, match="^layout keras has no peephole diagonals$"):
        layouts.KERAS.compose(_params(22, peepholes=True), forget_bias=1.0)


def test_where_names_peepholes_x_rows_and_the_recurrent_kernel():
    # BasicLSTMCell: kernel rows 0:input_depth multiply x, the next h_depth rows multiply h; blocks i j f o
    assert layouts.BASIC_LSTM_CELL.where("V", "o", 5, 3) == "kernel rows 0:5, columns 9:12"
    assert layouts.BASIC_LSTM_CELL.where("W", "i", 5, 3, h_depth=2) == "kernel rows 5:7, columns 0:3"
    assert layouts.BASIC_LSTM_CELL.where("peephole", "f", 5, 3) == "w_f_diag"
    assert layouts.BLOCK_LSTM.where("peephole", "o", 5, 3) == "wco"
    # Keras: blocks i f c o, h through recurrent_kernel
    assert layouts.KERAS.where("W", "j", 5, 3) == "recurrent_kernel columns 6:9"


# ---------------------------------------------------------------- harness/compare.py


def test_outcome_passed_is_a_bool_on_every_failure():
    shape = compare.compare(np.zeros(2), np.zeros(3), TOL, "t", ("unit",))
    nan = compare.compare(np.array([np.nan]), np.zeros(1), TOL, "t", ("unit",))
    off = compare.compare(np.ones(1), np.zeros(1), TOL, "t", ("unit",))
    assert shape.passed is False and nan.passed is False and off.passed is False
    assert compare.compare(np.zeros(1), np.zeros(1), TOL, "t", ("unit",)).passed is True


def test_non_finite_on_both_sides_are_one_line_each_with_where():
    actual, desired = np.array([[0.0, np.inf]]), np.array([[np.nan, 1.0]])
    m = compare.compare(actual, desired, TOL, "what", ("batch", "unit")).message
    assert m.split("\n") == [
        "what",
        "Tolerance: atol=1e-06 (test)",
        "Non-finite values in the form: 1 / 2 elements, first at batch 0, unit 1: inf",
        "Non-finite values in the reference: 1 / 2 elements, first at batch 0, unit 0: nan",
    ]


def test_a_failure_message_is_one_line_per_fact_with_the_signed_difference_and_rel_error():
    actual, desired = np.array([[0.25, 0.5], [1.0, 4.0]]), np.array([[0.25, 0.25], [1.0, 4.0]])
    outcome = compare.compare(actual, desired, TOL, "what", ("batch", "unit"))  # no timestep axis
    assert outcome.max_abs_err == 0.25 and outcome.max_rel_err == 1.0  # 0.25 off a reference of 0.25
    lines = outcome.message.split("\n")
    assert lines[:4] == [
        "what",
        "Tolerance: atol=1e-06 (test)",
        "Mismatched elements: 1 / 4 (25%)",
        "Max absolute difference: 0.25",
    ]
    assert "First mismatch at batch 0, unit 1" in lines
    assert "  batch 0, unit 1: 0.5 | 0.25 | 0.25 | 1e-06" in lines  # form | reference | form - reference | bound
    assert lines[-1] == compare.NEXT
    below = compare.compare(desired, actual, TOL, "what", ("batch", "unit")).message.split("\n")
    assert "  batch 0, unit 1: 0.25 | 0.5 | -0.25 | 1e-06" in below


def test_a_scalar_is_the_only_element():
    m = compare.compare(np.float64(1.5), np.float64(1.0), TOL, "loss", ()).message
    assert "First mismatch at the only element" in m.split("\n")
    assert "  the only element: 1.5 | 1 | 0.5 | 1e-06" in m.split("\n")


def test_empty_tensors_agree_with_zero_error():
    outcome = compare.compare(np.zeros((0, 3)), np.zeros((0, 3)), TOL, "t", ("batch", "unit"))
    assert outcome.passed and outcome.max_abs_err == 0.0 and outcome.max_rel_err == 0.0


def test_comparing_against_an_exact_zero_raises_no_numpy_warning():
    """A float64 reference of exactly 0 has a spacing of 5e-324: the ULP distance overflows to inf,
    silently; a failing comparison must not spill RuntimeWarnings (or DeprecationWarnings) into the run."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outcome = compare.compare(np.array([1.0, 0.0]), np.zeros(2), TOL, "t", ("unit",))
        assert "Max ULP difference (float64): inf" in outcome.message.split("\n")
        both_inf = compare.ulp_distance(np.array([np.inf]), np.array([np.inf]), np.float64)
        assert np.isnan(both_inf[0])
