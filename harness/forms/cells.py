"""The base of the forms of the cells of per-gate blocks (harness.cells: the GRU and the plain RNN), which each
framework's folder builds on: ``cells.py`` in harness/forms/keras, tf, torch and onnx holds that framework's
forms of these cells, each form given its cell.

The LSTM's own options (forget_bias, peepholes, clips, projection) are not expressible with these cells; the
sequence keys are, where the framework's form takes them (reference.network runs every cell).
"""

from __future__ import annotations

from lstm_equiv.harness.cells import CELLS, spoken
from lstm_equiv.harness.forms import Form, FormOutput


class BlockCellForm(Form):
    """A form of one cell of per-gate blocks: takes ``cell:`` its cell only, and (a GRU) ``reset_after`` where
    it can put the reset there."""

    cell = "gru"
    _reset_after: tuple = ()  # where it can put a GRU's reset, where fewer than its cell has

    @property
    def reset_after_values(self) -> tuple:
        """The reset positions (reset_after values) it computes: its own, else every one its cell has."""
        return self._reset_after or CELLS[self.cell].reset_positions

    def cannot_express(self, options):
        if options.get("cell", "lstm") != self.cell:
            return [
                (
                    "cell",
                    f"is {spoken(self.cell)} form: it cannot express another cell (cell: "
                    f"{options.get('cell', 'lstm')!r}): {self.about}",
                )
            ]
        out = []
        if options.get("reset_after", False) not in self.reset_after_values:
            where = "after" if options["reset_after"] else "before"
            out.append(
                (
                    "reset_after",
                    f"cannot put the reset gate {where} the recurrent product (reset_after: "
                    f"{options['reset_after']!r}): {self.about}",
                )
            )
        return out + super().cannot_express({k: v for k, v in options.items() if k not in ("cell", "reset_after")})

    def semantics(self, case) -> dict:
        return {key: getattr(case, key) for key in CELLS[self.cell].keys}


def no_c(out: FormOutput) -> FormOutput:
    """These cells have no cell state."""
    return FormOutput(
        out.tensors, out.outputs, out.h, None, out.logits, out.grads, out.evidence, out.cells, out.cell_grads
    )
