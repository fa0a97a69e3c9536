"""``lstm-equiv gather REPORT... [--out DIR [--force]]``: the TF x form table and the drift across every version,
from the JSON reports (``lstm-equiv run --json``) of several environments.

It is the final job of the hosted matrix (.github/workflows/ci.yml), which downloads every environment's
artifact into one folder per environment; .ci/run gathers the two environments it runs. A REPORT is a JSON
report or a folder searched for them (``*.json`` files holding a list of result rows; other JSON files are
skipped, but one with a result row is checked like a named report, see :func:`drift.validate`). A file
reached twice (named and in its folder, or through a symlink) is counted once, and the output says so. The
runs are ordered by TF version, a ``-legacy`` twin (TF_USE_LEGACY_KERAS) after its plain one.

Printed, and with ``--out DIR`` also written as ``DIR/matrix.md`` and ``DIR/drift.txt`` (DIR is new or
empty, or with ``--force`` one gather wrote before; it is checked before the reports are read and put in
place whole, through :func:`safeio.publishing_folder`):

- the table: one row per form, one column per run, each cell the items per status (``120 pass, 12 skip``;
  a failure in bold);
- the drift from each TF version to the next (the ``-legacy`` runs, where tf.keras is Keras 2, chained
  apart, then each against its plain twin): how many (case, form, dtype) runs kept TF's exact bits, how
  many changed and by how much (the sampled values), and how many were fed different inputs;
- ``drift.txt`` holds ``lstm-equiv drift``'s whole table over every run, the oldest first.

Exit codes: 0 every run matched the reference, 1 a run failed it, 2 (the reason on stderr) a report is
missing, unreadable or invalid, ``--expect N`` reports were expected and another number was found (a job of
the matrix that wrote none), or ``--out DIR`` may not be written.
"""

from __future__ import annotations

import os
import re
import sys
from collections import Counter
from pathlib import Path

from lstm_equiv.harness import drift, safeio
from lstm_equiv.harness.engine import STATUSES, unexpected_undecided


class GatherError(Exception):
    """A report path that cannot be read, named with its path."""


def _row_like(rows) -> bool:
    """Whether a JSON value found in a folder was meant as a report: a list holding a row-like object.
    Other JSON files (another tool's) are skipped; a report with a bad row is an error, never skipped."""
    keys = {"case", "form", "dtype", "check", "status"}
    return isinstance(rows, list) and any(isinstance(r, dict) and keys <= r.keys() for r in rows)


def _search(folder: Path) -> list:
    """[(path, validated rows)] of the reports under ``folder``; drift.ReportError for a report with an
    invalid row or one that cannot be read."""
    found = []
    for candidate in sorted(folder.rglob("*.json")):
        if not candidate.is_file():  # a folder or a FIFO named *.json: no report, and never waited on
            continue
        data = drift.read(candidate)  # unreadable or too large: maybe a report, so an error, not skipped
        try:
            rows = drift.decode(candidate, data)
        except drift.ReportError:
            continue  # not JSON: not a report
        if _row_like(rows):
            found.append((candidate, drift.validate(candidate, rows)))
    return found


def find_reports(paths) -> tuple:
    """([(path, validated rows)] of the JSON reports at or under ``paths``, each file once, and notes on the
    files given more than once); GatherError if a path is missing or a folder holds no report,
    drift.ReportError if a named file or a row-like file in a folder is not a valid report."""
    found, seen = [], {}
    for path in map(Path, paths):
        if path.is_dir():
            mine = _search(path)
            if not mine:
                raise GatherError(f"{path}: holds no JSON report of lstm-equiv run --json")
        elif path.exists() or path.is_symlink():
            mine = [(path, drift.read_report(path))]
        else:
            raise GatherError(f"{path}: no such file or folder")
        for report, rows in mine:
            real = os.path.realpath(report)  # one file given as itself, through its folder or a symlink
            if real not in seen:
                found.append((report, rows))
            seen.setdefault(real, []).append(report)
    notes = [
        f"{given[0]} given {'twice' if len(given) == 2 else f'{len(given)} times'}: counted once"
        for given in seen.values()
        if len(given) > 1
    ]
    return found, notes


