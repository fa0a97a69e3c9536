"""lstm-equiv check: real trained models (tests/trained.py) read whole, each layer run in its own framework
against the per-gate reference; conversions by lstm-equiv, by torch.onnx.export and by small hand-written
converters (tests/converters.py) found equal, and the same converters broken on purpose each given the right
diagnosis, named here."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lstm_equiv.harness import check, convert, npz
from lstm_equiv.harness.forms.onnx import lstm as onnx_lstm
from lstm_equiv.harness.forms.tf import compat as tf_compat
from lstm_equiv.harness.forms.torch import lstm as pytorch
from tests import converters, trained

needs_torch = pytest.mark.skipif(pytorch.missing() is not None, reason=str(pytorch.missing()))
needs_onnx = pytest.mark.skipif(onnx_lstm.missing() is not None, reason=str(onnx_lstm.missing()))


def run(*args, **kwargs) -> tuple:
    """check.main's exit code and everything it said."""
    lines = []
    code = check.main(*args, say=lines.append, **kwargs)
    return code, "\n".join(lines)


@pytest.fixture(scope="module")
def torch_model(tmp_path_factory):
    if pytorch.missing():
        pytest.skip(pytorch.missing())
    from lstm_equiv.harness.forms.torch import torch

    folder = tmp_path_factory.mktemp("torch")
    path, module = trained.torch_classifier(torch(), folder)
    return path, module, folder


# ---------------------------------------------------------------------------------------------- one file


def test_the_text_classifier_is_read_whole_and_every_layer_checked(models):
    code, said = run(models["text_clf"])
    assert code == 0, said
    assert "2 recurrent layer(s)" in said
    assert "layer bidi: LSTM 6->5 bidirectional" in said and "merge concat" in said
    assert "layer lstm: LSTM 10->4 forward" in said
    assert said.count("the mask of Embedding embedding (mask_zero=True)") == 2
    assert "padded rows: lengths" in said  # the masked layers also ran on padded rows
    assert "FAIL" not in said and said.count("PASS") == 12  # 2 layers x (full, padded rows) x (outputs, h, c)


@pytest.mark.parametrize("name", ["gru_clf", "backwards", "lstm", "gru"])
def test_every_trained_model_checks_equal(models, name):
    code, said = run(models[name])
    assert code == 0, said
    assert "EQUAL" in said


def test_go_backwards_and_gru_reset_are_found(models):
    _, said = run(models["backwards"])
    assert "LSTM 6->5 backwards" in said and "go_backwards" in said
    _, said = run(models["gru"])
    assert "reset before the recurrent product" in said
    _, said = run(models["gru_clf"])
    assert "reset after the recurrent product" in said and "emits its last output again" in said


def test_trained_weights_are_not_initial_values(models):
    """The point of training: Keras initialises biases at zero (f at one); three epochs moved them."""
    from lstm_equiv.harness import modelfile

    for lay in modelfile.read(models["text_clf"]).recurrent:
        units = lay.config["units"]
        assert np.abs(np.delete(lay.bias, np.s_[units : 2 * units])).max() > 1e-3


def test_a_keras_2_h5_and_a_keras_3_h5_are_each_run_by_their_keras(models, tmp_path):
    keras2 = tf_compat.keras_of_major(2)
    if keras2 is not None:
        path = trained.keras_text_classifier(keras2, tmp_path, ".h5")
        code, said = run(path)
        assert code == 0 and "(Keras 2" in said, said
    if tf_compat.keras_major() == 3:
        path = trained.keras_text_classifier(tf_compat.keras(), tmp_path, ".h5")
        code, said = run(path)
        assert code == 0 and "(Keras 3" in said, said


@needs_torch
def test_a_torch_state_dict_is_read_per_layer_and_direction(torch_model):
    path, _, _ = torch_model
    code, said = run(path)
    assert code == 0, said
    assert "layer rnn.l0: LSTM 6->5 bidirectional" in said and "layer rnn.l1: LSTM 10->5 bidirectional" in said
    assert "pack_padded_sequence" in said and "padded rows" in said


