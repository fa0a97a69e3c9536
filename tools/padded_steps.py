"""What each form returns at the padded steps of a case with sequence_lengths, from a real run: the
README's table. Prints one markdown table per case: for the shortest row, the first unit of the forward
half (and of the backward half, when bidirectional) at its last valid step and at the padded steps after
it, in float32, next to the per-gate reference's answer for that form.

    python tools/padded_steps.py [CASE_FILE [CASE_NAME ...]]

Default: cases/sequences.yaml, cases sequence_lengths and bidirectional_padded_from_a_state.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lstm_equiv.harness import engine  # noqa: E402  after the sys.path entry that lets it run as a script
from lstm_equiv.harness.casefile import CaseLoader  # noqa: E402  after the sys.path entry that lets it run as a script
from lstm_equiv.harness.forms import FORMS  # noqa: E402  after the sys.path entry that lets it run as a script

DEFAULT = ("sequence_lengths", "bidirectional_padded_from_a_state")


def table(case) -> list:
    """The markdown lines of one case's table."""
    row = int(np.argmin(case.sequence_lengths))
    length = case.sequence_lengths[row]
    steps = list(range(max(0, length - 1), min(case.timesteps, length + 2))) + [case.timesteps - 1]
    steps = sorted(set(steps))
    halves = [("forward", 0)] + ([("backward", case.h_depth)] if case.output_width == 2 * case.h_depth else [])
    head = " | ".join(f"{half} t={t}{' (last valid)' if t == length - 1 else ''}" for half, _ in halves for t in steps)
    lines = [
        f"Case `{case.name}`: row {row} has length {length} of {case.timesteps}; unit 0, float32.",
        "",
        f"| form | padded steps emit | {head} |",
        "|---|---|" + "---|" * (len(halves) * len(steps)),
    ]
    for name in case.forms:
        if "float32" not in FORMS[name].dtypes or FORMS[name].missing():
            continue
        run = engine.read(case, name, "float32")
        if run.error or run.skip:
            lines.append(f"| `{name}` | {run.skip or 'error'} |")
            continue
        got, want = run.form_out.outputs, run.reference["outputs"]
        rule = FORMS[name].padded_rule(case)
        cells = [_value(got[row, t, offset], want[row, t, offset]) for _, offset in halves for t in steps]
        emits = "last output again" if rule == "carry" else "zeros"
        lines.append(f"| `{name}` | {emits} | " + " | ".join(cells) + " |")
    return lines


def _value(got, want) -> str:
    """TF's value, and the reference's when they differ in print."""
    shown = f"{float(got):.4f}"
    return shown if shown == f"{float(want):.4f}" else f"{shown} (reference {float(want):.4f})"


def main(argv) -> int:
    path = Path(argv[0]) if argv else ROOT / "cases" / "sequences.yaml"
    names = argv[1:] or DEFAULT
    cases = {c.name: c for c in CaseLoader().load(path)}
    for k, name in enumerate(names):
        if k:
            print()
        print("\n".join(table(cases[name])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
