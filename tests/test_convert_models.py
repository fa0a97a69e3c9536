"""lstm-equiv convert of whole trained Keras models (tests/trained.py): every recurrent layer into one torch
ModuleDict state_dict or one ONNX graph, loaded back by hand here with the model's embedding and head applied
by hand, on padded token rows, against Keras's own probabilities; the refusals; a wrong layout caught."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from lstm_equiv.harness import check, convert, layouts, stack
from lstm_equiv.harness.forms.onnx import lstm as onnx_lstm
from lstm_equiv.harness.forms.tf import compat as tf_compat
from lstm_equiv.harness.forms.torch import lstm as pytorch
from tests import trained

needs_torch = pytest.mark.skipif(pytorch.missing() is not None, reason=str(pytorch.missing()))
needs_onnx = pytest.mark.skipif(onnx_lstm.missing() is not None, reason=str(onnx_lstm.missing()))


def _convert(src, to, out) -> tuple:
    lines = []
    code = convert.main(src, to, out, say=lines.append)
    return code, "\n".join(lines)


def _padded_tokens():
    """Token rows padded with 0 at the end (lengths 10, 3, 7, 5, 1), as the classifier was trained on."""
    lengths = np.array([trained.STEPS, 3, 7, 5, 1])
    tokens = np.random.default_rng(11).integers(1, trained.VOCAB, (len(lengths), trained.STEPS))
    tokens[np.arange(trained.STEPS)[None, :] >= lengths[:, None]] = 0
    return tokens, lengths


def _by_hand(model_path, recurrent):
    """Keras's probabilities for padded token rows, and the same model with its recurrent layers replaced by
    ``recurrent(x, lengths)`` (the converted file, run by hand), its embedding and head applied by hand in
    NumPy; with the bound of the probabilities: the chain's derived output bound (harness/stack.py) carried
    through the head: |d logits| <= max_j sum_i |K_ij| * |d outputs|, and softmax's Jacobian rows sum to at most
    1/2 in absolute value (2 p (1 - p) <= 1/2), so |d p| <= 1/2 |d logits|."""
    keras = tf_compat.keras()
    model = keras.models.load_model(str(model_path))
    tokens, lengths = _padded_tokens()
    expected = np.asarray(model.predict(tokens, verbose=0), np.float64)
    table = model.get_layer("embedding").get_weights()[0]
    kernel, bias = model.get_layer("head").get_weights()
    x = table[tokens].astype(np.float32)
    outputs = np.asarray(recurrent(x, lengths), np.float64)
    logits = outputs @ kernel + bias
    got = np.exp(logits - logits.max(axis=1, keepdims=True))
    got /= got.sum(axis=1, keepdims=True)
    tol = stack.chain_bound(stack.read(model_path), x, lengths)
    return got, expected, 0.5 * np.abs(kernel).sum(axis=0).max() * tol.largest


@needs_onnx
@pytest.mark.parametrize("name", ["text_clf", "gru_clf", "backwards", "mixed", "merges"])
def test_the_whole_model_converts_to_onnx_and_gives_keras_probabilities(models, tmp_path, name):
    import onnxruntime

    out = tmp_path / f"{name}.onnx"
    code, said = _convert(models[name], "onnx", out)
    assert code == 0, said
    assert "every recurrent layer" in said and "proof, whole" in said
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    masked = any(i.name == "sequence_lens" for i in session.get_inputs())
    assert masked == (name in ("text_clf", "gru_clf", "merges"))

    def recurrent(x, lengths):
        feeds = {"x": x, **({"sequence_lens": lengths.astype(np.int32)} if masked else {})}
        return session.run(["outputs"], feeds)[0]

    got, expected, bound = _by_hand(models[name], recurrent)
    assert bound < 1e-4
    np.testing.assert_allclose(got, expected, rtol=0, atol=bound)


@needs_torch
@pytest.mark.parametrize("name", ["text_clf", "gru_clf", "backwards", "mixed", "merges"])
def test_the_whole_model_converts_to_torch_and_gives_keras_probabilities(models, tmp_path, name):
    """The written state_dict loaded into the ModuleDict the written lines describe, run as they say."""
    from lstm_equiv.harness.forms.torch import torch

    t = torch()
    out = tmp_path / f"{name}.pt"
    code, said = _convert(models[name], "torch", out)
    assert code == 0, said
    layers = stack.read(models[name]).layers
    modules = t.nn.ModuleDict(
        {
            lay.name: getattr(t.nn, lay.cell.upper())(
                lay.input_depth, lay.units, batch_first=True, bidirectional=lay.directions == 2
            )
            for lay in layers
        }
    )
    modules.load_state_dict(t.load(out, weights_only=True))
    for lay in layers:
        assert f"stack[{lay.name!r}]" in said
        if lay.go_backwards:  # the rows flipped in, the outputs passed on as they come (Keras's order)
            assert f"  {lay.name}: x = x.flip(1)" in said
    assert "out.flip" not in said

    def recurrent(x, lengths):
        xt = t.from_numpy(x)
        with t.no_grad():
            for lay in layers:
                if lay.go_backwards:
                    xt = xt.flip(1)
                if lay.masked_by:
                    packed = t.nn.utils.rnn.pack_padded_sequence(
                        xt, t.as_tensor(lengths), batch_first=True, enforce_sorted=False
                    )
                    got, state = modules[lay.name](packed)
                    got = t.nn.utils.rnn.pad_packed_sequence(got, batch_first=True, total_length=x.shape[1])[0]
                else:
                    got, state = modules[lay.name](xt)
                h = state if lay.cell == "gru" else state[0]
                merge = {  # Keras's merge modes, written out by hand
                    "concat": lambda a, b: t.cat([a, b], -1),
                    "sum": lambda a, b: a + b,
                    "ave": lambda a, b: (a + b) / 2,
                    "mul": lambda a, b: a * b,
                }.get(lay.merge_mode)
                if lay.directions == 2 and lay.sequences:
                    got = merge(got[..., : lay.units], got[..., lay.units :])
                xt = got if lay.sequences else (merge(h[0], h[1]) if lay.directions == 2 else h[0])
        return xt.numpy()

    got, expected, bound = _by_hand(models[name], recurrent)
    np.testing.assert_allclose(got, expected, rtol=0, atol=bound)


@needs_onnx
def test_the_written_files_check_equal_against_their_source(models, tmp_path):
    out = tmp_path / "text_clf.onnx"
    assert _convert(models["text_clf"], "onnx", out)[0] == 0
    lines = []
    assert check.main(models["text_clf"], out, say=lines.append) == 0, "\n".join(lines)


@needs_onnx
def test_a_wrong_layout_in_the_writer_fails_the_proof_and_writes_nothing(models, tmp_path, monkeypatch):
    """The ONNX layout with its gate blocks in Keras's order, i f c o: written and read back the same wrong way,
    so only running it shows it; the proof must fail and leave no file."""
    monkeypatch.setattr(layouts, "ONNX", replace(layouts.ONNX, gate_order=("i", "f", "j", "o")))
    out = tmp_path / "wrong.onnx"
    code, said = _convert(models["text_clf"], "onnx", out)
    assert code == 1, said
    assert "FAIL" in said and not out.exists()


@needs_onnx
def test_what_cannot_be_expressed_is_refused_before_writing(tmp_path):
    keras = tf_compat.keras()
    inputs = keras.Input((None, 3))
    x = keras.layers.Bidirectional(keras.layers.LSTM(4, return_sequences=True), merge_mode=None, name="apart")(inputs)
    model = keras.Model(inputs, x)
    model.save(str(tmp_path / "apart.keras"))
    inputs = keras.Input((None, 3))
    x = keras.layers.LSTM(4, return_sequences=True, name="first")(inputs)
    x = keras.layers.Dense(4, name="between")(x)
    keras.Model(inputs, keras.layers.LSTM(2, name="second")(x)).save(str(tmp_path / "dense.keras"))
    for name, words in (
        ("apart.keras", "layer apart: merge_mode=None returns two tensors"),
        ("dense.keras", "layers first and second are not a chain: Dense between sits between them"),
    ):
        code, said = _convert(tmp_path / name, "onnx", tmp_path / "out.onnx")
        assert code == 2 and words in said, said
        assert not (tmp_path / "out.onnx").exists()
