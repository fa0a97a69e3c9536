"""Collects ``cases/**/*.yaml`` (and any YAML file named on the command line) into pytest items."""

import pytest

from harness.collect import CaseFile, DeviceReport
from harness.forms.tf.compat import versions

pytest_plugins = ("pytester",)  # the harness's own tests run pytest on case files in-process


def pytest_collect_file(file_path, parent):
    """A YAML file under a ``cases`` folder, or one given on the command line, is a case file."""
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    try:
        folders = file_path.relative_to(parent.config.rootpath).parts[:-1]
    except ValueError:
        folders = ()
    if "cases" in folders or parent.session.isinitpath(file_path):
        return CaseFile.from_parent(parent, path=file_path)
    return None


def pytest_configure(config):
    """Report the device TF ran on, also from xdist workers."""
    config.pluginmanager.register(DeviceReport(), "lstm-equiv-device")


def pytest_report_header(config):
    """The stack the equivalence is proven on."""
    v = versions()
    stack = ", ".join(f"{name} {version}" for name, version in v.items() if version)
    return [f"lstm-equiv: {stack}; {DeviceReport.header(config)}"]


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config):
    """``--dist loadscope`` whenever xdist runs workers and no --dist was given: the checks of one (case,
    form, dtype) then share one worker and one TF run. Not in addopts, so that ``pytest -p no:xdist`` works."""
    if getattr(config.option, "numprocesses", None) and getattr(config.option, "dist", "no") == "no":
        config.option.dist = "loadscope"
