"""Small hand-written converters, as users write them, each with the mistakes they make as an option.

They read their sources with the sources' own frameworks or NumPy (never through lstm-equiv's layouts) and
write ONNX models of independent nodes: node k reads its own input ``x{k}`` [T, batch, in] (and ``lens``,
the sequence lengths, where the source layer is masked). ``fault`` names the mistake:

- ``gate_order``: Keras's gate blocks (i f c o) written as they are, where ONNX wants i o f c;
- ``transposed_recurrent``: each square recurrent gate block written untransposed;
- ``forget_bias_added``: a forget bias of 1 added to a layer whose bias already holds it;
- ``forget_bias_dropped``: a run-time forget_bias (TF1's, kept in the lstm-equiv .npz) not written at all;
- ``bias_hh_twice``: PyTorch's two biases summed into Wb, and bias_hh written into Rb again;
- ``not_reversed``: a bidirectional layer written as two forward nodes on the same input;
- ``directions_swapped``: a bidirectional layer's two cells stacked backward first;
- ``reset_after``: a Keras GRU(reset_after=True) written with linear_before_reset=0;
- ``no_sequence_lens``: a masked layer written without the sequence_lens input.
"""

from __future__ import annotations

import numpy as np

KERAS_TO_ONNX = [0, 3, 1, 2]  # Keras i f c o (and PyTorch i f g o) -> ONNX i o f c
FAULTS = (
    "gate_order",
    "transposed_recurrent",
    "forget_bias_added",
    "forget_bias_dropped",
    "bias_hh_twice",
    "not_reversed",
    "directions_swapped",
    "reset_after",
    "no_sequence_lens",
)


def _blocks(a, order, gates):
    """The gate blocks of a [gates * u, ...] array (or [gates * u] vector) put in ``order``."""
    parts = np.split(np.asarray(a), gates, axis=0)
    return np.concatenate([parts[k] for k in order], axis=0)


def _direction(kernel, recurrent, bias, gru, fault):
    """One direction's ONNX W [G*u, in], R [G*u, u], B [2 G*u] from Keras's kernel [in, G*u] (i f c o, or the
    GRU's z r h), recurrent kernel and bias ([G*u], or [2, G*u] for a reset-after GRU)."""
    if gru:
        bias = np.asarray(bias)
        wb, rb = (bias[0], bias[1]) if bias.ndim == 2 else (bias, np.zeros_like(bias))
        return kernel.T, recurrent.T, np.concatenate([wb, rb])  # Keras z r h is ONNX's z r h
    order = [0, 1, 2, 3] if fault == "gate_order" else KERAS_TO_ONNX
    wb = _blocks(bias, order, 4).copy()
    if fault == "forget_bias_added":
        u = wb.shape[0] // 4
        wb[2 * u : 3 * u] += 1.0  # ONNX's f block
    R = _blocks(recurrent.T, order, 4)
    if fault == "transposed_recurrent":  # each [u, u] gate block of R written as Keras stores it, untransposed
        R = np.concatenate([block.T for block in np.split(R, 4, axis=0)])
    return _blocks(kernel.T, order, 4), R, np.concatenate([wb, np.zeros_like(wb)])