@needs_torch
def test_a_pickled_torch_module_is_read_as_data_and_runs_no_code(torch_model, tmp_path):
    """``torch.save(model)``: its classes are never imported, their ``__setstate__`` never runs. The tripwire
    module writes a file when unpickled by torch.load (shown here first, so the test can fail), and not when
    check reads it."""
    from lstm_equiv.harness.forms.torch import torch

    t = torch()
    path, module, _ = torch_model
    marker = tmp_path / "code_ran"

    def tripped(self, state):
        marker.write_text("the file's __setstate__ ran")
        t.nn.Module.__setstate__(self, state)

    global Tripwire
    Tripwire = type("Tripwire", (t.nn.Module,), {"__setstate__": tripped})
    wrapper = Tripwire()
    wrapper.rnn = module.rnn
    t.save(wrapper, tmp_path / "whole.pt")
    t.load(tmp_path / "whole.pt", weights_only=False)  # what lstm-equiv must never do
    assert marker.exists()
    marker.unlink()
    code, said = run(tmp_path / "whole.pt")
    assert code == 0, said
    assert not marker.exists()
    assert "read as data, no class imported" in said and "torch.nn.modules.rnn.LSTM" in said
    code, said = run(tmp_path / "whole.pt", path)  # the same weights as the trained state_dict
    assert code == 0 and "DIAGNOSIS" not in said, said


@needs_torch
def test_a_pickle_that_calls_a_function_is_not_run(tmp_path):
    """A torch-format zip whose pickle calls os.system: the call gets a stub, nothing runs, exit 2."""
    import pickle
    import zipfile

    marker = tmp_path / "code_ran"

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (f"touch {marker}",))

    data = pickle.dumps(Payload(), protocol=2)
    pickle.loads(data)  # what any unpickler that imports its globals does: the payload runs
    assert marker.exists()
    marker.unlink()
    with zipfile.ZipFile(tmp_path / "evil.pt", "w") as z:
        z.writestr("evil/data.pkl", data)
        z.writestr("evil/byteorder", "little")
    code, said = run(tmp_path / "evil.pt")
    assert code == 2 and "holds no module" in said, said
    assert not marker.exists()


def test_unreadable_files_exit_2_naming_them(tmp_path):
    (tmp_path / "saved").mkdir()
    (tmp_path / "saved" / "saved_model.pb").write_bytes(b"")
    (tmp_path / "m.tflite").write_bytes(b"TFL3")
    (tmp_path / "m.txt").write_text("x")
    for name, words in (
        ("saved", "SavedModel"),
        ("m.tflite", "TFLite"),
        ("m.txt", "not a model file"),
        ("none.keras", "no such file"),
    ):
        code, said = run(tmp_path / name)
        assert code == 2 and words in said and name in said, said


# ---------------------------------------------------------------------------------------------- two files


@needs_onnx
def test_a_hand_converted_text_classifier_is_equal_on_padded_rows(models, tmp_path):
    keras = tf_compat.keras()
    out = tmp_path / "text_clf.onnx"
    converters.keras_to_onnx(keras.models.load_model(str(models["text_clf"])), out, masked=("bidi", "lstm"))
    code, said = run(models["text_clf"], out)
    assert code == 0, said
    assert "layers matched by order and shape (2): bidi = bidi, lstm = lstm" in said
    assert said.count("padded rows: lengths") == 2
    assert "DIAGNOSIS" not in said


@needs_onnx
@needs_torch
def test_torch_onnx_export_of_a_trained_model_is_equal(torch_model):
    from lstm_equiv.harness.forms.torch import torch

    path, module, folder = torch_model
    exported = trained.export_onnx(torch(), module, folder, "exported")
    code, said = run(path, exported)
    assert code == 0, said
    assert "rnn.l0 = " in said and "rnn.l1 = " in said


@needs_torch
@needs_onnx
def test_lstm_equiv_convert_output_is_equal(models, tmp_path):
    for name, target in (("lstm", "torch"), ("gru_clf", "torch"), ("lstm", "npz"), ("lstm", "onnx"), ("gru", "onnx")):
        out = tmp_path / f"{name}.{'pt' if target == 'torch' else target}"
        assert convert.main(models[name], target, out, say=lambda _: None) == 0
        code, said = run(models[name], out)
        assert code == 0, said


