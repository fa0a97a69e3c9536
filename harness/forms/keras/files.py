"""Keras files: a layer's weights written as a ``.keras`` model of one LSTM or GRU layer, and that file, which
lstm-equiv has just written, loaded back and run (lstm-equiv convert --to keras)."""

from __future__ import annotations

import numpy as np

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms.tf import compat as tf_compat


def keras_name(activation: str) -> str:
    """The Keras name of a reference activation (both hard_sigmoids are Keras's hard_sigmoid)."""
    return "hard_sigmoid" if activation.startswith("hard_sigmoid") else activation


def write(source, out) -> list:
    """Write ``source`` (harness.convert.Source) into ``out``; lines that tell how to load it."""
    keras, p, gru = tf_compat.keras(), source.params, source.cell == "gru"
    inputs = keras.Input((None, p.input_depth), dtype=source.dtype)
    semantics = {
        "activation": source.semantics.get("activation", "tanh"),
        "return_sequences": True,
        "recurrent_activation": keras_name(source.semantics.get("recurrent_activation", "sigmoid")),
        "return_state": True,
        "dtype": source.dtype,
    }
    if gru:
        reset_after = source.semantics["reset_after"]
        layer = keras.layers.GRU(p.num_units, reset_after=reset_after, **semantics)
        tensors = (layouts.KERAS_GRU_RESET_AFTER if reset_after else layouts.KERAS_GRU).compose(p)
    else:
        layer = keras.layers.LSTM(p.num_units, unit_forget_bias=False, **semantics)
        tensors = layouts.KERAS.compose(p, source.forget_bias)
    outputs = layer(inputs)
    for name, value in tensors.items():
        getattr(layer.cell, name).assign(value)
    keras.Model(inputs, list(outputs)).save(str(out))
    what = f"GRU({p.num_units}, reset_after={reset_after}, " if gru else f"LSTM({p.num_units}, "
    return [
        f"keras.models.load_model({str(out)!r}): one {what}return_sequences=True, return_state=True) -> "
        f"[outputs, h{'' if gru else ', c'}]"
    ]


def load_and_run(out, source, x) -> tuple:
    """The written file loaded back on ``x``: (outputs, h, c; c None for a GRU)."""
    # load_model on the one file lstm-equiv has just written (the temporary target, built by write from one
    # layer and an Input only), never on a user's file: those are read as data (harness/modelfile.py)
    got = [np.asarray(a) for a in tf_compat.keras().models.load_model(str(out), compile=False)(x)]
    return got[0], got[1], got[2] if len(got) > 2 else None
