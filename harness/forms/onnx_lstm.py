"""The ONNX forms: one model with an ``LSTM`` node, run by onnxruntime (``onnx_lstm``) and by onnx's own
NumPy ``onnx.reference.ReferenceEvaluator`` (``onnx_reference``).

Layout ``onnx``: ``W`` [1, 4u, input_depth] and ``R`` [1, 4u, u], row blocks i o f c; ``B`` [1, 8u] = the
input bias ``Wb`` then the recurrent bias ``Rb``, added; peepholes ``P`` [1, 3u] in the order i o f. No
run-time forget bias: it sits in the f rows of the biases. ONNX's ``clip`` bounds every gate's
pre-activation (the case's ``gate_clip``, not TF's ``cell_clip``), ``input_forget`` makes f = 1 - i.

The graph takes ``x`` [batch, timesteps, input_depth] and returns ``outputs`` [batch, timesteps, units],
``h`` and ``c`` [batch, units] (and ``logits`` with a head): onnxruntime's CPU LSTM refuses ``layout=1``
("Batchwise recurrent operations (layout == 1) are not supported", measured with onnxruntime 1.32.0), so
the node stays time-major between two ``Transpose`` nodes. onnxruntime's LSTM takes float32 only ("LSTM
operator does not support double yet", measured). Needs the ``onnx`` extra.

What ``onnx.reference`` (onnx 1.23.2, onnx/reference/ops/op_lstm.py) ignores: its ``_run`` marks
``activations``, ``activation_alpha``/``beta``, ``clip``, ``input_forget`` and ``sequence_lens`` unused
and always computes sigmoid/tanh/tanh, unclipped, uncoupled: ``onnx_reference`` therefore claims none of
those options, and tests/test_onnx.py shows each one ignored.
"""
from __future__ import annotations

import importlib.util

import numpy as np

from harness import layouts
from harness.forms import ANY, Form, FormOutput

EXTRA = "onnx"
OPSET = 17
NO_GRADIENT = "onnxruntime and onnx.reference run inference only: there is no gradient of an ONNX LSTM node to take"
ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "hard_sigmoid_0.2": "HardSigmoid",
               "hard_sigmoid_1/6": "HardSigmoid"}
"""The reference's activations (reference.ACTIVATIONS) by their ONNX names."""
HARD_SIGMOID_SLOPES = {"hard_sigmoid_0.2": 0.2, "hard_sigmoid_1/6": 1.0 / 6.0}
"""ONNX's HardSigmoid is clip(alpha z + beta): alpha 0.2 (its default) is Keras 2's, 1/6 Keras 3's; beta 0.5."""


def missing(runtime: bool = True) -> str | None:
    """Why the ONNX forms cannot run here (``runtime``: onnxruntime too), or None when they can."""
    wanted = ("onnx", "onnxruntime") if runtime else ("onnx",)
    absent = [m for m in wanted if importlib.util.find_spec(m) is None]
    if absent:
        return f"{' and '.join(absent)} not installed: pip install -e '.[{EXTRA}]'"
    return None


def attributes(semantics: dict) -> dict:
    """The LSTM node's attributes (beyond hidden_size and direction) that compute the reference's
    ``semantics`` (activation, recurrent_activation, gate_clip, input_forget, in the reference's names)."""
    out = {}
    names = [semantics.get("recurrent_activation", "sigmoid"), semantics.get("activation", "tanh")]
    if names != ["sigmoid", "tanh"]:
        names.append(names[1])  # ONNX's f (gates), g (block input), h (cell output)
        out["activations"] = [ACTIVATIONS[n] for n in names]
        slopes = [HARD_SIGMOID_SLOPES[n] for n in names if n in HARD_SIGMOID_SLOPES]
        if slopes:  # alpha and beta are consumed by the activations that take them, in order
            out["activation_alpha"], out["activation_beta"] = slopes, [0.5] * len(slopes)
    if semantics.get("gate_clip") is not None:
        out["clip"] = float(semantics["gate_clip"])
    if semantics.get("input_forget"):
        out["input_forget"] = 1
    return out


