"""The spread behind every derived bound, on its own (no TensorFlow)."""

from dataclasses import replace

import numpy as np
import pytest

from lstm_equiv.harness import sensitivity
from lstm_equiv.reference import GATES, PEEPHOLE_GATES, LSTMParams, dense, lstm_backward, lstm_forward


def _params(seed, n_in=3, n=4, scale=0.5, peepholes=False, num_proj=None):
    rng = np.random.default_rng(seed)
    h = num_proj or n
    return LSTMParams(
        {g: rng.normal(0, scale, (n_in, n)) for g in GATES},
        {g: rng.normal(0, scale, (h, n)) for g in GATES},
        {g: rng.normal(0, 0.5, n) for g in GATES},
        {g: rng.normal(0, 0.5, n) for g in PEEPHOLE_GATES} if peepholes else None,
        rng.normal(0, scale, (n, num_proj)) if num_proj else None,
    )


X = np.random.default_rng(7).normal(size=(2, 12, 3))
SEMANTICS = {
    "forget_bias": 1.0,
    "cell_clip": None,
    "proj_clip": None,
    "activation": "tanh",
    "recurrent_activation": "sigmoid",
}


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
    assert 2.0**29 / 30 < ratio < 2.0**29 * 30
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
        exact = (
            g.x
            if name == "x"
            else (g.params.projection if name == "projection" else getattr(g.params, name[:-5])[name[-3]])
        )
        assert 0 < spread < 1e-4 * max(1.0, np.abs(exact).max()), name


def test_the_separation_is_the_closest_wrong_gate_layout():
    p = _params(15)
    smallest, label = sensitivity.separation(X, p, SEMANTICS)
    right = lstm_forward(X, p, **SEMANTICS)[0]
    swapped = replace(
        p,
        V={**p.V, "i": p.V["o"], "o": p.V["i"]},
        W={**p.W, "i": p.W["o"], "o": p.W["i"]},
        b={**p.b, "i": p.b["o"], "o": p.b["i"]},
    )
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


# --------------------------------------------------- what mutation testing found unpinned (docs/mutation-testing.md)


def test_a_perturbation_is_relative_independent_per_element_and_both_ways():
    a = np.full((40, 50), 3.0)
    u = 2.0**-24
    relative = sensitivity._perturb(a, u, np.random.default_rng(0)) / a - 1.0
    assert np.abs(relative).max() <= u and relative.min() < -0.9 * u and relative.max() > 0.9 * u
    assert len(np.unique(relative)) > 1000  # a factor per element, not one for the whole array
    assert abs(relative.mean()) < 0.05 * u


def _gru(seed=3, n_in=3, n=4):
    from lstm_equiv.reference import GRU_GATES, GRUParams

    rng = np.random.default_rng(seed)
    return GRUParams(
        {g: rng.normal(0, 0.5, (n_in, n)) for g in GRU_GATES},
        {g: rng.normal(0, 0.5, (n, n)) for g in GRU_GATES},
        {g: rng.normal(0, 0.5, n) for g in GRU_GATES},
        {g: rng.normal(0, 0.5, n) for g in GRU_GATES},
    )


def test_every_gru_block_is_perturbed():
    p = _gru()
    q = sensitivity._perturb_params(p, 1e-3, np.random.default_rng(1))
    for part in ("V", "W", "b", "b_h"):
        for g, a in getattr(p, part).items():
            moved = getattr(q, part)[g]
            assert moved.shape == a.shape and not np.array_equal(moved, a)
            assert np.abs(moved / a - 1).max() <= 1e-3


def test_the_gru_forward_starts_from_its_state_and_rounds_h_after_each_step():
    from lstm_equiv.reference import gru_forward

    p, h0 = _gru(), np.random.default_rng(4).normal(size=(2, 4))
    net = sensitivity.Network((p,), h0=(h0,))
    outputs, h, c = sensitivity._forward(X, p, 0.0, None, net, reset_after=True)
    ref_outputs, ref_h = gru_forward(X, p, h0, reset_after=True)
    np.testing.assert_array_equal(outputs, ref_outputs)
    np.testing.assert_array_equal(h, ref_h)
    assert c is None
    rounded = sensitivity._forward(X, p, 1e-6, np.random.default_rng(5), net, reset_after=True)[0]
    assert 0 < np.abs(rounded - ref_outputs).max() < 1e-4


