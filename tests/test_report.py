"""The HTML report and its plots, the explain picture, and the progress display."""

import io
import os
import pty
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest

from lstm_equiv.harness import cli, engine, explain, report, safeio
from lstm_equiv.harness.casefile import parse

pytest.importorskip("matplotlib", reason="the plots extra: pip install -e '.[plots]'")
import matplotlib.image

ROOT = Path(__file__).resolve().parent.parent
(CASE,) = parse(
    "r.yaml",
    b"name: report_case\ninput_depth: 3\nnum_units: 4\ntimesteps: 7\nbatch: 2\nseed: 17\n"
    b"forms: [keras_lstm, block_lstm, lstm_cell]\nchecks: [forward]\n",
)
(ONE_STEP,) = parse(
    "one.yaml",
    b"name: one_step\ninput_depth: 3\nnum_units: 4\ntimesteps: 1\nbatch: 2\nseed: 5\n"
    b"forms: [keras_lstm, lstm_cell]\nchecks: [forward]\n",
)
# the tolerance override is impossible on purpose: every float32 outputs item fails
(TIGHT,) = parse(
    "tight.yaml",
    b"name: too_tight\ninput_depth: 3\nnum_units: 4\ntimesteps: 5\nbatch: 2\nseed: 9\n"
    b"forms: [keras_lstm]\ndtypes: [float32]\nchecks: [forward]\n"
    b"tolerance: {float32: 1.0e-12, reason: impossible on purpose}\n",
)


@pytest.fixture(scope="module")
def results():
    return [engine.evaluate(item) for item in engine.plan([CASE])]


@pytest.fixture(scope="module")
def failing_run():
    """A passing case and a failing one, as ``lstm-equiv run`` would hand them to the report."""
    cases = [CASE, TIGHT]
    return cases, [engine.evaluate(item) for item in engine.plan(cases)]


def _panels(fig) -> dict:
    """dtype -> {label: Line2D} of each panel of a case's figure."""
    return {ax.get_title(): {line.get_label(): line for line in ax.lines} for ax in fig.axes}


def test_the_plot_holds_one_panel_per_dtype_and_one_curve_per_form(results):
    curves = report.error_curves(CASE, results)
    # block_lstm takes float32 only: 3 forms x 2 dtypes - 1
    assert sorted(curves) == sorted(
        [
            (f, d)
            for f in ("keras_lstm", "block_lstm", "lstm_cell")
            for d in ("float32", "float64")
            if (f, d) != ("block_lstm", "float64")
        ]
    )
    assert all(c.shape == (7,) for c in curves.values())
    panels = _panels(report.plot_case(CASE, curves))
    assert sorted(panels) == ["float32", "float64"]
    for dtype, lines in panels.items():
        forms = sorted(label.split(":")[0] for label in lines if label != "bound")
        assert forms == sorted(f for f, d in curves if d == dtype)
        colours = [tuple(line.get_color()) for label, line in lines.items() if label != "bound"]
        assert len(set(colours)) == len(colours), f"{dtype}: two forms share a colour"


def test_the_worst_curve_against_its_bound_is_the_thick_one(results):
    curves = report.error_curves(CASE, results)
    for dtype, lines in _panels(report.plot_case(CASE, curves)).items():
        # recomputed here from the curves and each form's own bound, not from report.worst
        ratios = {f: max(curves[(f, d)] / report.bound_curve(CASE, f, d)) for f, d in curves if d == dtype}
        most = max(ratios.values())
        tied = {f for f, r in ratios.items() if r == most}  # forms that compute bit-identical outputs tie
        thick = [label for label, line in lines.items() if line.get_linewidth() > 2]
        assert len(thick) == 1 and thick[0].split(":")[0] in tied, (dtype, thick, ratios)
        assert thick[0].endswith(f": worst, {most:.2g} of its bound")


def test_a_one_timestep_case_is_drawn_on_one_step():
    results = [engine.evaluate(item) for item in engine.plan([ONE_STEP])]
    fig = report.plot_case(ONE_STEP, report.error_curves(ONE_STEP, results))
    for ax in fig.axes:
        assert ax.get_xlim() == (0.5, 1.5) and list(ax.get_xticks()) == [1]


