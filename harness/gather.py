"""``lstm-equiv gather REPORT... [--out DIR]``: the TF x form table and the drift across every version,
from the JSON reports (``lstm-equiv run --json``) of several environments.

It is the final job of the hosted matrix (.github/workflows/ci.yml), which downloads every environment's
artifact into one folder per environment; .ci/run gathers the two environments it runs. A REPORT is a JSON
report or a folder searched for them (``*.json`` files holding a list of result rows). The runs are
ordered by TF version, a ``-legacy`` twin (TF_USE_LEGACY_KERAS) after its plain one.

Printed, and with ``--out DIR`` also written as ``DIR/matrix.md`` and ``DIR/drift.txt``:

- the table: one row per form, one column per run, each cell the items per status (``120 pass, 12 skip``;
  a failure in bold);
- the drift from each TF version to the next (the ``-legacy`` runs, where tf.keras is Keras 2, chained
  apart, then each against its plain twin): how many (case, form, dtype) runs kept TF's exact bits, how
  many changed and by how much (the sampled values), and how many were fed different inputs;
- ``drift.txt`` holds ``lstm-equiv drift``'s whole table over every run, the oldest first.

Exit codes: 0 every run matched the reference, 1 a run failed it, 2 a report is missing or unreadable, or
``--expect N`` reports were expected and another number was found (a job of the matrix that wrote none).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from collections import Counter

from harness import drift
from harness.engine import STATUSES


class GatherError(Exception):
    """A report that cannot be read, named with its path."""


def _is_report(rows) -> bool:
    return isinstance(rows, list) and all(isinstance(r, dict) and {"case", "form", "dtype", "check", "status"} <= r.keys()
                                          for r in rows)


def find_reports(paths) -> list:
    """The JSON reports at or under ``paths``; GatherError if a path is missing, a named file is not a
    report, or a folder holds none."""
    found = []
    for path in map(Path, paths):
        if path.is_file():
            candidates, named = [path], True
        elif path.is_dir():
            candidates, named = sorted(path.rglob("*.json")), False
        else:
            raise GatherError(f"{path}: no such file or folder")
        mine = []
        for candidate in candidates:
            try:
                rows = json.loads(candidate.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
                if named:
                    raise GatherError(f"{candidate}: not a JSON report of lstm-equiv run --json ({err})") from None
                continue
            if _is_report(rows) and rows:
                mine.append(candidate)
            elif named:
                raise GatherError(f"{candidate}: not a JSON report of lstm-equiv run --json (expected a non-empty "
                                  "list of rows with case, form, dtype, check and status)")
        if not mine:
            raise GatherError(f"{path}: holds no JSON report of lstm-equiv run --json")
        found += mine
    return found


def _sort_key(label: str):
    m = re.match(r"TF (\d+)\.(\d+)\.?(\d*)", label)
    numbers = tuple(int(x or 0) for x in m.groups()) if m else (10**6,)
    return numbers, _legacy(label), label


def load(paths) -> list:
    """[(label, path, rows by (case, form, dtype, check))], ordered by TF version; a label shared by two
    reports gets its folder's name added."""
    runs = [(label, path, rows) for path in find_reports(paths) for label, rows in [drift.load(path)]]
    seen = Counter(label for label, _, _ in runs)
    runs = [(f"{label} ({path.parent.name})" if seen[label] > 1 else label, path, rows) for label, path, rows in runs]
    return sorted(runs, key=lambda run: _sort_key(run[0]))


def table(runs) -> list:
    """The markdown lines of the form x run table."""
    forms = sorted({key[1] for _, _, rows in runs for key in rows})
    lines = ["| form | " + " | ".join(label for label, _, _ in runs) + " |", "|---|" + "---|" * len(runs)]
    for form in forms + ["all forms"]:
        cells = []
        for _, _, rows in runs:
            n = {}
            for (_, f, _, _), row in rows.items():
                if form in (f, "all forms"):
                    n[row["status"]] = n.get(row["status"], 0) + 1
            parts = [f"**{n[s]} {s}**" if s in ("fail", "error") else f"{n[s]} {s}" for s in STATUSES if n.get(s)]
            cells.append(", ".join(parts) or "-")
        lines.append(f"| {form} | " + " | ".join(cells) + " |")
    return lines


