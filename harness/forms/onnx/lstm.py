"""The ONNX forms of the LSTM: one model with an ``LSTM`` node per layer, run by onnxruntime (``onnx_lstm``)
and by onnx's own NumPy ``onnx.reference.ReferenceEvaluator`` (``onnx_reference``); and the model builder and
:class:`OnnxForm` written once over every cell's node (``LSTM``, ``GRU``, ``RNN``: harness/forms/onnx/cells.py
builds the GRU's and the RNN's forms on them): layers, directions, ``sequence_lens``, initial states.

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

import numpy as np

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms import ANY, Form, FormOutput, chunks
from lstm_equiv.harness.forms.onnx import missing, node_inputs

OPSET = 17
NO_GRADIENT = (
    "onnxruntime and onnx.reference run inference only: there is no gradient of an ONNX recurrent node to take"
)
ACTIVATIONS = {
    "sigmoid": "Sigmoid",
    "tanh": "Tanh",
    "relu": "Relu",
    "hard_sigmoid_0.2": "HardSigmoid",
    "hard_sigmoid_1/6": "HardSigmoid",
}
"""The reference's activations (reference.ACTIVATIONS) by their ONNX names."""
HARD_SIGMOID_SLOPES = {"hard_sigmoid_0.2": 0.2, "hard_sigmoid_1/6": 1.0 / 6.0}
"""ONNX's HardSigmoid is clip(alpha z + beta): alpha 0.2 (its default) is Keras 2's, 1/6 Keras 3's; beta 0.5."""


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


def lstm_model(
    tensors: dict,
    dtype: str,
    input_depth: int,
    num_units: int,
    attrs: dict,
    head=None,
    batch="batch",
    timesteps="timesteps",
):
    """An ONNX model: ``x`` [batch, timesteps, input_depth] -> ``outputs``, ``h``, ``c`` (and ``logits``
    with ``head`` = (kernel, bias)), with ``tensors`` in layout ``onnx`` as its initializers."""
    return network_model([tensors], dtype, input_depth, num_units, attrs, head, batch=batch, timesteps=timesteps)


def per_direction(attrs: dict, directions: int) -> dict:
    """``attrs`` for a node of ``directions`` directions: ONNX lists the activations (and their alpha and
    beta) of every direction, forward first (onnxruntime refuses a bidirectional RNN node with one:
    "activations_.size() == num_directions", measured with 1.32.0)."""
    lists = ("activations", "activation_alpha", "activation_beta")
    return {k: list(v) * directions if k in lists else v for k, v in attrs.items()}


def _suffix(layer: int) -> str:
    return "" if layer == 0 else f"_{layer}"


STATES = {"LSTM": ("h", "c"), "GRU": ("h",), "RNN": ("h",)}
"""Each ONNX recurrent operator's states: its outputs Y_h (and Y_c), its inputs initial_h (and initial_c)."""


