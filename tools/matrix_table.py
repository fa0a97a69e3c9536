"""Print the README's TF version x form table from the JUnit reports tox leaves in .tox/<env>/junit.xml."""
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(tox_dir=".tox"):
    rows, forms = {}, set()
    for junit in sorted(Path(tox_dir).glob("*/junit.xml")):
        env = junit.parent.name
        counts = {}
        for tc in ET.parse(junit).getroot().iter("testcase"):
            m = re.search(r"::(\w+)-(float32|float64)$", tc.get("classname", "").replace(".", "::", 0)) or \
                re.search(r"\.(\w+)-(float32|float64)$", tc.get("classname", ""))
            if not m:
                continue
            form = m.group(1)
            forms.add(form)
            status = "fail" if tc.find("failure") is not None or tc.find("error") is not None else \
                "skip" if tc.find("skipped") is not None else "pass"
            counts.setdefault(form, {}).setdefault(status, 0)
            counts[form][status] += 1
        rows[env] = counts
    forms = sorted(forms)
    print("| env | " + " | ".join(forms) + " |")
    print("|---|" + "---|" * len(forms))
    key = lambda e: (int(re.match(r"tf2(\d+)", e).group(1)), e)  # noqa: E731
    for env in sorted(rows, key=key):
        cells = []
        for form in forms:
            c = rows[env].get(form, {})
            cells.append(", ".join(f"{n} {s}" for s, n in sorted(c.items())) or "-")
        print(f"| {env} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(*sys.argv[1:])
