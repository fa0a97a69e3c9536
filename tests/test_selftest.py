"""The harness can fail: every mistake in the catalogue is caught, and the reasons cases use random weights."""

import pytest

from lstm_equiv.harness import cli, engine, layouts, selftest
from lstm_equiv.harness.forms import FORMS, LSTM_FORMS


@pytest.fixture(scope="module")
def verdicts():
    return selftest.run_catalogue()  # cached per process: the CLI test below reuses it


def test_the_catalogue_has_the_required_mistakes(verdicts):
    names = {v.mutation.name for v in verdicts}
    assert len(names) >= 50
    for form in [f for f in LSTM_FORMS if not FORMS[f].missing()]:  # all 23 wrong gate-block permutations, for
        # each fused form, in each dtype it takes (a form whose extra is not installed runs no entry)
        perms = [v for v in verdicts if v.form == form and v.mutation.gate_order is not None]
        assert len(perms) == 23 * len(FORMS[form].dtypes)
    for needed in (
        "x rows and h rows swapped (V read as W)",
        "recurrent block W[f] transposed",
        "forget_bias dropped",
        "forget_bias doubled",
        "forget_bias applied after the sigmoid",
        "unit_forget_bias (+1.0) on top of forget_bias",
        "hard_sigmoid in place of sigmoid",
        "the fused ops' default cell_clip=3.0 left on",
        "peephole diagonals of i and f swapped",
        "projection omitted",
        "time reversed",
        "state carried off by one step",
        "activation ignored (relu read as tanh)",
        "loss ignored (last_output read as outputs)",
        "cell_clip ignored",
        "proj_clip ignored",
        "recurrent_activation ignored (hard_sigmoid read as sigmoid)",
    ):
        assert needed in names
    assert any(n.endswith("hard_sigmoid in place of Keras 3's") or n.endswith("in place of Keras 2's") for n in names)


def test_every_named_mistake_runs_where_its_forms_are_installed(verdicts):
    """No named mistake silently drops out of the run: each runs on some form unless every form its case
    names needs an extra that is not installed here."""
    cases = selftest.selftest_cases()
    for m in selftest.named_mistakes():
        installed = [f for f in cases[m.case].forms if not FORMS[f].missing() and (not m.forms or f in m.forms)]
        ran = [v for v in verdicts if v.mutation.name == m.name]
        assert bool(ran) == bool(installed), (m.name, installed)


def test_every_bound_has_an_entry_just_above_it_in_every_dtype(verdicts):
    """An error of twice the derived bound, in the outputs and in one gradient entry, is caught in each dtype."""
    for dtype in selftest.DTYPES:
        for kind in ("forward", "gradients"):
            entries = [
                v
                for v in verdicts
                if v.dtype == dtype and v.mutation.name.startswith("one ") and v.mutation.kinds == (kind,)
            ]
            assert entries, (dtype, kind)
            assert all(v.detected for v in entries)
            # BlockLSTMV2's tape gradients are wrong anyway (TF's bug): its entry is caught by the bug's signature
            sized = [v for v in entries if kind == "forward" or not FORMS[v.form].gradient_bug]
            assert all(1.5 < v.ratio < 2.5 for v in sized), [(v.form, v.ratio) for v in sized]


def test_the_bounds_stay_close_to_what_correct_forms_reach():
    """A loosened bound (a larger MULTIPLE, a lost factor) shows here: on the question's network every correct
    form's error is at least 1/200 of its derived bound, in float32 and float64."""
    from pathlib import Path

    from lstm_equiv.harness.casefile import CaseLoader

    (case,) = CaseLoader().load(Path(__file__).resolve().parent.parent / "cases" / "question.yaml")
    for dtype in ("float32", "float64"):
        result = engine.evaluate(engine.Item(case, "keras_lstm", dtype, "outputs"))
        assert result.status == "pass" and 1 / 200 < result.ratio < 1, (dtype, result.ratio)
    assert engine.evaluate(engine.Item(case, "keras_lstm", "float64", "outputs")).tolerance <= 1e-12


def test_a_wrong_gate_layout_stays_far_above_the_derived_bound(verdicts):
    """Every wrong gate order errs by far more than the bound of the check that caught it, in both dtypes."""
    swaps = [v for v in verdicts if v.mutation.gate_order is not None and v.ratio is not None]
    assert {v.dtype for v in swaps} == {"float32", "float64"}
    assert min(v.ratio for v in swaps) > 100, min((v.ratio, v.form, v.dtype, v.mutation.name) for v in swaps)


