"""The reference's backpropagation through time against central finite differences, float64."""

import numpy as np
import pytest

from lstm_equiv.reference import GATES, PEEPHOLE_GATES, LSTMParams, lstm_backward, lstm_forward

EPS = 1e-6
# central differences are exact to O(EPS^2) ~ 1e-12 relative, plus rounding ~ 1e-16 / EPS = 1e-10
RTOL = 1e-6

CONFIGS = {
    "plain": dict(),
    "forget_bias": dict(forget_bias=1.3),
    "peepholes_and_cell_clip": dict(peepholes=True, cell_clip=0.5, forget_bias=0.7),
    "projection_and_proj_clip": dict(num_proj=3, proj_clip=0.15),
    "relu": dict(activation="relu"),
    "hard_sigmoid": dict(recurrent_activation="hard_sigmoid_1/6"),
    # ONNX's options: clip on every gate's pre-activation, and f = 1 - i
    "gate_clip_and_peepholes": dict(peepholes=True, gate_clip=0.9),
    "input_forget": dict(input_forget=True, forget_bias=0.4),
}


def _setup(seed, peepholes=False, num_proj=None, **_):
    rng = np.random.default_rng(seed)
    n_in, n, batch, steps = 3, 4, 2, 5
    h_depth = num_proj or n
    params = LSTMParams(
        V={g: rng.normal(0, 0.6, (n_in, n)) for g in GATES},
        W={g: rng.normal(0, 0.6, (h_depth, n)) for g in GATES},
        b={g: rng.normal(0, 0.5, n) for g in GATES},
        peephole={g: rng.normal(0, 0.5, n) for g in PEEPHOLE_GATES} if peepholes else None,
        projection=rng.normal(0, 0.6, (n, num_proj)) if num_proj else None,
    )
    x = rng.normal(size=(batch, steps, n_in))
    h0, c0 = rng.normal(0, 0.3, (batch, h_depth)), rng.normal(0, 0.3, (batch, n))
    weights = (rng.normal(size=(batch, steps, h_depth)), rng.normal(size=(batch, h_depth)), rng.normal(size=(batch, n)))
    return params, x, h0, c0, weights


def _loss(params, x, h0, c0, weights, kwargs):
    outputs, (h, c) = lstm_forward(x, params, h0, c0, **kwargs)
    r_out, r_h, r_c = weights
    return float((r_out * outputs).sum() + (r_h * h).sum() + (r_c * c).sum())


def _numeric(f, a):
    """Central differences of f() with respect to every element of array ``a`` (changed in place)."""
    grad = np.zeros_like(a)
    for k in np.ndindex(a.shape):
        keep = a[k]
        a[k] = keep + EPS
        up = f()
        a[k] = keep - EPS
        down = f()
        a[k] = keep
        grad[k] = (up - down) / (2 * EPS)
    return grad


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_every_gradient_matches_finite_differences(name):
    config = CONFIGS[name]
    params, x, h0, c0, weights = _setup(7, **config)
    kwargs = {k: v for k, v in config.items() if k not in ("peepholes", "num_proj")}
    grads = lstm_backward(x, params, weights[0], h0, c0, d_h=weights[1], d_c=weights[2], **kwargs)
    f = lambda: _loss(params, x, h0, c0, weights, kwargs)
    blocks = [(f"{part}[{g}]", a, getattr(grads.params, part)[g]) for part, g, a in params.items()]
    if params.projection is not None:
        blocks.append(("projection", params.projection, grads.params.projection))
    blocks += [("x", x, grads.x), ("h0", h0, grads.h0), ("c0", c0, grads.c0)]
    for label, array, analytic in blocks:
        numeric = _numeric(f, array)
        np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=RTOL * np.abs(numeric).max(), err_msg=label)


def test_gradients_are_per_gate_and_nonzero():
    params, x, h0, c0, weights = _setup(3, peepholes=True)
    grads = lstm_backward(x, params, weights[0], h0, c0)
    for part, g, a in grads.params.items():
        assert a.shape == getattr(params, part)[g].shape and np.abs(a).max() > 0, (part, g)


