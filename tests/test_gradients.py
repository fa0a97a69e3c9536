"""Gradients through TF's forms against the reference's BPTT, gate by gate, block by block."""

from dataclasses import replace

import pytest

from lstm_equiv.harness import engine, layouts, runs
from lstm_equiv.harness.casefile import parse
from lstm_equiv.harness.engine import Item, ReadAs, evaluate
from lstm_equiv.harness.forms import FORMS, LSTM_FORMS, params_of

DIFFERENTIABLE = sorted(n for n, f in LSTM_FORMS.items() if not f.no_gradient and not f.gradient_bug)


def _case(make_case, name, form, dtypes="float32, float64"):
    extra = "use_peepholes: true\n" if FORMS[form].options.get("use_peepholes") else ""
    return make_case(name=f"{name}_{form}", dtypes=dtypes, extra=extra + f"forms: [{form}]\n")


@pytest.mark.parametrize("form", params_of(DIFFERENTIABLE))
def test_each_differentiable_form_matches_the_reference_gradients(make_case, form):
    case = _case(make_case, "grads", form)
    for dtype in FORMS[form].dtypes:
        for check in ("grad_weights", "grad_x"):
            result = evaluate(Item(case, form, dtype, check))
            assert result.status == "pass", result.message
            assert result.max_abs_err <= result.tolerance


def test_lstm_block_cell_has_no_gradient_and_says_why(make_case):
    case = _case(make_case, "nograd", "lstm_block_cell", dtypes="float32")
    result = evaluate(Item(case, "lstm_block_cell", "float32", "grad_weights"))
    assert result.status == "skip" and "TF registers no gradient for LSTMBlockCell" in result.message


def _rerun(case, form, dtype, **form_out_changes):
    """The case's TF run with parts of TF's output replaced, read and checked afresh."""
    tf = engine.form_run(case, form, dtype)
    changed = replace(tf, form_out=replace(tf.form_out, **form_out_changes), reads={})
    return runs.read_back(case, FORMS[form], changed, engine.IDENTITY)


def test_block_lstm_v2_gradient_is_tfs_known_bug_confirmed_by_its_signature(make_case):
    case = _case(make_case, "v2bug", "block_lstm_v2", dtypes="float32")
    for check in ("grad_weights", "grad_x"):
        result = evaluate(Item(case, "block_lstm_v2", "float32", check))
        assert result.status == "xfail", result.message
        assert "known TF bug, confirmed by its signature" in result.message
        assert "tape vs the V1 kernel BlockLSTMGrad run on V2's outputs: max abs difference 0;" in result.message
        assert "tf.raw_ops.BlockLSTMGradV2 vs the reference: largest error over its bound" in result.message
        assert result.max_abs_err > 1e-2  # far outside the tolerance: not a rounding question


def test_block_lstm_v2_when_tf_fixes_it_fails_saying_so(make_case):
    case = _case(make_case, "v2fixed", "block_lstm_v2", dtypes="float32")
    out = engine.form_run(case, "block_lstm_v2", "float32").form_out
    r = _rerun(case, "block_lstm_v2", "float32", grads=out.evidence["own"])  # the tape now gives V2's own kernel
    result = engine.judge(Item(case, "block_lstm_v2", "float32", "grad_weights"), r, engine.IDENTITY)
    assert result.status == "fail" and "TF fixed it; drop gradient_bug" in result.message


def test_block_lstm_v2_another_mismatch_is_not_the_known_bug(make_case):
    """A harness regression hiding under the xfail (here: V2's gradients read through BlockLSTM's i ci f o
    layout) fails, with both numbers of the signature."""
    case = _case(make_case, "v2other", "block_lstm_v2", dtypes="float32")
    wrong = engine.ReadAs(other=replace(layouts.BLOCK_LSTM_V2, name="v2 read as ijfo", gate_order=("i", "j", "f", "o")))
    result = evaluate(Item(case, "block_lstm_v2", "float32", "grad_weights"), reading=wrong)
    assert result.status == "fail" and "not with the known bug's signature" in result.message
    out = engine.form_run(case, "block_lstm_v2", "float32").form_out
    tampered = {k: 1.5 * v for k, v in out.grads.items()}  # wrong, but not as BlockLSTMGrad computes it
    r = _rerun(case, "block_lstm_v2", "float32", grads=tampered)
    result = engine.judge(Item(case, "block_lstm_v2", "float32", "grad_x"), r, engine.IDENTITY)
    assert result.status == "fail" and "not with the known bug's signature" in result.message
    r = _rerun(case, "block_lstm_v2", "float32", evidence=None)
    result = engine.judge(Item(case, "block_lstm_v2", "float32", "grad_x"), r, engine.IDENTITY)
    assert result.status == "fail" and "gave no evidence of the known bug" in result.message


