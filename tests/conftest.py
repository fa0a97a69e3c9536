"""Helpers for the harness's own tests."""
import pytest

from harness.casefile import parse

TINY = """\
name: {name}
input_depth: 3
num_units: 4
timesteps: 6
batch: 2
seed: 7
forget_bias: {forget_bias}
dtypes: [{dtypes}]
"""


@pytest.fixture
def make_case(tmp_path):
    """Write a small case file and return its validated Case."""

    def make(name="tiny", forget_bias=1.0, dtypes="float32, float64", extra=""):
        path = tmp_path / f"{name}.yaml"
        text = TINY.format(name=name, forget_bias=forget_bias, dtypes=dtypes)
        if "cell: gru" in extra:  # a GRU has no forget gate: the key is refused with cell: gru
            text = text.replace(f"forget_bias: {forget_bias}\n", "")
        path.write_text(text + extra)
        (case,) = parse(path, path.read_bytes())
        return case

    return make


def pytest_collection_modifyitems(config, items):
    """The full seed sweep (marker ``sweep``) runs only when asked for: ``pytest -m sweep``."""
    if "sweep" in (config.option.markexpr or ""):
        return
    sweep = [item for item in items if item.get_closest_marker("sweep")]
    if sweep:
        config.hook.pytest_deselected(items=sweep)
        items[:] = [item for item in items if not item.get_closest_marker("sweep")]
