"""``lstm-equiv run --report DIR``: an HTML report with the per-item table, the stack's versions, and per
case a plot of |TF - reference| at every timestep, one curve per form and dtype.

Plots need matplotlib (``pip install -e '.[plots]'``); it is imported only here.
"""
from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from harness import engine


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


def plot_case(case, curves: dict):
    """A matplotlib Figure: one curve per (form, dtype), log scale, each dtype's bound per timestep dotted
    (the largest over the forms: they differ only where the forms' semantics do)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(11, 4.5))
    for (form, dtype), curve in sorted(curves.items()):
        steps = np.arange(1, curve.size + 1)
        ax.plot(steps, np.maximum(curve, 1e-18), label=f"{form} {dtype}", linestyle="-" if dtype == "float64" else "--",
                marker="o" if curve.size == 1 else None)
    for dtype in sorted({d for _, d in curves}):  # the bounds, unlabelled (they are not error curves)
        bounds = [np.broadcast_to(engine.outputs_tolerance(case, form, d).atol, (1, case.timesteps, 1)).ravel()
                  for form, d in curves if d == dtype]
        ax.plot(np.arange(1, case.timesteps + 1), np.max(bounds, axis=0), color="grey", linewidth=0.8, linestyle=":")
    ax.set_yscale("log")
    ax.set_xlabel("timestep")
    ax.set_ylabel("max |TF - reference| over batch and units")
    ax.set_title(f"{case.name}: input_depth {case.input_depth}, num_units {case.num_units}, "
                 f"timesteps {case.timesteps}, batch {case.batch}")
    ax.legend(fontsize=7, ncol=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def write(directory, cases, results, versions: dict) -> Path:
    """Write index.html and one PNG per case into ``directory``; return the HTML's path."""
    import matplotlib.pyplot as plt

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    parts = ["<!doctype html><meta charset=utf-8><title>lstm-equiv report</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}"
             "td,th{border:1px solid #ccc;padding:2px 6px}.fail,.error{background:#fcc}.skip,.xfail{color:#888}</style>",
             "<h1>lstm-equiv report</h1>",
             "<p>" + html.escape(", ".join(f"{k} {v}" for k, v in versions.items() if v)) + "</p>"]
    for case in cases:
        curves = error_curves(case, results)
        if not curves:
            continue
        fig = plot_case(case, curves)
        png = f"{case.name}.png"
        fig.savefig(out / png, dpi=90, bbox_inches="tight")
        plt.close(fig)
        parts.append(f"<h2>{html.escape(case.name)}</h2><img src='{png}' alt='error over time for {case.name}'>")
    parts.append("<h2>Items</h2><table><tr><th>case<th>form<th>dtype<th>check<th>max abs err<th>bound<th>err/bound<th>status")
    for r in results:
        err = "-" if r.max_abs_err is None else f"{r.max_abs_err:.3g}"
        tol = "-" if r.tolerance is None else f"{r.tolerance:.3g}"
        ratio = "-" if r.ratio is None else f"{r.ratio:.3g}"
        status = r.status + (f" ({r.flag})" if r.flag else "")
        parts.append(f"<tr class={r.status}><td>{html.escape(r.item.case.name)}<td>{r.item.form}<td>{r.item.dtype}"
                     f"<td>{r.item.check}<td>{err}<td>{tol}<td>{ratio}<td>{status}")
    parts.append("</table>")
    index = out / "index.html"
    index.write_text("\n".join(parts) + "\n")
    return index
