"""``lstm-equiv explain``: where every number of a form's fused weights comes from.

For each form: which rows of the kernel multiply x and which multiply h, which columns hold which gate,
where the forget bias lives, the per-gate shapes, and the equations. Everything is read from the layouts
(harness/layouts.py), the same data the harness reads TF's weights back with.
"""

from __future__ import annotations

from types import SimpleNamespace

from lstm_equiv.harness import layouts
from lstm_equiv.harness.cells import CELLS
from lstm_equiv.harness.forms import ANY, FORMS, LSTM_FORMS
from lstm_equiv.harness.spec import DEFAULTS

_GATE_WORDS = {"i": "input gate", "j": "block input (candidate)", "f": "forget gate", "o": "output gate"}
_KERAS_NAMES = {"i": "i", "f": "f", "j": "c", "o": "o"}
_FUSED_NAMES = {"i": "i", "f": "f", "j": "ci", "o": "o"}
_TORCH_NAMES = {"i": "i", "f": "f", "j": "g", "o": "o"}


def _own_name(layout, gate) -> str:
    """The gate's letter in the form's own source."""
    if layout in (layouts.KERAS, layouts.BLOCK_LSTM_V2, layouts.ONNX):
        return _KERAS_NAMES[gate]
    if layout is layouts.BLOCK_LSTM:
        return _FUSED_NAMES[gate]
    if layout in (layouts.TORCH, layouts.TORCH_CELL):
        return _TORCH_NAMES[gate]
    return gate


def explain(form_name: str, input_depth: int, num_units: int, num_proj=None) -> list:
    """The explanation of one form for these sizes, as lines."""
    form = FORMS[form_name]
    layout = form.layout
    h_depth = num_proj or num_units
    shapes = layout.shapes(input_depth, num_units, num_proj)
    lines = [f"{form_name}: {form.about}", f"  layout {layout.name}: {layout.about}"]
    for name, shape in shapes.items():
        lines.append(f"  {name:18} {list(shape)}")
    x, h = layout.x_name, layout.h_name
    if layout.kernel == layouts.STACKED:
        lines.append(
            f"  {x} rows 0:{input_depth} multiply x_t (input_depth {input_depth}); rows "
            f"{input_depth}:{input_depth + h_depth} multiply h_(t-1) (h_depth {h_depth}): "
            f"one matmul of concat([x_t, h_(t-1)]) with [{input_depth} + {h_depth}, 4 x {num_units}]"
        )
    elif layout.transposed:
        lines.append(
            f"  {x} multiplies x_t, {h} multiplies h_(t-1), both stored [out, in] (the transpose of "
            f"Keras's): x_t @ {x}.T with [4 x {num_units}, {input_depth}] and h_(t-1) @ {h}.T with "
            f"[4 x {num_units}, {h_depth}]"
        )
    else:
        lines.append(
            f"  {x} multiplies x_t, {h} multiplies h_(t-1): two matmuls, "
            f"[{input_depth}, 4 x {num_units}] and [{h_depth}, 4 x {num_units}]"
        )
    if len(layout.biases) == 2:
        lines.append(
            f"  {layout.biases[0]} + {layout.biases[1]}: two bias vectors, simply added; a converter may "
            f"put the whole bias in either (lstm-equiv's checks fill both with distinct random shares)"
        )
    if layout is layouts.ONNX:
        lines.append(
            f"  in the model: W = {x}[None], R = {h}[None], B = concat([Wb, Rb])[None] [1, 8 x {num_units}], "
            "P = concat([P_i, P_o, P_f])[None] (the leading axis is num_directions); mind the names: "
            "ONNX's W holds "
            "the per-gate V below, its R the per-gate W"
        )
    lines.append(
        f"  {'rows' if layout.transposed else 'columns'} (4 gate blocks of num_units each, "
        f"{'top to bottom' if layout.transposed else 'left to right'}):"
    )
    for gate in layout.gate_order:
        cols = layout.column_block(gate, num_units)
        lines.append(f"    {cols.start:5}:{cols.stop:<5} {gate} = {_own_name(layout, gate):2} {_GATE_WORDS[gate]}")
    if layout.forget_bias == layouts.RUNTIME:
        lines.append("  forget bias: added to f's pre-activation at run time, never stored in the bias")
    else:
        lines.append(
            f"  forget bias: stored, inside {layout.where('b', 'f', input_depth, num_units)} (the f block): "
            f"BasicLSTMCell's b[f] + forget_bias"
        )
    lines.append(
        f"  per gate g in i j f o: V[g] [{input_depth}, {num_units}]  W[g] [{h_depth}, {num_units}]  "
        f"b[g] [{num_units}]" + (f"  projection [{num_units}, {num_proj}]" if num_proj else "")
    )
    lines += sequences(form)
    lines += [
        "  equations:",
        "    i = sigmoid(x_t V[i] + h W[i] + b[i]);  f = sigmoid(x_t V[f] + h W[f] + b[f] + forget_bias)",
        "    j = tanh(x_t V[j] + h W[j] + b[j]);     o = sigmoid(x_t V[o] + h W[o] + b[o])",
        "    c = f * c + i * j;  h = o * tanh(c)" + ("  then h = h @ projection" if num_proj else ""),
    ]
    return lines


