"""What the engine plans and what it returns: an :class:`Item` (one check of one form of one case in one
dtype) and its :class:`Result`, with the small helpers every check uses to fill one in."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Item:
    """One check of one form of one case in one dtype."""

    case: object
    form: str
    dtype: str
    check: str

    @property
    def run_id(self) -> str:
        """``form-dtype``: the group of items that share one TF run."""
        return f"{self.form}-{self.dtype}"


STATUSES = ("pass", "fail", "error", "undecided", "skip", "xfail")  # every status a Result can have, in report order


def unexpected_undecided(status: str, flag) -> bool:
    """An undecided item whose case does not say ``expect_undecided``: what makes run and gather exit 3, the
    report's verdict UNDECIDED and the pytest item fail (the one rule, for Results and report rows alike)."""
    return status == "undecided" and flag != "expected"


@dataclass(frozen=True)
class Result:
    """The outcome of one item."""

    item: Item
    status: str  # pass, fail, error, undecided (passed a bound no dtype can decide with), skip, xfail (a
    #              documented TF bug, expected to fail)
    max_abs_err: float | None
    tolerance: float | None
    message: str
    digest: str | None = None  # sha256 of TF's tensor(s) for this check: equal digests, equal bits
    sample: tuple = ()  # TF's values at up to SAMPLE evenly spaced elements, for `lstm-equiv drift`
    inputs_digest: str | None = None  # sha256 of x and the injected weights: runs are comparable when equal
    compared: tuple = ()  # every tensor or block this check compared, by name
    ratio: float | None = None  # max abs error over its bound: below 1 passes; 1 / ratio is the headroom
    flag: str | None = None  # ill-conditioned: a pass only float64 decides; expected: an undecided item whose
    #                          case declares expect_undecided

    def as_dict(self) -> dict:
        """The item's row of the JSON report."""
        return {
            "case": self.item.case.name,
            "file": str(self.item.case.path),
            "line": self.item.case.line,
            "form": self.item.form,
            "dtype": self.item.dtype,
            "check": self.item.check,
            "status": self.status,
            "max_abs_err": self.max_abs_err,
            "tolerance": self.tolerance,
            "message": self.message,
            "digest": self.digest,
            "sample": list(self.sample),
            "inputs_digest": self.inputs_digest,
            "compared": list(self.compared),
            "ratio": self.ratio,
            "flag": self.flag,
        }


SAMPLE = 64


def sample(a) -> tuple:
    """Up to SAMPLE values of ``a``, evenly spaced over its flattened elements, first and last included."""
    flat = np.asarray(a).ravel()
    if flat.size == 0:
        return ()
    idx = np.unique(np.linspace(0, flat.size - 1, min(flat.size, SAMPLE)).round().astype(int))
    return tuple(float(v) for v in flat[idx])


def digest(arrays) -> str:
    """sha256 over the dtype, shape and bytes of each array."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def what(item: Item) -> str:
    """The item in words, the first line of every failure message."""
    c = item.case
    return (
        f"case {c.name} ({c.where}), form {item.form}, dtype {item.dtype}, check {item.check}: "
        f"TF against the per-gate float64 reference"
    )