def test_a_network_forward_uses_its_states_and_sequence_keys_and_rounds_every_step():
    from lstm_equiv.reference import network_forward

    cells = (_params(1), _params(2, n_in=4))
    h0 = tuple(np.random.default_rng(k).normal(size=(2, 4)) for k in (6, 7))
    c0 = tuple(np.random.default_rng(k).normal(size=(2, 4)) for k in (8, 9))
    sequence = {"layers": 2, "lengths": np.array([12, 5])}
    net = sensitivity.Network(cells, h0, c0, sequence, ("layer 1", "layer 2"))
    outputs, h, c = sensitivity._forward(X, cells, 0.0, None, net, **SEMANTICS)
    ref, (ref_h, ref_c) = network_forward(X, cells, h0, c0, **sequence, **SEMANTICS)
    np.testing.assert_array_equal(outputs, ref)
    assert h.shape == c.shape == (2, 2, 4) and np.array_equal(h, ref_h) and np.array_equal(c, ref_c)
    rounded = sensitivity._forward(X, cells, 1e-6, np.random.default_rng(1), net, **SEMANTICS)[0]
    assert 0 < np.abs(rounded - ref).max() < 1e-4


def test_a_network_spread_follows_its_states_and_gradient_semantics():
    cells = (_params(1), _params(2, n_in=4))
    d = np.random.default_rng(3).normal(size=(2, 12, 4))
    plain = sensitivity.Network(cells, sequence={"layers": 2}, names=("layer 1", "layer 2"))
    h0 = tuple(np.random.default_rng(k).normal(size=(2, 4)) for k in (6, 7))
    started = replace(plain, h0=h0, c0=h0)
    s = sensitivity.spread(X, cells[0], SEMANTICS, "float64", 1, d_outputs=d, network=plain)
    t = sensitivity.spread(X, cells[0], SEMANTICS, "float64", 1, d_outputs=d, network=started)
    chunked = sensitivity.spread(
        X, cells[0], SEMANTICS, "float64", 1, d_outputs=d, network=plain, gradient_semantics={"chunks": 3}
    )
    names = [f"layer {k} {part}['{g}']" for k in (1, 2) for part in "VWb" for g in GATES]
    assert sorted(s.grads) == sorted(names) + ["x"]
    assert not np.array_equal(s.outputs, t.outputs) and s.grads["x"] != chunked.grads["x"]
    for spread in (s, t, chunked):
        assert 0 < spread.final_c < 1e-13 and 0 < spread.final_h < 1e-13  # float64 roundoff, not 1 or 2 |c|


def test_a_gru_spread_names_its_blocks_and_starts_from_h0():
    p = _gru()
    d = np.random.default_rng(3).normal(size=(2, 12, 4))
    h0 = np.random.default_rng(4).normal(size=(2, 4))
    s = sensitivity.spread(X, p, {"reset_after": True}, "float32", 1, d_outputs=d)
    t = sensitivity.spread(
        X, p, {"reset_after": True}, "float32", 1, d_outputs=d, network=sensitivity.Network((p,), h0=(h0,))
    )
    assert sorted(s.grads) == sorted(f"{part}['{g}']" for part in ("V", "W", "b", "b_h") for g in "ruc") + ["x"]
    assert all(0 < v < 1e-4 for v in s.grads.values()) and s.final_c == 0.0
    assert s.grads["x"] != t.grads["x"] and not np.array_equal(s.outputs, t.outputs)


