"""ONNX files: a layer's weights written as a model with one LSTM or GRU node, and the written model run by
onnxruntime (lstm-equiv convert --to onnx); a whole Keras model's recurrent chain written as one graph
(harness/stack.py); and the LSTM and GRU nodes of any ONNX model read per gate (lstm-equiv check).

Over 400 lines, on purpose: reading ONNX files users did not write (every tensor's shape checked against
the node's attributes, external data never followed, a node run alone) is most of it."""

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


# ---------------------------------------------------------------------------------------------- reading (check)

DEFAULT_ACTIVATIONS = {"LSTM": ("Sigmoid", "Tanh", "Tanh"), "GRU": ("Sigmoid", "Tanh")}
"""The ONNX operators' default activations (f, g, h of the LSTM; f, g of the GRU), per direction."""


def _model(path):
    """The ONNX model at ``path``, its size checked first, external data never followed (a file name inside the
    model is not a path lstm-equiv opens)."""
    import onnx

    from lstm_equiv.harness import safeio
    from lstm_equiv.harness.check import CheckError

    try:
        data = safeio.read_bytes(path, "model file")
        return onnx.load_from_string(data)
    except safeio.InputError as err:
        raise CheckError(str(err)) from None
    except Exception as err:  # noqa: BLE001  protobuf's DecodeError says why
        raise CheckError(f"{path}: not an ONNX model protobuf can read ({type(err).__name__}: {err})") from None


def _constants(path, model) -> dict:
    """Every initializer and Constant node output of the main graph, by name, as arrays."""
    from onnx import numpy_helper

    from lstm_equiv.harness.check import CheckError

    out = {}
    tensors = [(t.name, t) for t in model.graph.initializer]
    tensors += [
        (n.output[0], a.t)
        for n in model.graph.node
        if n.op_type == "Constant"
        for a in n.attribute
        if a.name == "value"
    ]
    for name, t in tensors:
        if t.data_location == 1:  # onnx.TensorProto.EXTERNAL
            raise CheckError(
                f"{path}: tensor {name} is stored in an external file: not followed (load the model and save it whole)"
            )
        out[name] = numpy_helper.to_array(t)
    return out