def test_straight_through_cell_clip_differs_only_where_the_clip_engages():
    params, x, h0, c0, weights = _setup(11)
    tight = [
        lstm_backward(x, params, weights[0], h0, c0, cell_clip=0.3, cell_clip_gradient=mode).params.W["f"]
        for mode in ("mask", "straight_through")
    ]
    loose = [
        lstm_backward(x, params, weights[0], h0, c0, cell_clip=1e6, cell_clip_gradient=mode).params.W["f"]
        for mode in ("mask", "straight_through")
    ]
    assert np.abs(tight[0] - tight[1]).max() > 1e-3
    np.testing.assert_array_equal(loose[0], loose[1])
    with pytest.raises(ValueError, match="cell_clip_gradient"):
        lstm_backward(x, params, weights[0], cell_clip_gradient="clip")


def test_the_gate_clip_and_input_forget_cases_exercise_what_they_name():
    """The gate clip engages on some pre-activations but not all; with input_forget the forget gate's
    own weights have no effect, so their gradients are exactly zero."""
    params, x, h0, c0, weights = _setup(7, peepholes=True)
    clipped = lstm_forward(x, params, h0, c0, gate_clip=0.9)[0]
    assert np.abs(clipped - lstm_forward(x, params, h0, c0)[0]).max() > 1e-3
    grads = lstm_backward(x, params, weights[0], h0, c0, input_forget=True)
    assert np.all(grads.params.V["f"] == 0) and np.all(grads.params.b["f"] == 0)
    assert np.abs(grads.params.V["i"]).max() > 0


NETWORKS = {
    # one layer over padded rows: the state skips the padding, the output is zeros or the last one emitted
    "lengths_zero": dict(lengths=[5, 2], padded="zero"),
    "lengths_carry": dict(lengths=[3, 5], padded="carry"),
    "go_backwards_lengths_carry": dict(go_backwards=True, lengths=[2, 4], padded="carry"),
    "bidirectional_concat_lengths": dict(merge_mode="concat", lengths=[4, 1]),
    "bidirectional_sum": dict(merge_mode="sum"),
    "bidirectional_mul_peepholes": dict(merge_mode="mul", peepholes=True, cell_clip=0.6),
    "bidirectional_ave": dict(merge_mode="ave", lengths=[5, 3], padded="carry"),
    "two_layers_projection": dict(layers=2, num_proj=3),
    "two_bidirectional_layers": dict(layers=2, merge_mode="concat", lengths=[3, 5]),
    # the same network code over the cells without c (reference.network.ONE_LAYER)
    "gru_go_backwards_lengths_carry": dict(cell="gru", go_backwards=True, lengths=[2, 4], padded="carry"),
    "gru_reset_after_two_bidirectional_layers": dict(
        cell="gru", reset_after=True, layers=2, merge_mode="concat", lengths=[3, 5]
    ),
    "gru_bidirectional_mul_lengths_zero": dict(cell="gru", merge_mode="mul", lengths=[5, 2]),
    "rnn_bidirectional_ave_lengths_carry": dict(cell="rnn", merge_mode="ave", lengths=[5, 3], padded="carry"),
    "rnn_two_layers_relu": dict(cell="rnn", layers=2, activation="relu", lengths=[4, 5]),
}


def _block_cell(cell, rng, width_in, n):
    from lstm_equiv.reference import GRU_GATES, RNN_GATES, GRUParams, RNNParams

    kind, gates = {"gru": (GRUParams, GRU_GATES), "rnn": (RNNParams, RNN_GATES)}[cell]
    return kind(
        V={g: rng.normal(0, 0.6, (width_in, n)) for g in gates},
        W={g: rng.normal(0, 0.6, (n, n)) for g in gates},
        b={g: rng.normal(0, 0.5, n) for g in gates},
        b_h={g: rng.normal(0, 0.5, n) for g in gates},
    )