@needs_onnx
def test_padded_steps_a_keras_mask_hides_are_a_note_not_a_difference(models, tmp_path):
    """Keras's first layer emits its last output again at padded steps, ONNX zeros: the second layer honours
    the mask, so the model is the same; check says so, with the rule that differs at padded steps."""
    out = tmp_path / "stacked.onnx"
    assert convert.main(models["stacked_masked"], "onnx", out, say=lambda _: None) == 0
    code, said = run(models["stacked_masked"], out)
    assert code == 0, said
    assert "NOTE at padded steps its outputs differ from first's" in said
    assert "with padded steps emitting zeros (first's emit its last output)" in said


def _keras_onnx(models, tmp_path, model, fault, masked=()):
    keras = tf_compat.keras()
    out = tmp_path / f"{model}_{fault}.onnx"
    converters.keras_to_onnx(keras.models.load_model(str(models[model])), out, masked=masked, fault=fault)
    return run(models[model], out)


BROKEN = [
    # (the Keras model, the converter's mistake, the masked layers, what the diagnosis must say)
    (
        "lstm",
        "gate_order",
        (),
        [
            "gate blocks swapped in V and W: its j block holds lstm's o; its f block holds lstm's j; "
            "its o block holds lstm's f"
        ],
    ),
    ("lstm", "forget_bias_added", (), ["a forget bias of 1 added: b[f] is lstm's +1 in every unit"]),
    ("lstm", "transposed_recurrent", (), [f"layer lstm: W[{g}] is lstm's W[{g}] transposed" for g in "ijfo"]),
    (
        "text_clf",
        "not_reversed",
        ("bidi", "lstm"),
        ["its backward half is NOT reversed", "reference with the backward half not reversed"],
    ),
    (
        "text_clf",
        "directions_swapped",
        ("bidi", "lstm"),
        ["the directions exchanged: its forward cell holds the weights of bidi's backward"],
    ),
    (
        "gru_clf",
        "reset_after",
        ("gru",),
        [
            "the GRU's reset is applied before the recurrent product, gru's after",
            "reference with the GRU's reset before",
        ],
    ),
    (
        "gru_clf",
        "no_sequence_lens",
        ("gru",),
        ["takes no lengths (no sequence_lens input)", "reference without the lengths (sequence_lens missing"],
    ),
]


@needs_onnx
@pytest.mark.parametrize(("model", "fault", "masked", "expected"), BROKEN, ids=[b[1] for b in BROKEN])
def test_a_broken_conversion_gets_its_diagnosis(models, tmp_path, model, fault, masked, expected):
    code, said = _keras_onnx(models, tmp_path, model, fault, masked)
    assert code == 1, said
    for words in expected:
        assert words in said, said


@needs_onnx
def test_a_dropped_run_time_forget_bias_is_named(models, tmp_path):
    """The source keeps TF1's forget_bias apart (an lstm-equiv .npz with forget_bias 1): a converter that does
    not add it is 1 short in every unit of f."""
    source = check.read_model(models["lstm"])[1][0]
    p = source.cells[0]
    moved = type(p)(p.V, p.W, {**p.b, "f": p.b["f"] - 1.0})  # the same function, with forget_bias 1 apart
    npz.save(tmp_path / "tf1.npz", moved, forget_bias=1.0)
    converters.npz_to_onnx(tmp_path / "tf1.npz", tmp_path / "ok.onnx")
    assert run(tmp_path / "tf1.npz", tmp_path / "ok.onnx")[0] == 0
    converters.npz_to_onnx(tmp_path / "tf1.npz", tmp_path / "bad.onnx", fault="forget_bias_dropped")
    code, said = run(tmp_path / "tf1.npz", tmp_path / "bad.onnx")
    assert code == 1 and "a forget bias of 1 dropped: b[f] is npz's -1 in every unit" in said, said


@needs_onnx
@needs_torch
def test_pytorch_bias_hh_counted_twice_is_named(torch_model, tmp_path):
    from lstm_equiv.harness.forms.torch import torch

    path, _, _ = torch_model
    state = {k: v.numpy() for k, v in torch().load(path, weights_only=True).items()}
    converters.torch_to_onnx(state, tmp_path / "ok.onnx")
    assert run(path, tmp_path / "ok.onnx")[0] == 0
    converters.torch_to_onnx(state, tmp_path / "bad.onnx", fault="bias_hh_twice")
    code, said = run(path, tmp_path / "bad.onnx")
    assert code == 1 and "rnn.l0's bias_hh_l0 counted twice" in said, said