def test_the_report_leads_with_the_verdict_then_the_failing_items(failing_run, tmp_path):
    cases, results = failing_run
    failing = [r for r in results if r.status == "fail"]
    assert sorted((r.item.case.name, r.item.check) for r in failing) == [
        ("too_tight", c) for c in ("final_c", "final_h", "outputs")
    ]
    page = report.write(tmp_path, cases, results, {"tensorflow": "x"}).read_text()
    n_pass = sum(r.status == "pass" for r in results)
    assert "<h1>FAIL</h1>" in page and f"{n_pass} pass</span>" in page and "3 fail</span>" in page
    # verdict, then the failing item with its message and a link to its case's plot, then the cases
    order = [
        page.index(s)
        for s in (
            "id=verdict",
            "too_tight keras_lstm float32 outputs",
            "Tolerance: atol=1e-12",
            "<h2>Cases</h2>",
            "<h2>Items</h2>",
        )
    ]
    assert order == sorted(order)
    assert "href='#case-too_tight'" in page and "<section id='case-too_tight'>" in page
    # the failing case's section and plot come before the passing one's
    assert page.index("id='case-too_tight'") < page.index("id='case-report_case'")
    for png in ("001-case-too_tight.png", "002-case-report_case.png"):
        assert f"<img src='{png}'" in page
        image = matplotlib.image.imread(tmp_path / png)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 300
    assert page.count("<tr class=pass>") == n_pass and page.count("<tr class=fail>") == 3


def test_a_passing_report_says_pass_and_lists_no_failing_item(results, tmp_path):
    page = report.write(tmp_path, [CASE], results, {"tensorflow": "x"}).read_text()
    assert "<h1>PASS</h1>" in page and "failing item" not in page and "0 fail</span>" in page


def test_invalid_case_files_are_in_the_verdict_with_their_errors(results, tmp_path):
    from lstm_equiv.harness.casefile import CaseFileError

    try:
        parse("bad.yaml", b"name: b\ninput_depth: 3\nnum_units: 4\ntimesteps: 2\nbatch: 1\nseed: 1\ncolour: red\n")
    except CaseFileError as err:
        invalid = [err]
    page = report.write(tmp_path, [CASE], results, {}, invalid).read_text()
    assert "<h1>INVALID</h1>" in page and "1 invalid case file(s)" in page
    assert "bad.yaml:7: key &#x27;colour&#x27;" in page


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
    cmd = [sys.executable, "-m", "lstm_equiv.harness", "run", str(case_dir)]
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
    (tmp_path / "p.yaml").write_text(
        "name: progress\ninput_depth: 2\nnum_units: 3\ntimesteps: 4\nbatch: 1\nseed: 2\n"
        "forms: [keras_lstm]\ndtypes: [float32]\nchecks: [forward]\n"
    )
    assert "[1/4] progress keras_lstm float32 weights" in _cli_stderr(True, tmp_path)
    assert "[1/4]" not in _cli_stderr(False, tmp_path)


def test_the_report_is_one_self_contained_folder(failing_run, tmp_path):
    """Every link of the page is an anchor on the page or a file in the folder, so the folder can be
    attached to a CI run and opened anywhere."""
    import re

    cases, results = failing_run
    folder = tmp_path / "r"
    page = report.write(folder, cases, results, {"tensorflow": "x"}).read_text()
    links = re.findall(r"(?:src|href)='([^']*)'", page)
    ids = set(re.findall(r"id='([^']*)'", page)) | set(re.findall(r"id=(\w+)", page))
    assert links
    for link in links:
        if link.startswith("#"):
            assert link[1:] in ids, link
        else:
            assert "/" not in link and ":" not in link and (folder / link).is_file(), link
    # and the mark that lets --force replace the folder whole next time (harness/safeio.py)
    assert sorted(p.name for p in folder.iterdir()) == [
        safeio.FOLDER_MARK,
        "001-case-too_tight.png",
        "002-case-report_case.png",
        "index.html",
    ]


def test_an_erroring_item_is_listed_with_its_escaped_message(results, tmp_path):
    from dataclasses import replace

    crashed = replace(
        results[0],
        status="error",
        max_abs_err=None,
        tolerance=None,
        ratio=None,
        message="Traceback (most recent call last):\nValueError: <boom> & more",
    )
    page = report.write(tmp_path, [CASE], [crashed] + results[1:], {}).read_text()
    assert "<h1>FAIL</h1>" in page and "1 error</span>" in page
    failing = page[page.index("id=failing") : page.index("<h2>Cases</h2>")]
    item = crashed.item
    assert f"{item.case.name} {item.form} {item.dtype} {item.check}</span>: <b>ERROR</b>" in failing
    assert "ValueError: &lt;boom&gt; &amp; more" in failing and "<boom>" not in page


def test_nan_outputs_make_the_worst_curve_and_are_marked():
    steps = CASE.timesteps
    good = np.full(steps, 1e-8)
    nan = good.copy()
    nan[3] = np.nan
    curves = {("keras_lstm", "float32"): nan, ("lstm_cell", "float32"): good * 10}
    (lines,) = _panels(report.plot_case(CASE, curves)).values()
    thick = [label for label, line in lines.items() if line.get_linewidth() > 2]
    assert thick == ["keras_lstm: worst, inf of its bound"]
    marks = lines["keras_lstm: NaN or inf outputs"]
    assert list(marks.get_xdata()) == [4] and np.isfinite(marks.get_ydata()).all()
