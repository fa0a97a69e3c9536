"""An independent ceiling on every kind of derived bound: on fixed reference cases, each bound stays within a
stated factor of the error a correct form actually makes there. The self-test's "off by twice its bound"
entries scale with the bound, so they would still be detected if a bound grew 1000 times; these tests would
not pass then. Measured on TF 2.21 (the factors leave 5 to 10 times room for other versions' rounding):

| kind | case, form | smallest err/bound measured | floor here |
|---|---|---|---|
| outputs, float32 / float64 | question_network, keras_lstm | 0.076 / 0.097 | 1/200 (tests/test_selftest.py) |
| each gradient block, float32 | question_network, keras_lstm | 0.018 (V['i']) | 1/500 |
| each gradient block, float64 | question_network, keras_lstm | 0.023 (V['i']) | 1/500 |
| outputs at padded steps (Keras carries the last output) | padded_no_full_row, keras_lstm | 0.038 / 0.050 | 1/200 |
| outputs at padded steps (zeros) | padded_no_full_row, dynamic_rnn | error 0: the bound is the floor | == floor |
"""

from pathlib import Path

import numpy as np
import pytest

from lstm_equiv.harness import casefile, engine, runs, tolerances
from lstm_equiv.harness.checks import bounds, gradients
from lstm_equiv.harness.runs import RUNS
from lstm_equiv.harness.sensitivity import UNIT_ROUNDOFF

ROOT = Path(__file__).resolve().parent.parent


def _shipped(file: str, name: str):
    path = ROOT / "cases" / file
    return next(c for c in casefile.parse(path, path.read_bytes()) if c.name == name)


def _block_ratios(case, form: str, dtype: str) -> dict:
    """err/bound of every gradient block of (case, form, dtype), by block."""
    item = engine.Item(case, form, dtype, "grad_weights")
    r = engine.read(case, form, dtype)
    ref, spread = gradients.reference_grads(item, r, engine.IDENTITY), RUNS.spread(item.case, item.form, item.dtype, r)
    blocks = gradients.grad_blocks(
        item, r.layout, {"x": r.form_out.grads["x"], "cells": runs.cell_grads(r.form_out)}, ref
    )
    out = {}
    for label, actual, desired in blocks:
        name = gradients.grad_name(label)
        bound = tolerances.derived(spread.grads[name], desired, dtype, name, tolerances.GRADIENT_MULTIPLE).atol
        out[name] = float(np.abs(np.asarray(actual, np.float64) - desired).max()) / bound
    return out


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_gradient_block_bound_stays_within_500_times_the_error(dtype):
    ratios = _block_ratios(_shipped("question.yaml", "question_network"), "keras_lstm", dtype)
    assert len(ratios) == 12  # V, W, b of four gates
    assert all(1 / 500 < r < 1 for r in ratios.values()), ratios
    assert engine.evaluate(
        engine.Item(_shipped("question.yaml", "question_network"), "keras_lstm", dtype, "grad_weights")
    ).ratio == pytest.approx(max(ratios.values()))


def _padded(form: str, dtype: str):
    case = _shipped("sequences.yaml", "padded_no_full_row")
    r = engine.read(case, form, dtype)
    bound = np.asarray(bounds.tolerance(engine.Item(case, form, dtype, "outputs"), r).atol).reshape(-1)
    error = np.abs(r.form_out.outputs - r.reference["outputs"]).max(axis=(0, 2))
    first_padded = max(case.sequence_lengths)
    assert first_padded < case.timesteps  # no row runs the whole sequence
    return r, bound[first_padded:], error[first_padded:]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_bound_at_padded_steps_stays_within_200_times_the_error_where_keras_carries(dtype):
    _, bound, error = _padded("keras_lstm", dtype)
    assert (error > 0).all() and (1 / 200 < error / bound).all() and (error < bound).all(), error / bound


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_the_bound_at_padded_steps_is_the_floor_where_the_form_emits_zeros(dtype):
    r, bound, error = _padded("basic_lstm_cell_dynamic_rnn", dtype)
    assert (error == 0).all()
    floor = tolerances.FLOOR * UNIT_ROUNDOFF[dtype] * float(np.abs(r.reference["outputs"]).max())
    np.testing.assert_allclose(bound, floor, rtol=1e-12)
