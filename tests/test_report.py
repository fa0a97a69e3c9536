"""The HTML report and its plots, the explain picture, and the progress display."""
import io
import os
import pty
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from harness import cli, engine, explain, report
from harness.casefile import parse

pytest.importorskip("matplotlib", reason="the plots extra: pip install -e '.[plots]'")
import matplotlib.image  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
(CASE,) = parse("r.yaml", b"name: report_case\ninput_depth: 3\nnum_units: 4\ntimesteps: 7\nbatch: 2\nseed: 17\n"
                          b"forms: [keras_lstm, block_lstm, lstm_cell]\nchecks: [forward]\n")


@pytest.fixture(scope="module")
def results():
    return [engine.evaluate(item) for item in engine.plan([CASE])]


def test_the_plot_holds_one_curve_per_form_and_dtype(results):
    curves = report.error_curves(CASE, results)
    # block_lstm takes float32 only: 3 forms x 2 dtypes - 1
    assert sorted(curves) == sorted([(f, d) for f in ("keras_lstm", "block_lstm", "lstm_cell")
                                     for d in ("float32", "float64") if (f, d) != ("block_lstm", "float64")])
    assert all(c.shape == (7,) for c in curves.values())
    fig = report.plot_case(CASE, curves)
    ax = fig.axes[0]
    labelled = [line.get_label() for line in ax.lines if not line.get_label().startswith("_")]
    assert sorted(labelled) == sorted(f"{f} {d}" for f, d in curves)


def test_the_report_renders_and_its_images_read_back(results, tmp_path):
    index = report.write(tmp_path, [CASE], results, {"tensorflow": "x"})
    page = index.read_text()
    assert "<img src='report_case.png'" in page and page.count("<tr class=pass>") == len(
        [r for r in results if r.status == "pass"])
    image = matplotlib.image.imread(tmp_path / "report_case.png")
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 300


def test_explain_png_draws_the_real_kernel(tmp_path):
    panels = explain.draw("keras_lstm", 12, 64, None, tmp_path / "k.png")
    assert panels == {"kernel": (12, 256), "recurrent_kernel": (64, 256)}
    assert matplotlib.image.imread(tmp_path / "k.png").shape[1] > 300


def _cli_stderr(tty: bool, case_dir):
    """What ``lstm-equiv run`` writes to stderr: at a real terminal (a pty, in a process of its own), or
    into a pipe-like stream, in this process."""
    if not tty:
        err = io.StringIO()  # isatty() is False, as for a pipe or a log file
        with redirect_stdout(io.StringIO()), redirect_stderr(err):
            cli.main(["run", str(case_dir)])
        return err.getvalue()
    cmd = [sys.executable, "-m", "harness", "run", str(case_dir)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    leader, follower = pty.openpty()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=follower, env=env, cwd=ROOT)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=300)
    os.close(leader)
    return b"".join(chunks).decode(errors="replace")


def test_progress_shows_at_a_terminal_only(tmp_path):
    (tmp_path / "p.yaml").write_text("name: progress\ninput_depth: 2\nnum_units: 3\ntimesteps: 4\nbatch: 1\nseed: 2\n"
                                     "forms: [keras_lstm]\ndtypes: [float32]\nchecks: [forward]\n")
    assert "[1/4] progress keras_lstm float32 weights" in _cli_stderr(True, tmp_path)
    assert "[1/4]" not in _cli_stderr(False, tmp_path)
