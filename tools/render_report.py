"""Render an lstm-equiv HTML report in headless Chromium, as a person's browser shows it.

    python tools/render_report.py REPORT_DIR --png OUT.png [--width 1280 --height 900]

writes a screenshot of the first screen (the README's picture of a failing run was made so).
tests/test_report_browser.py uses ``layout`` to measure where the verdict and the failing items are drawn.

The browser is Debian's ``chromium-headless-shell`` (``apt-get install chromium-headless-shell``, what
.ci/run installs) or any of ``chromium``, ``chromium-browser``, ``google-chrome`` on PATH (GitHub's
Ubuntu runners ship ``google-chrome``). No Python driver is needed: ``--screenshot`` draws the page, and
``--dump-dom`` returns the page after a small script, added to a copy of the page, has written the
measured boxes into it.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium-headless-shell", "chromium", "chromium-browser", "google-chrome")
PROBE_ID = "lstm-equiv-probe"


def find_browser():
    """The first headless-capable Chromium on PATH, or None."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


def _chromium(args: list, width: int, height: int, timeout: int = 120) -> str:
    browser = find_browser()
    if browser is None:
        raise FileNotFoundError(f"no Chromium on PATH (looked for {', '.join(BROWSERS)})")
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            *args,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}")
    return done.stdout


def screenshot(index, png, width: int = 1280, height: int = 900) -> Path:
    """Draw the first ``width`` x ``height`` pixels of the page ``index`` into ``png``."""
    png = Path(png).resolve()
    _chromium([f"--screenshot={png}", Path(index).resolve().as_uri()], width, height)
    if not png.is_file():
        raise RuntimeError(f"the browser wrote no screenshot to {png}")
    return png


_PROBE = """<script>
window.addEventListener("load", function () {
  var out = {innerWidth: window.innerWidth, innerHeight: window.innerHeight, scrollY: window.scrollY, boxes: {}};
  SELECTORS.forEach(function (sel) {
    out.boxes[sel] = Array.prototype.map.call(document.querySelectorAll(sel), function (el) {
      var r = el.getBoundingClientRect(), cs = getComputedStyle(el);
      return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
              shown: cs.visibility !== "hidden" && cs.display !== "none" && r.width > 0 && r.height > 0,
              text: el.innerText.slice(0, 300)};
    });
  });
  var pre = document.createElement("pre");
  pre.id = "PROBE_ID";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
""".replace("PROBE_ID", PROBE_ID)


def layout(index, selectors, width: int = 1280, height: int = 900) -> dict:
    """Where the browser draws the elements matching each CSS selector on the page ``index``, before any
    scrolling: {"innerWidth", "innerHeight", "scrollY", "boxes": {selector: [{top, bottom, left, right,
    shown, text}, ...]}}. The page is copied, beside the original (so its relative images load), with a
    script that measures after the load event; the copy is removed."""
    index = Path(index).resolve()
    probe = index.with_name(f".probe-{os.getpid()}.html")
    probe.write_text(index.read_text() + _PROBE.replace("SELECTORS", json.dumps(list(selectors))))
    try:
        dom = _chromium(["--dump-dom", "--virtual-time-budget=10000", probe.as_uri()], width, height)
    finally:
        probe.unlink()
    start = dom.find(f'<pre id="{PROBE_ID}">')
    if start < 0:
        raise RuntimeError(f"the probe script did not run: the page as the browser left it:\n{dom[-2000:]}")
    text = dom[start + len(f'<pre id="{PROBE_ID}">') : dom.index("</pre>", start)]
    return json.loads(html.unescape(text))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report", help="a folder written by lstm-equiv run --report, or its index.html")
    p.add_argument("--png", required=True, help="where to write the screenshot")
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=900)
    args = p.parse_args(argv)
    index = Path(args.report)
    index = index / "index.html" if index.is_dir() else index
    print(screenshot(index, args.png, args.width, args.height))
    return 0


if __name__ == "__main__":
    sys.exit(main())