def test_scaled_back_where_linear_and_the_smaller_probe_as_it_is_where_not():
    back = sensitivity.UNIT_ROUNDOFF["float64"] / sensitivity.PROBE
    big = np.array([64.0, 32.0, 31.9, 1.0, 0.0])
    small = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    out = sensitivity._scaled_back(big, small, back)
    np.testing.assert_array_equal(out, [64 * back, 32 * back, 1.0, 1.0, 0.0])  # 32 = half of 64: still linear
    assert isinstance(sensitivity._scaled_back(np.float64(64.0), 1.0, back), float)
    assert sensitivity._scaled_back(None, 1.0, back) is None


def test_the_separation_of_a_gru_a_network_and_a_case_without_one():
    assert sensitivity.separation(X, _gru(), {"reset_after": True})[1].startswith("gate blocks ")
    assert set(sensitivity.separation(X, _gru(), {"reset_after": True})[1].split()[2::2]) <= {"r", "u", "c"}
    cells = (_params(1), _params(2, n_in=4))
    net = sensitivity.Network(cells, sequence={"layers": 2})
    two = sensitivity.separation(X, cells[0], SEMANTICS, net)
    one = sensitivity.separation(X, cells[0], SEMANTICS)
    assert two[0] != one[0] and np.isfinite(two[0])
    same = LSTMParams(*({g: a for g in GATES} for a in (np.full((3, 4), 0.3), np.full((4, 4), 0.2), np.zeros(4))))
    assert sensitivity.separation(X, same, SEMANTICS) == (float("inf"), "")  # every swap a symmetry


@pytest.mark.parametrize("part", ["V", "W", "b", "peephole"])
def test_gates_alike_but_for_one_part_are_told_apart_by_swapping_that_part(part):
    """Every gate the same but for one part: only a swap of that part changes the outputs, so the separation
    must swap every part (a wrong layout moves V, W, b and the peepholes together)."""
    p = _params(1, peepholes=True)
    alike = {
        q: {g: getattr(p, q)["i" if q != "peephole" else "i"] for g in getattr(p, q)}
        for q in ("V", "W", "b", "peephole")
    }
    alike[part] = getattr(p, part)
    smallest, label = sensitivity.separation(X, replace(p, **alike), SEMANTICS)
    assert np.isfinite(smallest) and smallest > 1e-6, (part, label)
    if part == "peephole":  # j has no peephole: only swaps among i, f, o change anything
        assert label in ("gate blocks i and f swapped", "gate blocks i and o swapped", "gate blocks f and o swapped")


def test_float32_inputs_give_the_spread_of_the_same_values_in_float64():
    """Everything is widened to float64 first: a float32 x, weights, states or loss weights must not make the
    reference run in float32."""
    cells = (_params(1), _params(2, n_in=4))
    d = np.random.default_rng(3).normal(size=(2, 12, 4))
    h0 = tuple(np.random.default_rng(k).normal(size=(2, 4)) for k in (6, 7))
    head = (np.random.default_rng(8).normal(size=(4, 2)), np.zeros(2))
    narrow = lambda t: tuple(a.astype(np.float32) for a in t)
    wide = sensitivity.Network(
        tuple(c.astype(np.float32).astype(np.float64) for c in cells),
        narrow(h0),
        narrow(h0),
        {"layers": 2},
        ("layer 1", "layer 2"),
    )
    thin = replace(wide, cells=tuple(c.astype(np.float32) for c in cells))
    x32 = X.astype(np.float32)
    a = sensitivity.spread(
        x32.astype(np.float64),
        wide.cells[0],
        SEMANTICS,
        "float64",
        2,
        d_outputs=d.astype(np.float32).astype(np.float64),
        network=replace(wide, h0=tuple(h.astype(np.float64) for h in wide.h0)),
        head=tuple(h.astype(np.float32).astype(np.float64) for h in head),
    )
    b = sensitivity.spread(
        x32, thin.cells[0], SEMANTICS, "float64", 2, d_outputs=d.astype(np.float32), network=thin, head=narrow(head)
    )
    np.testing.assert_array_equal(a.outputs, b.outputs)
    assert a.grads == b.grads and a.logits == b.logits
    assert sensitivity.separation(x32.astype(np.float64), wide.cells[0], SEMANTICS) == sensitivity.separation(
        x32, thin.cells[0], SEMANTICS
    )


