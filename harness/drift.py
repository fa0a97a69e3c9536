"""``lstm-equiv drift A.json B.json [...]``: what changed in TF's outputs between runs.

Each JSON file is a report of ``lstm-equiv run --json``, typically from two TF versions. Per case, form
and dtype it shows whether TF's outputs are bit-identical between the runs (sha256 digests of every
checked tensor) and, where not, the largest difference among the sampled values — next to each run's
distance from the reference. Exit code 0 unless a run failed the reference.
"""
from __future__ import annotations

import json
from pathlib import Path


def load(path) -> tuple:
    """(label, rows by (case, form, dtype, check)) of one report."""
    rows = json.loads(Path(path).read_text())
    versions = rows[0].get("versions", {}) if rows else {}
    label = f"TF {versions.get('tensorflow', '?')}" + (" legacy" if "LEGACY" in str(versions.get("tf.keras", "")) else "")
    return label, {(r["case"], r["form"], r["dtype"], r["check"]): r for r in rows}


def _group(rows: dict) -> dict:
    """Rows by (case, form, dtype)."""
    out = {}
    for (case, form, dtype, check), r in rows.items():
        out.setdefault((case, form, dtype), {})[check] = r
    return out


def _max_err(checks: dict):
    errs = [r["max_abs_err"] for c, r in checks.items() if c != "weights" and r.get("max_abs_err") is not None]
    return max(errs) if errs else None


def _status(checks: dict) -> str:
    statuses = {r["status"] for r in checks.values()}
    for s in ("error", "fail", "skip"):
        if s in statuses:
            return s
    return "pass"


def compare(a: dict, b: dict) -> tuple:
    """What happened to TF's tensors between two runs of one (case, form, dtype), given their checks:
    ("none", (), None) when no check has digests on both sides (skipped), ("inputs", (), None) when the
    runs were fed different inputs, ("same", (), 0.0) or ("changed", changed checks, max sampled |delta|)."""
    shared = [c for c in a if c in b and a[c].get("digest") and b[c].get("digest")]
    if not shared:
        return "none", (), None
    if any(a[c].get("inputs_digest") != b[c].get("inputs_digest") for c in shared):
        return "inputs", (), None
    changed = tuple(c for c in shared if a[c]["digest"] != b[c]["digest"])
    if not changed:
        return "same", (), 0.0
    deltas = [abs(x - y) for c in shared for x, y in zip(a[c].get("sample", []), b[c].get("sample", []))]
    return "changed", changed, max(deltas, default=0.0)


def _change(a: dict, b: dict) -> str:
    """'same bits', or 'changed' with the largest sampled difference."""
    kind, changed, delta = compare(a, b)
    return {"none": "-", "inputs": "not comparable: the runs were fed different inputs (case or seed changed)",
            "same": "same bits"}.get(kind) or f"changed ({', '.join(changed)}; max |delta| {delta:.3g} sampled)"


def drift(paths, out=print) -> int:
    """Print the drift table of the reports at ``paths``; 1 if any run failed the reference."""
    runs = [load(p) for p in paths]
    grouped = [(label, _group(rows)) for label, rows in runs]
    keys = sorted({k for _, g in grouped for k in g})
    header = ["case", "form", "dtype"] + [f"{label} vs reference" for label, _ in grouped]
    header += [f"{grouped[0][0]} -> {label}" for label, _ in grouped[1:]]
    table, failed = [header], False
    for key in keys:
        row = list(key)
        for _, g in grouped:
            checks = g.get(key)
            if checks is None:
                row.append("absent")
                continue
            status = _status(checks)
            failed |= status in ("fail", "error")
            err = _max_err(checks)
            row.append(status if err is None else f"{status} {err:.2g}")
        base = grouped[0][1].get(key)
        for _, g in grouped[1:]:
            other = g.get(key)
            row.append(_change(base, other) if base and other else "-")
        table.append(row)
    widths = [max(len(r[k]) for r in table) for k in range(len(header))]
    for r in table:
        out("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    changed = sum(1 for r in table[1:] if any(c.startswith("changed") for c in r[3 + len(grouped):]))
    out("")
    out(f"drift: {len(keys)} runs compared; TF's outputs changed in {changed}; "
        f"{'a run FAILED the reference' if failed else 'every run matches the reference'}")
    return 1 if failed else 0
