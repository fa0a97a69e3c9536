"""ONNX's forms of the cells of per-gate blocks: ``GRU`` nodes (linear_before_reset = the case's reset_after)
or ``RNN`` nodes, one per layer, run by onnxruntime: :class:`OnnxForm` over the case's layers, directions,
``sequence_lens`` and initial states."""

from __future__ import annotations

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms import ANY
from lstm_equiv.harness.forms.cells import BlockCellForm
from lstm_equiv.harness.forms.onnx.lstm import SEQUENCES, OnnxForm, network_model


class OnnxCellForm(BlockCellForm, OnnxForm):
    """A model of the cell's ONNX operator, one node per layer, run by onnxruntime."""

    def __init__(self, name, about, cell, layout, options, op, attributes):
        OnnxForm.__init__(self, name, about, "onnxruntime", ("float32",), options)
        self.cell, self.layout, self._op, self._attributes = cell, layout, op, attributes
        self.stacking = OnnxForm.stacking.replace("LSTM node", f"{op} node").replace(", P;", ";").replace("4u", "gu")

    def node_attributes(self, case):
        return self._attributes(case)


def gru_model(
    tensors: dict,
    dtype: str,
    input_depth: int,
    num_units: int,
    reset_after: bool,
    head=None,
    batch="batch",
    timesteps="timesteps",
):
    """An ONNX model with one GRU node (linear_before_reset = reset_after) holding ``tensors`` (layout
    onnx_gru): ``x`` [batch, timesteps, input_depth] -> ``outputs``, ``h``."""
    attributes = {"linear_before_reset": int(reset_after)}
    return network_model(
        [tensors], dtype, input_depth, num_units, attributes, head, op="GRU", batch=batch, timesteps=timesteps
    )


_ONNX_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}
_RUNTIME = {**SEQUENCES, "sequence_lengths": ANY, "initial_state": ANY}
FORMS = [
    OnnxCellForm(
        "onnx_gru",
        "an ONNX GRU node run by onnxruntime (CPU, float32 only): sigmoid/tanh; linear_before_reset is reset_after",
        "gru",
        layouts.ONNX_GRU,
        _RUNTIME,
        "GRU",
        lambda case: {"linear_before_reset": int(case.reset_after)},
    ),
    OnnxCellForm(
        "onnx_rnn",
        "an ONNX RNN node run by onnxruntime (CPU, float32 only): activations Tanh, Relu, Sigmoid",
        "rnn",
        layouts.ONNX_RNN,
        {"activation": ANY, **_RUNTIME},
        "RNN",
        lambda case: {"activations": [_ONNX_ACTIVATIONS[case.activation]]},
    ),
]