def _attributes(node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def read_layers(path) -> tuple:
    """(the file in words, every LSTM and GRU node of its main graph, as harness.check.Layer). Two one-way
    nodes that read the same input and whose outputs are joined are read as one bidirectional layer."""
    from lstm_equiv.harness.check import CheckError

    model = _model(path)
    consts = _constants(path, model)
    nodes = [n for n in model.graph.node if n.op_type in ("LSTM", "GRU")]
    if not nodes:
        loops = sorted({n.op_type for n in model.graph.node if n.op_type in ("Loop", "Scan")})
        raise CheckError(
            f"{path}: its graph holds no LSTM or GRU node"
            + (f" (its recurrence is a {'/'.join(loops)} of smaller operators: not read as a layer)" if loops else "")
        )
    groups, seen = [], set()
    one_way = lambda n: _attributes(n).get("direction", b"forward") != b"bidirectional"
    for node in nodes:
        if id(node) in seen:
            continue
        mate = [
            m
            for m in nodes
            if m is not node
            and id(m) not in seen
            and (m.input[0], m.op_type) == (node.input[0], node.op_type)
            and one_way(m)
            and one_way(node)
            and _joined(model.graph, node.output[0], m.output[0])
        ]
        group = [node] + mate[:1]
        seen.update(id(n) for n in group)
        groups.append(group)
    return f"{path} (ONNX, opset {max((o.version for o in model.opset_import), default='?')})", [
        _onnx_layer(path, consts, group) for group in groups
    ]


def _joined(graph, y1: str, y2: str) -> bool:
    """Whether the two outputs meet in one node, directly or each through one single-input node (a Squeeze or
    a Transpose before the Concat, as exporters write a bidirectional layer's halves)."""

    def reach(name: str) -> set:
        first = [n for n in graph.node if name in n.input]
        out = {id(n) for n in first}
        for n in first:
            if len([i for i in n.input if i]) == 1:
                out |= {id(m) for m in graph.node if set(n.output) & set(m.input)}
        return out

    return bool(reach(y1) & reach(y2))


def _direction_cells(path, consts, node, attrs) -> list:
    """Per direction of ``node``: its per-gate params and its stored biases apart."""
    from lstm_equiv.harness.check import CheckError

    def const(k, what):
        name = node.input[k] if len(node.input) > k else ""
        if not name:
            return None
        if name not in consts:
            raise CheckError(
                f"{path}: node {node.name or node.output[0]}: {what} ({name}) is computed in the graph, not "
                "stored: not read"
            )
        return np.asarray(consts[name])

    W, R, B = const(1, "W"), const(2, "R"), const(3, "B")
    for k, what in ((5, "initial_h"), (6, "initial_c")):
        value = const(k, what) if len(node.input) > k and node.input[k] in consts else None
        if value is not None and np.any(value):
            raise CheckError(f"{path}: node {node.name}: a stored non-zero {what}: not read")
    if len(node.input) > 7 and node.input[7]:
        raise CheckError(f"{path}: node {node.name}: peepholes (P): not read by check yet")
    n = int(attrs.get("hidden_size", 0))
    gates = 4 if node.op_type == "LSTM" else 3
    dirs = 2 if attrs.get("direction", b"forward") == b"bidirectional" else 1
    n_in = W.shape[-1] if W is not None and W.ndim == 3 else None
    for what, value, shape in (
        ("W", W, (dirs, gates * n, n_in)),
        ("R", R, (dirs, gates * n, n)),
        ("B", B, (dirs, 2 * gates * n)),
    ):
        if (value is not None or what != "B") and (value is None or tuple(value.shape) != shape):
            raise CheckError(
                f"{path}: node {node.name or node.output[0]}: {what} has shape "
                f"{None if value is None else list(value.shape)}, but hidden_size {n} and {dirs} direction(s) of "
                f"{node.op_type} need {list(shape)}"
            )
    cells, biases = [], []
    for d in range(W.shape[0]):
        b = B[d] if B is not None else np.zeros(2 * gates * n, W.dtype)
        named = {"W": W[d], "R": R[d], "Wb": b[: gates * n], "Rb": b[gates * n :]}
        if gates == 3:
            cells.append(layouts.ONNX_GRU.split(named, W.shape[2], bool(attrs.get("linear_before_reset", 0))))
            biases.append({})
        else:
            from dataclasses import replace

            cells.append(layouts.ONNX.split(named, W.shape[2], forget_bias=0.0))
            biases.append({k: replace(layouts.ONNX, biases=(k,)).split(named, W.shape[2], 0.0).b for k in ("Wb", "Rb")})
    return cells, biases


def _onnx_layer(path, consts, group):
    from lstm_equiv.harness.check import CheckError, Layer

    cells, biases, reversed_flags, about = [], [], [], []
    for node in group:
        attrs = _attributes(node)
        op = node.op_type
        acts = tuple(a.decode() if isinstance(a, bytes) else a for a in attrs.get("activations", ()))
        direction = attrs.get("direction", b"forward").decode()
        per = 2 if direction == "bidirectional" else 1
        if acts and acts != DEFAULT_ACTIVATIONS[op] * per:
            raise CheckError(f"{path}: node {node.name}: activations {list(acts)}: check reads the default ones only")
        for key in ("clip", "input_forget"):
            if attrs.get(key):
                raise CheckError(f"{path}: node {node.name}: {key}={attrs[key]}: not read by check yet")
        if attrs.get("layout", 0):
            raise CheckError(f"{path}: node {node.name}: layout=1 (batch first): not read by check yet")
        c, b = _direction_cells(path, consts, node, attrs)
        cells += c
        biases += b
        reversed_flags += [False, True] if per == 2 else [direction == "reverse"]
        about.append(f"{op} node {node.name or node.output[0]!r} direction {direction}")
    gru = group[0].op_type == "GRU"
    reset_after = bool(_attributes(group[0]).get("linear_before_reset", 0)) if gru else None
    seq_lens = [n.input[4] for n in group if len(n.input) > 4 and n.input[4]]
    if len(cells) > 2:
        raise CheckError(f"{path}: nodes {about}: more than two directions")
    two_nodes = len(group) == 2
    if len(cells) == 2 and reversed_flags[0]:
        raise CheckError(f"{path}: {about}: the first direction runs backwards: not read")
    found = (
        " + ".join(about)
        + (
            f": W [{len(cells)}, {(3 if gru else 4) * cells[0].num_units}, {cells[0].input_depth}], row blocks "
            f"{'z r h' if gru else 'i o f c'}, B = [Wb, Rb] added"
        )
        + (f", linear_before_reset={int(reset_after)}" if gru else ", forget bias stored in the f blocks")
        + (
            "; the second node's direction is forward: its half does NOT run backwards"
            if two_nodes and not reversed_flags[1]
            else ""
        )
    )
    semantics = {"reset_after": reset_after} if gru else {"forget_bias": 0.0}
    nodes = [(node, consts) for node in group]
    fed = sorted(
        {n.input[k] for n in group for k in (5, 6) if len(n.input) > k and n.input[k] and n.input[k] not in consts}
    )
    notes = (
        [f"initial states {fed} are fed by the graph (inputs or computed): checked from zeros, as at a first call"]
        if fed
        else []
    )

    def run(x, lengths=None):
        outs, hs, cs = [], [], []
        for node, _ in nodes:
            got = _run_node(node, consts, x, lengths)
            outs.append(got[0])
            hs.append(got[1])
            cs.append(got[2])
        h = np.concatenate(hs)
        return np.concatenate(outs, axis=-1), h, None if gru else np.concatenate(cs)

    layer = Layer(
        str(group[0].name or group[0].output[0]),
        "gru" if gru else "lstm",
        tuple(cells),
        semantics,
        found,
        go_backwards=len(cells) == 1 and reversed_flags[0],
        merge_mode="none" if len(cells) == 2 else None,
        lengths=f"sequence_lens input {seq_lens[0]!r}" if seq_lens else None,
        run=run,
        runner=f"onnxruntime {_ort_version()} running the node{'s' if two_nodes else ''} alone",
        stored_biases=tuple(biases),
        backward_reversed=not two_nodes or reversed_flags[1],
        notes=notes,
    )
    return layer


def _ort_version() -> str:
    import onnxruntime

    return onnxruntime.__version__


def _run_node(node, consts, x, lengths) -> tuple:
    """One LSTM or GRU node alone, with its stored tensors, on ``x`` [batch, T, in] (and ``lengths`` where the
    node has a sequence_lens input): canonical (outputs [batch, T, dirs * u], h, c)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from lstm_equiv.harness.forms.onnx.lstm import run_model

    inputs = list(node.input) + [""] * (8 - len(node.input))
    feeds_names = ["x"]
    new_inputs = ["x"]
    init = []
    for k, name in enumerate(inputs[1:], start=1):
        if not name:
            new_inputs.append("")
        elif k == 4:
            new_inputs.append("lens")
            feeds_names.append("lens")
        elif name in consts:
            init.append(numpy_helper.from_array(np.asarray(consts[name]), f"c{k}"))
            new_inputs.append(f"c{k}")
        else:  # an initial state fed by the graph: zeros
            new_inputs.append("")
    while new_inputs and not new_inputs[-1]:
        new_inputs.pop()
    attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    outs = ["y", "y_h"] + (["y_c"] if node.op_type == "LSTM" else [])
    copy = helper.make_node(node.op_type, new_inputs, outs, **attrs)
    dirs = 2 if attrs.get("direction", b"forward") == b"bidirectional" else 1
    n = int(attrs["hidden_size"])
    graph_inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["T", "batch", x.shape[2]])]
    if "lens" in feeds_names:
        graph_inputs.append(helper.make_tensor_value_info("lens", TensorProto.INT32, ["batch"]))
    graph_outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["T", dirs, "batch", n])]
    graph_outputs += [helper.make_tensor_value_info(o, TensorProto.FLOAT, [dirs, "batch", n]) for o in outs[1:]]
    graph = helper.make_graph([copy], "node", graph_inputs, graph_outputs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = min(model.ir_version, 8)
    onnx.checker.check_model(model)
    batch, steps = x.shape[0], x.shape[1]
    feeds = {}
    if "lens" in feeds_names:
        lens = np.full(batch, steps, np.int32) if lengths is None else np.asarray(lengths, np.int32)
        feeds["lens"] = lens
    got = run_model(model, np.ascontiguousarray(np.asarray(x, np.float32).transpose(1, 0, 2)), **feeds)
    y = got["y"].transpose(2, 0, 1, 3).reshape(batch, steps, dirs * n)
    return y, got["y_h"], got.get("y_c")


# ---------------------------------------------------------------------------------------------- whole models


def stack_model(stack):
    """The recurrent chain of ``stack`` (harness.stack.Stack) as one ONNX graph (see harness/stack.py)."""
    from onnx import TensorProto, helper, numpy_helper

    from lstm_equiv.harness.forms.onnx import node_inputs
    from lstm_equiv.harness.forms.onnx.lstm import _merged, attributes, finish_model, per_direction

    init, nodes = [], [helper.make_node("Transpose", ["x"], ["X0"], perm=[1, 0, 2])]
    first = stack.layers[0]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "timesteps", first.input_depth])]
    if stack.masked:
        inputs.append(helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, ["batch"]))
    outputs = [helper.make_tensor_value_info("outputs", TensorProto.FLOAT, None)]
    const = lambda name, a: init.append(numpy_helper.from_array(np.asarray(a), name))
    const("axis0", np.array([0], np.int64))
    const("axis1", np.array([1], np.int64))
    const("merged_shape", np.array([0, 0, -1], np.int64))
    const("flip", np.array([-1], np.int64))
    const("flip_end", np.array([np.iinfo(np.int64).min], np.int64))
    const("last_shape", np.array([0, -1], np.int64))
    current = "X0"
    for k, lay in enumerate(stack.layers):
        op, per = lay.cell.upper(), lay.directions
        if op == "GRU":
            tensors = [layouts.ONNX_GRU.compose(p.astype("float32")) for p in lay.cells]
            attrs = {"linear_before_reset": int(bool(lay.semantics["reset_after"]))}
        else:
            tensors = [layouts.ONNX.compose(p.astype("float32"), lay.semantics["forget_bias"]) for p in lay.cells]
            attrs = per_direction(attributes(lay.semantics), per)
        for name, value in node_inputs(tensors, ("Wb", "Rb")).items():
            const(f"{name}_{k}", np.asarray(value, np.float32))
        direction = "bidirectional" if per == 2 else ("reverse" if lay.go_backwards else "forward")
        ins = [current, f"W_{k}", f"R_{k}", f"B_{k}", "sequence_lens" if lay.masked_by else ""]
        outs = [f"Y_{k}", f"Y_h_{k}"] + ([f"Y_c_{k}"] if op == "LSTM" else [])
        if lay.stateful:  # the state it carries between calls: graph inputs in, final states out
            names = ["h"] + (["c"] if op == "LSTM" else [])
            ins += [f"{name}0_{lay.name}" for name in names]
            for name in names:
                inputs.append(
                    helper.make_tensor_value_info(f"{name}0_{lay.name}", TensorProto.FLOAT, [per, "batch", lay.units])
                )
                nodes.append(helper.make_node("Identity", [f"Y_{name}_{k}"], [f"{name}_{lay.name}"]))
                outputs.append(helper.make_tensor_value_info(f"{name}_{lay.name}", TensorProto.FLOAT, None))
        while ins[-1] == "":
            ins.pop()
        nodes.append(
            helper.make_node(op, ins, outs, name=lay.name, hidden_size=lay.units, direction=direction, **attrs)
        )
        if lay.sequences:
            merged = f"M_{k}" if lay.go_backwards else f"X{k + 1}"
            nodes += _merged(helper, f"Y_{k}", merged, per, lay.merge_mode)
            if lay.go_backwards:  # Keras passes a go_backwards sequence on in the order it processed it
                nodes.append(helper.make_node("Slice", [merged, "flip", "flip_end", "axis0", "flip"], [f"X{k + 1}"]))
            current = f"X{k + 1}"
        else:  # the last output: h of each direction, merged: Y_h [dirs, batch, u] -> [batch, width]
            y_h = f"Y_h_{k}"
            if per == 1:
                nodes.append(helper.make_node("Squeeze", [y_h, "axis0"], ["outputs"]))
            elif lay.merge_mode == "concat":
                nodes += [
                    helper.make_node("Transpose", [y_h], [f"{y_h}_b"], perm=[1, 0, 2]),
                    helper.make_node("Reshape", [f"{y_h}_b", "last_shape"], ["outputs"]),
                ]
            elif lay.merge_mode == "sum":
                nodes.append(helper.make_node("ReduceSum", [y_h, "axis0"], ["outputs"], keepdims=0))
            else:
                op_ = {"ave": "ReduceMean", "mul": "ReduceProd"}[lay.merge_mode]
                nodes.append(helper.make_node(op_, [y_h], ["outputs"], axes=[0], keepdims=0))
            current = None
    if current is not None:
        nodes.append(helper.make_node("Transpose", [current], ["outputs"], perm=[1, 0, 2]))
    return finish_model("lstm_equiv_stack", nodes, inputs, outputs, init, "float32")


def write_stack(stack, out) -> list:
    """Write the chain of ``stack`` as one ONNX graph into ``out``; lines that tell how to run it."""
    import onnx

    onnx.save(stack_model(stack), str(out))
    last = stack.layers[-1]
    shape = "[batch, timesteps, width]" if last.sequences else "[batch, width]"
    return [
        f"onnxruntime.InferenceSession({str(out)!r}).run(None, {{'x': x"
        + (", 'sequence_lens': lengths (int32)" if stack.masked else "")
        + f"}}): x [batch, timesteps, {stack.layers[0].input_depth}] float32 (the output of the layers before "
        f"{stack.layers[0].name}) -> outputs {shape}, what {last.name} passes on",
        "one node per layer: " + ", ".join(f"{lay.name} ({lay.cell.upper()})" for lay in stack.layers),
    ] + [
        f"stateful {lay.name}: feed h0_{lay.name}"
        + ("" if lay.cell == "gru" else f", c0_{lay.name}")
        + f" [{lay.directions}, batch, {lay.units}] (zeros at first) and pass its outputs h_{lay.name}"
        + ("" if lay.cell == "gru" else f", c_{lay.name}")
        + " back in at the next call"
        for lay in stack.layers
        if lay.stateful
    ]


def run_stack(out, stack, x, lengths, states=None) -> np.ndarray:
    """The written graph, loaded back, run by onnxruntime on ``x`` (and ``lengths``, and each stateful layer's
    initial ``states`` by name)."""
    import onnx

    from lstm_equiv.harness.forms.onnx.lstm import run_model

    feeds = (
        {}
        if not stack.masked
        else {"sequence_lens": np.asarray(lengths if lengths is not None else [x.shape[1]] * x.shape[0], np.int32)}
    )
    for lay in stack.layers:
        if lay.stateful:
            h0, c0 = (states or {})[lay.name]
            feeds[f"h0_{lay.name}"] = np.asarray(h0, np.float32)
            if c0 is not None:
                feeds[f"c0_{lay.name}"] = np.asarray(c0, np.float32)
    return run_model(onnx.load(str(out)), np.asarray(x, np.float32), **feeds)["outputs"]
