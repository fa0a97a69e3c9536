"""``lstm-equiv drift A.json B.json [...]``: what changed in TF's outputs between runs.

Each JSON file is a report of ``lstm-equiv run --json``, typically from two TF versions. Per case, form
and dtype it shows whether TF's outputs are bit-identical between the runs (sha256 digests of every
checked tensor) and, where not, the largest difference among the sampled values — next to each run's
distance from the reference. Exit code 0 unless a run failed the reference, 2 for a report that is not one
(:func:`read_report` says which file, row and key).
"""

from __future__ import annotations

import json
import reprlib
import sys

from lstm_equiv.harness import safeio
from lstm_equiv.harness.engine import STATUSES

KEY = ("case", "form", "dtype", "check")
"""The keys that name a row: one report holds one row per combination."""


class ReportError(Exception):
    """A file that is not a valid JSON report of ``lstm-equiv run --json``: the message names the file, and
    the row and key where one is at fault."""


def _json_type(value) -> str:
    """What a JSON value is, in words: ``an object``, ``a list``, ``null``..."""
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    for kind, word in ((dict, "an object"), (list, "a list"), (str, "a string"), ((int, float), "a number")):
        if isinstance(value, kind):
            return word
    return type(value).__name__


def _number(value) -> bool:
    """An int or a float, NaN and inf included (a run whose outputs are NaN reports them); never a bool
    (JSON true is no error), nor an int too large for the float the tables format it as."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        float(value)
    except OverflowError:
        return False
    return True


# key: (test of its value, what the value must be); REQUIRED in every row, OPTIONAL checked where present
REQUIRED = {
    **{key: (lambda v: isinstance(v, str), "a string") for key in KEY},
    "status": (lambda v: isinstance(v, str) and v in STATUSES, f"one of {', '.join(STATUSES)}"),
    "max_abs_err": (lambda v: v is None or _number(v), "a number or null"),
}
OPTIONAL = {
    "tolerance": REQUIRED["max_abs_err"],
    "ratio": REQUIRED["max_abs_err"],
    "digest": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "inputs_digest": (lambda v: v is None or isinstance(v, str), "a string or null"),
    "sample": (lambda v: isinstance(v, list) and all(map(_number, v)), "a list of numbers"),
    "versions": (lambda v: isinstance(v, dict), "an object"),
    "flag": (lambda v: v in (None, "ill-conditioned", "expected"), "null, ill-conditioned or expected"),
}


def decode(path, data: bytes):
    """The JSON value of ``data``, the bytes of the file ``path``; ReportError if they are not UTF-8 JSON."""
    if not data.strip():
        raise ReportError(f"{path}: is empty, not a JSON report of lstm-equiv run --json")
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise ReportError(f"{path}: not UTF-8 text (byte {err.start}: {err.reason})") from None
    except json.JSONDecodeError as err:
        raise ReportError(f"{path}: not JSON: {err.msg} at line {err.lineno} column {err.colno}") from None
    except ValueError as err:  # an integer of more than sys.get_int_max_str_digits() digits
        raise ReportError(f"{path}: not a JSON report: {err}") from None
    except RecursionError:
        raise ReportError(f"{path}: not a JSON report: nested too deeply") from None


def _row_problem(row) -> str | None:
    """What is wrong with one row, or None."""
    if not isinstance(row, dict):
        return f"is {_json_type(row)}, not an object (a row of lstm-equiv run --json)"
    for key in REQUIRED:
        if key not in row:
            return f"key {key!r} is missing"
    for key, (test, must) in {**REQUIRED, **OPTIONAL}.items():
        if key in row and not test(row[key]):
            return f"key {key!r}: {reprlib.repr(row[key])} is not {must}"
    return None


def validate(path, rows) -> list:
    """``rows``, the JSON value of the file ``path``, if it is a report of ``lstm-equiv run --json``: a
    non-empty list of rows, each an object with the keys and types of :data:`REQUIRED` and
    :data:`OPTIONAL`, no two with one (case, form, dtype, check). ReportError otherwise, naming the file,
    the row (counted from 0, as ``jq '.[N]'`` does) and the key."""
    if not isinstance(rows, list) or not rows:
        found = "an empty list" if rows == [] else _json_type(rows)
        raise ReportError(
            f"{path}: not a JSON report of lstm-equiv run --json: expected a non-empty list of rows, found {found}"
        )
    first = {}
    for n, row in enumerate(rows):
        problem = _row_problem(row)
        if problem:
            raise ReportError(f"{path}: row {n}: {problem}")
        key = tuple(row[k] for k in KEY)
        if key in first:  # the later row would silently replace the earlier one in every table
            named = ", ".join(f"{k} {v!r}" for k, v in zip(KEY, key))
            raise ReportError(f"{path}: row {n}: repeats row {first[key]} ({named})")
        first[key] = n
    return rows


def read(path) -> bytes:
    """The bytes of the file ``path`` through :mod:`safeio` (a regular file, within the size limit of a JSON
    report); ReportError otherwise."""
    try:
        return safeio.read_bytes(path, "JSON report")
    except safeio.InputError as err:
        raise ReportError(str(err)) from None
    except OSError as err:  # replaced by a folder meanwhile, say
        raise ReportError(f"{path}: cannot be read: {err.strerror}") from None


def read_report(path) -> list:
    """The validated rows (:func:`validate`) of the JSON report at ``path`` (read by :func:`read`);
    ReportError otherwise."""
    return validate(path, decode(path, read(path)))


def index(rows: list) -> tuple:
    """(label, rows by (case, form, dtype, check)) of the validated rows of one report."""
    versions = rows[0].get("versions", {})
    legacy = "LEGACY" in str(versions.get("tf.keras", ""))
    label = f"TF {versions.get('tensorflow', '?')}" + (" legacy" if legacy else "")
    return label, {tuple(r[k] for k in KEY): r for r in rows}


def load(path) -> tuple:
    """(label, rows by (case, form, dtype, check)) of one report; ReportError if it is not a valid one."""
    return index(read_report(path))


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
    return {
        "none": "-",
        "inputs": "not comparable: the runs were fed different inputs (case or seed changed)",
        "same": "same bits",
    }.get(kind) or f"changed ({', '.join(changed)}; max |delta| {delta:.3g} sampled)"


def drift(paths, out=print) -> int:
    """Print the drift table of the reports at ``paths``; 1 if any run failed the reference, 2 (with the
    reason on stderr) if a file is not a valid report."""
    try:
        runs = [load(p) for p in paths]
    except ReportError as err:
        print(f"lstm-equiv drift: {err}", file=sys.stderr)
        return 2
    return show(runs, out)


def show(runs, out=print) -> int:
    """Print the drift table of ``runs``, (label, rows by key) as :func:`load` gives them, the first the
    base; 1 if any run failed the reference."""
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
    changed = sum(1 for r in table[1:] if any(c.startswith("changed") for c in r[3 + len(grouped) :]))
    out("")
    out(
        f"drift: {len(keys)} runs compared; TF's outputs changed in {changed}; "
        f"{'a run FAILED the reference' if failed else 'every run matches the reference'}"
    )
    return 1 if failed else 0