def network_model(
    cells: list,
    dtype: str,
    input_depth: int,
    num_units: int,
    attrs: dict,
    head=None,
    *,
    op: str = "LSTM",
    layers: int = 1,
    direction: str = "forward",
    merge_mode=None,
    lengths=None,
    states: bool = False,
    batch="batch",
    timesteps="timesteps",
):
    """An ONNX model of ``layers`` nodes of ``op`` (LSTM, GRU, RNN), each reading the merged outputs of the
    one below: ``x`` [batch, timesteps, input_depth] -> ``outputs`` [batch, timesteps, width], ``h`` (and
    ``c`` for the LSTM) ([batch, units] for one cell, [cells, batch, units] for more), and ``logits`` with a
    head.

    ``cells``: every cell's tensors in the op's layout (onnx, onnx_gru, onnx_rnn: W, R, Wb, Rb and the
    LSTM's peepholes; layer by layer, forward before backward with ``direction`` bidirectional, whose
    outputs are merged by ``merge_mode``); ``lengths``: the ``sequence_lens`` initializer; ``states``: graph
    inputs ``h0`` (and ``c0``) [cells, batch, units].
    """
    from onnx import TensorProto, helper, numpy_helper

    onnx_type = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    L, per, names = layouts.ONNX, 2 if direction == "bidirectional" else 1, STATES[op]
    init, nodes = [], [helper.make_node("Transpose", ["x"], ["X0"], perm=[1, 0, 2])]
    const = lambda name, a: init.append(numpy_helper.from_array(np.asarray(a), name))
    const("axis0", np.array([0], np.int64))
    const("axis1", np.array([1], np.int64))
    const("merged_shape", np.array([0, 0, -1], np.int64))
    if lengths is not None:
        const("sequence_lens", np.asarray(lengths, np.int32))
    finals = {name: [] for name in names}
    for layer in range(layers):
        mine, s = cells[layer * per : (layer + 1) * per], _suffix(layer)
        packed = node_inputs(mine, L.biases, L.peepholes if op == "LSTM" else ())
        for name, value in packed.items():
            const(f"{name}{s}", np.asarray(value, dtype))
        initial = ["" for _ in names]
        if states:
            const(f"cells{s}", np.arange(layer * per, (layer + 1) * per, dtype=np.int64))
            for k, name in enumerate(names):
                nodes.append(helper.make_node("Gather", [f"{name}0", f"cells{s}"], [f"initial_{name}0{s}"], axis=0))
                initial[k] = f"initial_{name}0{s}"
        node_in = [
            f"X{layer}",
            f"W{s}",
            f"R{s}",
            f"B{s}",
            "sequence_lens" if lengths is not None else "",
            *initial,
            f"P{s}" if "P" in packed else "",
        ]
        while node_in[-1] == "":
            node_in.pop()
        node_out = [f"Y{s}", *(f"Y_{name}{s}" for name in names)]
        nodes.append(helper.make_node(op, node_in, node_out, hidden_size=num_units, direction=direction, **attrs))
        nodes += _merged(helper, f"Y{s}", f"X{layer + 1}", per, merge_mode)
        for name in names:
            finals[name].append(f"Y_{name}{s}")
    nodes.append(helper.make_node("Transpose", [f"X{layers}"], ["outputs"], perm=[1, 0, 2]))
    cells_n = layers * per
    for name in names:
        both = finals[name][0] if layers == 1 else f"{name}_cells"
        if layers > 1:
            nodes.append(helper.make_node("Concat", finals[name], [both], axis=0))
        nodes.append(
            helper.make_node("Squeeze", [both, "axis0"], [name])
            if cells_n == 1
            else helper.make_node("Identity", [both], [name])
        )
    width = num_units * (2 if per == 2 and merge_mode in ("concat", "none") else 1)
    state_shape = [batch, num_units] if cells_n == 1 else [cells_n, batch, num_units]
    outputs = [helper.make_tensor_value_info("outputs", onnx_type, [batch, timesteps, width])]
    outputs += [helper.make_tensor_value_info(name, onnx_type, state_shape) for name in names]
    graph_inputs = [helper.make_tensor_value_info("x", onnx_type, [batch, timesteps, input_depth])]
    if states:
        graph_inputs += [
            helper.make_tensor_value_info(f"{name}0", onnx_type, [cells_n, batch, num_units]) for name in names
        ]
    return finish_model(f"lstm_equiv_{op.lower()}", nodes, graph_inputs, outputs, init, dtype, head, batch)