def _network(seed, layers=1, merge_mode=None, peepholes=False, num_proj=None, cell="lstm", **_):
    from lstm_equiv.reference.network import directions

    rng = np.random.default_rng(seed)
    n_in, n, batch, steps = 3, 4, 2, 5
    h_depth = num_proj or n
    cells, h0, c0 = [], [], []
    width_in = n_in
    for _layer in range(layers):
        for _d in range(directions(merge_mode)):
            if cell != "lstm":
                cells.append(_block_cell(cell, rng, width_in, n))
                h0.append(rng.normal(0, 0.3, (batch, n)))
                continue
            cells.append(
                LSTMParams(
                    V={g: rng.normal(0, 0.6, (width_in, n)) for g in GATES},
                    W={g: rng.normal(0, 0.6, (h_depth, n)) for g in GATES},
                    b={g: rng.normal(0, 0.5, n) for g in GATES},
                    peephole={g: rng.normal(0, 0.5, n) for g in PEEPHOLE_GATES} if peepholes else None,
                    projection=rng.normal(0, 0.6, (n, num_proj)) if num_proj else None,
                )
            )
            h0.append(rng.normal(0, 0.3, (batch, h_depth)))
            c0.append(rng.normal(0, 0.3, (batch, n)))
        width_in = h_depth * (2 if merge_mode in ("concat", "none") else 1)
    x = rng.normal(size=(batch, steps, n_in))
    k = len(cells)
    weights = (
        rng.normal(size=(batch, steps, width_in)),
        rng.normal(size=(k, batch, h_depth)),
        rng.normal(size=(k, batch, n)) if c0 else None,
    )
    return cells, x, h0, c0 or None, weights