def _legacy(label: str) -> bool:
    return " legacy" in label


def _tf(label: str) -> str:
    m = re.match(r"TF (\S+)", label)
    return m.group(1) if m else label


def pairs(runs) -> list:
    """The neighbours to compare: each TF version with the next among the runs of one Keras (the -legacy
    twins, tf.keras = Keras 2, form a chain of their own), then each -legacy run with its plain twin of the
    same TF version."""
    plain = [r for r in runs if not _legacy(r[0])]
    legacy = [r for r in runs if _legacy(r[0])]
    out = list(zip(plain, plain[1:])) + list(zip(legacy, legacy[1:]))
    for run in legacy:
        twin = next((p for p in plain if _tf(p[0]) == _tf(run[0])), None)
        if twin is not None:
            out.append((twin, run))
    return out


def steps(runs) -> list:
    """One line per pair of :func:`pairs`: what happened to TF's bits between them."""
    lines = []
    for (a_label, _, a_rows), (b_label, _, b_rows) in pairs(runs):
        a, b = drift._group(a_rows), drift._group(b_rows)
        verdicts = [drift.compare(a[key], b[key]) for key in sorted(a.keys() & b.keys())]
        verdicts = [v for v in verdicts if v[0] != "none"]  # skipped on one side: nothing to compare
        same = sum(kind == "same" for kind, _, _ in verdicts)
        deltas = [delta for kind, _, delta in verdicts if kind == "changed"]
        other = sum(kind == "inputs" for kind, _, _ in verdicts)
        line = f"{a_label} -> {b_label}: {len(verdicts)} (case, form, dtype) runs in both: {same} same bits, " \
               f"{len(deltas)} changed"
        if deltas:
            line += f" (max |delta| {max(deltas):.3g} sampled)"
        if other:
            line += f", {other} not comparable (fed different inputs)"
        lines.append(line)
    return lines


def failures(runs) -> list:
    """'label: case form dtype check status' of every failed or erroring item."""
    return [f"{label}: {' '.join(key)} {row['status'].upper()}" for label, _, rows in runs
            for key, row in rows.items() if row["status"] in ("fail", "error")]


def main(paths, out=None, echo=print, expect=None) -> int:
    """Print (and with ``out`` write) the table and the drift; 1 if a run failed the reference, 2 if a
    report cannot be read or ``expect`` reports were expected and another number was found."""
    try:
        runs = load(paths)
    except GatherError as err:
        echo(f"lstm-equiv gather: {err}")
        return 2
    if expect is not None and len(runs) != expect:
        echo(f"lstm-equiv gather: expected {expect} reports, found {len(runs)}: "
             + ", ".join(f"{label} ({path})" for label, path, _ in runs))
        return 2
    bad = failures(runs)
    matrix = [f"lstm-equiv: {len(runs)} runs, items per form and status", ""] + table(runs)
    drift_lines = ["Drift of TF's outputs from each TF version to the next (the -legacy runs, tf.keras = Keras 2, "
                   "chained apart, then each against its plain twin):"] + steps(runs)
    verdict = (f"gather: {len(runs)} runs; {len(bad)} items FAILED the reference" if bad
               else f"gather: {len(runs)} runs; every run matches the reference")
    for line in matrix + [""] + drift_lines + [""] + bad[:50] + ([f"... and {len(bad) - 50} more"] if len(bad) > 50 else []) + [verdict]:
        echo(line)
    if out:
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "matrix.md").write_text("\n".join(matrix + [""] + drift_lines + ["", verdict]) + "\n")
        full = []
        drift.drift([str(path) for _, path, _ in runs], out=full.append)
        (folder / "drift.txt").write_text("\n".join(full) + "\n")
    return 1 if bad else 0
