"""PyTorch's weight layouts, as named data: nn.LSTM, nn.LSTMCell, nn.GRU, nn.RNN. The layout models are
harness.layouts.Layout (the LSTM's) and harness.block_layouts.BlockLayout (the cells of per-gate blocks);
harness.layouts gathers every framework's layouts (``LAYOUTS``, ``GRU_LAYOUTS``, ``RNN_LAYOUTS``) and names each."""

from __future__ import annotations

from dataclasses import replace

from lstm_equiv.harness.block_layouts import BlockLayout, BlockTensor
from lstm_equiv.harness.layouts import SPLIT, STORED, Layout
from lstm_equiv.reference import RNNParams

_H = ("h",)  # the plain RNN's one block
_RNN_NAMES = (("h", "h"),)

TORCH = Layout(
    name="torch",
    gate_order=("i", "f", "j", "o"),
    kernel=SPLIT,
    forget_bias=STORED,
    about="PyTorch nn.LSTM: weight_ih_l0 [4u, input_depth] and weight_hh_l0 [4u, h_depth], row blocks i f g o; "
    "bias_ih_l0 and bias_hh_l0 [4u] are added; no run-time forget bias; proj_size adds weight_hr_l0 [num_proj, u]",
    projection="weight_hr_l0",
    transposed=True,
    x_name="weight_ih_l0",
    h_name="weight_hh_l0",
    biases=("bias_ih_l0", "bias_hh_l0"),
)

TORCH_CELL = replace(
    TORCH,
    name="torch_cell",
    about="PyTorch nn.LSTMCell: weight_ih [4u, input_depth] and weight_hh [4u, u], row blocks i f g o; "
    "bias_ih and bias_hh [4u] are added; no run-time forget bias",
    projection=None,
    x_name="weight_ih",
    h_name="weight_hh",
    biases=("bias_ih", "bias_hh"),
)

TORCH_GRU = BlockLayout(
    name="torch_gru",
    about="PyTorch nn.GRU: weight_ih_l0 [3u, input_depth] and weight_hh_l0 [3u, u], row blocks r z n; bias_ih_l0 "
    "and bias_hh_l0 [3u]; n = tanh(x W_in + b_in + r * (h W_hn + b_hn)): the reset after the product",
    tensors=(
        BlockTensor("weight_ih_l0", "x", ("r", "u", "c")),
        BlockTensor("weight_hh_l0", "h", ("r", "u", "c")),
        BlockTensor("bias_ih_l0", "b", ("r", "u", "c")),
        BlockTensor("bias_hh_l0", "b_h", ("r", "u", "c")),
    ),
    own_names=(("r", "r"), ("u", "z"), ("c", "n")),
    transposed=True,
)

TORCH_RNN = BlockLayout(
    name="torch_rnn",
    about="PyTorch nn.RNN: weight_ih_l0 [u, input_depth], weight_hh_l0 [u, u], bias_ih_l0 and bias_hh_l0 [u], added",
    tensors=(
        BlockTensor("weight_ih_l0", "x", _H),
        BlockTensor("weight_hh_l0", "h", _H),
        BlockTensor("bias_ih_l0", "b", _H),
        BlockTensor("bias_hh_l0", "b_h", _H),
    ),
    own_names=_RNN_NAMES,
    transposed=True,
    params=RNNParams,
)

LAYOUTS = (
    TORCH,
    TORCH_CELL,
    TORCH_GRU,
    TORCH_RNN,
)
"""This framework's layouts, the LSTM's first."""
