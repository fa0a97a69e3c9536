"""The checks, each in a module of its own: weights (harness.checks.weights), values (outputs, final
states, logits: harness.checks.values) and gradients (harness.checks.gradients).

A check declares its name, its kind (what the case key ``checks`` asks for: forward or gradients), which
cases it applies to, and how it evaluates one item on a run read back (harness.runs.Run). The engine plans
items over :data:`CHECKS` and hands each to its check; it knows no check by name.
"""

from __future__ import annotations


class Check:
    """Base of every check."""

    name: str = ""
    kind: str = "forward"  # forward or gradients: the value of the case key ``checks`` that asks for it

    def applies(self, case) -> bool:
        """Whether ``case`` has this check (a GRU has no final c, a case without a head no logits)."""
        return True

    def evaluate(self, item, r, reading):  # pragma: no cover
        """The item's Result on the run ``r`` read back through ``reading``."""
        raise NotImplementedError


def _registry() -> dict:
    from lstm_equiv.harness.checks import gradients, values, weights

    return {check.name: check for check in (*weights.CHECKS, *values.CHECKS, *gradients.CHECKS)}


CHECKS = _registry()
"""Every check, by name, in the order items are planned."""

KINDS = {kind: tuple(c.name for c in CHECKS.values() if c.kind == kind) for kind in ("forward", "gradients")}
"""The names of the checks of each kind, in order."""


def checks_of(case) -> list:
    """The checks ``case`` asks for (``checks:`` forward, gradients) that apply to it, in order."""
    return [name for kind in case.checks for name in KINDS[kind] if CHECKS[name].applies(case)]
