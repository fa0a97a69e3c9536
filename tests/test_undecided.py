"""A case no dtype can decide: the float64 bound sees the saturation (two probes), the items are undecided,
and every outcome says so: the CLI's exit code 3 (0 where the case says expect_undecided), pytest (a failure,
or a skip with the reason), the report's verdict and gather's exit code."""

import json

import numpy as np
import pytest
from test_cli import cli  # tests/ is on sys.path: pytest's rootdir-less test modules

from lstm_equiv.harness import engine, report, sensitivity
from lstm_equiv.harness.casefile import parse
from lstm_equiv.harness.forms import FORMS
from lstm_equiv.harness.runs import RUNS

# 16 units at weight_scale 12 over 250 steps: float64's rounding saturates (TF's float64 outputs are 1.5 off
# the reference, the derived bound about 96, the closest wrong layout 1.9); at weight_scale 10 over 300
# steps the same shape is not chaotic (error 1.7e-9, bound 3.4e-8: measured)
CHAOS = (
    "name: {name}\ninput_depth: 4\nnum_units: 16\ntimesteps: 250\nbatch: 2\nseed: 1\nweight_scale: {scale}\n"
    "forms: [keras_lstm]\nchecks: [forward]\ndtypes: [float64]\n{extra}"
)
EXPECTED = 'expect_undecided: "chaotic on purpose: a test of the undecided status"\n'


def _case(tmp_path, name="chaos", scale=12.0, extra=""):
    path = tmp_path / f"{name}.yaml"
    path.write_text(CHAOS.format(name=name, scale=scale, extra=extra))
    (case,) = parse(path, path.read_bytes())
    return path, case


def test_a_saturated_probe_is_not_scaled_back(tmp_path):
    """The old derivation scaled the 2^-40 probe's spread by 2^-13 even where it had saturated: a float64
    bound of 0.012 against TF's right answer, 1.5 off. Where the two probes respond linearly, the bound is
    as before."""
    _, case = _case(tmp_path)
    r = engine.read(case, "keras_lstm", "float64")
    s = RUNS.spread(case, "keras_lstm", "float64", r)
    x, cells = r.inputs.x.astype(np.float64), tuple(p.astype(np.float64) for p in r.inputs.cells)
    net = sensitivity.Network(cells)
    exact = sensitivity._forward(x, cells, 0.0, None, net, **FORMS["keras_lstm"].semantics(case))
    big = sensitivity._draws(
        x,
        cells,
        exact,
        None,
        sensitivity.PROBE,
        np.random.default_rng([case.seed, 0x5E75]),
        net,
        FORMS["keras_lstm"].semantics(case),
        None,
        None,
        None,
    )
    scaled = big.outputs * sensitivity.UNIT_ROUNDOFF["float64"] / sensitivity.PROBE
    error = np.abs(r.form_out.outputs - r.reference["outputs"]).max(axis=(0, 2))
    assert error.max() > 0.1  # 1.5 with TF 2.21, 0.82 with TF 2.12's Keras 2
    assert (error > 50 * scaled).any(), "the old bound would fail this right answer"
    assert (error <= 50 * s.outputs).all()
    linear = big.outputs[:20] / 64 <= s.outputs[:20] * 2**13  # the first steps: linear, scaled back as before
    np.testing.assert_array_equal(s.outputs[:20][linear], scaled[:20][linear])
    assert linear.all()


def test_an_undecided_case_exits_3_and_says_so(tmp_path):
    path, _ = _case(tmp_path)
    code, out, err = cli("run", str(path), "--json", str(tmp_path / "r.json"))
    assert code == 3, out + err
    assert "chaos  keras_lstm  float64  outputs" in out and "UNDECIDED" in out
    assert "UNDECIDED (3 items): undecided: no dtype can separate a wrong gate layout from rounding" in out
    assert f"say why with expect_undecided in {path}:1" in out
    assert "1 pass, 0 fail, 0 error, 3 undecided, 0 skip" in out  # the weights check, bit for bit, decides
    assert "lstm-equiv: 3 item(s) undecided, of case(s) chaos" in err
    rows = json.loads((tmp_path / "r.json").read_text())
    assert [(r["check"], r["status"], r["flag"]) for r in rows] == [
        ("weights", "pass", None),
        ("outputs", "undecided", None),
        ("final_h", "undecided", None),
        ("final_c", "undecided", None),
    ]
    assert all(r["max_abs_err"] < r["tolerance"] for r in rows[1:])


def test_a_case_that_expects_it_exits_0_and_names_its_reason(tmp_path):
    path, _ = _case(tmp_path, "expected", extra=EXPECTED)
    code, out, err = cli("run", str(path))
    assert code == 0, out + err
    assert "UNDECIDED (expected)" in out and "the case expects it: chaotic on purpose" in out
    assert "UNDECIDED (expected) (3 items)" in out


