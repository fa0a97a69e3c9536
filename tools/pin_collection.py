"""Print what pytest collects from cases/ per case (forms, dtypes, checks, item count), as JSON, for
tests/data/collected.json. Run it only when a case or a check was added or removed on purpose:
    python tools/pin_collection.py > tests/data/collected.json
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main():
    proc = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:randomly", "-p",
                           "no:xdist", "cases"], cwd=ROOT, capture_output=True, text=True, check=True)
    out = {}
    for line in proc.stdout.splitlines():
        if line.startswith("cases/") and "::" in line:
            _, case, run_id, check = line.split("::")
            form, dtype = run_id.rsplit("-", 1)
            entry = out.setdefault(case, {"forms": set(), "dtypes": set(), "checks": set(), "items": 0})
            entry["forms"].add(form), entry["dtypes"].add(dtype), entry["checks"].add(check)
            entry["items"] += 1
    pinned = {case: {k: sorted(v) if isinstance(v, set) else v for k, v in e.items()} for case, e in sorted(out.items())}
    json.dump(pinned, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