def _as_case(**keys):
    """A stand-in case with only the sequence keys set, to ask a form what it computes for them."""
    base = dict(layers=1, bidirectional=None, go_backwards=False, sequence_lengths=None, stateful_chunks=None)
    return SimpleNamespace(**{**base, **keys})


def sequences(form) -> list:
    """Which sequence keys the form takes and what it computes for each: the time order of a reversed
    layer's outputs, what a padded step emits, how chunks and stacks are run (from the form's own
    answers to the reference's keywords, the data the checks use)."""
    takes = [k for k in _SEQUENCE_KEYS if not form.cannot_express({**DEFAULTS, k: _EXAMPLE[k]})]
    lines = ["  sequences (case keys): " + (", ".join(takes) if takes else "none: one layer, one direction, full rows")]
    if "go_backwards" in takes:
        order = form.sequence(_as_case(go_backwards=True)).get("outputs_order", "processing")
        lines.append(
            "    go_backwards: the outputs come back "
            + (
                "in time order (output t is h at timestep t, computed from t = T-1 down)"
                if order == "time"
                else "last timestep first, in the order they were computed (outputs[:, 0] is h after timestep T-1)"
            )
        )
    if "bidirectional" in takes:
        modes = form.options["bidirectional"]
        lines.append(
            f"    bidirectional: merge {'concat, sum, mul, ave, none' if modes == ANY else ', '.join(modes)}; "
            "the backward cell's outputs in time order; weights per cell: " + form.stacking
        )
    if "sequence_lengths" in takes:
        rule = {"zero": "zeros", "carry": "the last output it emitted again, zeros before its first"}
        one, two = form.padded_rule(_as_case()), form.padded_rule(_as_case(bidirectional="concat"))
        lines.append(
            f"    past a row's length it emits {rule[one]}"
            + (f" ({rule[two]} in a bidirectional layer)" if two != one else "")
            + "; the state stays as it was"
        )
        clash = form.cannot_combine({**DEFAULTS, "go_backwards": True, "sequence_lengths": (2, 1)})
        if "go_backwards" in takes and clash:
            lines.append(f"    not go_backwards with sequence_lengths: {clash[0][1].removeprefix('cannot express ')}")
    if "stateful_chunks" in takes:
        truncated = "chunks" in form.gradient_semantics(_as_case(stateful_chunks=2))
        lines.append(
            "    stateful_chunks: "
            + (
                "a stateful layer: the state is carried in variables, so the gradient stops at every chunk's start"
                if truncated
                else "the state carried by hand from chunk to chunk: the gradient flows through the whole sequence"
            )
        )
    if "layers" in takes and "bidirectional" not in takes:
        lines.append("    layers: weights per cell: " + form.stacking)
    return lines


_SEQUENCE_KEYS = ("go_backwards", "bidirectional", "sequence_lengths", "initial_state", "stateful_chunks", "layers")
_EXAMPLE = {
    "go_backwards": True,
    "bidirectional": "concat",
    "sequence_lengths": (2, 1),
    "initial_state": "random",
    "stateful_chunks": 2,
    "layers": 2,
}


def main(input_depth: int, num_units: int, form=None, num_proj=None, out=print) -> int:
    """Print the explanation of ``form`` (default: every form that can express ``num_proj``)."""
    names = [form] if form else [n for n in sorted(LSTM_FORMS) if not num_proj or FORMS[n].options.get("num_proj")]
    for k, name in enumerate(names):
        if k:
            out("")
        for line in explain(name, input_depth, num_units, num_proj):
            out(line)
    return 0


