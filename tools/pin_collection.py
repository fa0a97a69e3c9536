"""Print what pytest collects from cases/ per case (forms, dtypes, checks, item count), as JSON, for
tests/data/collected.json. Run it only when a case or a check was added or removed on purpose:
    python tools/pin_collection.py > tests/data/collected.json
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from lstm_equiv.harness.collect import per_case  # noqa: E402  after the sys.path entry that lets it run as a script


def main():
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", "-p", "no:xdist", "cases"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    pinned = per_case(proc.stdout.splitlines())
    json.dump(pinned, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
