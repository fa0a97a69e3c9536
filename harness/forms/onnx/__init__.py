"""ONNX: its forms of every cell (``lstm.py``: an LSTM node run by onnxruntime and by onnx.reference;
``cells.py``: a GRU node, an RNN node), its availability (the ``onnx`` extra), and the models it builds and
runs. Its layouts are harness.layouts.ONNX and harness.block_layouts.ONNX_GRU, ONNX_RNN."""

from __future__ import annotations

import importlib.util

EXTRA = "onnx"


def missing(runtime: bool = True) -> str | None:
    """Why the ONNX forms cannot run here (``runtime``: onnxruntime too), or None when they can."""
    wanted = ("onnx", "onnxruntime") if runtime else ("onnx",)
    absent = [m for m in wanted if importlib.util.find_spec(m) is None]
    if absent:
        return f"{' and '.join(absent)} not installed: pip install -e '.[{EXTRA}]'"
    return None


def _forms() -> list:
    from harness.forms.onnx import cells, lstm

    return [*lstm.FORMS, *cells.FORMS]


FORMS = _forms()
"""Every ONNX form."""
