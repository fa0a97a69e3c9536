"""What lstm-equiv writes: every output path checked before the work, written beside the target and renamed
into place, an existing file kept unless --force, an input never a target, Ctrl-C keeping what finished."""

import io
import json
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from lstm_equiv.harness import engine, safeio
from lstm_equiv.harness.cli import main

GOOD = (
    "name: {name}\ninput_depth: 3\nnum_units: 4\ntimesteps: 6\nbatch: 2\nseed: 7\ndtypes: [float32]\n"
    "forms: [keras_lstm]\nchecks: [forward]\n"
)


def cli(*args):
    """``lstm-equiv ARGS`` in this process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture()
def case(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(GOOD.format(name="ok"))
    return path


@pytest.fixture()
def no_work(monkeypatch):
    """Fail the test if any item is evaluated: the output check must come first."""

    def evaluate(item):
        raise AssertionError("an item ran before the output paths were checked")

    monkeypatch.setattr(engine, "evaluate", evaluate)


def test_json_onto_a_case_file_of_the_run_is_refused(case, no_work):
    before = case.read_text()
    for force in ((), ("--force",)):
        code, _, err = cli("run", case, "--json", case, *force)
        assert code == 2 and f"--json {case}: is an input of this run" in err
    code, _, err = cli("run", case.parent, "--json", case)  # the case file found in a folder named on the line
    assert code == 2 and "is an input of this run" in err
    assert case.read_text() == before


def test_an_existing_json_is_kept_unless_force(case, tmp_path):
    report = tmp_path / "r.json"
    report.write_text("mine")
    code, _, err = cli("run", case, "--json", report)
    assert code == 2 and "exists; lstm-equiv does not replace it unless you add --force" in err
    assert report.read_text() == "mine"
    code, out, err = cli("run", case, "--json", report, "--force")
    assert code == 0, out + err
    assert [r["check"] for r in json.loads(report.read_text())] == ["weights", "outputs", "final_h", "final_c"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.yaml", "r.json"]


@pytest.mark.parametrize(
    "where, message",
    [
        ("missing/r.json", "the folder {tmp}/missing does not exist"),
        (".", "is a folder; name a file"),
    ],
)
def test_a_json_path_that_cannot_be_written_is_refused_before_any_work(case, tmp_path, no_work, where, message):
    code, out, err = cli("run", case, "--json", tmp_path / where)
    assert code == 2 and message.format(tmp=tmp_path) in err
    assert out == ""


def test_a_report_onto_a_file_or_a_foreign_folder_is_refused_before_any_work(case, tmp_path, no_work):
    (tmp_path / "file").write_text("x")
    code, _, err = cli("run", case, "--report", tmp_path / "file")
    assert code == 2 and "is a file, not a folder" in err
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_text("x")
    code, _, err = cli("run", case, "--report", foreign)
    assert code == 2 and "is not empty" in err
    code, _, err = cli("run", case, "--report", foreign, "--force")
    assert code == 2 and "is not a folder lstm-equiv wrote" in err
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.jpg"]
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _, err = cli("run", case, "--report", locked / "r")
        assert code == 2 and "is not writable" in err


def test_a_report_folder_lstm_equiv_wrote_is_replaced_whole_with_force(case, tmp_path):
    pytest.importorskip("matplotlib")
    folder = tmp_path / "report"
    assert cli("run", case, "--report", folder)[0] == 0
    (folder / "stale.png").write_text("from an earlier run")
    code, _, err = cli("run", case, "--report", folder)
    assert code == 2 and "is not empty" in err
    assert cli("run", case, "--report", folder, "--force")[0] == 0
    names = sorted(p.name for p in folder.iterdir())
    assert "stale.png" not in names and "index.html" in names and safeio.FOLDER_MARK in names
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.yaml", "report"]


def test_ctrl_c_writes_what_finished_says_so_and_exits_130(case, tmp_path, monkeypatch):
    (tmp_path / "ok.yaml").write_text(GOOD.format(name="ok").replace("dtypes: [float32]", "dtypes: [float32, float64]"))
    real, seen = engine.evaluate, []

    def interrupted_at_the_third(item):
        if len(seen) == 2:
            raise KeyboardInterrupt
        seen.append(item)
        return real(item)

    monkeypatch.setattr(engine, "evaluate", interrupted_at_the_third)
    code, out, err = cli("run", case, "--json", tmp_path / "r.json")
    assert code == 130
    assert "interrupted after 2 of 8 items" in err
    assert out.rstrip().endswith("2 pass, 0 fail, 0 error, 0 skip")
    assert len(json.loads((tmp_path / "r.json").read_text())) == 2


def test_a_file_that_appears_while_the_run_works_is_not_replaced(tmp_path):
    """Two runs writing one --json: the second to finish reports, neither result is lost."""
    target = tmp_path / "r.json"
    safeio.check_file(target, "--json")
    with pytest.raises(safeio.OutputError, match="was created by someone else while lstm-equiv ran"):
        with safeio.publishing(target, "--json") as pending:
            pending.path.write_text("second")
            target.write_text("first")  # the other run finished meanwhile
    assert target.read_text() == "first"
    (kept,) = [p for p in tmp_path.iterdir() if p != target]
    assert kept.read_text() == "second"


def test_an_exception_while_writing_leaves_the_target_as_it_was(tmp_path):
    target = tmp_path / "out.npz"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with safeio.publishing(target, "-o", force=True) as pending:
            pending.path.write_text("half")
            raise RuntimeError("the proof crashed")
    assert target.read_text() == "old" and sorted(tmp_path.iterdir()) == [target]


def test_vectors_into_a_folder_that_holds_files_is_refused(tmp_path):
    folder = tmp_path / "vectors"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    code, _, err = cli("vectors", folder)
    assert code == 2 and "is not empty" in err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    fresh = tmp_path / "fresh"
    assert cli("vectors", fresh)[0] == 0
    first = sorted(p.name for p in fresh.iterdir())
    assert "vectors.json" in first and safeio.FOLDER_MARK in first
    assert cli("vectors", fresh)[0] == 2
    assert cli("vectors", fresh, "--force")[0] == 0 and sorted(p.name for p in fresh.iterdir()) == first


def test_explain_png_is_checked_first(tmp_path):
    (tmp_path / "k.png").write_text("mine")
    code, _, err = cli(
        "explain", "--input-depth", 2, "--num-units", 3, "--form", "keras_lstm", "--png", tmp_path / "k.png"
    )
    assert code == 2 and "exists" in err and (tmp_path / "k.png").read_text() == "mine"


def test_a_fifo_is_refused_without_waiting(tmp_path):
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(safeio.InputError, match="is a FIFO"):
        safeio.read_bytes(fifo, "case file")
    with pytest.raises(safeio.InputError, match="is a folder"):
        safeio.read_bytes(tmp_path, "case file")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (safeio.LIMITS["case file"] + 1))
    with pytest.raises(safeio.InputError, match="a case file is read up to 1 MiB"):
        safeio.read_bytes(big, "case file")
    assert safeio.read_bytes(Path(__file__), "case file") == Path(__file__).read_bytes()
