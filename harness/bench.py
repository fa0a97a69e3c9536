"""``lstm-equiv bench``: the harness's speed, measured side by side in one run.

(a) item_ratio: per (case, form, dtype) run, the harness's wall time for all its checks over TF's own
    work for that run (one build, trace and call of the same form on the same case, with its gradient
    when the case checks gradients, timed alone): what the harness adds on top of TF;
(b) reference_ratio: the per-gate NumPy reference over TF's traced forward pass, question's shape;
(c) xdist_speedup: ``pytest cases -n 0`` over ``pytest cases -n auto``;
(d) the cost of one run against timesteps (100 to 10 000) and against num_units (8 to 512);
(e) the whole suite, ``pytest -n auto``, as the README runs it.
The last line is ``bench: item_ratio=X reference_ratio=Y xdist_speedup=Z`` (medians). Nothing here
asserts on time: these are measurements to read, on a noisy machine.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np

from lstm_equiv.harness import casefile, engine
from lstm_equiv.harness.forms import FORMS
from lstm_equiv.harness.forms.tf import compat as tf_compat
from lstm_equiv.harness.inputs import make_inputs
from lstm_equiv.reference import lstm_forward


def _evaluate_all(items) -> list:
    return [engine.evaluate(i) for i in items]


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def item_ratios(cases, out=print) -> list:
    """(a): per (case, form, dtype) run, (harness wall time of all its checks) / (TF's own work alone)."""
    ratios, rows = [], []
    for item_group in _groups(engine.plan(cases)):
        first = item_group[0]
        form = FORMS[first.form]
        if form.skip_reason(first.case, first.dtype):
            continue
        engine.forget_runs()
        harness = _timed(partial(_evaluate_all, item_group))
        inputs = make_inputs(first.case, first.dtype)
        gradients = "gradients" in first.case.checks and not form.no_gradient
        alone = _timed(partial(form.run, first.case, inputs, first.dtype, gradients=gradients))  # TF is warm now
        share = harness / alone
        ratios.append(share)
        rows.append((first.case.name, first.form, first.dtype, len(item_group), harness, alone, share))
    engine.forget_runs()
    out(
        f"(a) harness time per run over TF's own work for it (forward and gradient), {len(rows)} runs, "
        f"{sum(r[3] for r in rows)} items"
    )
    out(f"    {'case':22} {'form':28} {'dtype':7} items  harness s  TF alone s  ratio")
    for case, form, dtype, n, harness, alone, share in rows:
        out(f"    {case:22} {form:28} {dtype:7} {n:5}  {harness:9.3f}  {alone:10.3f}  {share:10.2f}")
    return ratios


def _groups(items) -> list:
    groups = {}
    for item in items:
        groups.setdefault((id(item.case), item.form, item.dtype), []).append(item)
    return list(groups.values())


def reference_ratio(case, out=print, repeats=9) -> float:
    """(b): the reference's time over the keras_lstm form's traced call (KerasForm.traced: TF's own work,
    without building or reading back), float64, interleaved repeats."""
    tf = tf_compat.tf()
    inputs = make_inputs(case, "float64")
    forward, _ = FORMS["keras_lstm"].traced(case, inputs, "float64")
    x = tf.constant(inputs.x)
    forward(x)  # the trace
    ref, tfs = [], []
    for _ in range(repeats):
        ref.append(_timed(lambda: lstm_forward(inputs.x, inputs.params, forget_bias=case.forget_bias)))
        tfs.append(_timed(lambda: [np.asarray(t) for t in forward(x)[:3]]))
    ratio = statistics.median(ref) / statistics.median(tfs)
    out(
        f"(b) reference {statistics.median(ref) * 1e3:.1f} ms vs TF traced keras_lstm "
        f"{statistics.median(tfs) * 1e3:.1f} ms per forward pass ({case.name}, float64, median of {repeats}): "
        f"ratio {ratio:.2f}"
    )
    return ratio


def xdist_speedup(root: Path, out=print) -> float | None:
    """(c): wall time of ``pytest cases -n 0`` over ``pytest cases -n auto``."""
    if not (root / "cases").is_dir():
        out("(c) skipped: no cases/ folder here")
        return None
    times = {}
    for workers in ("0", "auto"):
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "cases",
            "-q",
            "-p",
            "no:randomly",
            "-p",
            "no:cacheprovider",
            "-n",
            workers,
        ]
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
        times[workers] = time.perf_counter() - start
        tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()[-200:]
        out(f"(c) pytest cases -n {workers}: {times[workers]:.1f} s ({tail.strip('= ')})")
    speedup = times["0"] / times["auto"]
    out(f"    xdist speedup on {os.cpu_count()} cores: {speedup:.2f}")
    return speedup


