"""lstm-equiv explain, checked against the weights really extracted from TensorFlow."""

import re

import numpy as np
import pytest

from lstm_equiv.harness import engine, explain
from lstm_equiv.harness.casefile import parse
from lstm_equiv.harness.forms import FORMS, LSTM_FORMS, params_of

(QUESTION,) = parse(
    "q.yaml", b"name: explain_q\ninput_depth: 12\nnum_units: 64\ntimesteps: 3\nbatch: 2\nseed: 12\ndtypes: [float32]\n"
)


@pytest.mark.parametrize("name", params_of(sorted(LSTM_FORMS)))
def test_explain_matches_the_real_weights(name):
    lines = explain.explain(name, 12, 64)
    run = engine.read(QUESTION, name, "float32")
    real = run.form_out.tensors
    shown = {
        m.group(1): tuple(int(v) for v in m.group(2).split(", "))
        for m in (re.match(r"  (\S+) +\[([\d, ]+)\]$", line) for line in lines)
        if m
    }
    assert shown == {k: v.shape for k, v in real.items()}
    injected = run.inputs.params
    layout = FORMS[name].layout
    kernel = real[layout.x_name].T if layout.transposed else real[layout.x_name]
    kernel_x = kernel[:12]  # x rows first in every stacked kernel; the whole kernel where split
    for line in lines:
        m = re.match(r" +(\d+):(\d+) +(\w) = ", line)
        if m:
            start, stop, gate = int(m.group(1)), int(m.group(2)), m.group(3)
            np.testing.assert_array_equal(kernel_x[:, start:stop], injected.V[gate], err_msg=f"{name} {gate}")
    if "basic_lstm_cell" in name:
        assert "kernel rows 0:12 multiply x_t (input_depth 12); rows 12:76 multiply h_(t-1)" in "\n".join(lines)
        assert "forget bias: added to f's pre-activation at run time" in "\n".join(lines)


def test_explain_with_a_projection():
    text = "\n".join(explain.explain("lstm_cell", 12, 64, num_proj=16))
    assert "kernel             [28, 256]" in text and "projection/kernel  [64, 16]" in text
    assert "rows 12:28 multiply h_(t-1) (h_depth 16)" in text


def test_explain_says_in_which_time_order_each_form_returns_a_reversed_layer():
    """Keras's go_backwards returns the last timestep first; ONNX's reverse direction returns time order;
    both read from what the form tells the reference (Form.sequence), the data the checks use."""
    from lstm_equiv.harness.explain import explain as lines_of

    keras = "\n".join(lines_of("keras_lstm", 3, 4))
    assert "go_backwards: the outputs come back last timestep first" in keras
    assert "past a row's length it emits the last output it emitted again" in keras
    assert "(zeros in a bidirectional layer)" in keras
    block = "\n".join(lines_of("block_lstm", 3, 4))
    assert "sequences (case keys): go_backwards, initial_state\n" in block + "\n"
    dynamic = "\n".join(lines_of("basic_lstm_cell_dynamic_rnn", 3, 4))
    assert "not go_backwards with sequence_lengths" in dynamic and "past a row's length it emits zeros" in dynamic


def test_explain_says_onnx_reverse_returns_time_order():
    from lstm_equiv.harness.explain import explain as lines_of

    onnx = "\n".join(lines_of("onnx_lstm", 3, 4))
    assert "go_backwards: the outputs come back in time order" in onnx


def test_explain_gru_says_where_each_form_keeps_r_u_and_the_candidate(capsys):
    """lstm-equiv explain --cell gru: Keras's columns z r h, PyTorch's rows r z n, GRUCell's two kernels."""
    from lstm_equiv.harness import cli

    assert cli.main(["explain", "--cell", "gru", "--input-depth", "12", "--num-units", "64"]) == 0
    out = capsys.readouterr().out
    assert (
        "kernel: multiplies x_t; columns 0:64 u = z (update gate), 64:128 r = r (reset gate), 128:192 c = h "
        "(candidate)" in out
    )
    assert (
        "weight_ih_l0: multiplies x_t; rows 0:64 r = r (reset gate), 64:128 u = z (update gate), 128:192 c = n "
        "(candidate)" in out
    )
    assert (
        "gates/kernel: rows 0:12 multiply x_t, rows 12:76 h_(t-1); columns 0:64 r = r (reset gate), 64:128 u = u" in out
    )
    assert "candidate/kernel: rows 0:12 multiply x_t, rows 12:76 r * h_(t-1); columns 0:64 c = c (candidate)" in out
    assert "bias[1]: recurrent bias" in out and "    bias               [2, 192]" in out
    assert "h = u * h + (1 - u) * c" in out
    assert sorted(line.split(":")[0] for line in out.splitlines() if line and not line.startswith(" ")) == sorted(
        n for n, f in FORMS.items() if f.cell == "gru"
    )
    assert cli.main(["explain", "--cell", "gru", "--form", "keras_lstm", "--input-depth", "3", "--num-units", "4"]) == 2