def keras_to_onnx(model, path, masked=(), fault=None):
    """Every LSTM, GRU and Bidirectional layer of the Keras ``model`` as ONNX nodes (``masked``: the names of
    the layers that run under a mask)."""
    nodes = []
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Bidirectional":
            inner, w = layer.forward_layer, layer.get_weights()
            halves = [w[: len(w) // 2], w[len(w) // 2 :]]
        elif kind in ("LSTM", "GRU"):
            inner, halves = layer, [layer.get_weights()]
        else:
            continue
        gru = type(inner).__name__ == "GRU"
        reset_after = gru and bool(getattr(inner, "reset_after", False))
        dirs = [_direction(*half, gru, fault) for half in halves]
        if fault == "directions_swapped":
            dirs = dirs[::-1]
        direction = "bidirectional" if len(dirs) == 2 else ("reverse" if inner.go_backwards else "forward")
        attrs = {"linear_before_reset": int(reset_after and fault != "reset_after")} if gru else {}
        lens = layer.name in masked and fault != "no_sequence_lens"
        if len(dirs) == 2 and fault == "not_reversed":
            for k, d in enumerate(dirs):
                nodes.append((f"{layer.name}_{k}", "GRU" if gru else "LSTM", [d], "forward", attrs, lens, len(nodes)))
            nodes[-1] = nodes[-1][:-1] + (nodes[-2][-1],)  # both read the layer's input
        else:
            nodes.append((layer.name, "GRU" if gru else "LSTM", dirs, direction, attrs, lens, len(nodes)))
    _save(nodes, path)


def npz_to_onnx(npz_path, path, fault=None):
    """An lstm-equiv per-gate .npz (V_g, W_g, b_g, g in i j f o; forget_bias) as one ONNX LSTM node."""
    with np.load(npz_path, allow_pickle=False) as d:
        blocks = {part: [d[f"{part}_{g}"] for g in "iofj"] for part in "VWb"}  # ONNX's i o f c
        forget_bias = float(d["forget_bias"])
    wb = [b.copy() for b in blocks["b"]]
    if fault != "forget_bias_dropped":
        wb[2] = wb[2] + forget_bias
    W = np.concatenate([v.T for v in blocks["V"]])
    R = np.concatenate([w.T for w in blocks["W"]])
    B = np.concatenate(wb + [np.zeros_like(b) for b in wb])
    _save([("npz", "LSTM", [(W, R, B)], "forward", {}, False, 0)], path)


def torch_to_onnx(state_dict: dict, path, fault=None):
    """Every nn.LSTM layer of a PyTorch state_dict (``rnn.weight_ih_l{k}[_reverse]`` ...) as ONNX nodes."""
    nodes, k = [], 0
    while f"rnn.weight_ih_l{k}" in state_dict:
        dirs = []
        for suffix in ("", "_reverse"):
            if f"rnn.weight_ih_l{k}{suffix}" not in state_dict:
                continue
            get = lambda name, k=k, suffix=suffix: np.asarray(state_dict[f"rnn.{name}_l{k}{suffix}"])
            b_ih, b_hh = get("bias_ih"), get("bias_hh")
            wb = b_ih + b_hh if fault == "bias_hh_twice" else b_ih
            dirs.append(
                (
                    _blocks(get("weight_ih"), KERAS_TO_ONNX, 4),
                    _blocks(get("weight_hh"), KERAS_TO_ONNX, 4),
                    np.concatenate([_blocks(wb, KERAS_TO_ONNX, 4), _blocks(b_hh, KERAS_TO_ONNX, 4)]),
                )
            )
        nodes.append((f"rnn_l{k}", "LSTM", dirs, "bidirectional" if len(dirs) == 2 else "forward", {}, False, k))
        k += 1
    _save(nodes, path)


def _save(nodes, path):
    """(name, op, [(W, R, B) per direction], direction, attributes, with sequence_lens, input index) -> a model."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph_nodes, inits, inputs, outputs, seen = [], [], [], [], set()
    lens = any(n[5] for n in nodes)
    if lens:
        inputs.append(helper.make_tensor_value_info("lens", TensorProto.INT32, ["batch"]))
    for name, op, dirs, direction, attrs, with_lens, source in nodes:
        W = np.stack([d[0] for d in dirs]).astype(np.float32)
        R = np.stack([d[1] for d in dirs]).astype(np.float32)
        B = np.stack([d[2] for d in dirs]).astype(np.float32)
        units = R.shape[2]
        x = f"x{source}"
        if x not in seen:
            seen.add(x)
            inputs.append(helper.make_tensor_value_info(x, TensorProto.FLOAT, ["T", "batch", W.shape[2]]))
        inits += [numpy_helper.from_array(a, f"{name}_{part}") for part, a in (("W", W), ("R", R), ("B", B))]
        node_inputs = [x, f"{name}_W", f"{name}_R", f"{name}_B"] + (["lens"] if with_lens else [])
        outs = [f"{name}_Y", f"{name}_Yh"] + ([f"{name}_Yc"] if op == "LSTM" else [])
        graph_nodes.append(
            helper.make_node(op, node_inputs, outs, name=name, hidden_size=units, direction=direction, **attrs)
        )
        outputs.append(helper.make_tensor_value_info(outs[0], TensorProto.FLOAT, None))
    for k, (a, b) in enumerate(zip(nodes, nodes[1:])):  # two nodes on one input: a bidirectional layer's halves
        if a[6] == b[6]:
            graph_nodes.append(helper.make_node("Concat", [f"{a[0]}_Y", f"{b[0]}_Y"], [f"joined{k}"], axis=1))
            outputs.append(helper.make_tensor_value_info(f"joined{k}", TensorProto.FLOAT, None))
    model = helper.make_model(
        helper.make_graph(graph_nodes, "converted", inputs, outputs, inits),
        opset_imports=[helper.make_opsetid("", 14)],
    )
    onnx.save(model, str(path))
