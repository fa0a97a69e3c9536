"""Property-based fuzz of the case-file reader (Hypothesis): whatever the bytes, reading a case file either
gives cases or raises CaseFileError with a message that names the file; and ``lstm-equiv run FILE`` exits
0, 1 or 2, never with a traceback. Derandomized, with a fixed number of examples, so that every run (and
every xdist worker) tries the same inputs."""

import io
import string
from contextlib import redirect_stderr, redirect_stdout

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lstm_equiv.harness import casefile
from lstm_equiv.harness.cli import main
from lstm_equiv.harness.spec import FIELDS

FUZZ = settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CLI_FUZZ = settings(FUZZ, max_examples=40)

BASE = {
    "name": "fuzz",
    "input_depth": 2,
    "num_units": 3,
    "timesteps": 2,
    "batch": 1,
    "seed": 0,
    "dtypes": ["float32"],
    "forms": ["keras_lstm"],
    "checks": ["forward"],
}

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.sampled_from(["float32", "keras_lstm", "gru", "lstm", "1.0e-5", ".nan", "cases", "zeros", "concat"]),
)
mapping_keys = st.one_of(st.text(max_size=8), st.integers(-5, 5), st.booleans(), st.none(), st.floats(-1, 1))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(mapping_keys, inner, max_size=4)),
    max_leaves=12,
)
keys = st.one_of(
    st.sampled_from(sorted(FIELDS)), st.text(string.ascii_letters + "_", min_size=1, max_size=12), mapping_keys
)


@st.composite
def documents(draw):
    """A case (the valid BASE with keys replaced, added or removed), a list of them, or any YAML value."""
    case = dict(BASE)
    for key in draw(st.lists(keys, max_size=4)):
        if draw(st.booleans()) and key in case:
            del case[key]
        else:
            case[key] = draw(values)
    kind = draw(st.sampled_from(["case", "cases", "any"]))
    doc = case if kind == "case" else {"cases": [case, draw(values)]} if kind == "cases" else draw(values)
    return yaml.safe_dump(doc, allow_unicode=True).encode()


def _parse(data: bytes):
    try:
        cases = casefile.parse("fuzz.yaml", data)
    except casefile.CaseFileError as err:
        assert str(err).startswith("fuzz.yaml"), str(err)
        assert err.problems
        return None
    assert all(isinstance(c, casefile.Case) for c in cases) and cases
    return cases


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_are_cases_or_a_case_file_error(data):
    _parse(data)


@FUZZ
@given(documents())
def test_random_yaml_documents_are_cases_or_a_case_file_error(data):
    _parse(data)


@FUZZ
@given(documents(), st.integers(0, 400), st.binary(min_size=1, max_size=8))
def test_damaged_yaml_documents_are_cases_or_a_case_file_error(data, at, junk):
    _parse(data[:at] + junk + data[at:])


@CLI_FUZZ
@given(documents())
def test_lstm_equiv_run_exits_0_1_or_2_and_never_with_a_traceback(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("fuzz") / "fuzz.yaml"
    path.write_bytes(data)
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["run", str(path)])
    assert code in (0, 1, 2), out.getvalue() + err.getvalue()
    assert "Traceback" not in out.getvalue() + err.getvalue()
