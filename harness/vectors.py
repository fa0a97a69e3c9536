"""``lstm-equiv vectors DIR``: test vectors for other projects' converters and LSTM code.

For two cases — ``plain`` (input_depth 3, num_units 4) and ``square`` (input_depth == num_units == 4, where a
missing transpose keeps every shape and only the values can tell) — and for every layout (TF1's kernel,
Keras, the fused ops, PyTorch, ONNX, and lstm-equiv's per-gate .npz), one ``.npz`` with the tensors exactly
as that framework stores them, the input ``x`` and the per-gate float64 reference's expected ``outputs``,
``h`` and ``c``; and ``vectors.json`` describing every file. The weights are random, seeded and different
for every gate; the forget bias is 1.0 (a run-time attribute where the layout has one, folded into the f
block where it has not); PyTorch's and ONNX's two biases hold distinct, non-zero shares, so that dropping
either one is caught; x is random, not symmetric.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lstm_equiv.harness import casefile, layouts, npz, safeio, sensitivity, tolerances
from lstm_equiv.harness.inputs import make_inputs
from lstm_equiv.reference import lstm_forward

CASES = {
    "plain": dict(input_depth=3, num_units=4, timesteps=5, batch=2, seed=2024),
    "square": dict(input_depth=4, num_units=4, timesteps=5, batch=2, seed=2025),
}
FORGET_BIAS = 1.0
DTYPE = "float32"
LAYOUTS = {
    "tf1_basic_lstm_cell": (layouts.BASIC_LSTM_CELL, "tf.compat.v1.nn.rnn_cell.BasicLSTMCell / LSTMCell variables"),
    "keras": (layouts.KERAS, "keras.layers.LSTM cell.kernel, cell.recurrent_kernel, cell.bias"),
    "block_lstm": (layouts.BLOCK_LSTM, "tf.raw_ops.LSTMBlockCell / BlockLSTM arguments w, b (forget_bias attribute)"),
    "block_lstm_v2": (layouts.BLOCK_LSTM_V2, "tf.raw_ops.BlockLSTMV2 arguments w, b"),
    "torch": (layouts.TORCH, "torch.nn.LSTM(batch_first=True).state_dict()"),
    "onnx": (layouts.ONNX, "ONNX LSTM inputs W, R, B (num_directions 1)"),
}


def _stored(layout, tensors: dict) -> dict:
    """The tensors as the framework holds them (ONNX packs W, R, B with a leading num_directions axis)."""
    if layout is not layouts.ONNX:
        return tensors
    from lstm_equiv.harness.forms.onnx import node_inputs

    return node_inputs([tensors], layout.biases)


def write(target, force: bool = False) -> dict:
    """Write every vector file into the folder ``target`` (new or empty, or with ``force`` one of vectors
    lstm-equiv wrote before, replaced whole: harness/safeio.py); the description that goes to vectors.json."""
    with safeio.publishing_folder(target, "vectors", force) as folder:
        return _write(folder)


def _write(folder: Path) -> dict:
    """The vector files, into the folder ``folder``."""
    description = {
        "about": __doc__.split("\n\n")[1].replace("\n", " "),
        "dtype": DTYPE,
        "forget_bias": FORGET_BIAS,
        "equations": "i = sigmoid(x V_i + h W_i + b_i); j = tanh(x V_j + h W_j + b_j); "
        "f = sigmoid(x V_f + h W_f + b_f + forget_bias); o = sigmoid(x V_o + h W_o + b_o); "
        "c = f * c + i * j; h = o * tanh(c); h0 = c0 = 0",
        "files": [],
    }
    for case_name, sizes in CASES.items():
        text = "".join(
            f"{k}: {v}\n" for k, v in {"name": f"vectors_{case_name}", **sizes, "forget_bias": FORGET_BIAS}.items()
        )
        (case,) = casefile.parse(f"<vectors {case_name}>", text.encode())
        inputs = make_inputs(case, DTYPE)
        x64, p64 = inputs.x.astype(np.float64), inputs.params.astype(np.float64)
        outputs, (h, c) = lstm_forward(x64, p64, forget_bias=FORGET_BIAS)
        spread = sensitivity.spread(inputs.x, inputs.params, {"forget_bias": FORGET_BIAS}, DTYPE, case.seed)
        bound = tolerances.derived(spread.outputs, outputs, DTYPE, "outputs").largest
        expected = {"x": inputs.x, "outputs": outputs, "h": h, "c": c}
        per_gate = folder / f"{case_name}_per_gate.npz"  # weights only, loadable by convert and a case's weights:
        npz.save(per_gate, inputs.params, FORGET_BIAS)
        description["files"].append(
            _entry(
                per_gate,
                case_name,
                sizes,
                "lstm-equiv per-gate (harness/npz.py)",
                "per gate, nothing stacked",
                "forget_bias key, added at run time",
                bound,
                expected=f"{case_name}_expected.npz",
            )
        )
        np.savez(folder / f"{case_name}_expected.npz", **expected)
        for name, (layout, source) in LAYOUTS.items():
            tensors = _stored(layout, layout.compose(inputs.params, FORGET_BIAS, inputs.bias_share))
            path = folder / f"{case_name}_{name}.npz"
            extra = {"forget_bias": np.float64(FORGET_BIAS)} if layout.forget_bias == layouts.RUNTIME else {}
            np.savez(path, **tensors, **extra, **expected)
            fb = (
                "forget_bias key: added to f's pre-activation at run time, not in the bias"
                if layout.forget_bias == layouts.RUNTIME
                else "folded into the f block of the bias(es): no key"
            )
            description["files"].append(
                _entry(
                    path,
                    case_name,
                    sizes,
                    source,
                    layout.about,
                    fb,
                    bound,
                    {k: list(v.shape) for k, v in tensors.items()},
                )
            )
    (folder / "vectors.json").write_text(json.dumps(description, indent=2) + "\n")
    return description


def _entry(
    path, case_name, sizes, source, layout, forget_bias, bound, shapes=None, expected="in the same file"
) -> dict:
    return {
        "file": path.name,
        "case": case_name,
        **sizes,
        "source": source,
        "layout": layout,
        "forget_bias": forget_bias,
        "tensors": shapes or "V_g, W_g, b_g for g in i j f o",
        "expected": f"{expected}: x [batch, timesteps, input_depth] float32; outputs [batch, timesteps, "
        "num_units], h, c [batch, num_units]: the float64 reference on the float32 weights and x",
        "float32_bound": bound,
    }


def main(folder, say=print, force: bool = False) -> int:
    """Write the vectors and say what was written."""
    description = write(folder, force)
    for entry in description["files"]:
        say(f"{Path(folder) / entry['file']}: {entry['source']}")
    say(f"{Path(folder) / 'vectors.json'}: what each file holds; {len(description['files'])} files")
    return 0
