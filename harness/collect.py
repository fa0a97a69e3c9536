"""pytest collection of case files: file -> case -> run (form-dtype) -> check.

Three small node classes in the manner of pytest's non-python example: collect a file, run an item,
report a failure. A run's checks share one parent node, so ``--dist loadscope`` sends them to the same
xdist worker, which runs TF once for all of them.
"""

from __future__ import annotations

import sys
import warnings

import pytest

from lstm_equiv.harness import casefile, engine
from lstm_equiv.harness.forms.tf import compat as tf_compat

_LOADER = pytest.StashKey()


def loader(config) -> casefile.CaseLoader:
    """The session's case loader: it remembers names across files to refuse duplicates."""
    if _LOADER not in config.stash:
        config.stash[_LOADER] = casefile.CaseLoader()
    return config.stash[_LOADER]


class CaseFile(pytest.File):
    """A YAML case file."""

    def collect(self):
        for case in loader(self.config).load(self.path):
            node = CaseNode.from_parent(self, name=case.name)
            node.case = case
            yield node

    def repr_failure(self, excinfo):
        if excinfo.errisinstance(casefile.CaseFileError):
            return f"invalid case file\n{excinfo.value}"
        return super().repr_failure(excinfo)


class CaseNode(pytest.Collector):
    """One case: its runs, one per form and dtype."""

    case = None

    def collect(self):
        for form in self.case.forms:
            for dtype in self.case.dtypes:
                run = RunNode.from_parent(self, name=f"{form}-{dtype}")
                run.form, run.dtype = form, dtype
                yield run


class RunNode(pytest.Collector):
    """One (form, dtype) of a case: its checks share a single TF run."""

    form = dtype = None

    def collect(self):
        case = self.parent.case
        for check in engine.checks_of(case):
            yield CheckItem.from_parent(self, name=check, item=engine.Item(case, self.form, self.dtype, check))


class IllConditioned(UserWarning):
    """A check that passed on a case where its dtype cannot tell a wrong layout from rounding."""


class CheckFailed(Exception):
    """A check that failed or errored; its message is the whole report."""


class CheckItem(pytest.Item):
    """One check: TF against the reference for one tensor (or the weights)."""

    def __init__(self, *, item, **kwargs):
        super().__init__(**kwargs)
        self.item = item

    def runtest(self):
        result = engine.evaluate(self.item)
        self.user_properties += [
            ("max_abs_err", result.max_abs_err),
            ("tolerance", result.tolerance),
            ("ratio", result.ratio),
        ]
        if result.flag == "ill-conditioned":  # a pass that must not be quiet: in the warnings summary
            warnings.warn(IllConditioned(result.message), stacklevel=1)  # shown at this line
        if result.status == "skip":
            pytest.skip(result.message)
        if result.status == "xfail":
            pytest.xfail(result.message)
        if result.status == "undecided" and not engine.unexpected_undecided(result.status, result.flag):
            pytest.skip(result.message)  # decided by nothing, as the case says: neither a pass nor a failure
        if result.status != "pass":
            raise CheckFailed(result.message)

    def repr_failure(self, excinfo):
        if excinfo.errisinstance(CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        case = self.item.case
        return case.path, case.line - 1, f"{case.name} [{self.item.form} {self.item.dtype}] {self.item.check}"


class DeviceReport:
    """Says which device TF ran on. Under xdist the controller never imports TF (that would cost every
    run ~2 s of serial time): each worker reports its device, and the summary shows them."""

    def __init__(self):
        self.devices = set()

    @staticmethod
    def header(config) -> str:
        """The device part of the header line."""
        if getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput"):
            return "device: reported by the xdist workers at the end of the run"
        return f"device {tf_compat.device()}"

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node, error):
        device = getattr(node, "workeroutput", {}).get("lstm_equiv_device")
        if device:
            self.devices.add(device)

    def pytest_sessionfinish(self, session):
        config = session.config
        if hasattr(config, "workeroutput") and "tensorflow" in sys.modules:
            config.workeroutput["lstm_equiv_device"] = tf_compat.device()

    def pytest_terminal_summary(self, terminalreporter):
        if self.devices:
            terminalreporter.write_line(f"lstm-equiv: the xdist workers ran TF on {', '.join(sorted(self.devices))}")


def per_case(node_ids) -> dict:
    """Per case, from ``--collect-only -q`` ids (``cases/F.yaml::case::form-dtype::check``): its forms,
    dtypes and checks, sorted, and the item count. What tests/data/collected.json pins."""
    out = {}
    for line in node_ids:
        if line.startswith("cases/") and line.count("::") == 3:
            _, case, run_id, check = line.split("::")
            form, dtype = run_id.rsplit("-", 1)
            entry = out.setdefault(case, {"forms": set(), "dtypes": set(), "checks": set(), "items": 0})
            entry["forms"].add(form), entry["dtypes"].add(dtype), entry["checks"].add(check)
            entry["items"] += 1
    return {case: {k: sorted(v) if isinstance(v, set) else v for k, v in e.items()} for case, e in sorted(out.items())}
