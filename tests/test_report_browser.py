"""The HTML report as a person sees it: rendered by headless Chromium at 1280 x 900, the verdict and the
first failing item are on the first screen, before any scrolling.

Needs a Chromium on PATH (tools/render_report.py lists the names; .ci/run installs Debian's
chromium-headless-shell). Without one the tests skip, except under CI=true, where they fail: CI must
render the page."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from lstm_equiv.harness import engine, report
from lstm_equiv.harness.casefile import parse

pytest.importorskip("matplotlib", reason="the plots extra: pip install -e '.[plots]'")
ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("render_report", ROOT / "tools" / "render_report.py")
render = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(render)

if render.find_browser() is None:
    if os.environ.get("CI"):
        pytest.fail(
            f"CI=true but no Chromium on PATH ({', '.join(render.BROWSERS)}): .ci/run installs chromium-headless-shell",
            pytrace=False,
        )
    pytest.skip(
        f"no Chromium on PATH ({', '.join(render.BROWSERS)}): apt-get install -y chromium-headless-shell",
        allow_module_level=True,
    )

WIDTH, HEIGHT = 1280, 900
SELECTORS = ["#verdict", "#verdict h1", "#verdict .counts", "#failing li .what", "#failing li a"]
# three passing cases, then one whose float32 bound is impossibly tight (it fails outputs, final_h, final_c)
CASES = parse(
    "r.yaml",
    b"""cases:
  - {name: passes_a, input_depth: 3, num_units: 4, timesteps: 6, batch: 2, seed: 1, forms: [keras_lstm, lstm_cell],
     checks: [forward]}
  - {name: passes_b, input_depth: 2, num_units: 5, timesteps: 1, batch: 2, seed: 2, forms: [keras_lstm, lstm_cell],
     checks: [forward]}
  - {name: passes_c, input_depth: 4, num_units: 3, timesteps: 9, batch: 1, seed: 3, forms: [keras_lstm],
     checks: [forward]}
  - {name: too_tight, input_depth: 3, num_units: 4, timesteps: 5, batch: 2, seed: 9, forms: [keras_lstm],
     dtypes: [float32], checks: [forward], tolerance: {float32: 1.0e-12, reason: impossible on purpose}}
""",
)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    results = [engine.evaluate(item) for item in engine.plan(CASES)]
    assert {r.item.case.name for r in results if r.status == "fail"} == {"too_tight"}
    index = report.write(tmp_path_factory.mktemp("report"), CASES, results, {"tensorflow": "x"})
    return index, results, render.layout(index, SELECTORS, WIDTH, HEIGHT)


def _on_first_screen(box, seen) -> bool:
    return (
        box["shown"] and 0 <= box["top"] and box["bottom"] <= seen["innerHeight"] and box["right"] <= seen["innerWidth"]
    )


def test_the_verdict_and_the_counts_are_on_the_first_screen(page):
    _, results, seen = page
    # Debian's chromium-headless-shell gives a viewport of exactly 1280 x 900; Chrome's newer headless mode
    # (GitHub's runners) is allowed some browser frame; the checks below use the viewport measured
    assert seen["innerWidth"] == WIDTH and 700 <= seen["innerHeight"] <= HEIGHT and seen["scrollY"] == 0
    (verdict,) = seen["boxes"]["#verdict"]
    assert _on_first_screen(verdict, seen), verdict
    assert seen["boxes"]["#verdict h1"][0]["text"] == "FAIL"
    n = {s: sum(r.status == s for r in results) for s in ("pass", "fail", "error", "skip", "xfail")}
    counts = seen["boxes"]["#verdict .counts"][0]["text"]
    for status, k in n.items():
        assert f"{k} {status}" in counts, (status, counts)


def test_the_failing_items_and_their_links_are_on_the_first_screen(page):
    _, results, seen = page
    failing = [f"{r.item.case.name} {r.item.form} {r.item.dtype} {r.item.check}" for r in results if r.status == "fail"]
    whats = seen["boxes"]["#failing li .what"]
    assert [w["text"] for w in whats] == failing
    assert all(_on_first_screen(w, seen) for w in whats), whats
    links = seen["boxes"]["#failing li a"]
    assert all(_on_first_screen(a, seen) and a["text"] == "case too_tight" for a in links), links


def test_the_probe_sees_what_is_below_the_first_screen(page, tmp_path):
    """The measurement can fail: the same report with the plots put first pushes the verdict off the
    first screen, and the probe says so."""
    index, _, _ = page
    text = index.read_text()
    head, rest = text.split("<header id=verdict", 1)
    cases_at = rest.index("<h2>Cases</h2>")
    moved = (
        head
        + rest[cases_at : rest.index("<h2>Items</h2>")]
        + "<header id=verdict"
        + rest[:cases_at]
        + rest[rest.index("<h2>Items</h2>") :]
    )
    for png in index.parent.glob("*.png"):
        (tmp_path / png.name).write_bytes(png.read_bytes())
    (tmp_path / "index.html").write_text(moved)
    seen = render.layout(tmp_path / "index.html", SELECTORS, WIDTH, HEIGHT)
    (verdict,) = seen["boxes"]["#verdict"]
    assert verdict["shown"] and verdict["top"] > HEIGHT


def test_the_screenshot_is_a_picture_of_the_first_screen(page, tmp_path):
    import matplotlib.image

    index, _, _ = page
    png = render.screenshot(index, tmp_path / "shot.png", WIDTH, HEIGHT)
    image = matplotlib.image.imread(png)
    assert image.shape[1] == WIDTH and 700 <= image.shape[0] <= HEIGHT
    # the FAIL banner's pink (#fbd9d9) is the colour of most of the top left, where the verdict is drawn
    top_left = image[30:120, 40:400, :3].reshape(-1, 3)
    assert abs(np.median(top_left, axis=0) - [0xFB / 255, 0xD9 / 255, 0xD9 / 255]).max() < 0.01