def draw(form_name: str, input_depth: int, num_units: int, num_proj, path) -> dict:
    """Draw the real kernel of ``form_name``, extracted from TF after injecting seeded per-gate weights,
    with the x/h row bands and the gate column bands marked. Needs matplotlib. Returns the panels drawn."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from lstm_equiv.harness import casefile, engine

    text = (
        f"name: explain\ninput_depth: {input_depth}\nnum_units: {num_units}\ntimesteps: 2\nbatch: 1\nseed: 0\n"
        f"dtypes: [float32]\nforms: [{form_name}]\nchecks: [forward]\n"
        + (f"num_proj: {num_proj}\n" if num_proj else "")
    )
    (case,) = casefile.parse("<explain>", text.encode())
    run = engine.read(case, form_name, "float32")
    if run.error or run.skip:
        raise RuntimeError(run.error or run.skip)
    layout, h_depth = FORMS[form_name].layout, num_proj or num_units
    panels = {"kernel": run.form_out.tensors[layout.x_name]}
    if layout.kernel == layouts.SPLIT:
        panels["recurrent_kernel"] = run.form_out.tensors[layout.h_name]
    if layout.transposed:  # drawn as the others: gates along the columns
        panels = {name: m.T for name, m in panels.items()}
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 2.5 + 3 * len(panels)), squeeze=False)
    for ax, (name, matrix) in zip(axes[:, 0], panels.items()):
        ax.imshow(matrix, aspect="auto", cmap="coolwarm", interpolation="nearest")
        how = "(stored transposed; drawn with gates as columns)" if layout.transposed else "as the framework holds it"
        ax.set_title(f"{form_name}: {name} {list(matrix.shape)} {how}")
        for gate in layout.gate_order:
            cols = layout.column_block(gate, num_units)
            ax.axvline(cols.start - 0.5, color="k", linewidth=1)
            ax.text(
                (cols.start + cols.stop) / 2,
                -0.02,
                f"{gate} ({_own_name(layout, gate)})",
                transform=ax.get_xaxis_transform(),
                ha="center",
                va="top",
                fontsize=9,
            )
        if name == "kernel" and layout.kernel == layouts.STACKED:
            ax.axhline(input_depth - 0.5, color="k", linewidth=2)
            ax.set_yticks(
                [(input_depth - 1) / 2, input_depth + (h_depth - 1) / 2],
                [f"x rows 0:{input_depth}", f"h rows {input_depth}:{input_depth + h_depth}"],
            )
        else:
            ax.set_yticks([(matrix.shape[0] - 1) / 2], ["x rows" if name == "kernel" else "h rows"])
        ax.set_xticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return {name: m.shape for name, m in panels.items()}


def explain_blocks(form_name: str, input_depth: int, num_units: int) -> list:
    """Where one form of a cell of per-gate blocks (the GRU, the plain RNN) keeps each gate, for these sizes,
    in every reset position it computes (read from its layouts, the data the harness reads its weights
    back with; the words and equations are its cell's, harness.cells)."""
    form = FORMS[form_name]
    cell = CELLS[form.cell]
    words = dict(cell.words)
    lines = [f"{form_name}: {form.about}"]
    for reset_after in form.reset_after_values:
        layout = form.layout_for(SimpleNamespace(reset_after=reset_after))
        where = f"reset {'after' if reset_after else 'before'} the recurrent product: " if cell.name == "gru" else ""
        lines.append(f"  {where}layout {layout.name}: {layout.about}")
        for name, shape in layout.shapes(input_depth, num_units).items():
            lines.append(f"    {name:18} {list(shape)}")
        for t in layout.tensors:
            blocks = ", ".join(
                f"{k * num_units}:{(k + 1) * num_units} {g} = {layout.own(g)} ({words[g]})"
                for k, g in enumerate(t.gates)
            )
            what = {
                "x": "multiplies x_t",
                "h": "multiplies h_(t-1)",
                "b": "input bias",
                "b_h": "recurrent bias (inside the reset for the candidate when the reset comes after)"
                if cell.name == "gru"
                else "recurrent bias (added to the input bias)",
                "xh": f"rows 0:{input_depth} multiply x_t, rows {input_depth}:{input_depth + num_units} "
                + ("r * h_(t-1)" if cell.name == "gru" and "c" in t.gates else "h_(t-1)"),
            }[t.holds]
            name = t.name if t.row is None else f"{t.name}[{t.row}]"
            axis = "rows" if layout.transposed and t.holds not in ("b", "b_h") else "columns"
            lines.append(f"    {name}: {what}; {axis} {blocks}")
    two = any(form.layout_for(SimpleNamespace(reset_after=r)).two_biases for r in form.reset_after_values)
    lines += [
        f"  per gate g in {' '.join(cell.gates)}: V[g] [{input_depth}, {num_units}]  W[g] [{num_units}, {num_units}]  "
        f"b[g] [{num_units}]" + (f"  b_h[g] [{num_units}]" if two else ""),
        "  equations:",
        *(f"    {line}" for line in cell.equations),
    ]
    return lines


def main_blocks(cell: str, input_depth: int, num_units: int, form=None, out=print) -> int:
    """Print the explanation of one form of ``cell``, or of every one."""
    for k, name in enumerate([form] if form else sorted(n for n, f in FORMS.items() if f.cell == cell)):
        if k:
            out("")
        for line in explain_blocks(name, input_depth, num_units):
            out(line)
    return 0