def _sort_key(label: str):
    m = re.match(r"TF (\d+)\.(\d+)\.?(\d*)", label)
    numbers = tuple(int(x or 0) for x in m.groups()) if m else (10**6,)
    return numbers, _legacy(label), label


def load(paths) -> tuple:
    """([(label, path, rows by (case, form, dtype, check))], ordered by TF version, and the notes of
    :func:`find_reports`); a label shared by two reports gets its folder's name added."""
    found, notes = find_reports(paths)
    runs = [(label, path, rows) for path, valid in found for label, rows in [drift.index(valid)]]
    seen = Counter(label for label, _, _ in runs)
    runs = [(f"{label} ({path.parent.name})" if seen[label] > 1 else label, path, rows) for label, path, rows in runs]
    return sorted(runs, key=lambda run: _sort_key(run[0])), notes


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
        line = (
            f"{a_label} -> {b_label}: {len(verdicts)} (case, form, dtype) runs in both: {same} same bits, "
            f"{len(deltas)} changed"
        )
        if deltas:
            line += f" (max |delta| {max(deltas):.3g} sampled)"
        if other:
            line += f", {other} not comparable (fed different inputs)"
        lines.append(line)
    return lines


def failures(runs, which=lambda row: row["status"] in ("fail", "error")) -> list:
    """'label: case form dtype check status' of every row ``which`` picks (by default: failed or erroring)."""
    return [
        f"{label}: {' '.join(key)} {row['status'].upper()}"
        for label, _, rows in runs
        for key, row in rows.items()
        if which(row)
    ]


def _invalid(err) -> int:
    """Say why on stderr (stdout carries the table only); the exit code of invalid input."""
    print(f"lstm-equiv gather: {err}", file=sys.stderr)
    return 2


def main(paths, out=None, echo=print, expect=None, force=False) -> int:
    """Print with ``echo`` (and with ``out`` write into that folder) the table and the drift; 1 if a run
    failed the reference, 3 if nothing failed but an item is undecided and its case did not expect it, 2
    (the reason on stderr) if a report cannot be read, ``expect`` reports were expected and another number
    was found, or ``out`` may not be written (``force`` replaces a folder gather wrote before)."""
    try:
        if out:  # before the work: a bad --out fails at once, not after reading every report
            safeio.check_folder(out, "--out", force, inputs=paths)
        runs, notes = load(paths)
    except (GatherError, drift.ReportError, safeio.OutputError, OSError) as err:  # OSError: a folder not searchable
        return _invalid(err)
    for note in notes:
        echo(note)
    if expect is not None and len(runs) != expect:
        return _invalid(
            f"expected {expect} reports, found {len(runs)}: "
            + ", ".join(f"{label} ({path})" for label, path, _ in runs)
        )
    bad = failures(runs)
    undecided = failures(runs, lambda row: unexpected_undecided(row["status"], row.get("flag")))
    matrix = [f"lstm-equiv: {len(runs)} runs, items per form and status", ""] + table(runs)
    drift_lines = [
        "Drift of TF's outputs from each TF version to the next (the -legacy runs, tf.keras = Keras 2, "
        "chained apart, then each against its plain twin):"
    ] + steps(runs)
    verdict = (
        f"gather: {len(runs)} runs; {len(bad)} items FAILED the reference"
        if bad
        else f"gather: {len(runs)} runs; nothing failed, but {len(undecided)} items are UNDECIDED (no dtype decides "
        "their case, and it does not say expect_undecided)"
        if undecided
        else f"gather: {len(runs)} runs; every run matches the reference"
    )
    listed = bad or undecided
    cut = [f"... and {len(listed) - 50} more"] if len(listed) > 50 else []
    for line in matrix + [""] + drift_lines + [""] + listed[:50] + cut + [verdict]:
        echo(line)
    if out:
        full = []
        drift.show([(label, rows) for label, _, rows in runs], out=full.append)  # the rows read above, not reread
        try:
            with safeio.publishing_folder(out, "--out", force) as tmp:
                (tmp / "matrix.md").write_text("\n".join(matrix + [""] + drift_lines + ["", verdict]) + "\n")
                (tmp / "drift.txt").write_text("\n".join(full) + "\n")
        except (safeio.OutputError, OSError) as err:
            return _invalid(err)
    return 1 if bad else 3 if undecided else 0