def test_every_mistake_is_detected_with_random_weights(verdicts):
    wrong = [(v.mutation.name, v.form, v.dtype, v.outcome, v.how) for v in verdicts if not v.detected]
    assert wrong == []


def test_the_catalogue_runs_in_float64_and_reaches_the_gradients(verdicts):
    assert {v.dtype for v in verdicts} == {"float32", "float64"}
    assert any("grad_weights" in v.how for v in verdicts)
    assert any(v.how == "grad_weights, grad_x" for v in verdicts if v.mutation.name.startswith("loss ignored"))


def test_the_right_readings_pass():
    assert [b for b in selftest.baseline() if b[4] != "missed"] == []


def test_a_crash_is_an_error_never_a_detection(make_case):
    """A reading that raises is its own outcome: the self-test reports it and fails, it never counts it."""
    crash = selftest.Mistake("params raise", "plain", change_params=lambda p: 1 / 0)
    case = make_case(name="crash", dtypes="float32")
    outcome, _, _, how = selftest.judge(case, "keras_lstm", "float32", crash)
    assert outcome == "error" and "ZeroDivisionError" in how
    verdict = selftest.Verdict(crash, "keras_lstm", "float32", outcome, None, None, None, how)
    assert not verdict.detected


def test_the_self_test_goes_through_the_real_evaluation(make_case, monkeypatch):
    """One evaluation path: the self-test judges through engine.evaluate, so a broken evaluate breaks it."""
    calls = []
    real = engine.evaluate
    monkeypatch.setattr(engine, "evaluate", lambda *a, **kw: calls.append(a[0].check) or real(*a, **kw))
    case = make_case(name="path", dtypes="float32")
    selftest.judge(case, "keras_lstm", "float32", engine.IDENTITY)
    assert calls == ["weights", "outputs", "final_h", "final_c", "grad_weights", "grad_x"]


def test_constant_weights_cannot_see_a_gate_swap(verdicts):
    """Where forget_bias is added at run time, every permutation is invisible with constant weights."""
    runtime = {n for n, f in LSTM_FORMS.items() if f.layout.forget_bias == layouts.RUNTIME}
    swaps = [
        v
        for v in verdicts
        if v.mutation.gate_order is not None and v.form in runtime and v.outcome_constant is not None
    ]
    assert len(swaps) == 23 * len(runtime)
    assert not any(v.outcome_constant == "detected" for v in swaps)
    assert all(v.detected for v in swaps)


def test_the_selftest_case_drives_c_past_the_default_clip():
    assert selftest.max_abs_c() > 3.0


def test_selftest_command_prints_the_catalogue_and_exits_0(verdicts, capsys):
    assert cli.main(["selftest"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].startswith("selftest: ") and "entries detected" in lines[-1]
    detected, total = lines[-1].split()[1].split("/")
    assert detected == total and int(total) == len(verdicts)
    n = sum(v.mutation.name == "gate blocks read as i f o j" for v in verdicts)
    # every form, in every dtype it takes
    assert n == sum(len(f.dtypes) for f in LSTM_FORMS.values() if not f.missing())
    assert any(line.startswith("gate blocks read as i f o j") and f"{n}/{n} detected" in line for line in lines)
    assert "MISSED" not in "\n".join(lines) and "ERROR" not in "\n".join(lines)


def test_the_gru_mistakes_are_caught_by_the_computed_checks_not_only_by_the_weights(verdicts):
    """A GRU mistake written as changed params also fails the weights check; each must fail the outputs
    check too, and grad_weights where the form has a gradient and the mistake reaches it, so that the GRU's
    computed checks are shown to fail, not only its bit-for-bit weights check."""
    gru = [v for v in verdicts if v.mutation.name.startswith("GRU:")]
    assert len({v.mutation.name for v in gru}) >= 9
    for v in gru:
        caught = v.how.split(", ")
        assert "outputs" in caught, (v.mutation.name, v.form, v.how)
        if "gradients" in v.mutation.kinds and not FORMS[v.form].no_gradient:
            assert "grad_weights" in caught, (v.mutation.name, v.form, v.how)
