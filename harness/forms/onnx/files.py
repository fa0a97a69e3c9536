"""ONNX files: a layer's weights written as a model with one LSTM or GRU node, and the written model run by
onnxruntime (lstm-equiv convert --to onnx)."""

from __future__ import annotations

import numpy as np

from lstm_equiv.harness import layouts


def write(source, out) -> list:
    """Write ``source`` (harness.convert.Source) into ``out``; lines that tell how to load it."""
    import onnx

    from lstm_equiv.harness.forms.onnx.cells import gru_model
    from lstm_equiv.harness.forms.onnx.lstm import attributes, lstm_model

    p, n_in, n = source.params.astype("float32"), source.params.input_depth, source.params.num_units
    if source.cell == "gru":
        reset_after = source.semantics["reset_after"]
        onnx.save(gru_model(layouts.ONNX_GRU.compose(p), "float32", n_in, n, reset_after), str(out))
        returns = f"h [batch, {n}] (GRU node, linear_before_reset={int(reset_after)})"
    else:
        tensors = layouts.ONNX.compose(p, source.forget_bias)
        onnx.save(lstm_model(tensors, "float32", n_in, n, attributes(source.semantics)), str(out))
        returns = f"h, c [batch, {n}]"
    return [
        f"onnxruntime.InferenceSession({str(out)!r}): input x [batch, timesteps, {n_in}] float32 -> outputs "
        f"[batch, timesteps, {n}], {returns}"
    ]


def load_and_run(out, source, x) -> tuple:
    """The written model run by onnxruntime on ``x``: (outputs, h, c; c None for a GRU)."""
    import onnx

    from lstm_equiv.harness.forms.onnx.lstm import run_model

    got = run_model(onnx.load(str(out)), np.asarray(x, np.float32))
    return got["outputs"], got["h"], got.get("c")