@needs_onnx
def test_layers_that_do_not_pair_up_exit_2(models, tmp_path):
    keras = tf_compat.keras()
    out = tmp_path / "one.onnx"
    converters.keras_to_onnx(keras.models.load_model(str(models["lstm"])), out)
    code, said = run(models["gru"], out)
    assert code == 2 and "not the same shape" in said and "GRU 6->5" in said and "LSTM 6->5" in said, said
    code, said = run(models["text_clf"], out)
    assert code == 2 and "has 2 recurrent layers" in said and "not covered: lstm (LSTM 10->4 forward)" in said, said


# ---------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("garbage.onnx", b"\x08\x07not a protobuf at all\xff\xff", "not an ONNX model"),
        ("empty.onnx", b"", "holds no LSTM or GRU node"),
        ("garbage.pt", b"PK\x03\x04 torn zip", "torch.load(weights_only=True) refuses it"),
        ("garbage.npz", b"not a zip", "garbage.npz"),
        ("garbage.keras", b"PK\x03\x04 torn zip", "garbage.keras"),
    ],
)
def test_a_broken_file_exits_2_naming_it(tmp_path, name, data, words):
    if name.endswith(".onnx") and onnx_lstm.missing():
        pytest.skip(onnx_lstm.missing())
    if name.endswith(".pt") and pytorch.missing():
        pytest.skip(pytorch.missing())
    (tmp_path / name).write_bytes(data)
    code, said = run(tmp_path / name)
    assert code == 2, said
    assert words in said and name in said, said


