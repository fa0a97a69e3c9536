"""The hosted CI workflow (.github/workflows/ci.yml) cannot run here: it is linted with actionlint, with
shellcheck on every `run:` script, and kept in step with tox.ini and .ci/tox-env."""

import configparser
import itertools
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / ".github" / "workflows" / "ci.yml"


def _tool(name: str) -> str:
    """A binary of the test extra: beside this Python (a virtual environment's bin), else on PATH."""
    beside = Path(sys.executable).parent / name
    path = str(beside) if beside.exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: it comes with the test extra (pip install -e '.[test]')", pytrace=False)
    return path


def actionlint(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_tool("actionlint"), f"-shellcheck={_tool('shellcheck')}", "-no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def test_actionlint_and_shellcheck_pass_on_the_workflow():
    done = actionlint(WORKFLOW)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    "mistake, expected",
    [
        (
            "${{ matrix.env }}",
            "${{ matrix.evn }}",
        ),
        ('.ci/tox-env "$TOX_ENV" "reports/$TOX_ENV"', ".ci/tox-env $TOX_ENV reports/$TOX_ENV"),
        ("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04"),
        ("actions/checkout@v6", "actions/checkout@v4"),
    ],
    ids=["a misspelt matrix key", "an unquoted shell variable", "an unknown job key", "a node20 action"],
)
def test_actionlint_fails_a_broken_copy(tmp_path, mistake, expected):
    """The lint can fail: each mistake, made in a copy of the workflow, is reported."""
    text = WORKFLOW.read_text()
    assert mistake in text
    broken = tmp_path / "ci.yml"
    broken.write_text(text.replace(mistake, expected, 1))
    done = actionlint(broken)
    assert done.returncode == 1 and "ci.yml:" in done.stdout, done.stdout + done.stderr


def tox_envs() -> list:
    """tox.ini's env_list, its braces expanded as tox does (tf2{12,13} -> tf212, tf213)."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    envs = []
    for line in ini["tox"]["env_list"].split():
        parts = re.split(r"\{([^}]*)\}", line)  # literal, alternatives, literal, ...
        choices = [[p] if k % 2 == 0 else p.split(",") for k, p in enumerate(parts)]
        envs += ["".join(combo) for combo in itertools.product(*choices)]
    return envs


def test_the_matrix_is_toxs_env_list():
    assert len(tox_envs()) == 16 and "tf216-legacy" in tox_envs()
    assert _workflow()["jobs"]["tox"]["strategy"]["matrix"]["env"] == tox_envs()


def test_each_environment_uploads_its_three_reports_and_the_gather_job_reads_them():
    jobs = _workflow()["jobs"]
    steps = jobs["tox"]["steps"]
    run = next(s for s in steps if ".ci/tox-env" in s.get("run", ""))
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert upload["if"] == "${{ !cancelled() }}" and upload["with"]["path"] == "reports/${{ matrix.env }}"
    assert run["run"].split()[2] == '"reports/$TOX_ENV"'
    # .ci/tox-env writes the JUnit XML, the JSON report and the HTML report into that folder
    script = (ROOT / ".ci" / "tox-env").read_text()
    for written in ('"$out/junit.xml"', '--json "$out/report.json"', '--report "$out/report"'):
        assert written in script
    assert any(s.get("with", {}).get("cache") == "pip" for s in steps if "setup-python" in s.get("uses", ""))
    gather = jobs["gather"]
    assert gather["needs"] == "tox" and gather["if"] == "${{ !cancelled() }}"
    download = next(s for s in gather["steps"] if "download-artifact" in s.get("uses", ""))
    assert download["with"] == {"pattern": "report-*", "path": "reports"}
    assert upload["with"]["name"] == "report-${{ matrix.env }}"
    # every environment's folder named, and one report expected per environment of the matrix
    assert any(
        f"lstm-equiv gather reports/report-* --expect {len(tox_envs())} --out matrix" in s.get("run", "")
        for s in gather["steps"]
    )


def test_the_report_runs_inside_the_tox_environment_with_its_settings():
    """`lstm-equiv run` goes through `tox exec`, so that a -legacy twin's TF_USE_LEGACY_KERAS=1 applies to
    its reports as to its tests (a bare .tox/ENV/bin/lstm-equiv would run them in Keras 3), and tox passes
    CI on, so that the browser test fails rather than skips on CI without a browser."""
    script = (ROOT / ".ci" / "tox-env").read_text()
    assert 'tox exec -e "$env" --skip-pkg-install -- lstm-equiv run' in script
    assert ".tox/$env/bin/lstm-equiv" not in script
    ini = configparser.ConfigParser(interpolation=None)
    ini.read(ROOT / "tox.ini")
    assert "TF_USE_LEGACY_KERAS = 1" in ini["testenv"]["set_env"] and "CI" in ini["testenv"]["pass_env"].split()


def test_the_ci_scripts_pass_shellcheck():
    done = subprocess.run(
        [_tool("shellcheck"), ".ci/run", ".ci/tox-env"], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 0, done.stdout + done.stderr
