"""Helpers for the harness's own tests."""

import subprocess
import sys
from pathlib import Path

import pytest

from lstm_equiv.harness.casefile import parse

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
        if "cell: " in extra:  # only an LSTM has a forget gate: the key is refused with any other cell
            text = text.replace(f"forget_bias: {forget_bias}\n", "")
        path.write_text(text + extra)
        (case,) = parse(path, path.read_bytes())
        return case

    return make


PEAK = """
def _peak_kib():
    # VmHWM belongs to this process's own memory map. getrusage's ru_maxrss does not: Linux carries the
    # parent's high-water mark across fork and exec, so a child of an xdist worker that imported TF starts
    # at the worker's 680 MiB (measured)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print("peak_kib:", _peak_kib())
"""


@pytest.fixture
def measured_child():
    """Run a Python ``script`` with arguments in a fresh interpreter at the repository root; return the
    ``key: value`` lines it printed, with ``peak_kib`` (its own peak resident memory) added. The timeout
    is the time limit: a child past it fails the test."""

    def run(script: str, *args, timeout: float = 120) -> dict:
        proc = subprocess.run(
            [sys.executable, "-c", script + PEAK, *map(str, args)],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=Path(__file__).resolve().parent.parent,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        return dict(line.split(":", 1) for line in proc.stdout.splitlines() if ":" in line)

    return run


def pytest_collection_modifyitems(config, items):
    """The full seed sweep (marker ``sweep``) runs only when asked for: ``pytest -m sweep``."""
    if "sweep" in (config.option.markexpr or ""):
        return
    sweep = [item for item in items if item.get_closest_marker("sweep")]
    if sweep:
        config.hook.pytest_deselected(items=sweep)
        items[:] = [item for item in items if not item.get_closest_marker("sweep")]


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    """The trained Keras models of tests/trained.py, saved as .keras by the installed Keras, each trained the
    first time a test asks for it (once per worker)."""
    from lstm_equiv.harness.forms.tf import compat as tf_compat
    from tests import trained

    return trained.Trained(tf_compat.keras(), tmp_path_factory.mktemp("trained"))
