"""lstm-equiv vectors: every written layout file, fed to the real framework that uses that layout, gives the
expected outputs it carries; the files are what the brief promises (gate-distinct, forget bias, square case)."""

import json

import numpy as np
import pytest

from lstm_equiv.harness import cli, npz, vectors
from lstm_equiv.harness.forms.onnx import lstm as onnx_lstm
from lstm_equiv.harness.forms.tf import compat as tf_compat
from lstm_equiv.harness.forms.torch import lstm as pytorch
from lstm_equiv.reference import GATES


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("vectors")
    assert cli.main(["vectors", str(out)]) == 0
    return out


def _load(folder, case, layout):
    with np.load(folder / f"{case}_{layout}.npz") as data:
        return dict(data)


def _close(got, data, bound):
    for name, value in zip(("outputs", "h", "c"), got):
        np.testing.assert_allclose(np.asarray(value, np.float64), data[name], rtol=0, atol=bound, err_msg=name)


def _bound(folder, file):
    (entry,) = [e for e in json.loads((folder / "vectors.json").read_text())["files"] if e["file"] == file]
    return entry["float32_bound"]


def test_the_description_lists_every_file_written(folder):
    listed = {e["file"] for e in json.loads((folder / "vectors.json").read_text())["files"]}
    written = {p.name for p in folder.glob("*.npz")} - {"plain_expected.npz", "square_expected.npz"}
    assert listed == written and len(listed) == 2 * (len(vectors.LAYOUTS) + 1)


def test_the_weights_are_gate_distinct_with_a_forget_bias_and_a_square_case(folder):
    for case in ("plain", "square"):
        params, forget_bias, _ = npz.load(folder / f"{case}_per_gate.npz")
        assert forget_bias == 1.0
        blocks = [params.V[g] for g in GATES]
        assert all(not np.array_equal(a, b) for k, a in enumerate(blocks) for b in blocks[k + 1 :])
    params, _, _ = npz.load(folder / "square_per_gate.npz")
    assert params.input_depth == params.num_units
    torch_file = _load(folder, "plain", "torch")
    assert np.all(torch_file["bias_hh_l0"] != 0) and np.all(torch_file["bias_ih_l0"] != 0)


@pytest.mark.parametrize("case", ["plain", "square"])
def test_torch_vectors_in_torch(folder, case):
    if pytorch.missing():
        pytest.skip(pytorch.missing())
    t = pytorch.torch()
    data = _load(folder, case, "torch")
    lstm = t.nn.LSTM(data["x"].shape[2], data["h"].shape[1], batch_first=True)
    names = ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
    lstm.load_state_dict({k: t.from_numpy(data[k]) for k in names})
    with t.no_grad():
        outputs, (h, c) = lstm(t.from_numpy(data["x"]))
    _close((outputs.numpy(), h[0].numpy(), c[0].numpy()), data, _bound(folder, f"{case}_torch.npz"))


@pytest.mark.parametrize("case", ["plain", "square"])
def test_onnx_vectors_in_onnxruntime(folder, case):
    if onnx_lstm.missing():
        pytest.skip(onnx_lstm.missing())
    import onnxruntime
    from onnx import TensorProto, helper, numpy_helper

    data = _load(folder, case, "onnx")
    units = data["h"].shape[1]
    graph = helper.make_graph(  # written here by hand, independent of harness/forms/onnx/lstm.py
        [helper.make_node("LSTM", ["X", "W", "R", "B"], ["Y", "Y_h", "Y_c"], hidden_size=units)],
        "vectors",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, list(np.swapaxes(data["x"], 0, 1).shape))],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("Y", "Y_h", "Y_c")],
        initializer=[numpy_helper.from_array(data[n], n) for n in ("W", "R", "B")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    y, y_h, y_c = session.run(None, {"X": np.ascontiguousarray(np.swapaxes(data["x"], 0, 1))})
    _close((np.swapaxes(y[:, 0], 0, 1), y_h[0], y_c[0]), data, _bound(folder, f"{case}_onnx.npz"))


@pytest.mark.parametrize("case", ["plain", "square"])
def test_keras_vectors_in_keras(folder, case):
    keras = tf_compat.keras()
    data = _load(folder, case, "keras")
    lstm = keras.layers.LSTM(data["h"].shape[1], return_sequences=True, return_state=True)
    lstm.build((None, None, data["x"].shape[2]))
    lstm.set_weights([data["kernel"], data["recurrent_kernel"], data["bias"]])
    _close([np.asarray(a) for a in lstm(data["x"])], data, _bound(folder, f"{case}_keras.npz"))


@pytest.mark.parametrize("layout", ["tf1_basic_lstm_cell", "block_lstm", "block_lstm_v2"])
def test_stacked_kernel_vectors_in_the_fused_ops(folder, layout):
    tf = tf_compat.tf()
    data = _load(folder, "square", layout)
    x = np.ascontiguousarray(np.swapaxes(data["x"], 0, 1))
    units = data["h"].shape[1]
    zeros, state = np.zeros(units, np.float32), np.zeros((x.shape[1], units), np.float32)
    op = tf.raw_ops.BlockLSTMV2 if layout == "block_lstm_v2" else tf.raw_ops.BlockLSTM
    attrs = {} if layout == "block_lstm_v2" else {"forget_bias": float(data["forget_bias"])}
    out = op(
        seq_len_max=np.int64(x.shape[0]),
        x=x,
        cs_prev=state,
        h_prev=state,
        w=data["kernel"],
        b=data["bias"],
        wci=zeros,
        wcf=zeros,
        wco=zeros,
        cell_clip=-1.0,
        use_peephole=False,
        **attrs,
    )
    h = np.swapaxes(out.h.numpy(), 0, 1)
    _close((h, h[:, -1], out.cs.numpy()[-1]), data, _bound(folder, f"square_{layout}.npz"))
