"""mutmut over the package as it is imported: in a copy laid out as lstm_equiv/harness and lstm_equiv/reference.

mutmut 3 names each mutant after its file's path and, when a test calls a mutated function, checks that the
function's module has that name. The repository keeps harness/ and reference/ at its top and imports them as
lstm_equiv.harness and lstm_equiv.reference (lstm_equiv/__init__.py), so mutmut run in the checkout stops
("different module path"). This copies the tracked files into a folder (``--into``, default a new temporary
one), puts harness/ and reference/ also under lstm_equiv/ (where lstm_equiv/__init__.py then finds them),
prefixes the paths of pyproject.toml's [tool.mutmut] with lstm_equiv/, and runs mutmut there:

    python tools/mutation_run.py [--into DIR] [--max-children 2] [MUTANT ...]

MUTANT: mutmut's names or globs (``"lstm_equiv.harness.layouts*"``); default: every mutant.

The checkout is never written to; the copy (with mutmut's mutants/) is left for ``mutmut results`` and
``mutmut show`` run inside it.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def prepare(into: Path) -> Path:
    """The copy, ready for mutmut: the tracked files, harness/ and reference/ under lstm_equiv/ too, and
    [tool.mutmut]'s paths to mutate under lstm_equiv/."""
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    for name in tracked.split("\n"):
        if name and (ROOT / name).is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, into / name)
    for package in ("harness", "reference"):
        shutil.copytree(into / package, into / "lstm_equiv" / package)
    config = (into / "pyproject.toml").read_text()
    start = config.index("[tool.mutmut]")
    end = config.index("\n[", start + 1) if "\n[" in config[start + 1 :] else len(config)
    section = config[start:end]
    paths = re.search(r"paths_to_mutate = \[(.*?)\]", section, re.S)
    moved = re.sub(r'"((?:harness|reference)/[^"]*)"', r'"lstm_equiv/\1"', paths.group(1))
    section = section.replace(paths.group(1), moved)
    section = section.replace('also_copy = ["lstm_equiv/", ', 'also_copy = ["lstm_equiv/", "reference/", ')
    (into / "pyproject.toml").write_text(config[:start] + section + config[end:])
    return into


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--into", type=Path, help="the folder of the copy (must not exist; default: a new temporary one)"
    )
    parser.add_argument("--max-children", default="2")
    parser.add_argument("mutants", nargs="*", help="mutant names or globs (default: all)")
    args = parser.parse_args(argv)
    if args.into is not None and args.into.exists():
        print(f"mutation_run: {args.into} exists: name a new folder", file=sys.stderr)
        return 2
    into = args.into or Path(tempfile.mkdtemp(prefix="lstm-equiv-mutmut-"))
    into.mkdir(parents=True, exist_ok=True)
    prepare(into)
    print(f"mutation_run: the copy is {into}")
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", args.max_children, *args.mutants]
    done = subprocess.run(cmd, cwd=into)
    print(f"mutation_run: mutmut exited {done.returncode}; `mutmut results` in {into} lists the survivors")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
