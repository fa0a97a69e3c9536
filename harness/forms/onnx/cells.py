"""ONNX's forms of the cells of per-gate blocks: one ``GRU`` node (linear_before_reset = the case's
reset_after) or one ``RNN`` node, run by onnxruntime."""

from __future__ import annotations

import numpy as np

from harness import layouts
from harness.forms import ANY, FormOutput
from harness.forms.cells import BlockCellForm
from harness.forms.onnx import missing, node_inputs
from harness.forms.onnx.lstm import NO_GRADIENT, finish_model, run_model


class OnnxCellForm(BlockCellForm):
    """An ONNX model with one node of the cell's operator, run by onnxruntime."""

    dtypes = ("float32",)
    no_gradient = NO_GRADIENT

    def __init__(self, name, about, cell, layout, options, op, attributes):
        self.name, self.about, self.cell, self.layout, self.options = name, about, cell, layout, options
        self._op, self._attributes = op, attributes

    def missing(self):
        return missing()

    def run(self, case, inputs, dtype, gradients=False):
        tensors = self.layout.compose(inputs.params, inputs.bias_share)
        head = (inputs.head_kernel, inputs.head_bias) if inputs.head_kernel is not None else None
        model = node_model(
            self._op,
            tensors,
            dtype,
            case.input_depth,
            case.num_units,
            self._attributes(case),
            head,
            initial=inputs.h0 is not None,
        )
        feeds = {} if inputs.h0 is None else {"h0": inputs.h0[0][None]}
        out = run_model(model, inputs.x, "onnxruntime", **feeds)
        return FormOutput(
            tensors=read_node_tensors(model), outputs=out["outputs"], h=out["h"], c=None, logits=out.get("logits")
        )


def read_node_tensors(model) -> dict:
    """The layout tensors held in ``model``'s initializers (onnx_gru, onnx_rnn): W, R and B unpacked (B =
    [Wb, Rb])."""
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    width = init["B"].shape[1] // 2
    return {"W": init["W"][0], "R": init["R"][0], "Wb": init["B"][0, :width], "Rb": init["B"][0, width:]}


def node_model(
    op: str,
    tensors: dict,
    dtype: str,
    input_depth: int,
    num_units: int,
    attributes: dict,
    head=None,
    initial: bool = False,
    batch="batch",
    timesteps="timesteps",
):
    """An ONNX model with one ``op`` node (GRU, RNN): ``x`` [batch, timesteps, input_depth] -> ``outputs``,
    ``h`` (and ``logits`` with a head); ``initial``: a graph input ``h0`` [1, batch, units]."""
    from onnx import TensorProto, helper, numpy_helper

    onnx_type = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    init = [numpy_helper.from_array(np.asarray(a, dtype), name) for name, a in node_inputs([tensors]).items()] + [
        numpy_helper.from_array(np.array([k], np.int64), f"axis{k}") for k in (0, 1)
    ]
    nodes = [
        helper.make_node("Transpose", ["x"], ["X"], perm=[1, 0, 2]),
        helper.make_node(
            op,
            ["X", "W", "R", "B", "", "h0" if initial else ""][: 6 if initial else 4],
            ["Y", "Y_h"],
            hidden_size=num_units,
            **attributes,
        ),
        helper.make_node("Squeeze", ["Y", "axis1"], ["Y_tbu"]),
        helper.make_node("Transpose", ["Y_tbu"], ["outputs"], perm=[1, 0, 2]),
        helper.make_node("Squeeze", ["Y_h", "axis0"], ["h"]),
    ]
    outputs = [
        helper.make_tensor_value_info("outputs", onnx_type, [batch, timesteps, num_units]),
        helper.make_tensor_value_info("h", onnx_type, [batch, num_units]),
    ]
    inputs = [helper.make_tensor_value_info("x", onnx_type, [batch, timesteps, input_depth])]
    if initial:
        inputs.append(helper.make_tensor_value_info("h0", onnx_type, [1, batch, num_units]))
    return finish_model(f"lstm_equiv_{op.lower()}", nodes, inputs, outputs, init, dtype, head, batch)


def gru_model(
    tensors: dict,
    dtype: str,
    input_depth: int,
    num_units: int,
    reset_after: bool,
    head=None,
    initial: bool = False,
    batch="batch",
    timesteps="timesteps",
):
    """An ONNX model with one GRU node (linear_before_reset = reset_after): :func:`node_model`."""
    return node_model(
        "GRU",
        tensors,
        dtype,
        input_depth,
        num_units,
        {"linear_before_reset": int(reset_after)},
        head,
        initial,
        batch,
        timesteps,
    )


_ONNX_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}
_ACTIVATION = {"activation": ANY, "initial_state": ANY}
FORMS = [
    OnnxCellForm(
        "onnx_gru",
        "an ONNX GRU node run by onnxruntime (CPU, float32 only): sigmoid/tanh; linear_before_reset is reset_after",
        "gru",
        layouts.ONNX_GRU,
        {"initial_state": ANY},
        "GRU",
        lambda case: {"linear_before_reset": int(case.reset_after)},
    ),
    OnnxCellForm(
        "onnx_rnn",
        "an ONNX RNN node run by onnxruntime (CPU, float32 only): activations Tanh, Relu, Sigmoid",
        "rnn",
        layouts.ONNX_RNN,
        _ACTIVATION,
        "RNN",
        lambda case: {"activations": [_ONNX_ACTIVATIONS[case.activation]]},
    ),
]
