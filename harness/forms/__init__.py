"""The real TensorFlow forms of the LSTM. Each form builds, runs and reads back one TF implementation.

A form injects per-gate parameters through its layout, runs TF once (traced, with a fixed input
signature), and returns what TF computed together with the tensors read back from TF's own variables.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FormOutput:
    """What one form computed, and the weight tensors read back from its TF variables."""

    tensors: dict  # layout tensor name -> array, as TF holds it
    outputs: np.ndarray  # [batch, timesteps, h_depth]
    h: np.ndarray
    c: np.ndarray
    logits: np.ndarray | None


class Form:
    """Base of every form: a name, a layout, the dtypes it takes, and a way to run it."""

    name: str = ""
    layout = None
    dtypes: tuple = ("float32", "float64")
    about: str = ""

    def skip_reason(self, case, dtype: str) -> str | None:
        """Why this form cannot run ``case`` in ``dtype`` on this TF, or None when it can."""
        if dtype not in self.dtypes:
            return f"{self.name} takes {'/'.join(self.dtypes)} only, not {dtype}"
        return None

    def run(self, case, inputs, dtype: str) -> FormOutput:  # pragma: no cover - abstract
        """Build the TF form with ``inputs``, run it once, read its variables back."""
        raise NotImplementedError


def _registry() -> dict:
    from harness.forms.keras_lstm import KerasLSTM

    return {form.name: form for form in (KerasLSTM(),)}


FORMS = _registry()
"""Every form, by name."""
