"""Keras's weight layouts, as named data: LSTM/LSTMCell, GRU/GRUCell (reset before and after), SimpleRNN. The layout
models are harness.layouts.Layout (the LSTM's) and harness.block_layouts.BlockLayout (the cells of per-gate
blocks); harness.layouts gathers every framework's layouts (``LAYOUTS``, ``GRU_LAYOUTS``, ``RNN_LAYOUTS``) and
names each."""

from __future__ import annotations

from lstm_equiv.harness.block_layouts import BlockLayout, BlockTensor
from lstm_equiv.harness.layouts import SPLIT, STORED, Layout
from lstm_equiv.reference import RNNParams

_H = ("h",)  # the plain RNN's one block
_RNN_NAMES = (("h", "h"),)

KERAS = Layout(
    name="keras",
    gate_order=("i", "f", "j", "o"),
    kernel=SPLIT,
    forget_bias=STORED,
    about="Keras LSTM/LSTMCell: kernel [input_depth, 4u] and recurrent_kernel [u, 4u], blocks i f c o; "
    "no run-time forget bias, so BasicLSTMCell's forget_bias sits in the f block of bias",
)

KERAS_GRU = BlockLayout(
    name="keras_gru",
    about="Keras GRU(reset_after=False): kernel [input_depth, 3u] and recurrent_kernel [u, 3u], blocks z r h; "
    "bias [3u]",
    tensors=(
        BlockTensor("kernel", "x", ("u", "r", "c")),
        BlockTensor("recurrent_kernel", "h", ("u", "r", "c")),
        BlockTensor("bias", "b", ("u", "r", "c")),
    ),
    own_names=(("r", "r"), ("u", "z"), ("c", "h")),
)

KERAS_GRU_RESET_AFTER = BlockLayout(
    name="keras_gru_reset_after",
    about="Keras GRU(reset_after=True), the TF2 default: kernel [input_depth, 3u], recurrent_kernel [u, 3u], "
    "blocks z r h; bias [2, 3u]: row 0 the input bias, row 1 the recurrent bias (inside the reset for h)",
    tensors=(
        BlockTensor("kernel", "x", ("u", "r", "c")),
        BlockTensor("recurrent_kernel", "h", ("u", "r", "c")),
        BlockTensor("bias", "b", ("u", "r", "c"), row=0),
        BlockTensor("bias", "b_h", ("u", "r", "c"), row=1),
    ),
    own_names=(("r", "r"), ("u", "z"), ("c", "h")),
)

KERAS_SIMPLE_RNN = BlockLayout(
    name="keras_simple_rnn",
    about="Keras SimpleRNN/SimpleRNNCell: kernel [input_depth, u], recurrent_kernel [u, u], bias [u]",
    tensors=(BlockTensor("kernel", "x", _H), BlockTensor("recurrent_kernel", "h", _H), BlockTensor("bias", "b", _H)),
    own_names=_RNN_NAMES,
    params=RNNParams,
)

LAYOUTS = (
    KERAS,
    KERAS_GRU,
    KERAS_GRU_RESET_AFTER,
    KERAS_SIMPLE_RNN,
)
"""This framework's layouts, the LSTM's first."""
