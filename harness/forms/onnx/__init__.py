"""ONNX: its forms of every cell (``lstm.py``: an LSTM node run by onnxruntime and by onnx.reference;
``cells.py``: a GRU node, an RNN node), its availability (the ``onnx`` extra), and the models it builds and
runs. Its layouts (ONNX, ONNX_GRU, ONNX_RNN): ``layouts.py``."""

from __future__ import annotations

import importlib.util

from lstm_equiv.harness.forms import lazy_forms

EXTRA = "onnx"


def missing(runtime: bool = True) -> str | None:
    """Why the ONNX forms cannot run here (``runtime``: onnxruntime too), or None when they can."""
    wanted = ("onnx", "onnxruntime") if runtime else ("onnx",)
    absent = [m for m in wanted if importlib.util.find_spec(m) is None]
    if absent:
        return f"{' and '.join(absent)} not installed: pip install -e '.[{EXTRA}]'"
    return None


def node_inputs(directions: list, biases: tuple = ("Wb", "Rb"), peepholes: tuple = ()) -> dict:
    """The weight inputs of one ONNX recurrent node (LSTM, GRU, RNN) from the layout tensors of each of its
    directions: ``W``, ``R``, ``B`` = [Wb, Rb] and, where ``peepholes`` ((gate, tensor name), in ONNX's
    order) are given and held, ``P``; each with its leading num_directions axis. The one place that packs
    them: the forms, the models convert writes and the vectors go through it."""
    import numpy as np

    stack = lambda arrays: np.stack([np.asarray(a) for a in arrays])
    out = {
        "W": stack([t["W"] for t in directions]),
        "R": stack([t["R"] for t in directions]),
        "B": stack([np.concatenate([t[n] for n in biases]) for t in directions]),
    }
    if peepholes and all(name in directions[0] for _, name in peepholes):
        out["P"] = stack([np.concatenate([t[name] for _, name in peepholes]) for t in directions])
    return out


def _forms() -> list:
    from lstm_equiv.harness.forms.onnx import cells, lstm

    return [*lstm.FORMS, *cells.FORMS]


__getattr__ = lazy_forms(globals(), _forms)
"""``FORMS``: every ONNX form, built when first asked for."""