@pytest.mark.parametrize("name", sorted(NETWORKS))
def test_every_network_gradient_matches_finite_differences(name):
    """Reversal, padding (both rules), bidirectional merges, initial states and stacking, each block of
    every cell, x and every initial state, against central differences: the LSTM, the GRU and the RNN."""
    from lstm_equiv.reference import network_backward, network_forward

    config = NETWORKS[name]
    cells, x, h0, c0, (r_out, r_h, r_c) = _network(11, **config)
    kwargs = {k: v for k, v in config.items() if k not in ("peepholes", "num_proj", "cell")}

    def f():
        outputs, (h, c) = network_forward(x, cells, h0, c0, **kwargs)
        return float((r_out * outputs).sum() + (r_h * h).sum() + (0.0 if c is None else (r_c * c).sum()))

    grads = network_backward(x, cells, r_out, h0, c0, d_h=r_h, d_c=r_c, **kwargs)
    blocks = [
        (f"cell {k} {part}[{g}]", a, getattr(grads.cells[k], part)[g])
        for k, p in enumerate(cells)
        for part, g, a in p.items()
    ]
    blocks += [
        (f"cell {k} projection", p.projection, grads.cells[k].projection)
        for k, p in enumerate(cells)
        if getattr(p, "projection", None) is not None
    ]
    blocks += [("x", x, grads.x)] + [(f"h0 {k}", a, grads.h0[k]) for k, a in enumerate(h0)]
    blocks += [(f"c0 {k}", a, grads.c0[k]) for k, a in enumerate(c0 or ())]
    for label, array, analytic in blocks:
        numeric = _numeric(f, array)
        np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=RTOL * np.abs(numeric).max(), err_msg=label)
    if "lengths" in config:  # nothing leaks through the padding: x past a row's length gets no gradient
        for row, length in enumerate(config["lengths"]):
            assert np.all(grads.x[row, length:] == 0.0) and np.any(grads.x[row, :length] != 0.0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_truncated_gradients_match_finite_differences_with_the_carried_state_held_constant(cell):
    """chunks=3: each chunk differentiated from the state the chunks before it left, held as a constant."""
    from lstm_equiv.reference import network_backward, network_forward

    cells, x, h0, c0, (r_out, r_h, r_c) = _network(5, layers=2, cell=cell)
    parts = np.array_split(np.arange(x.shape[1]), 3)
    grads = network_backward(x, cells, r_out, h0, c0, d_h=r_h, d_c=r_c, layers=2, chunks=3)
    full = network_backward(x, cells, r_out, h0, c0, d_h=r_h, d_c=r_c, layers=2)
    gate = cells[0].GATES[-1] if cell != "lstm" else "f"
    assert not np.allclose(grads.cells[0].W[gate], full.cells[0].W[gate])  # truncation changes the gradient
    # numerically: the loss of each chunk from its (frozen) start state, summed
    starts, h, c = [], h0, c0
    for steps in parts:
        starts.append((h, c))
        _, (h_n, c_n) = network_forward(x[:, steps], cells, h, c, layers=2)
        h, c = tuple(h_n), None if c_n is None else tuple(c_n)

    def f():
        total = 0.0
        for n, steps in enumerate(parts):
            outputs, (h, c) = network_forward(x[:, steps], cells, *starts[n], layers=2)
            total += float((r_out[:, steps] * outputs).sum())
            if n == len(parts) - 1:
                total += float((r_h * h).sum() + (0.0 if c is None else (r_c * c).sum()))
        return total

    for k, p in enumerate(cells):
        for part, g, a in p.items():
            numeric = _numeric(f, a)
            np.testing.assert_allclose(
                getattr(grads.cells[k], part)[g],
                numeric,
                rtol=RTOL,
                atol=RTOL * np.abs(numeric).max(),
                err_msg=f"cell {k} {part}[{g}]",
            )


def test_the_network_refuses_what_a_cell_cannot_take():
    """Params of two cells in one network, a c0 for a cell without c, an unknown padding rule: errors, not
    a silent default."""
    from lstm_equiv.reference import network_backward, network_forward
    from lstm_equiv.reference.rnn import rnn_backward

    gru, x, h0, _, (r_out, _, _) = _network(3, merge_mode="concat", cell="gru")
    rnn, _, _, _, _ = _network(3, cell="rnn")
    with pytest.raises(ValueError, match="params of one cell"):
        network_forward(x, (gru[0], rnn[0]), merge_mode="concat")
    with pytest.raises(ValueError, match="has no c"):
        network_forward(x, gru, h0, [np.zeros_like(a) for a in h0], merge_mode="concat")
    with pytest.raises(ValueError, match="has no c"):
        network_backward(x, gru, r_out, h0, d_c=[np.zeros_like(a) for a in h0], merge_mode="concat")
    with pytest.raises(ValueError, match="padded must be one of"):
        rnn_backward(x, rnn[0], r_out[..., :4], lengths=[5, 2], padded="CARRY")


def test_truncated_gradients_of_the_rnn_are_each_chunk_from_its_start():
    """chunks=2 on the RNN: the sum of each chunk's gradient from the state the chunk before it left."""
    from lstm_equiv.reference import network_backward, network_forward

    cells, x, h0, _, (r_out, r_h, _) = _network(6, layers=2, cell="rnn")
    grads = network_backward(x, cells, r_out, h0, d_h=r_h, layers=2, chunks=2)
    first, second = np.array_split(np.arange(x.shape[1]), 2)
    _, (h_mid, _) = network_forward(x[:, first], cells, h0, layers=2)
    a = network_backward(x[:, first], cells, r_out[:, first], h0, layers=2)
    b = network_backward(x[:, second], cells, r_out[:, second], tuple(h_mid), d_h=r_h, layers=2)
    for k in range(len(cells)):
        np.testing.assert_allclose(grads.cells[k].W["h"], a.cells[k].W["h"] + b.cells[k].W["h"], rtol=1e-12)
    full = network_backward(x, cells, r_out, h0, d_h=r_h, layers=2)
    assert not np.allclose(grads.cells[0].W["h"], full.cells[0].W["h"])