def finish_model(name: str, nodes: list, inputs: list, outputs: list, init: list, dtype: str, head=None, batch="batch"):
    """The model of ``nodes`` (which end in ``outputs`` [batch, timesteps, units]), with the question's head
    on the last output when ``head`` = (kernel, bias) gives one (``logits``), and only the initializers
    its nodes read (onnxruntime warns of an unused one)."""
    from onnx import TensorProto, helper, numpy_helper

    onnx_type = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    init, nodes, outputs = list(init), list(nodes), list(outputs)
    if head is not None:
        init += [
            numpy_helper.from_array(np.asarray(head[0], dtype), "head_kernel"),
            numpy_helper.from_array(np.asarray(head[1], dtype), "head_bias"),
            numpy_helper.from_array(np.array(-1, np.int64), "last"),
        ]
        nodes += [
            helper.make_node("Gather", ["outputs", "last"], ["last_output"], axis=1),
            helper.make_node("MatMul", ["last_output", "head_kernel"], ["head_product"]),
            helper.make_node("Add", ["head_product", "head_bias"], ["logits"]),
        ]
        outputs.append(helper.make_tensor_value_info("logits", onnx_type, [batch, head[0].shape[1]]))
    used = {n for node in nodes for n in node.input}
    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=[t for t in init if t.name in used])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="lstm-equiv")
    model.ir_version = 8  # readable by every onnxruntime since 1.10
    return model


def _merged(helper, y: str, out: str, per: int, merge_mode) -> list:
    """Nodes that turn an LSTM node's Y [T, directions, batch, units] into [T, batch, width]."""
    if per == 1:
        return [helper.make_node("Squeeze", [y, "axis1"], [out])]
    if merge_mode in ("concat", "none"):  # [T, batch, 2, units] -> [T, batch, 2 units]: forward then backward
        return [
            helper.make_node("Transpose", [y], [f"{y}_tb"], perm=[0, 2, 1, 3]),
            helper.make_node("Reshape", [f"{y}_tb", "merged_shape"], [out]),
        ]  # 0: that dimension as it is
    if merge_mode == "sum":  # opset 17: ReduceSum takes its axes as an input, ReduceMean and ReduceProd as an attribute
        return [helper.make_node("ReduceSum", [y, "axis1"], [out], keepdims=0)]
    op = {"ave": "ReduceMean", "mul": "ReduceProd"}[merge_mode]
    return [helper.make_node(op, [y], [out], axes=[1], keepdims=0)]


def read_tensors(model, op: str = "LSTM") -> tuple:
    """Every cell's layout tensors held in ``model``'s initializers (W, R, B and the LSTM's P of each node of
    ``op`` unpacked, one cell per direction), in the case's cell order."""
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    L, cells = layouts.ONNX, []
    for layer in range(sum(n.op_type == op for n in model.graph.node)):
        s = _suffix(layer)
        for d in range(init[f"W{s}"].shape[0]):
            width = init[f"B{s}"].shape[1] // 2
            out = {
                L.x_name: init[f"W{s}"][d],
                L.h_name: init[f"R{s}"][d],
                L.biases[0]: init[f"B{s}"][d, :width],
                L.biases[1]: init[f"B{s}"][d, width:],
            }
            if f"P{s}" in init:
                out.update({name: block for (_, name), block in zip(L.peepholes, np.split(init[f"P{s}"][d], 3))})
            cells.append(out)
    return tuple(cells)


def run_model(model, x, runtime: str = "onnxruntime", **feeds) -> dict:
    """``model`` on ``x`` (and any other graph inputs, by name): every graph output by name, by
    onnxruntime or by onnx.reference."""
    names = [o.name for o in model.graph.output]
    feeds = {"x": x, **feeds}
    if runtime == "onnxruntime":
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
        values = session.run(names, feeds)
    else:
        from onnx.reference import ReferenceEvaluator

        values = ReferenceEvaluator(model).run(names, feeds)
    return dict(zip(names, (np.asarray(v) for v in values)))


