"""Collects ``cases/**/*.yaml`` (and any YAML file named on the command line) into pytest items."""
from harness.collect import CaseFile, DeviceReport
from harness.tf_compat import versions


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