def test_the_probes_perturb_at_their_size_and_round_every_step(monkeypatch):
    seen = []
    real = sensitivity._forward
    monkeypatch.setattr(
        sensitivity, "_forward", lambda x, p, u, rng, *a, **kw: (seen.append(u), real(x, p, u, rng, *a, **kw))[1]
    )
    sensitivity.spread(X, _params(1), SEMANTICS, "float32", 1)
    assert sorted(set(seen)) == [0.0, 2.0**-24] and seen.count(2.0**-24) == sensitivity.DRAWS
    seen.clear()
    sensitivity.spread(X, _params(1), SEMANTICS, "float64", 1)
    assert sorted(set(seen)) == [0.0, sensitivity.PROBE / sensitivity.LINEARITY, sensitivity.PROBE]


def test_the_gradient_spread_follows_states_semantics_and_chunks():
    cells = (_params(1), _params(2, n_in=4))
    d = np.random.default_rng(3).normal(size=(2, 12, 4))
    h = tuple(np.random.default_rng(k).normal(size=(2, 4)) for k in (6, 7))
    other = tuple(np.random.default_rng(k).normal(size=(2, 4)) for k in (16, 17))
    net = sensitivity.Network(cells, h, h, {"layers": 2}, ("layer 1", "layer 2"))
    go = lambda network, semantics=SEMANTICS, **kw: (
        sensitivity.spread(X, cells[0], semantics, "float64", 1, d_outputs=d, network=network, **kw).grads
    )
    base = go(net)
    assert base != go(replace(net, h0=other)) and base != go(replace(net, c0=other))
    assert base != go(net, {**SEMANTICS, "forget_bias": 0.0})
    for grads in (base, go(net, gradient_semantics={"chunks": 3})):
        assert all(0 < v < 1e-11 for v in grads.values()), grads  # float64 roundoff of O(1) gradients
    gru = _gru()
    assert (
        sensitivity.spread(X, gru, {"reset_after": True}, "float32", 1, d_outputs=d).grads
        != sensitivity.spread(X, gru, {"reset_after": False}, "float32", 1, d_outputs=d).grads
    )


def test_the_separation_swaps_peepholes_and_a_grus_recurrent_biases_themselves():
    """Alike but for the peepholes (LSTM) or the recurrent biases b_h (GRU): the separation is the smallest
    difference a swap of those alone makes, computed here swap by swap with the reference."""
    from itertools import combinations

    from lstm_equiv.reference import GRU_GATES, gru_forward

    p = _params(1, peepholes=True)
    alike = replace(p, V={g: p.V["i"] for g in GATES}, W={g: p.W["i"] for g in GATES}, b={g: p.b["i"] for g in GATES})
    right = lstm_forward(X, alike, **SEMANTICS)[0]
    want = min(
        float(
            np.abs(
                lstm_forward(
                    X,
                    replace(alike, peephole={**alike.peephole, a: alike.peephole[b], b: alike.peephole[a]}),
                    **SEMANTICS,
                )[0]
                - right
            ).max()
        )
        for a, b in combinations(PEEPHOLE_GATES, 2)
    )
    assert sensitivity.separation(X, alike, SEMANTICS)[0] == want
    g = _gru()
    alike = replace(
        g, V={k: g.V["r"] for k in GRU_GATES}, W={k: g.W["r"] for k in GRU_GATES}, b={k: g.b["r"] for k in GRU_GATES}
    )
    right = gru_forward(X, alike, reset_after=True)[0]
    want = min(
        float(
            np.abs(
                gru_forward(X, replace(alike, b_h={**alike.b_h, a: alike.b_h[b], b: alike.b_h[a]}), reset_after=True)[0]
                - right
            ).max()
        )
        for a, b in combinations(GRU_GATES, 2)
    )
    assert sensitivity.separation(X, alike, {"reset_after": True})[0] == want