def whole_suite(root: Path, out=print) -> float | None:
    """(e): wall time of the README's test command, ``pytest -n auto``, over cases/ and tests/ (goal: 90 s)."""
    if not (root / "tests").is_dir():
        out("(e) skipped: no tests/ folder here")
        return None
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "auto"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr.strip()[-200:]
    out(f"(e) pytest -n auto (the whole suite): {wall:.1f} s ({tail.strip('= ')})")
    return wall


def scaling(out=print) -> float:
    """(d): one run of keras_lstm (TF + reference + every check) as timesteps and num_units grow."""
    (base,) = casefile.parse(
        "<bench>",
        b"name: bench\ninput_depth: 12\nnum_units: 64\ntimesteps: 100\nbatch: 2\n"
        b"seed: 5\ndtypes: [float32]\nforms: [keras_lstm]\n",
    )

    def cost(case):
        engine.forget_runs()
        ref = _timed(lambda: engine.read(case, "keras_lstm", "float32"))
        engine.forget_runs()
        whole = _timed(lambda: [engine.evaluate(i) for i in engine.plan([case])])
        return whole, ref

    cost(base)  # warm-up
    out("(d) one keras_lstm run, float32 (TF build + trace + call, reference, every check)")
    by_t = {}
    for t in (100, 300, 1000, 3000, 10000):
        whole, _ = cost(replace(base, name=f"bench_t{t}", timesteps=t))
        by_t[t] = whole
        out(f"    timesteps {t:6}: {whole:7.3f} s")
    for n in (8, 32, 128, 512):
        whole, _ = cost(replace(base, name=f"bench_u{n}", num_units=n))
        out(f"    num_units {n:6}: {whole:7.3f} s  (timesteps 100)")
    growth = by_t[10000] / by_t[1000]
    out(f"    10 000 steps cost {growth:.1f}x of 1 000 (linear: 10x)")
    engine.forget_runs()
    return growth


def main(paths, root: Path, out=print) -> int:
    """Run all four measurements and print the summary line."""
    out(
        f"lstm-equiv bench: TF {tf_compat.versions()['tensorflow']}, {os.cpu_count()} cores, "
        f"device {tf_compat.device()}"
    )
    loader, cases = casefile.CaseLoader(), []
    for path in casefile.case_files(paths):
        cases += loader.load(path)
    question = next((c for c in cases if c.name == "question_network"), None)
    warm = [replace(c, name=f"warm_{c.name}", timesteps=2) for c in cases[:1]]
    for item_group in _groups(engine.plan(warm)):  # first-use costs of each form, not counted
        [engine.evaluate(i) for i in item_group]
    items = item_ratios(cases, out)
    ref = reference_ratio(question or cases[0], out)
    speedup = xdist_speedup(root, out)
    scaling(out)
    suite = whole_suite(root, out)
    item = statistics.median(items)
    out(
        f"bench: item_ratio={item:.2f} reference_ratio={ref:.2f} xdist_speedup="
        f"{'n/a' if speedup is None else f'{speedup:.2f}'} suite_s={'n/a' if suite is None else f'{suite:.0f}'}"
    )
    return 0
