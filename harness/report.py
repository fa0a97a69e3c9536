"""``lstm-equiv run --report DIR``: one self-contained folder (``index.html`` and one PNG per case, linked
relatively) that leads with the verdict.

The page, top to bottom: the verdict and the counts (pass / fail / error / undecided / skip / xfail, invalid case
files); every failing or erroring item with its message and a link to its case's plot; the invalid case
files with their errors; the versions; per case (failing cases first) a plot of |TF - reference| at every
timestep, one panel per dtype, each form a curve, the worst curve against its bound drawn thick; and the
table of every item. tests/test_report_browser.py renders it in headless Chromium and checks that the
verdict and the first failing item are on the first screen.

Plots need matplotlib (``pip install -e '.[plots]'``); it is imported only here.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from lstm_equiv.harness import engine, safeio

STATUSES = engine.STATUSES
FAILED = ("fail", "error")


def error_curves(case, results) -> dict:
    """(form, dtype) -> max over batch and units of |TF outputs - reference outputs|, per timestep."""
    curves = {}
    for r in results:
        item = r.item
        if item.case is not case or item.check != "outputs" or r.status not in ("pass", "fail"):
            continue
        run = engine.read(case, item.form, item.dtype)
        diff = np.abs(run.form_out.outputs.astype(np.float64) - run.reference["outputs"])
        curves[(item.form, item.dtype)] = diff.max(axis=(0, 2))
    return curves


def bound_curve(case, form: str, dtype: str) -> np.ndarray:
    """The outputs check's bound of ``form`` in ``dtype`` per timestep (the max over batch and units)."""
    atol = np.asarray(engine.outputs_tolerance(case, form, dtype).atol, dtype=np.float64)
    per_step = np.broadcast_to(atol, np.broadcast_shapes(atol.shape, (1, case.timesteps, 1)))
    return per_step.max(axis=tuple(k for k in range(per_step.ndim) if k != 1))


def worst(curves: dict, bounds: dict):
    """The key of the curve that comes closest to (or goes furthest past) its bound, and that ratio; a
    curve with a non-finite step (NaN or inf outputs) is the worst, at ratio inf."""
    ratios = {
        key: float(np.max(np.where(np.isfinite(curves[key]), curves[key] / bounds[key], np.inf))) for key in curves
    }
    key = max(ratios, key=ratios.get)
    return key, ratios[key]


def _colours(n: int):
    """``n`` distinguishable colours: tab20's ten dark hues first, then its ten light ones."""
    import matplotlib

    tab20 = matplotlib.colormaps["tab20"].colors
    order = list(range(0, 20, 2)) + list(range(1, 20, 2))
    return [tab20[order[k % 20]] for k in range(n)]


