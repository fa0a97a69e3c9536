"""The documentation: a README a newcomer reads in five minutes, and the site (mkdocs.yml, docs/) built
strict, so that a link to a missing page or anchor fails. The build needs the ``docs`` extra: without it
the build tests are skipped with that reason, except under CI=true, where they fail (CI installs it)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_readme_is_at_most_300_lines():
    lines = (ROOT / "README.md").read_text().count("\n")
    assert lines <= 300, f"README.md has {lines} lines: move the detail into docs/"


def _build(root: Path, site: Path):
    if not _importable():
        if os.environ.get("CI") == "true":
            pytest.fail("mkdocs is not installed: pip install -e '.[docs]'", pytrace=False)
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]'")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)]
    return subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True, timeout=300)


def _importable() -> bool:
    import importlib.util

    return importlib.util.find_spec("mkdocs") is not None and importlib.util.find_spec("material") is not None


def test_the_site_builds_strict(tmp_path):
    done = _build(ROOT, tmp_path / "site")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_link_or_anchor_fails_the_build(tmp_path):
    """The strictness is real: a link to a page that does not exist, and one to an anchor a page lacks."""
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    for link in ("[gone](no-such-page.md)", "[gone](sequences.md#no-such-anchor)"):
        page = copy / "docs" / "gru.md"
        original = page.read_text()
        page.write_text(original + f"\n{link}\n")
        done = _build(copy, tmp_path / "site")
        assert done.returncode != 0 and "Aborted" in done.stdout + done.stderr, (link, done.stderr[-1000:])
        page.write_text(original)


def _doc_outputs():
    sys.path.insert(0, str(ROOT / "tools"))
    try:
        import doc_outputs
    finally:
        sys.path.remove(str(ROOT / "tools"))
    return doc_outputs


def test_every_marked_output_block_is_what_its_command_prints():
    """tools/doc_outputs.py --check: the README's `lstm-equiv run`, docs/tf-versions.md's gather and drift
    (a block printed on another TF stack is left out, and said so)."""
    said = []
    code = _doc_outputs().check(said.append)
    assert code == 0, "\n".join(said) + "\n(regenerate: python tools/doc_outputs.py)"
    assert sum(len(_doc_outputs().blocks(p)) for p in _doc_outputs().files()) >= 4


def test_a_block_that_no_longer_matches_fails_the_check(tmp_path, monkeypatch):
    tool = _doc_outputs()
    page = tmp_path / "page.md"
    text = (ROOT / "docs" / "tf-versions.md").read_text()
    page.write_text(text.replace("0 same bits, 15 changed", "15 same bits, 0 changed", 1))
    monkeypatch.setattr(tool, "files", lambda: [page])
    said = []
    assert tool.check(said.append) == 1 and "prints something else" in said[0] and "+TF 2.12.1 -> TF 2.21.0" in said[0]
    page.write_text(text.replace("<!-- output: lstm-equiv drift", "<!-- output: lstm-equiv drift >", 1))
    with pytest.raises(ValueError, match="output markers"):  # a marker the tool cannot read is no silent skip
        tool.check(said.append)
