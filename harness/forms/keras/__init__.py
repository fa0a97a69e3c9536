"""Keras (the installed ``keras``: Keras 3, or Keras 2 as tf.keras): its forms of every cell (``lstm.py``:
keras.layers.LSTM in both implementations, RNN(LSTMCell); ``cells.py``: GRU, RNN(GRUCell), SimpleRNN).
Its version quirks are harness.forms.tf.compat's; its layouts: ``layouts.py``."""

from __future__ import annotations


def _forms() -> list:
    from harness.forms.keras import cells, lstm

    return [*lstm.FORMS, *cells.FORMS]


def __getattr__(name: str):
    """``FORMS``: every Keras form, built when first asked for (PEP 562: importing this package
    builds no form, so that its layouts can be read first)."""
    if name != "FORMS":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()["FORMS"] = forms = _forms()
    return forms
