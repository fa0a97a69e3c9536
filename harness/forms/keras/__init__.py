"""Keras (the installed ``keras``: Keras 3, or Keras 2 as tf.keras): its forms of every cell (``lstm.py``:
keras.layers.LSTM in both implementations, RNN(LSTMCell); ``cells.py``: GRU, RNN(GRUCell), SimpleRNN).
Its version quirks are harness.forms.tf.compat's; its layouts: ``layouts.py``."""

from __future__ import annotations

from lstm_equiv.harness.forms import lazy_forms


def _forms() -> list:
    from lstm_equiv.harness.forms.keras import cells, lstm

    return [*lstm.FORMS, *cells.FORMS]


__getattr__ = lazy_forms(globals(), _forms)
"""``FORMS``: every Keras form, built when first asked for."""