class OnnxForm(Form):
    """The ONNX model of the case, with the layout's tensors as initializers, run by one runtime."""

    layout = layouts.ONNX
    no_gradient = NO_GRADIENT
    stacking = (
        "one LSTM node per layer (W, R, B, P; W_1, R_1, ... for the next), direction bidirectional: W [2, 4u, "
        "in] with the forward cell at [0] and the backward at [1]; Y [T, 2, batch, u] merged by Transpose + "
        "Reshape (concat) or ReduceSum/ReduceMean/ReduceProd"
    )

    _op = "LSTM"

    def __init__(self, name, about, runtime, dtypes, options):
        self.name, self.about, self._runtime, self.dtypes, self.options = name, about, runtime, dtypes, options

    def missing(self):
        return missing(runtime=self._runtime == "onnxruntime")

    def semantics(self, case):
        out = super().semantics(case)
        if case.recurrent_activation == "hard_sigmoid":
            out["recurrent_activation"] = "hard_sigmoid_0.2"
        return out

    def sequence(self, case):
        out = super().sequence(case)
        if case.go_backwards:  # direction reverse: output t is h at timestep t
            out["outputs_order"] = "time"
        return out

    def node_attributes(self, case) -> dict:
        """The node's attributes beyond hidden_size and direction."""
        return attributes(self.semantics(case))

    def run(self, case, inputs, dtype, gradients=False):
        layout, names = self.layout_for(case), STATES[self._op]
        cells = [layout.stored(p, case, share) for p, share in zip(inputs.cells, inputs.bias_shares)]
        head = (inputs.head_kernel, inputs.head_bias) if inputs.head_kernel is not None else None
        direction = "bidirectional" if case.bidirectional else "reverse" if case.go_backwards else "forward"
        states = inputs.h0 is not None or case.stateful_chunks is not None
        model = network_model(
            cells,
            dtype,
            case.input_depth,
            case.num_units,
            per_direction(self.node_attributes(case), case.directions),
            head,
            op=self._op,
            layers=case.layers,
            direction=direction,
            merge_mode=case.bidirectional,
            lengths=inputs.lengths,
            states=states,
        )
        zeros = np.zeros((case.cells, case.batch, case.num_units), dtype)
        given = {"h": inputs.h0, "c": inputs.c0}
        now = {name: zeros if given[name] is None else np.stack(given[name]) for name in names}
        pieces = []
        for start, stop in chunks(case.timesteps, case):  # the state carried by hand, chunk to chunk
            feeds = {f"{name}0": now[name] for name in names} if states else {}
            out = run_model(model, np.ascontiguousarray(inputs.x[:, start:stop]), self._runtime, **feeds)
            pieces.append(out["outputs"])
            now = {name: out[name] if case.cells > 1 else out[name][None] for name in names}
        outputs = np.concatenate(pieces, axis=1)
        tensors = read_tensors(model, self._op)
        return FormOutput(
            tensors=tensors[0],
            outputs=outputs,
            h=out["h"],
            c=out.get("c"),
            logits=out.get("logits"),
            cells=tensors if case.cells > 1 else None,
        )


SEQUENCES = {"go_backwards": ANY, "bidirectional": ANY, "initial_state": ANY, "stateful_chunks": ANY, "layers": ANY}
"""What a model of ONNX recurrent nodes expresses of the sequence keys (and sequence_lengths, by a runtime
that reads ``sequence_lens``)."""
FORMS = [
    OnnxForm(
        "onnx_lstm",
        "an ONNX LSTM node run by onnxruntime (CPU, float32 only): no projection, no cell clip "
        "(ONNX's clip bounds the gates' pre-activations: gate_clip)",
        "onnxruntime",
        ("float32",),
        {
            "activation": ANY,
            "recurrent_activation": ANY,
            "use_peepholes": ANY,
            "gate_clip": ANY,
            "input_forget": ANY,
            **SEQUENCES,
            "sequence_lengths": ANY,
        },
    ),
    OnnxForm(
        "onnx_reference",
        "the same ONNX model run by onnx.reference.ReferenceEvaluator, whose LSTM ignores "
        "activations, clip, input_forget and sequence_lens (always sigmoid/tanh, full rows): peepholes only",
        "reference",
        ("float32", "float64"),
        {"use_peepholes": ANY, **SEQUENCES},
    ),
]
