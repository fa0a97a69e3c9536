"""TensorFlow itself, below Keras: its forms of every cell (``compat_v1.py``: BasicLSTMCell and LSTMCell with
static_rnn, dynamic_rnn and the bidirectional drivers; ``fused.py``: the raw ops LSTMBlockCell, BlockLSTM,
BlockLSTMV2 and GRUBlockCell; ``cells.py``: GRUCell and BasicRNNCell). Its version quirks (where the
compat.v1 cells live on each TF) are harness.forms.tf.compat's."""

from __future__ import annotations


def _forms() -> list:
    from harness.forms.tf import cells, compat_v1, fused

    return [*compat_v1.FORMS, *cells.FORMS, *fused.FORMS]


def __getattr__(name: str):
    """``FORMS``: every TensorFlow form, built when first asked for (PEP 562: importing this package
    builds no form, so that its layouts can be read first)."""
    if name != "FORMS":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()["FORMS"] = forms = _forms()
    return forms