@needs_onnx
def test_onnx_external_data_is_not_followed(tmp_path):
    """An initializer that points at another file: the path inside a model is not one lstm-equiv opens."""
    from onnx import TensorProto, helper

    w = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[1, 8, 3])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="../../etc/passwd")
    node = helper.make_node("LSTM", ["x", "W", "R"], ["y"], hidden_size=2)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)], [], [w])
    (tmp_path / "ext.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    code, said = run(tmp_path / "ext.onnx")
    assert code == 2 and "external file: not followed" in said, said


def test_your_own_inputs_are_used_where_their_width_fits(models, tmp_path):
    x = np.random.default_rng(1).normal(size=(2, 7, 10)).astype(np.float32)  # lstm's input width, not bidi's
    np.save(tmp_path / "x.npy", x)
    code, said = run(models["text_clf"], inputs=tmp_path / "x.npy")
    assert code == 0, said
    assert "your --inputs [2, 7, 10]" in said and "seeded random x [2, 7, 6]" in said
    np.save(tmp_path / "bad.npy", np.array(["a", "b"]))
    code, said = run(models["text_clf"], inputs=tmp_path / "bad.npy")
    assert code == 2 and "must be finite floats [batch, timesteps, features]" in said, said


def test_convert_no_longer_passes_on_part_of_a_model(models, tmp_path):
    """The text classifier to npz (one LSTM per file): refused, naming both layers; with --layer, the layer
    left out is named."""
    lines = []
    assert convert.main(models["text_clf"], "npz", tmp_path / "a.npz", say=lines.append) == 2
    assert "holds 2 recurrent layers ['bidi (Bidirectional LSTM, merge concat)', 'lstm (LSTM)']" in lines[-1]
    lines = []
    assert convert.main(models["text_clf"], "npz", tmp_path / "a.npz", layer="lstm", say=lines.append) == 0
    said = "\n".join(lines)
    assert "ONLY layer lstm was converted" in said and "bidi (Bidirectional LSTM, merge concat)" in said
    assert "runs under the mask of Embedding embedding" in said


@needs_onnx
def test_an_onnx_node_whose_weights_do_not_fit_its_attributes_exits_2(tmp_path):
    """An LSTM node whose hidden_size (3) disagrees with its weights (2 units): named, not read."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(size=shape).astype(np.float32), name)
        for name, shape in (("W", (1, 8, 3)), ("R", (1, 8, 2)), ("B", (1, 16)))
    ]
    node = helper.make_node("LSTM", ["x", "W", "R", "B"], ["y"], hidden_size=3)
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, None)
    graph = helper.make_graph([node], "g", [x], [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    (tmp_path / "bad.onnx").write_bytes(helper.make_model(graph).SerializeToString())
    code, said = run(tmp_path / "bad.onnx")
    assert code == 2 and "W has shape [1, 8, 3], but hidden_size 3" in said, said


def test_a_layer_its_framework_cannot_run_exits_2_not_a_traceback(models, monkeypatch):
    """Whatever the framework raises on a layer (an onnxruntime that refuses a node, a Keras that refuses a
    config) names the layer and leaves it not covered: exit 2."""
    what, layers = check.read_model(models["lstm"])

    def refuses(x, lengths=None):
        raise RuntimeError("this runtime refuses the node")

    monkeypatch.setattr(check, "read_model", lambda path: (what, [replace(layers[0], run=refuses)]))
    code, said = run(models["lstm"])
    assert code == 2 and "failed on it: RuntimeError: this runtime refuses the node" in said, said
    assert "not covered" in said


@needs_torch
def test_a_state_dict_whose_tensors_do_not_fit_exits_2(tmp_path):
    from lstm_equiv.harness.forms.torch import torch

    t = torch()
    state = t.nn.LSTM(3, 2).state_dict()
    state["bias_ih_l0"] = t.zeros(5)  # 4 gates x 2 units need 8
    t.save(state, tmp_path / "bad.pt")
    code, said = run(tmp_path / "bad.pt")
    assert code == 2 and "bad.pt" in said and "do not fit" in said, said


def test_a_stateful_layer_is_checked_and_converted_with_its_state_carried(tmp_path):
    """A stateful layer: checked from zero states; converted with its state as graph inputs and outputs
    (ONNX) or the state argument (torch), proven from seeded carried states."""
    keras = tf_compat.keras()
    inputs = keras.Input((None, 3), batch_size=4)
    x = keras.layers.LSTM(4, stateful=True, return_sequences=True, name="carried")(inputs)
    model = keras.Model(inputs, keras.layers.LSTM(2, name="after")(x))
    rng = np.random.default_rng(2)
    for w in model.weights:
        w.assign(rng.normal(0.0, 0.5, w.shape))
    model.save(str(tmp_path / "stateful.keras"))
    code, said = run(tmp_path / "stateful.keras")
    assert code == 0, said
    assert "layer carried is stateful: it is checked from zero initial states" in said
    for to in ("onnx", "torch"):
        if (onnx_lstm if to == "onnx" else pytorch).missing():
            continue
        lines = []
        assert convert.main(tmp_path / "stateful.keras", to, tmp_path / f"s.{to}", say=lines.append) == 0, lines
        said = "\n".join(lines)
        assert "stateful layers carried start from seeded states" in said
        assert ("feed h0_carried, c0_carried" if to == "onnx" else "state_carried = state") in said


@pytest.mark.skipif(tf_compat.legacy_cells_missing() is not None, reason=str(tf_compat.legacy_cells_missing()))
def test_a_tf1_checkpoint_is_checked_and_its_npz_conversion_equal(tmp_path):
    from tests.test_convert import _checkpoint

    prefix = _checkpoint(tmp_path, "BasicLSTMCell")
    code, said = run(prefix)
    assert code == 0, said
    assert "rnn/basic_lstm_cell" in said and "forget_bias 1.0" in said
    assert convert.main(prefix, "npz", tmp_path / "c.npz", say=lambda _: None) == 0
    code, said = run(prefix, tmp_path / "c.npz")
    assert code == 0, said


def test_a_keras_2_savedmodel_is_read_by_its_metadata_and_equals_its_h5(tmp_path):
    """``model.save(folder)`` of Keras 2: the config from keras_metadata.pb, the weights from the checkpoint's
    object graph; every layer equal to the same model's .h5, weight for weight (max abs err 0)."""
    keras2 = tf_compat.keras_of_major(2)
    if keras2 is None:
        pytest.skip("no Keras 2 installed (tf_keras)")
    h5 = trained.keras_text_classifier(keras2, tmp_path, ".h5")
    keras2.models.load_model(str(h5)).save(str(tmp_path / "saved"), save_format="tf")  # the test's own file
    code, said = run(tmp_path / "saved")
    assert code == 0, said
    assert "layer bidi: LSTM 6->5 bidirectional" in said and "(Keras 2" in said
    code, said = run(tmp_path / "saved", h5)
    assert code == 0 and "DIAGNOSIS" not in said, said
    (tmp_path / "saved" / "keras_metadata.pb").unlink()
    code, said = run(tmp_path / "saved")
    assert code == 2 and "without keras_metadata.pb" in said, said


def test_a_masking_layer_masks_and_a_pooling_ends_the_mask(tmp_path):
    """Masking() (mask_value 0.0, which equals False) masks what follows; a GlobalAveragePooling1D and a
    RepeatVector end the mask, so the LSTM after them runs every step."""
    keras = tf_compat.keras()
    inputs = keras.Input((None, 3))
    x = keras.layers.Masking(name="masking")(inputs)
    x = keras.layers.LSTM(4, return_sequences=True, name="masked")(x)
    x = keras.layers.LSTM(3, name="masked_last")(x)
    x = keras.layers.RepeatVector(5, name="repeat")(x)
    model = keras.Model(inputs, keras.layers.LSTM(2, name="unmasked")(x))
    model.save(str(tmp_path / "masking.keras"))
    code, said = run(tmp_path / "masking.keras")
    assert code == 0, said
    assert said.count("lengths: the mask of Masking masking (mask_value=0.0)") == 2, said
    assert "layer unmasked: LSTM 3->2 forward" in said and "lengths: none (every step is run)" in said
    if onnx_lstm.missing() is None:
        lines = []
        out = tmp_path / "masking.onnx"
        code = convert.main(tmp_path / "masking.keras", "onnx", out, layer=None, say=lines.append)
        assert code == 2 and "RepeatVector repeat sits between them" in lines[-1], lines


def test_a_bidirectional_whose_forward_layer_runs_backwards_is_refused(tmp_path):
    keras = tf_compat.keras()
    inputs = keras.Input((None, 3))
    forward = keras.layers.LSTM(4, go_backwards=True, return_sequences=True)
    backward = keras.layers.LSTM(4, return_sequences=True)
    x = keras.layers.Bidirectional(forward, backward_layer=backward, name="exchanged")(inputs)
    keras.Model(inputs, x).save(str(tmp_path / "exchanged.keras"))
    code, said = run(tmp_path / "exchanged.keras")
    assert code == 2 and "its forward layer has go_backwards=True" in said, said


def _pickled_tensor(size: int, stride: int) -> bytes:
    """A protocol-2 pickle, written opcode by opcode, of what torch.save writes for a 1-D tensor:
    torch._utils._rebuild_tensor_v2(<storage 0: 4 float32 values>, 0, (size,), (stride,), False, None)."""
    import struct

    text = lambda t: b"X" + struct.pack("<I", len(t)) + t.encode()
    storage = b"(" + text("storage") + b"ctorch\nFloatStorage\n" + text("0") + text("cpu") + b"K\x04tQ"
    ints = lambda v: b"J" + struct.pack("<i", v) + b"\x85"
    return (
        b"\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(" + storage + b"K\x00" + ints(size) + ints(stride) + b"\x89NtR."
    )


@pytest.mark.parametrize(
    ("size", "stride", "words"),
    [(16, 1, "reaches past its storage"), (4, -1, "not read"), (4, 1, "holds no module")],
    ids=["past-the-storage", "negative-stride", "in-bounds"],
)
def test_a_pickled_tensor_outside_its_storage_is_refused(tmp_path, size, stride, words):
    """The pickle's offset, sizes and strides are the file's word: a view past its 4-value storage (which
    as_strided would read from neighbouring memory) or backwards is refused; the same tensor in bounds is read
    (and then refused only for not being a module)."""
    import zipfile

    from lstm_equiv.harness.forms.torch import pickled

    with zipfile.ZipFile(tmp_path / "bad.pt", "w") as z:
        z.writestr("bad/data.pkl", _pickled_tensor(size, stride))
        z.writestr("bad/data/0", np.arange(4, dtype=np.float32).tobytes())
    with pytest.raises(pickled.PickledError, match=words):
        pickled.read(tmp_path / "bad.pt", 1 << 20)
