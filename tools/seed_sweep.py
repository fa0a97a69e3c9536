"""Run the shipped cases (or the files given) with other seeds and print, per check and dtype, the largest
error over its derived bound, and every item that did not pass. This is how the bounds' MULTIPLE was
measured (docs/tolerances.md):
    python tools/seed_sweep.py --seeds 0-31 [cases/options.yaml ...]
"""

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lstm_equiv.harness import casefile, engine


def seeded(case, seed):
    """The case with another seed, under a name of its own."""
    return replace(case, seed=seed, name=f"{case.name}_seed{seed}")


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("paths", nargs="*", default=["cases"])
    p.add_argument("--seeds", default="0-31", help="FIRST-LAST")
    p.add_argument("--json", help="write every result's ratio here")
    args = p.parse_args(argv)
    first, last = map(int, args.seeds.split("-"))
    loader, cases = casefile.CaseLoader(), []
    for path in casefile.case_files(args.paths):
        cases += loader.load(path)
    worst, bad, rows = {}, [], []
    for seed in range(first, last + 1):
        for case in cases:
            for item in engine.plan([seeded(case, seed)]):
                r = engine.evaluate(item)
                kind = "gradients" if item.check.startswith("grad_") else item.check
                if r.status in ("pass", "fail") and r.ratio is not None:
                    key = (kind, item.dtype)
                    if r.ratio > worst.get(key, (0.0,))[0]:
                        worst[key] = (r.ratio, case.name, seed, item.form)
                    rows.append([case.name, seed, item.form, item.dtype, item.check, r.status, r.ratio, r.flag])
                if r.status not in ("pass", "skip", "xfail") or r.flag:
                    bad.append(
                        f"{r.status}{' (' + r.flag + ')' if r.flag else ''}: {case.name} seed {seed} "
                        f"{item.form} {item.dtype} {item.check}: ratio {r.ratio}"
                    )
            engine.forget_runs()  # keep memory flat over many seeds
        print(f"seed {seed} done", file=sys.stderr, flush=True)
    for (kind, dtype), (ratio, case, seed, form) in sorted(worst.items()):
        print(f"{kind:12} {dtype}: largest error/bound {ratio:.3g} ({case}, seed {seed}, {form})")
    print("\n".join(bad) or "every item passed")
    if args.json:
        Path(args.json).write_text(json.dumps(rows))
    return 1 if any(not line.startswith("pass") for line in bad) else 0


if __name__ == "__main__":
    sys.exit(main())
