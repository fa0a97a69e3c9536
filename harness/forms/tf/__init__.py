"""TensorFlow itself, below Keras: its forms of every cell (``compat_v1.py``: BasicLSTMCell and LSTMCell with
static_rnn, dynamic_rnn and the bidirectional drivers; ``fused.py``: the raw ops LSTMBlockCell, BlockLSTM,
BlockLSTMV2 and GRUBlockCell; ``cells.py``: GRUCell and BasicRNNCell). Its version quirks (where the
compat.v1 cells live on each TF) are harness.forms.tf.compat's."""

from __future__ import annotations

from lstm_equiv.harness.forms import lazy_forms


def _forms() -> list:
    from lstm_equiv.harness.forms.tf import cells, compat_v1, fused

    return [*compat_v1.FORMS, *cells.FORMS, *fused.FORMS]


__getattr__ = lazy_forms(globals(), _forms)
"""``FORMS``: every TensorFlow form, built when first asked for."""