def lstm_model(tensors: dict, dtype: str, input_depth: int, num_units: int, attrs: dict, head=None,
               batch="batch", timesteps="timesteps"):
    """An ONNX model: ``x`` [batch, timesteps, input_depth] -> ``outputs``, ``h``, ``c`` (and ``logits``
    with ``head`` = (kernel, bias)), with ``tensors`` in layout ``onnx`` as its initializers."""
    from onnx import TensorProto, helper, numpy_helper

    onnx_type = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    L = layouts.ONNX
    packed = {"W": tensors[L.x_name][None], "R": tensors[L.h_name][None],
              "B": np.concatenate([tensors[n] for n in L.biases])[None]}
    if all(name in tensors for _, name in L.peepholes):
        packed["P"] = np.concatenate([tensors[name] for _, name in L.peepholes])[None]
    if head is not None:
        packed["head_kernel"], packed["head_bias"] = head
    init = [numpy_helper.from_array(np.asarray(a, dtype), name) for name, a in packed.items()]
    lstm_inputs = ["X", "W", "R", "B", "", "", "", "P" if "P" in packed else ""]
    while lstm_inputs[-1] == "":
        lstm_inputs.pop()
    nodes = [
        helper.make_node("Transpose", ["x"], ["X"], perm=[1, 0, 2]),
        helper.make_node("LSTM", lstm_inputs, ["Y", "Y_h", "Y_c"], hidden_size=num_units, direction="forward", **attrs),
        helper.make_node("Constant", [], ["axis1"], value=numpy_helper.from_array(np.array([1], np.int64))),
        helper.make_node("Constant", [], ["axis0"], value=numpy_helper.from_array(np.array([0], np.int64))),
        helper.make_node("Squeeze", ["Y", "axis1"], ["Y_tbu"]),
        helper.make_node("Transpose", ["Y_tbu"], ["outputs"], perm=[1, 0, 2]),
        helper.make_node("Squeeze", ["Y_h", "axis0"], ["h"]),
        helper.make_node("Squeeze", ["Y_c", "axis0"], ["c"]),
    ]
    outputs = [helper.make_tensor_value_info("outputs", onnx_type, [batch, timesteps, num_units]),
               helper.make_tensor_value_info("h", onnx_type, [batch, num_units]),
               helper.make_tensor_value_info("c", onnx_type, [batch, num_units])]
    if head is not None:
        nodes += [helper.make_node("Gather", ["outputs", "last"], ["last_output"], axis=1),
                  helper.make_node("MatMul", ["last_output", "head_kernel"], ["head_product"]),
                  helper.make_node("Add", ["head_product", "head_bias"], ["logits"])]
        init.append(numpy_helper.from_array(np.array(-1, np.int64), "last"))
        outputs.append(helper.make_tensor_value_info("logits", onnx_type, [batch, head[0].shape[1]]))
    graph = helper.make_graph(nodes, "lstm_equiv", [helper.make_tensor_value_info(
        "x", onnx_type, [batch, timesteps, input_depth])], outputs, initializer=init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lstm-equiv")
    model.ir_version = 8  # readable by every onnxruntime since 1.10
    return model


def read_tensors(model) -> dict:
    """The layout ``onnx`` tensors held in ``model``'s initializers (W, R, B, P unpacked)."""
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    L = layouts.ONNX
    width = init["B"].shape[1] // 2
    out = {L.x_name: init["W"][0], L.h_name: init["R"][0], L.biases[0]: init["B"][0, :width],
           L.biases[1]: init["B"][0, width:]}
    if "P" in init:
        out.update({name: block for (_, name), block in zip(L.peepholes, np.split(init["P"][0], 3))})
    return out


def run_model(model, x, runtime: str = "onnxruntime") -> dict:
    """``model`` on ``x``: every graph output by name, by onnxruntime or by onnx.reference."""
    names = [o.name for o in model.graph.output]
    if runtime == "onnxruntime":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        values = session.run(names, {"x": x})
    else:
        from onnx.reference import ReferenceEvaluator

        values = ReferenceEvaluator(model).run(names, {"x": x})
    return dict(zip(names, (np.asarray(v) for v in values)))


class OnnxForm(Form):
    """The ONNX model of the case, with the layout's tensors as initializers, run by one runtime."""

    layout = layouts.ONNX
    no_gradient = NO_GRADIENT

    def __init__(self, name, about, runtime, dtypes, options):
        self.name, self.about, self._runtime, self.dtypes, self.options = name, about, runtime, dtypes, options

    def missing(self):
        return missing(runtime=self._runtime == "onnxruntime")

    def skip_reason(self, case, dtype):
        return super().skip_reason(case, dtype) or self.missing()

    def semantics(self, case):
        out = super().semantics(case)
        if case.recurrent_activation == "hard_sigmoid":
            out["recurrent_activation"] = "hard_sigmoid_0.2"
        return out

    def run(self, case, inputs, dtype, gradients=False):
        tensors = self.layout.compose(inputs.params, case.forget_bias, inputs.bias_share)
        head = (inputs.head_kernel, inputs.head_bias) if inputs.head_kernel is not None else None
        model = lstm_model(tensors, dtype, case.input_depth, case.num_units, attributes(self.semantics(case)), head)
        out = run_model(model, inputs.x, self._runtime)
        return FormOutput(tensors=read_tensors(model), outputs=out["outputs"], h=out["h"], c=out["c"],
                          logits=out.get("logits"))


FORMS = [
    OnnxForm("onnx_lstm", "an ONNX LSTM node run by onnxruntime (CPU, float32 only): no projection, no cell clip "
             "(ONNX's clip bounds the gates' pre-activations: gate_clip)", "onnxruntime", ("float32",),
             {"activation": ANY, "recurrent_activation": ANY, "use_peepholes": ANY, "gate_clip": ANY,
              "input_forget": ANY}),
    OnnxForm("onnx_reference", "the same ONNX model run by onnx.reference.ReferenceEvaluator, whose LSTM ignores "
             "activations, clip and input_forget (always sigmoid/tanh): peepholes only", "reference",
             ("float32", "float64"), {"use_peepholes": ANY}),
]
