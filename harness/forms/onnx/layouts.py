"""ONNX's weight layouts, as named data: the LSTM, GRU and RNN operators. The layout models are
harness.layouts.Layout (the LSTM's) and harness.block_layouts.BlockLayout (the cells of per-gate blocks);
harness.layouts gathers every framework's layouts (``LAYOUTS``, ``GRU_LAYOUTS``, ``RNN_LAYOUTS``) and names each."""

from __future__ import annotations

from lstm_equiv.harness.block_layouts import BlockLayout, BlockTensor
from lstm_equiv.harness.layouts import SPLIT, STORED, Layout
from lstm_equiv.reference import RNNParams

_H = ("h",)  # the plain RNN's one block
_RNN_NAMES = (("h", "h"),)

ONNX = Layout(
    name="onnx",
    gate_order=("i", "o", "f", "j"),
    kernel=SPLIT,
    forget_bias=STORED,
    about="ONNX LSTM: W [1, 4u, input_depth] and R [1, 4u, u], row blocks i o f c; B [1, 8u] = [Wb, Rb], "
    "added; P [1, 3u] = [P_i, P_o, P_f]; no run-time forget bias (the leading axis is num_directions)",
    peepholes=(("i", "P_i"), ("o", "P_o"), ("f", "P_f")),
    transposed=True,
    x_name="W",
    h_name="R",
    biases=("Wb", "Rb"),
)

ONNX_GRU = BlockLayout(
    name="onnx_gru",
    about="ONNX GRU: W [1, 3u, input_depth] and R [1, 3u, u], row blocks z r h; B [1, 6u] = [Wb, Rb]; "
    "linear_before_reset=1 puts the reset after the recurrent product (Rb_h inside it), 0 before (added)",
    tensors=(
        BlockTensor("W", "x", ("u", "r", "c")),
        BlockTensor("R", "h", ("u", "r", "c")),
        BlockTensor("Wb", "b", ("u", "r", "c")),
        BlockTensor("Rb", "b_h", ("u", "r", "c")),
    ),
    own_names=(("r", "r"), ("u", "z"), ("c", "h")),
    transposed=True,
)

ONNX_RNN = BlockLayout(
    name="onnx_rnn",
    about="ONNX RNN: W [1, u, input_depth] and R [1, u, u]; B [1, 2u] = [Wb, Rb], added",
    tensors=(
        BlockTensor("W", "x", _H),
        BlockTensor("R", "h", _H),
        BlockTensor("Wb", "b", _H),
        BlockTensor("Rb", "b_h", _H),
    ),
    own_names=_RNN_NAMES,
    transposed=True,
    params=RNNParams,
)

LAYOUTS = (
    ONNX,
    ONNX_GRU,
    ONNX_RNN,
)
"""This framework's layouts, the LSTM's first."""
