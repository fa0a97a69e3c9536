"""Keras (the installed ``keras``: Keras 3, or Keras 2 as tf.keras): its forms of every cell (``lstm.py``:
keras.layers.LSTM in both implementations, RNN(LSTMCell); ``cells.py``: GRU, RNN(GRUCell), SimpleRNN).
Its version quirks are harness.tf_compat's; its layouts harness.layouts.KERAS and
harness.block_layouts.KERAS_GRU, KERAS_GRU_RESET_AFTER, KERAS_SIMPLE_RNN."""

from __future__ import annotations


def _forms() -> list:
    from harness.forms.keras import cells, lstm

    return [*lstm.FORMS, *cells.FORMS]


FORMS = _forms()
"""Every Keras form."""