def plot_case(case, curves: dict):
    """A matplotlib Figure with one panel per dtype: one curve per form on a log scale, the worst curve
    relative to its bound drawn thick and named in the legend, the bound per timestep dotted grey (the
    largest over the panel's forms: they differ only where the forms' semantics do). The time axis runs
    from 0.5 to timesteps + 0.5 with integer ticks, so that a one-timestep case shows one step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    dtypes = sorted({d for _, d in curves})
    fig, axes = plt.subplots(1, len(dtypes), figsize=(6.4 * len(dtypes), 4.6), squeeze=False)
    steps = np.arange(1, case.timesteps + 1)
    marker = "o" if case.timesteps <= 3 else None
    for ax, dtype in zip(axes[0], dtypes):
        forms = sorted(f for f, d in curves if d == dtype)
        panel = {f: curves[(f, dtype)] for f in forms}
        bounds = {f: bound_curve(case, f, dtype) for f in forms}
        top, ratio = worst(panel, bounds)
        bound = np.max([bounds[f] for f in forms], axis=0)
        for form, colour in zip(forms, _colours(len(forms))):
            thick = form == top
            label = f"{form}: worst, {ratio:.2g} of its bound" if thick else form
            curve = panel[form]
            ax.plot(
                steps,
                np.maximum(curve, 1e-18),
                color=colour,
                label=label,
                marker=marker,
                linewidth=2.6 if thick else 1.0,
                alpha=1.0 if thick else 0.6,
                zorder=3 if thick else 2,
            )
            bad = ~np.isfinite(curve)  # a line skips NaN: mark those steps above the bound instead
            if bad.any():
                ax.plot(
                    steps[bad],
                    100 * bound[bad],
                    linestyle="none",
                    marker="X",
                    markersize=9,
                    color=colour,
                    label=f"{form}: NaN or inf outputs",
                    zorder=4,
                )
        ax.plot(steps, bound, color="grey", linewidth=1.0, linestyle=":", label="bound", marker=marker)
        ax.set_yscale("log")
        ax.set_xlim(0.5, case.timesteps + 0.5)
        if case.timesteps <= 10:
            ax.set_xticks(steps)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("timestep")
        ax.set_ylabel("max |TF - reference|")
        ax.set_title(dtype)
        ax.legend(fontsize=7, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    fig.suptitle(
        f"{case.name}: input_depth {case.input_depth}, num_units {case.num_units}, "
        f"timesteps {case.timesteps}, batch {case.batch} (each curve: the max over batch and units)"
    )
    fig.tight_layout()
    return fig


def counts(results) -> dict:
    """Items per status, every status present (0 where none)."""
    return {s: sum(r.status == s for r in results) for s in STATUSES}


def verdict(results, invalid=()) -> str:
    """FAIL when an item failed or errored, INVALID when only case files were invalid, UNDECIDED when an item
    no dtype can decide was not expected to be, NO ITEMS when nothing ran, PASS otherwise (the exit codes of
    ``lstm-equiv run``: 1, 2, 3, 2, 0)."""
    n = counts(results)
    if n["fail"] or n["error"]:
        return "FAIL"
    if invalid:
        return "INVALID"
    if any(engine.unexpected_undecided(r.status, r.flag) for r in results):
        return "UNDECIDED"
    return "PASS" if results else "NO ITEMS"


def anchor(case_name: str) -> str:
    """The id of a case's section."""
    return "case-" + "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in case_name)


STYLE = """
body{font-family:sans-serif;margin:1.5em 2em;color:#222}
.verdict{padding:.6em 1em;border-radius:6px;margin-bottom:1em}
.verdict h1{margin:0 0 .2em;font-size:1.6em}
.verdict.PASS{background:#d8f0d8;border:2px solid #2a7a2a}
.verdict.FAIL,.verdict.INVALID,.verdict.NO_ITEMS{background:#fbd9d9;border:2px solid #b02020}
.verdict.UNDECIDED{background:#fff0c8;border:2px solid #a06b00}
.counts span{margin-right:1.2em;font-size:1.15em}
.counts .nz.fail,.counts .nz.error{color:#b02020;font-weight:bold}
.failing li{margin:.3em 0}
.failing .what{font-family:monospace;font-weight:bold}
.failing pre,.invalid pre{white-space:pre-wrap;margin:.2em 0 .2em 1em;font-size:12px;max-height:8em;overflow:auto}
.versions{font-size:12px;color:#555}
table{border-collapse:collapse;font-size:12px}
td,th{border:1px solid #ccc;padding:2px 6px}
tr.fail,tr.error{background:#fcc}
tr.undecided{background:#fff4d6}
tr.skip,tr.xfail{color:#888}
img{max-width:100%}
"""


def _item_name(r) -> str:
    i = r.item
    return f"{i.case.name} {i.form} {i.dtype} {i.check}"


