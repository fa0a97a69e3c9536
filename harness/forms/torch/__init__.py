"""PyTorch: its forms of every cell (``lstm.py``: nn.LSTM, nn.LSTMCell stepped; ``cells.py``: nn.GRU,
nn.RNN), its availability (the ``torch`` extra) and how it is run here (one thread). Its layouts:
``layouts.py``."""

from __future__ import annotations

import importlib.util
import warnings

from lstm_equiv.harness.forms import lazy_forms

EXTRA = "torch"


def missing() -> str | None:
    """Why PyTorch cannot be used here, or None when it can."""
    if importlib.util.find_spec("torch") is None:
        return f"PyTorch is not installed: pip install -e '.[{EXTRA}]'"
    return None


def torch():
    """The torch module, on one thread: the cases' matrices are small and two xdist workers share 2 cores."""
    import torch as module

    # PyPI's Linux wheel is built with CUDA: on a machine without a GPU its first backward pass warns that
    # CUDA failed to initialise (error 302), which says nothing about the CPU results
    warnings.filterwarnings("ignore", message="CUDA initialization", category=UserWarning)
    module.set_num_threads(1)
    return module


TORCH_DTYPES = {"float32": "float32", "float64": "float64"}


def _forms() -> list:
    from lstm_equiv.harness.forms.torch import cells, lstm

    return [*lstm.FORMS, *cells.FORMS]


__getattr__ = lazy_forms(globals(), _forms)
"""``FORMS``: every PyTorch form, built when first asked for."""
