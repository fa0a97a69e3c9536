"""TensorFlow's weight layouts, as named data: the compat.v1 cells' (BasicLSTMCell/LSTMCell, GRUCell, BasicRNNCell)
and the raw ops' (LSTMBlockCell/BlockLSTM, BlockLSTMV2, GRUBlockCell). The layout models are
harness.layouts.Layout (the LSTM's) and harness.block_layouts.BlockLayout (the cells of per-gate blocks);
harness.layouts gathers every framework's layouts (``LAYOUTS``, ``GRU_LAYOUTS``, ``RNN_LAYOUTS``) and names each."""

from __future__ import annotations

from lstm_equiv.harness.block_layouts import BlockLayout, BlockTensor
from lstm_equiv.harness.layouts import RUNTIME, STACKED, STORED, Layout
from lstm_equiv.reference import RNNParams

_H = ("h",)  # the plain RNN's one block
_RNN_NAMES = (("h", "h"),)

BASIC_LSTM_CELL = Layout(
    name="basic_lstm_cell",
    gate_order=("i", "j", "f", "o"),
    kernel=STACKED,
    forget_bias=RUNTIME,
    about="tf.compat.v1 BasicLSTMCell/LSTMCell: kernel [input_depth + h_depth, 4u] on concat([x, h]), "
    "blocks i j f o; forget_bias added to f at run time",
    peepholes=(("i", "w_i_diag"), ("f", "w_f_diag"), ("o", "w_o_diag")),
    projection="projection/kernel",
)

BLOCK_LSTM = Layout(
    name="block_lstm",
    gate_order=("i", "j", "f", "o"),
    kernel=STACKED,
    forget_bias=RUNTIME,
    about="tf.raw_ops.LSTMBlockCell/BlockLSTM: w [input_depth + u, 4u] on [x, h], blocks i ci f o; "
    "attribute forget_bias added to f at run time; peepholes wci wcf wco",
    peepholes=(("i", "wci"), ("f", "wcf"), ("o", "wco")),
)

BLOCK_LSTM_V2 = Layout(
    name="block_lstm_v2",
    gate_order=("i", "f", "j", "o"),
    kernel=STACKED,
    forget_bias=STORED,
    about="tf.raw_ops.BlockLSTMV2: w [input_depth + u, 4u] on [x, h], blocks i f c o; no forget_bias "
    "attribute, so it sits in the f block of b; peepholes wci wcf wco",
    peepholes=(("i", "wci"), ("f", "wcf"), ("o", "wco")),
)

GRU_CELL = BlockLayout(
    name="gru_cell",
    about="tf.compat.v1 GRUCell: gates/kernel [input_depth + u, 2u] on concat([x, h]), blocks r u; "
    "candidate/kernel [input_depth + u, u] on concat([x, r * h]); gates/bias [2u], candidate/bias [u]",
    tensors=(
        BlockTensor("gates/kernel", "xh", ("r", "u")),
        BlockTensor("gates/bias", "b", ("r", "u")),
        BlockTensor("candidate/kernel", "xh", ("c",)),
        BlockTensor("candidate/bias", "b", ("c",)),
    ),
    own_names=(("r", "r"), ("u", "u"), ("c", "c")),
)

GRU_BLOCK = BlockLayout(
    name="gru_block",
    about="tf.raw_ops.GRUBlockCell: w_ru [input_depth + u, 2u] on [x, h_prev], blocks r u; w_c [input_depth + u, "
    "u] on [x, r * h_prev]; b_ru [2u], b_c [u] (GRUCell's layout under other names)",
    tensors=(
        BlockTensor("w_ru", "xh", ("r", "u")),
        BlockTensor("b_ru", "b", ("r", "u")),
        BlockTensor("w_c", "xh", ("c",)),
        BlockTensor("b_c", "b", ("c",)),
    ),
    own_names=(("r", "r"), ("u", "u"), ("c", "c")),
)

BASIC_RNN_CELL = BlockLayout(
    name="basic_rnn_cell",
    about="tf.compat.v1 BasicRNNCell: kernel [input_depth + u, u] on concat([x, h]), bias [u]",
    tensors=(BlockTensor("kernel", "xh", _H), BlockTensor("bias", "b", _H)),
    own_names=_RNN_NAMES,
    params=RNNParams,
)

LAYOUTS = (
    BASIC_LSTM_CELL,
    BLOCK_LSTM,
    BLOCK_LSTM_V2,
    GRU_CELL,
    GRU_BLOCK,
    BASIC_RNN_CELL,
)
"""This framework's layouts, the LSTM's first."""