def _head(results, invalid, versions) -> list:
    """The verdict, the counts, the failing items, the invalid files and the versions."""
    n, word = counts(results), verdict(results, invalid)
    spans = [f"<span class='{s}{' nz' if n[s] else ''}'>{n[s]} {s}</span>" for s in STATUSES]
    if invalid:
        spans.append(f"<span class='error nz'>{len(invalid)} invalid case file(s)</span>")
    why = (
        "<p>Nothing failed, but no dtype can tell a wrong gate layout from rounding on the undecided items' "
        "cases: their passes prove nothing (say expect_undecided in a case that is meant to be so).</p>"
        if word == "UNDECIDED"
        else ""
    )
    parts = [
        f"<header id=verdict class='verdict {word.replace(' ', '_')}'><h1>{word}</h1>"
        f"<p class=counts>{''.join(spans)}</p>{why}</header>"
    ]
    failing = [r for r in results if r.status in FAILED]
    if failing:
        parts.append(f"<section class=failing id=failing><h2>{len(failing)} failing item(s)</h2><ol>")
        for r in failing:
            ratio = "" if r.ratio is None else f" (error {r.ratio:.3g} x its bound)"
            parts.append(
                f"<li class={r.status}><span class=what>{html.escape(_item_name(r))}</span>: "
                f"<b>{r.status.upper()}</b>{ratio} <a href='#{anchor(r.item.case.name)}'>case "
                f"{html.escape(r.item.case.name)}</a><pre>{html.escape(r.message)}</pre></li>"
            )
        parts.append("</ol></section>")
    if invalid:
        parts.append("<section class=invalid id=invalid><h2>Invalid case files</h2>")
        parts += [f"<pre>{html.escape(str(err))}</pre>" for err in invalid]
        parts.append("</section>")
    parts.append("<p class=versions>" + html.escape(", ".join(f"{k} {v}" for k, v in versions.items() if v)) + "</p>")
    return parts


def write(directory, cases, results, versions: dict, invalid=(), force: bool = False) -> Path:
    """Write index.html and one PNG per case into ``directory`` (a new or empty folder, or with ``force`` a
    report folder lstm-equiv wrote before, replaced whole: harness/safeio.py); return the HTML's path.
    ``invalid`` are the errors of the case files that did not load (their text is shown)."""
    with safeio.publishing_folder(directory, "--report", force) as out:
        _write(out, cases, results, versions, invalid)
    return Path(directory) / "index.html"


def _write(out: Path, cases, results, versions: dict, invalid):
    """The report's files, into the folder ``out``."""
    import matplotlib.pyplot as plt

    word, n = verdict(results, invalid), counts(results)
    parts = [
        f"<!doctype html><meta charset=utf-8><title>lstm-equiv: {word}, {n['fail']} fail, {n['error']} error"
        f"</title><style>{STYLE}</style>"
    ] + _head(results, invalid, versions)
    bad_cases = {r.item.case.name for r in results if r.status in FAILED}
    parts.append("<h2>Cases</h2>")
    # failing cases first, else file order; a PNG is named with the case's place too, so that case names
    # differing only in case do not share a file once the folder is unpacked on macOS or Windows
    for k, case in enumerate(sorted(cases, key=lambda c: c.name not in bad_cases), 1):
        mine = [r for r in results if r.item.case is case]
        if not mine:
            continue
        summary = ", ".join(f"{n} {s}" for s, n in counts(mine).items() if n)
        parts.append(
            f"<section id='{anchor(case.name)}'><h3>{html.escape(case.name)}</h3>"
            f"<p>{html.escape(str(case.path))}:{case.line}: {summary}</p>"
        )
        curves = error_curves(case, mine)
        if curves:
            fig = plot_case(case, curves)
            png = f"{k:03d}-{anchor(case.name)}.png"
            fig.savefig(out / png, dpi=80, bbox_inches="tight")
            plt.close(fig)
            parts.append(f"<img src='{png}' alt='error over time for {html.escape(case.name)}'>")
        else:
            parts.append("<p>(no outputs check passed or failed: nothing to plot)</p>")
        parts.append("</section>")
    parts.append(
        "<h2>Items</h2><table><tr><th>case<th>form<th>dtype<th>check<th>max abs err<th>bound<th>err/bound<th>status"
    )
    for r in results:
        err = "-" if r.max_abs_err is None else f"{r.max_abs_err:.3g}"
        tol = "-" if r.tolerance is None else f"{r.tolerance:.3g}"
        ratio = "-" if r.ratio is None else f"{r.ratio:.3g}"
        status = r.status + (f" ({r.flag})" if r.flag else "")
        parts.append(
            f"<tr class={r.status}><td>{html.escape(r.item.case.name)}<td>{r.item.form}<td>{r.item.dtype}"
            f"<td>{r.item.check}<td>{err}<td>{tol}<td>{ratio}<td>{status}"
        )
    parts.append("</table>")
    (out / "index.html").write_text("\n".join(parts) + "\n")