def test_the_same_shape_when_not_chaotic_is_decided(tmp_path):
    path, _ = _case(tmp_path, "tame", scale=10.0)
    code, out, err = cli("run", str(path))
    assert code == 0 and "undecided" not in out.lower(), out


def test_a_failure_beyond_the_wide_bound_still_fails(tmp_path):
    extra = EXPECTED + "tolerance:\n  float64: 1.0e-30\n  reason: impossible on purpose\n"
    path, _ = _case(tmp_path, "strict", extra=extra)
    code, out, _ = cli("run", str(path))
    assert code == 1 and "FAIL: case strict" in out  # an override is the user's bound: it decides


def test_pytest_fails_an_unexpected_undecided_item_and_skips_an_expected_one(pytester):
    from test_pytest_collection import run

    code, out = run(
        pytester,
        {
            "a.yaml": CHAOS.format(name="a", scale=12.0, extra=""),
            "b.yaml": CHAOS.format(name="b", scale=12.0, extra=EXPECTED),
        },
        "-p",
        "no:xdist",
        "-rs",
        "-k",
        "outputs",
        subprocess=True,
    )
    assert code == 1, out
    assert "1 failed, 1 skipped" in out
    assert "undecided: no dtype can separate a wrong gate layout" in out
    assert "the case expects it: chaotic on purpose" in out


def _result(status, flag=None):
    item = engine.Item(type("C", (), {"name": "c"})(), "keras_lstm", "float64", "outputs")
    return engine.Result(item, status, 1.0, 2.0, "m", flag=flag)


def test_the_report_verdict_is_undecided_unless_expected():
    assert report.verdict([_result("pass"), _result("undecided")]) == "UNDECIDED"
    assert report.verdict([_result("pass"), _result("undecided", "expected")]) == "PASS"
    assert report.verdict([_result("fail"), _result("undecided")]) == "FAIL"
    assert report.verdict([_result("undecided")], invalid=["x"]) == "INVALID"


@pytest.mark.parametrize("flag", [None, "ill-conditioned", "expected"])
def test_a_flag_of_a_report_row_is_checked(flag):
    from lstm_equiv.harness import drift

    assert drift.OPTIONAL["flag"][0](flag)
    assert not drift.OPTIONAL["flag"][0]("bogus")


def test_an_error_past_the_bound_of_an_undecidable_case_is_undecided_but_a_nan_fails(tmp_path, monkeypatch):
    """Where no dtype decides, the bound is drawn from heavy-tailed chaotic runs: an error past it is no
    evidence of a wrong layout (undecided), but a NaN, which no rounding explains, still fails."""
    from dataclasses import replace

    _, case = _case(tmp_path, extra=EXPECTED)
    item = engine.Item(case, "keras_lstm", "float64", "outputs")
    r = engine.read(case, "keras_lstm", "float64")
    from lstm_equiv.harness import compare

    real = compare.compare  # the comparison held to 1e-3, the derived bounds (and the conditioning) left alone
    tight = lambda a, d, tol, *args, **kw: real(a, d, replace(tol, atol=1e-3), *args, **kw)
    monkeypatch.setattr(compare, "compare", tight)
    result = engine.evaluate(item)
    assert result.status == "undecided" and result.ratio > 1
    assert "It exceeded even that bound" in result.message and "Mismatched elements" in result.message
    monkeypatch.setattr(compare, "compare", real)
    broken = replace(
        r.form_out,
        outputs=np.where(np.arange(r.form_out.outputs.shape[1])[None, :, None] == 7, np.nan, r.form_out.outputs),
    )
    monkeypatch.setattr(r.tf, "form_out", broken)
    nan = engine.evaluate(item)
    assert nan.status == "fail" and "Non-finite values in the form" in nan.message


def test_an_error_past_the_bound_where_float64_decides_is_a_failure(tmp_path, monkeypatch):
    """chaotic_weights' shape: float32 is ill-conditioned, float64 decides; a float32 error past its bound
    stays a failure (never a pass flagged ill-conditioned)."""
    from dataclasses import replace

    from lstm_equiv.harness import compare

    path = tmp_path / "ill.yaml"
    path.write_text(
        "name: ill\ninput_depth: 12\nnum_units: 32\ntimesteps: 200\nbatch: 2\nseed: 3\nweight_scale: 8.0\n"
        "forms: [keras_lstm]\nchecks: [forward]\ndtypes: [float32]\n"
    )
    (case,) = parse(path, path.read_bytes())
    item = engine.Item(case, "keras_lstm", "float32", "outputs")
    assert engine.evaluate(item).flag == "ill-conditioned"
    real = compare.compare
    tight = lambda a, d, tol, *args, **kw: real(a, d, replace(tol, atol=1e-3), *args, **kw)
    monkeypatch.setattr(compare, "compare", tight)
    result = engine.evaluate(item)
    assert result.status == "fail" and result.flag is None and "Mismatched elements" in result.message
