"""PyTorch's forms of the cells of per-gate blocks: ``torch.nn.GRU`` (the reset after the product always) and
``torch.nn.RNN`` (tanh or relu), each :class:`TorchForm` over the case's layers, directions and padded rows,
gradients by autograd."""

from __future__ import annotations

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms.cells import BlockCellForm
from lstm_equiv.harness.forms.torch.lstm import WHOLE_SEQUENCES, TorchForm, whole_module, whole_sequence


class TorchCellForm(BlockCellForm, TorchForm):
    """The cell's torch.nn module (batch_first=True): TorchForm's run with the cell's layout."""

    def __init__(self, name, about, cell, layout, options, build, reset_after_values=()):
        TorchForm.__init__(self, name, about, layout, options, build, whole_sequence)
        self.cell, self._reset_after = cell, reset_after_values


FORMS = [
    TorchCellForm(
        "torch_gru",
        "torch.nn.GRU(batch_first=True): tanh/sigmoid only; n = tanh(x W_in + b_in + r * (h "
        "W_hn + b_hn)), the reset after the product always; bidirectional concatenates only; padded rows by "
        "pack_padded_sequence",
        "gru",
        layouts.TORCH_GRU,
        WHOLE_SEQUENCES,
        whole_module("GRU", layouts.TORCH_GRU),
        reset_after_values=(True,),
    ),
    TorchCellForm(
        "torch_rnn",
        "torch.nn.RNN(batch_first=True): nonlinearity tanh or relu; bidirectional concatenates only; padded "
        "rows by pack_padded_sequence",
        "rnn",
        layouts.TORCH_RNN,
        {"activation": ("relu",), **WHOLE_SEQUENCES},
        whole_module("RNN", layouts.TORCH_RNN, nonlinearity=lambda case: case.activation),
    ),
]