def test_the_forget_bias_gradient_read_from_the_i_block_fails_naming_the_gate(make_case):
    case = _case(make_case, "fswap", "keras_lstm", dtypes="float64")
    wrong = replace(layouts.KERAS, name="keras with i and f swapped", gate_order=("f", "i", "j", "o"))
    result = evaluate(Item(case, "keras_lstm", "float64", "grad_weights"), reading=ReadAs(other=wrong))
    assert result.status == "fail"
    assert "d loss / d b['f'] (bias[0:4])" in result.message and "d loss / d b['i'] (bias[4:8])" in result.message


def test_v_and_w_gradients_swapped_fail_naming_the_block():
    # square: input_depth == num_units, so the swapped gradients still fit and are caught by their values
    (case,) = parse(
        "vw.yaml",
        b"name: vw\ninput_depth: 4\nnum_units: 4\ntimesteps: 6\nbatch: 2\nseed: 9\n"
        b"dtypes: [float64]\nforms: [keras_lstm]\n",
    )
    grads = engine.form_run(case, "keras_lstm", "float64").form_out.grads
    r = _rerun(
        case,
        "keras_lstm",
        "float64",
        grads=dict(grads, kernel=grads["recurrent_kernel"], recurrent_kernel=grads["kernel"]),
    )
    result = engine.judge(Item(case, "keras_lstm", "float64", "grad_weights"), r, engine.IDENTITY)
    assert result.status == "fail"
    for gate in "ifjo":
        assert f"d loss / d V['{gate}'] (kernel columns" in result.message
        assert f"d loss / d W['{gate}'] (recurrent_kernel columns" in result.message


def test_block_lstm_passes_its_gradient_straight_through_the_cell_clip(make_case, monkeypatch):
    """Measured: TF's BlockLSTM gradient ignores the clip's zero derivative; the true derivative fails."""
    case = make_case(name="clipped", dtypes="float32", extra="cell_clip: 0.2\nforms: [block_lstm]\n")
    assert evaluate(Item(case, "block_lstm", "float32", "grad_weights")).status == "pass"
    monkeypatch.setattr(FORMS["block_lstm"], "gradient_semantics", lambda case: {})  # the clip's true derivative
    r = _rerun(case, "block_lstm", "float32")
    result = engine.judge(Item(case, "block_lstm", "float32", "grad_weights"), r, engine.IDENTITY)
    assert result.status == "fail" and "d loss / d W['f']" in result.message


def _chaotic_weights():
    """cases/conditioning.yaml's chaotic_weights: float32 gradient bounds about 6e7 (weight_scale 8, 200 steps)."""
    from pathlib import Path

    from lstm_equiv.harness.casefile import parse

    path = Path(__file__).resolve().parent.parent / "cases" / "conditioning.yaml"
    return next(c for c in parse(path, path.read_bytes()) if c.name == "chaotic_weights")


def test_block_lstm_v2_bug_inside_wide_bounds_is_still_confirmed_and_said_unseen():
    """Where a case's bounds are so wide that the tape's wrong gradients pass them (chaotic_weights in
    float32), the signature, TF against TF, still confirms the bug, and the item says it was not seen in the
    gradients themselves."""
    case = _chaotic_weights()
    for check in ("grad_weights", "grad_x"):
        result = evaluate(Item(case, "block_lstm_v2", "float32", check))
        assert result.status == "xfail", result.message
        assert (
            "confirmed by its signature (this case's bounds are too wide to see it in the tape's gradients)"
            in result.message
        )
        assert result.ratio < 1  # inside its bound: only the signature knows


def test_block_lstm_v2_fixed_is_noticed_inside_wide_bounds_too():
    case = _chaotic_weights()
    out = engine.form_run(case, "block_lstm_v2", "float32").form_out
    r = _rerun(case, "block_lstm_v2", "float32", grads=out.evidence["own"])
    result = engine.judge(Item(case, "block_lstm_v2", "float32", "grad_weights"), r, engine.IDENTITY)
    assert result.status == "fail" and "TF fixed it; drop gradient_bug" in result.message
