"""``lstm-equiv``: run cases and print what matched. The exit codes are EXIT_CODES, printed by ``--help``
and tabled in docs/usage.md (tests/test_cli.py keeps the two the same).

Over 400 lines, on purpose: one parser for every command, with the help each option prints, next to the
commands it calls.
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
from pathlib import Path

from lstm_equiv.harness import casefile, engine, safeio, spec
from lstm_equiv.harness.cells import CELLS, spoken
from lstm_equiv.harness.convert import TARGETS
from lstm_equiv.harness.forms.tf import compat as tf_compat

EXIT_OK, EXIT_FAIL, EXIT_INVALID, EXIT_UNDECIDED = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)
EXIT_CODES = (
    (
        EXIT_OK,
        "every item passed, or was skipped or xfailed with its reason, or was undecided where its case "
        "expects it (selftest: every mistake was detected; convert: both sides agree; check: every recurrent "
        "layer equal)",
    ),
    (
        EXIT_FAIL,
        "an equivalence failed or a form crashed (selftest: a mistake went undetected; convert: the "
        "two sides disagree and OUT is left as it was; check: a layer differs, diagnosed; drift, gather: a run "
        "failed the reference)",
    ),
    (
        EXIT_INVALID,
        "a case file is invalid (the valid files still run and their results are printed), no case "
        "or no item (-k) was found, or the command line, an input file or an output path is wrong "
        "(output paths are checked before anything runs; check: a model file cannot be read, or a recurrent "
        "layer is not covered, named)",
    ),
    (
        EXIT_UNDECIDED,
        "run, gather: nothing failed, but an item is undecided and its case does not say it expects "
        "that (expect_undecided): no dtype can tell a wrong gate layout from rounding on that case, so "
        "its passes prove nothing",
    ),
    (
        EXIT_INTERRUPTED,
        "interrupted by Ctrl-C or SIGTERM (run: the items that finished are printed and written to "
        "--json / --report; convert: nothing is written)",
    ),
)


def _load(paths) -> tuple:
    """Cases of every file under ``paths``, and the errors of the invalid files."""
    loader, cases, errors = casefile.CaseLoader(), [], []
    for path in casefile.case_files(paths):
        try:
            cases += loader.load(path)
        except casefile.CaseFileError as err:
            errors.append(err)
    return cases, errors


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3g}"


def _table(results) -> str:
    rows = [("case", "form", "dtype", "check", "max abs err", "bound", "err/bound", "status")]
    rows += [
        (
            r.item.case.name,
            r.item.form,
            r.item.dtype,
            r.item.check,
            _fmt(r.max_abs_err),
            _fmt(r.tolerance),
            _fmt(r.ratio),
            r.status.upper() + (f" ({r.flag})" if r.flag else ""),
        )
        for r in results
    ]
    widths = [max(len(row[k]) for row in rows) for k in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _run_outputs(args, case_paths) -> str | None:
    """Check ``--json`` and ``--report`` before any work (no case file of the run is a target); the error."""
    try:
        if args.json:
            safeio.check_file(args.json, "--json", args.force, inputs=case_paths)
        if args.report:
            safeio.check_folder(args.report, "--report", args.force, inputs=case_paths)
    except safeio.OutputError as err:
        return str(err)
    return None


_NUMBER = re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d+)?(?:e[-+]?\d+)?(?![\w])")  # not the 32 of float32


def grouped(results) -> list:
    """One paragraph per kind of skip, xfail, undecided item or note: messages that differ only in their
    numbers (and the case, form, dtype and check they name) are one kind. The paragraph gives the first
    message whole; where the kind's messages differ, it lists the items of each message with that message's
    numbers (the rest of its words are the first message's, but for the names of its items)."""
    kinds = {}
    for r in results:
        if r.status in ("skip", "xfail"):
            label = r.status.upper()
        elif r.status == "undecided":
            label = f"UNDECIDED{' (expected)' if r.flag == 'expected' else ''}"
        elif r.flag and r.status not in ("fail", "error"):
            label = "NOTE"
        else:
            continue
        item = r.item
        kind = _NUMBER.sub("#", r.message.replace(item.case.name, "").replace(item.form, "").replace(item.dtype, ""))
        kinds.setdefault((label, kind), []).append(r)
    out = []
    for (label, _), group in kinds.items():
        text = f"{label} ({len(group)} items): {group[0].message}"
        messages = {}
        for r in group:
            messages.setdefault(r.message, {}).setdefault(
                f"{r.item.case.name} {r.item.form} {r.item.dtype}", []
            ).append(r.item.check)
        if len(messages) > 1:  # each message's items, with the numbers that set it apart from the first
            for message, runs in messages.items():
                listed = "; ".join(f"{run} ({' '.join(checks)})" for run, checks in runs.items())
                numbers = ", ".join(_NUMBER.findall(message))
                text += f"\n  {listed}" + (f": {numbers}" if numbers else "")
        out.append(text)
    return out


QUESTION = Path(__file__).with_name("question.yaml")
"""The question, answered by ``lstm-equiv run`` with no argument (shipped inside the package)."""


def _form_table(results) -> str:
    """One row per (form, dtype): how many checks passed, the largest error over its bound, or why skipped."""
    rows, groups = [("form", "dtype", "checks, by status", "largest err/bound")], {}
    for r in results:
        groups.setdefault((r.item.form, r.item.dtype), []).append(r)
    for (form, dtype), group in groups.items():
        by_status = {}
        for r in group:
            by_status.setdefault(r.status, []).append(r.item.check)
        worst = max((r.ratio for r in group if r.status == "pass" and r.ratio is not None), default=None)
        said = "; ".join(f"{status} {' '.join(checks)}" for status, checks in by_status.items())
        rows.append((form, dtype, said, _fmt(worst)))
    widths = [max(len(row[k]) for row in rows) for k in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def _answer(results, out=print) -> None:
    """What the question's run shows: the kernel explained, the verdict, and the rest by name."""
    from lstm_equiv.harness import explain

    lines = explain.explain("basic_lstm_cell_static_rnn", 12, 64)
    start, stop = lines.index(next(x for x in lines if x.startswith("  sequences"))), lines.index("  equations:")
    out("\nThe question: why is BasicLSTMCell's kernel [input_depth + h_depth, 4 * num_units]?")
    out("\n".join(lines[1:start] + lines[stop:]))
    passed = [r for r in results if r.status == "pass"]
    xfailed = [r for r in results if r.status == "xfail"]
    ran = [r for r in results if r.status != "skip"]
    against = [r for r in ran if r.status in ("fail", "error", "undecided")]
    forms = sorted({r.item.form for r in passed})
    worst = max((r.ratio for r in passed if r.ratio is not None), default=None)
    words = {"weights": "the weights read back", "outputs": "the outputs", "final_h": "the final h"}
    words.update({"final_c": "the final c", "logits": "the logits", "grad_weights": "the gradients"})
    checked = [words[c] for c in words if any(r.item.check == c for r in passed)]
    dtypes = " and ".join(sorted({r.item.dtype for r in passed}))
    if passed and not against:
        known = f", {len(xfailed)} a known TF bug confirmed by its signature (XFAIL above)" if xfailed else ""
        out(
            f"\nVerdict: the same function. Of the {len(ran)} checks that ran on the {len(forms)} TensorFlow and "
            f"Keras forms ({len(results) - len(ran)} skipped, with their reasons above){known}, {len(passed)} "
            "agree with the per-gate NumPy reference (its own V, W and b for every gate, nothing stacked or "
            f"fused) within the bounds derived for this case: {', '.join(checked)}, in {dtypes}; the largest "
            f"error is {_fmt(worst)} of its bound."
        )
    elif not ran:
        out("\nVerdict: nothing shown: no check ran.")
    else:
        counts = {s: sum(r.status == s for r in against) for s in ("fail", "error", "undecided")}
        said = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        out(f"\nVerdict: NOT shown: of the {len(ran)} checks that ran, {said} (above).")
    out(
        "\nThe rest, by name:\n"
        "  lstm-equiv run cases                  every case: sequences, options, GRU, RNN, PyTorch, ONNX, gradients\n"
        "  lstm-equiv run cases --report report  the same, with an HTML report of every error over time\n"
        "  lstm-equiv explain --input-depth 12 --num-units 64   where every form keeps each gate\n"
        "  pytest -n auto                        every case as pytest items, and the harness's own tests"
    )


def cmd_run(args) -> int:
    """Run every item of the cases under ``args.paths`` (none: the question, answered)."""
    question = not args.paths
    paths = [str(QUESTION)] if question else args.paths
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        print(f"lstm-equiv: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return EXIT_INVALID
    files = casefile.case_files(paths)
    wrong = _run_outputs(args, files + [Path(p) for p in paths])
    if wrong:
        print(f"lstm-equiv: {wrong}", file=sys.stderr)
        return EXIT_INVALID
    cases, errors = _load(paths)
    for err in errors:
        print(f"invalid case file:\n{err}\n", file=sys.stderr)
    items = engine.plan(cases)
    if args.keyword:
        items = [i for i in items if args.keyword in f"{i.case.name} {i.form} {i.dtype} {i.check}"]
    v = tf_compat.versions()
    print(_stack_line())
    results, interrupted = [], False
    progress = sys.stderr.isatty()  # a live counter for people at a terminal, nothing in logs and pipes
    try:
        for k, item in enumerate(items, 1):
            if progress:
                sys.stderr.write(f"\r\x1b[K[{k}/{len(items)}] {item.case.name} {item.form} {item.dtype} {item.check}")
                sys.stderr.flush()
            results.append(engine.evaluate(item))
    except KeyboardInterrupt:  # Ctrl-C (or SIGTERM, see main): what finished is still printed and written
        interrupted = True
    if progress:
        sys.stderr.write("\r\x1b[K")
    print(_form_table(results) if question else _table(results))
    for r in results:
        if r.status in ("fail", "error"):
            print(f"\n{r.status.upper()}: {r.message}")
    for paragraph in grouped(results):
        print("\n" + paragraph)
    counts = {s: sum(r.status == s for r in results) for s in engine.STATUSES}
    print(
        "\n"
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n or s not in ("xfail", "undecided"))
        + (f", {len(errors)} invalid case file(s)" if errors else "")
    )
    try:
        if args.json:
            rows = [dict(r.as_dict(), versions=v) for r in results]
            safeio.write_file(args.json, json.dumps(rows, indent=1) + "\n", "--json", args.force)
        if args.report:
            from lstm_equiv.harness import report

            print(f"report: {report.write(args.report, cases, results, v, errors, force=args.force)}")
    except safeio.OutputError as err:
        print(f"lstm-equiv: {err}", file=sys.stderr)
        return EXIT_INVALID
    if question and not interrupted:
        _answer(results)
    if interrupted:
        print(
            f"lstm-equiv: interrupted after {len(results)} of {len(items)} items; the results above (and in "
            "--json / --report) are those that finished",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if counts["fail"] or counts["error"]:
        return EXIT_FAIL
    if errors or not cases or not results:
        if not cases and not errors:
            print("lstm-equiv: no case files found", file=sys.stderr)
        elif cases and not results:  # like pytest's exit code 5: a run that checked nothing is no pass
            print(
                f"lstm-equiv: no item matches -k {args.keyword!r}" if args.keyword else "lstm-equiv: no items",
                file=sys.stderr,
            )
        return EXIT_INVALID
    unexpected = [r for r in results if engine.unexpected_undecided(r.status, r.flag)]
    if unexpected:
        print(
            f"lstm-equiv: {len(unexpected)} item(s) undecided, of case(s) "
            f"{', '.join(sorted({r.item.case.name for r in unexpected}))}: nothing there proves the layout either "
            "way (see UNDECIDED above)",
            file=sys.stderr,
        )
        return EXIT_UNDECIDED
    return EXIT_OK


def cmd_selftest(args) -> int:
    """Run the mutation catalogue; exit 1 if any mistake goes undetected with random weights, or errors."""
    from lstm_equiv.harness import selftest

    print(_stack_line())
    base = selftest.baseline()
    broken = [b for b in base if b[4] != "missed"]
    print(
        f"baseline: {len(base) - len(broken)}/{len(base)} right readings pass (every dtype with random weights, "
        f"{selftest.CONSTANT_DTYPE} with constant weights)"
    )
    for case, form, dtype, weights, outcome, how in broken:
        print(f"  BASELINE FAILS: {case} {form} {dtype} ({weights} weights): {outcome}: {how}")
    print(f"self-test cases drive |c| to {selftest.max_abs_c():.2f} (the fused ops' default cell_clip is 3.0)\n")
    verdicts = selftest.run_catalogue()
    rows = [("mistake", "entries", "random weights", "smallest error/bound", "constant weights")]
    by_name = {}
    for v in verdicts:
        by_name.setdefault(v.mutation.name, []).append(v)
    for name, vs in by_name.items():
        caught = sum(v.detected for v in vs)
        errors = sum(v.outcome == "error" for v in vs)
        const = [v for v in vs if v.outcome_constant is not None]
        const_caught = sum(v.outcome_constant == "detected" for v in const)
        ratios = [v.ratio for v in vs if v.ratio is not None]
        verdict = (
            f"{caught}/{len(vs)} detected"
            + ("" if caught == len(vs) else " MISSED")
            + (f" ({errors} ERROR)" if errors else "")
        )
        constant = (
            "-"
            if not const
            else f"{const_caught}/{len(const)} detected"
            + (f" ({len(const) - const_caught} missed)" if const_caught < len(const) else "")
        )
        rows.append((name, str(len(vs)), verdict, _fmt(min(ratios)) if ratios else "-", constant))
    widths = [max(len(r[k]) for r in rows) for k in range(len(rows[0]))]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    wrong = [v for v in verdicts if not v.detected]
    for v in wrong:
        print(f"\n{'MISSED' if v.outcome == 'missed' else 'ERROR'}: {v.mutation.name} on {v.form} {v.dtype}: {v.how}")
    detected = len(verdicts) - len(wrong)
    const = [v for v in verdicts if v.outcome_constant is not None]
    const_caught = sum(v.outcome_constant == "detected" for v in const)
    ratios = [v.ratio for v in verdicts if v.ratio is not None]
    print(
        f"\nselftest: {detected}/{len(verdicts)} entries detected ({len(by_name)} mistakes x the forms and dtypes "
        f"they apply to); smallest error/bound {_fmt(min(ratios, default=None))}; constant weights would detect "
        f"{const_caught}/{len(const)} of the {selftest.CONSTANT_DTYPE} forward entries"
    )
    return EXIT_OK if not wrong and not broken else EXIT_FAIL


def version_line() -> str:
    """``lstm-equiv --version``: this package's version and the stack it would use, from the installed
    packages' metadata (nothing is imported), with which Keras ``tf.keras`` resolves to."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        mine = version("lstm-equiv")
    except PackageNotFoundError:  # run from a source tree that was never installed
        mine = "(not installed)"
    v = tf_compat.versions()
    if not v["tensorflow"]:  # which Keras tf.keras would be depends on TF: say nothing rather than guess
        v["tf.keras"] = None
    extras = {name: tf_compat._dist_version(name) for name in ("torch", "onnx", "onnxruntime")}
    return f"lstm-equiv {mine}: " + ", ".join(f"{k} {val}" for k, val in {**v, **extras}.items() if val)


def _stack_line() -> str:
    v = tf_compat.versions()
    return "lstm-equiv: " + ", ".join(f"{k} {val}" for k, val in v.items() if val) + f"; device {tf_compat.device()}"


def cmd_bench(args) -> int:
    """Measure the harness's speed (see harness/bench.py)."""
    from lstm_equiv.harness import bench

    return bench.main(args.paths, Path.cwd())


def cmd_drift(args) -> int:
    """Compare JSON reports of runs (e.g. two TF versions)."""
    from lstm_equiv.harness import drift

    missing = [p for p in args.reports if not Path(p).is_file()]
    if missing:
        print(f"lstm-equiv: no such report: {', '.join(missing)}", file=sys.stderr)
        return EXIT_INVALID
    return drift.drift(args.reports)


def cmd_gather(args) -> int:
    """The TF x form table and the drift across versions from several environments' JSON reports."""
    from lstm_equiv.harness import gather

    return gather.main(args.reports, args.out, expect=args.expect, force=args.force)


def cmd_explain(args) -> int:
    """Explain the fused weights of one form or all."""
    from lstm_equiv.harness import explain
    from lstm_equiv.harness.forms import FORMS

    if args.form and args.form not in FORMS:
        print(f"lstm-equiv: unknown form {args.form!r}; forms: {', '.join(sorted(FORMS))}", file=sys.stderr)
        return EXIT_INVALID
    cell = FORMS[args.form].cell if args.form and args.cell == "lstm" else args.cell
    if args.form and FORMS[args.form].cell != cell:
        print(
            f"lstm-equiv: form {args.form} is {spoken(FORMS[args.form].cell)} form, not {spoken(cell)} one",
            file=sys.stderr,
        )
        return EXIT_INVALID
    if cell != "lstm":
        if args.num_proj or args.png:
            print("lstm-equiv: --num-proj and --png are for the LSTM forms", file=sys.stderr)
            return EXIT_INVALID
        return explain.main_blocks(cell, args.input_depth, args.num_units, args.form)
    if args.num_proj and args.form and not FORMS[args.form].options.get("num_proj"):
        print(f"lstm-equiv: form {args.form} has no projection (only lstm_cell does)", file=sys.stderr)
        return EXIT_INVALID
    if args.png:
        if not args.form:
            print("lstm-equiv: --png draws one form: add --form FORM", file=sys.stderr)
            return EXIT_INVALID
        try:
            safeio.check_file(args.png, "--png", args.force)
            with safeio.publishing(args.png, "--png", args.force) as pending:
                panels = explain.draw(args.form, args.input_depth, args.num_units, args.num_proj, pending.path)
        except safeio.OutputError as err:
            print(f"lstm-equiv: {err}", file=sys.stderr)
            return EXIT_INVALID
        print(f"wrote {args.png}: {', '.join(f'{k} {list(v)}' for k, v in panels.items())}")
    return explain.main(args.input_depth, args.num_units, args.form, args.num_proj)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def cmd_convert(args) -> int:
    """Convert an LSTM layer with its proof attached (harness/convert.py)."""
    from lstm_equiv.harness import convert, npz

    try:
        return convert.main(
            args.source,
            args.to,
            args.output,
            args.forget_bias,
            args.layer,
            args.batch,
            args.timesteps,
            force=args.force,
            warn=lambda line: print(line, file=sys.stderr),
        )
    except npz.NpzError as err:
        print(f"lstm-equiv convert: {err}", file=sys.stderr)
        return EXIT_INVALID


def cmd_check(args) -> int:
    """Check a model file's recurrent layers, or a conversion against its source (harness/check.py)."""
    from lstm_equiv.harness import check

    return check.main(args.model, args.other, args.inputs, warn=lambda line: print(line, file=sys.stderr))


def cmd_vectors(args) -> int:
    """Write the converters' test vectors (harness/vectors.py) into a new folder."""
    from lstm_equiv.harness import vectors

    try:
        safeio.check_folder(args.folder, "vectors", args.force)
        return vectors.main(args.folder, force=args.force)
    except safeio.OutputError as err:
        print(f"lstm-equiv: {err}", file=sys.stderr)
        return EXIT_INVALID


def cmd_schema(args) -> int:
    """Print the JSON Schema of a case file."""
    print(json.dumps(spec.json_schema(), indent=2))
    return EXIT_OK


def exit_code_help(width: int = 100) -> str:
    """The exit-code table of ``--help``: the same words as docs/usage.md's."""
    import textwrap

    lines = ["exit codes (every command):"]
    for code, meaning in EXIT_CODES:
        lines += textwrap.wrap(meaning, width, initial_indent=f"  {code}  ", subsequent_indent="     ")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="lstm-equiv",
        description="Prove that TensorFlow's stacked, fused LSTM "
        "forms compute the same function as a per-gate NumPy reference.",
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--version",
        action="version",
        version=version_line(),
        help="print lstm-equiv's version and the TensorFlow, Keras and NumPy it would use",
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run case files and print a table of max errors",
        epilog=exit_code_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "paths",
        nargs="*",
        default=[],
        help="case files or folders (none: the question's network through every TensorFlow and Keras form, "
        "answered in about 15 s; 'cases' runs every case)",
    )
    run.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    run.add_argument(
        "--report",
        metavar="DIR",
        help="also write an HTML report with error plots to DIR (needs matplotlib: pip install -e '.[plots]')",
    )
    run.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --json file, or a --report folder "
        "that lstm-equiv wrote before (never a case file of the run, never another folder)",
    )
    run.add_argument("-k", dest="keyword", metavar="TEXT", help="only items whose 'case form dtype check' holds TEXT")
    run.set_defaults(func=cmd_run)
    selftest = sub.add_parser(
        "selftest",
        help="show that every mistake in the catalogue of wrong layouts and "
        "semantics is caught (exit 1 if one is missed)",
    )
    selftest.set_defaults(func=cmd_selftest)
    bench = sub.add_parser(
        "bench",
        help="measure the harness's speed: item cost over TF's, the reference over "
        "TF, pytest -n auto over -n 0, cost against timesteps and num_units",
    )
    bench.add_argument("paths", nargs="*", default=["cases"], help="case files or folders (default: cases/)")
    bench.set_defaults(func=cmd_bench)
    drift = sub.add_parser(
        "drift",
        help="compare 'run --json' reports: did TF's outputs change between them, and "
        "by how much, next to each run's distance from the reference",
    )
    drift.add_argument("reports", nargs="+", help="JSON reports of lstm-equiv run --json")
    drift.set_defaults(func=cmd_drift)
    gather = sub.add_parser(
        "gather",
        help="turn the JSON reports of several environments (files, or folders "
        "searched for them) into the TF x form table and the drift from each TF version to "
        "the next, as the hosted CI's final job does",
    )
    gather.add_argument("reports", nargs="+", help="JSON reports of lstm-equiv run --json, or folders holding them")
    gather.add_argument(
        "--out", metavar="DIR", help="also write DIR/matrix.md and DIR/drift.txt (the whole drift table over every run)"
    )
    gather.add_argument(
        "--expect",
        type=_positive,
        metavar="N",
        help="exit 2 unless exactly N reports are found (the hosted workflow expects one per environment)",
    )
    gather.add_argument("--force", action="store_true", help="replace an --out folder that gather wrote before")
    gather.set_defaults(func=cmd_gather)
    explain = sub.add_parser(
        "explain",
        help="show which kernel rows are x and h, which columns are which gate, "
        "where the forget bias lives, for each form",
    )
    explain.add_argument("--input-depth", type=_positive, required=True)
    explain.add_argument("--num-units", type=_positive, required=True)
    explain.add_argument("--form", help="one form (default: all of the cell's)")
    explain.add_argument(
        "--cell",
        choices=tuple(CELLS),
        default="lstm",
        help="the LSTM forms (default), or those of another cell (harness/cells.py)",
    )
    explain.add_argument("--num-proj", type=_positive, help="LSTMCell's projection width")
    explain.add_argument(
        "--png",
        metavar="FILE",
        help="draw the real extracted kernel of --form as a labelled "
        "picture (needs matplotlib: pip install -e '.[plots]')",
    )
    explain.add_argument("--force", action="store_true", help="replace an existing --png file")
    explain.set_defaults(func=cmd_explain)
    conv = sub.add_parser(
        "convert",
        help="move an LSTM layer into PyTorch, ONNX, Keras or lstm-equiv's .npz, run "
        "both sides on seeded inputs, and keep the file only if they agree (exit 1 otherwise)",
    )
    conv.add_argument("source", help="a Keras model (.keras, .h5), a TF1 checkpoint prefix, or an lstm-equiv .npz")
    conv.add_argument("--to", required=True, choices=TARGETS)
    conv.add_argument("-o", "--output", required=True, metavar="OUT", help="the file to write")
    conv.add_argument(
        "--force", action="store_true", help="replace an existing OUT once the proof holds (never the source itself)"
    )
    conv.add_argument(
        "--forget-bias",
        type=float,
        help="TF1 checkpoints only: BasicLSTMCell's forget_bias, which a "
        "checkpoint does not store (default 1.0, printed)",
    )
    conv.add_argument(
        "--layer",
        help="which LSTM layer (Keras layer name, or the checkpoint's cell scope) when the source holds several",
    )
    conv.add_argument("--batch", type=_positive, default=3, help="rows of the proof's random input (default 3)")
    conv.add_argument("--timesteps", type=_positive, default=20, help="timesteps of the proof's input (default 20)")
    conv.set_defaults(func=cmd_convert)
    chk = sub.add_parser(
        "check",
        help="every LSTM and GRU layer of a model file, run against the per-gate reference; with a second file "
        "(its conversion), the layers matched, compared block by block and any difference diagnosed",
    )
    chk.add_argument(
        "model",
        help="a .keras/.h5, a Keras SavedModel folder, a PyTorch state_dict (.pt/.pth), an .onnx, an lstm-equiv .npz, "
        "or a TF1 checkpoint prefix",
    )
    chk.add_argument("other", nargs="?", help="its conversion, in any of those formats")
    chk.add_argument(
        "--inputs", metavar="NPY", help="your own x [batch, timesteps, features] (.npy) for the layers of that width"
    )
    chk.set_defaults(func=cmd_check)
    vec = sub.add_parser(
        "vectors",
        help="write test vectors for converters: every layout's tensors, inputs and the "
        "reference's expected outputs, as .npz with a JSON description",
    )
    vec.add_argument("folder", help="where to write them: a new or empty folder")
    vec.add_argument("--force", action="store_true", help="replace a folder of vectors that lstm-equiv wrote before")
    vec.set_defaults(func=cmd_vectors)
    schema = sub.add_parser("schema", help="print the JSON Schema of case files")
    schema.set_defaults(func=cmd_schema)
    return p


def _terminate(signum, frame):
    """SIGTERM ends lstm-equiv the way Ctrl-C does, so that its temporary files are removed and a run
    writes what finished (a SIGKILL cannot be caught: it leaves a ``.NAME.lstm-equiv-*.partial`` file beside
    the target, never a file at the target)."""
    raise KeyboardInterrupt


def main(argv=None) -> int:
    """Entry point of the ``lstm-equiv`` console script."""
    args = parser().parse_args(argv)
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _terminate)
    else:  # called from a thread (a test): signals go to the main thread's handlers
        previous = None
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("lstm-equiv: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
