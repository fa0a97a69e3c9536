"""lstm-equiv's pytest plugin: installing lstm-equiv is all a project needs for ``pytest`` to collect its case
files. Registered through the ``pytest11`` entry point (pyproject.toml), the convention of the pytest
extensions that collect their own files (Tavern, pytest-regressions).

Which YAML files are case files (``*.yaml``, ``*.yml``):

* a file named on the command line (``pytest mycases/my_shape.yaml``);
* a file under a directory named on the command line, or the current directory when pytest is given none,
  that holds no Python file (``pytest mycases``; ``cd mycases && pytest``; a directory of tests, such as
  ``tests``, or a project's root, is not a case folder);
* a file under a folder listed in the ini option ``lstm_equiv_cases`` (paths relative to the ini file;
  none by default: installed, the plugin leaves every other project's pytest runs alone) or given with
  ``--lstm-equiv-cases DIR`` (relative to the current directory).

Where a run has case folders or case files, it also prints the stack the equivalence is proven on in
pytest's header (which imports TensorFlow), reports the device TF ran on from xdist workers, and makes
``--dist loadscope`` the default under xdist; elsewhere it does nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lstm_equiv.harness.collect import CaseFile, DeviceReport

INI = "lstm_equiv_cases"
OPTION = "--lstm-equiv-cases"
_FOLDERS = pytest.StashKey[tuple]()


def pytest_addoption(parser):
    group = parser.getgroup("lstm-equiv", "lstm-equiv: the LSTM case files")
    group.addoption(
        OPTION,
        action="append",
        default=[],
        metavar="DIR",
        help=f"a folder whose YAML files are lstm-equiv case files (repeatable; besides the ini option {INI})",
    )
    parser.addini(INI, type="paths", default=[], help="folders whose YAML files are case files")


def case_folders(config) -> tuple:
    """The folders whose YAML files are case files, resolved, each once (see the module)."""
    if _FOLDERS not in config.stash:
        here = config.invocation_params.dir
        folders = [Path(config.rootpath, p) for p in config.getini(INI)]
        folders += [Path(here, p) for p in config.getoption(OPTION)]
        if config.args_source in (pytest.Config.ArgsSource.ARGS, pytest.Config.ArgsSource.INVOCATION_DIR):
            for arg in config.args:
                path = Path(here, arg.split("::")[0])
                if path.is_dir() and not _holds_python(path):
                    folders.append(path)
        config.stash[_FOLDERS] = tuple(dict.fromkeys(p.resolve() for p in folders))
    return config.stash[_FOLDERS]


def _holds_python(folder: Path) -> bool:
    return next(folder.rglob("*.py"), None) is not None


def in_play(config) -> bool:
    """Whether this run has case folders or names a case file: elsewhere the plugin does nothing."""
    named = any(a.split("::")[0].endswith((".yaml", ".yml")) for a in config.args)
    return bool(case_folders(config)) or named


def _is_case_file(file_path: Path, folders: tuple) -> bool:
    where = file_path.parent.resolve()  # the folder, not the file: a case file may be a link to elsewhere
    return any(f == where or f in where.parents for f in folders)


def pytest_collect_file(file_path, parent):
    """A YAML file named on the command line or under a case folder is a case file."""
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    if parent.session.isinitpath(file_path) or _is_case_file(file_path, case_folders(parent.config)):
        return CaseFile.from_parent(parent, path=file_path)
    return None


def pytest_configure(config):
    """Report the device TF ran on, also from xdist workers."""
    if in_play(config):
        config.pluginmanager.register(DeviceReport(), "lstm-equiv-device")


def pytest_report_header(config):
    """The stack the equivalence is proven on, and where the case files are read from."""
    if not in_play(config):
        return None
    from lstm_equiv.harness.forms.tf.compat import versions

    stack = ", ".join(f"{name} {version}" for name, version in versions().items() if version)
    root = Path(config.rootpath).resolve()
    shown = [str(f.relative_to(root)) if root in f.parents or f == root else str(f) for f in case_folders(config)]
    return [f"lstm-equiv: {stack}; {DeviceReport.header(config)}; case folders: {', '.join(shown) or 'none'}"]


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """``--dist loadscope`` whenever xdist runs workers and no --dist was given: the checks of one (case,
    form, dtype) then share one worker and one TF run. Not in addopts, so that ``pytest -p no:xdist`` works."""
    numprocesses = getattr(config.option, "numprocesses", None)
    if numprocesses and getattr(config.option, "dist", "no") == "no" and in_play(config):
        config.option.dist = "loadscope"
