"""PyTorch files: a layer's weights written as a ``state_dict`` of nn.LSTM or nn.GRU, and the written file loaded
back into the module and run (lstm-equiv convert --to torch)."""

from __future__ import annotations

import numpy as np

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms.torch import torch


def _module(t, source):
    """The source's layer as a torch module (nn.GRU, or nn.LSTM with proj_size for a projection)."""
    p, dtype = source.params, getattr(t, source.dtype)
    if source.cell == "gru":
        return t.nn.GRU(p.input_depth, p.num_units, batch_first=True, dtype=dtype)
    proj = 0 if p.projection is None else p.projection.shape[1]
    return t.nn.LSTM(p.input_depth, p.num_units, batch_first=True, proj_size=proj, dtype=dtype)


def write(source, out) -> list:
    """Write ``source`` (harness.convert.Source) into ``out``; lines that tell how to load it."""
    t, p = torch(), source.params
    if source.cell == "gru":
        tensors, name, more = layouts.TORCH_GRU.compose(p), "gru = torch.nn.GRU", ""
    else:  # the whole bias in bias_ih_l0, bias_hh_l0 zeros
        tensors, name = layouts.TORCH.compose(p, source.forget_bias), "lstm = torch.nn.LSTM"
        more = f", proj_size={p.projection.shape[1]}" if p.projection is not None else ""
    t.save({k: t.from_numpy(np.ascontiguousarray(v)) for k, v in tensors.items()}, out)
    return [
        f"{name}(input_size={p.input_depth}, hidden_size={p.num_units}, batch_first=True{more}"
        f"{', dtype=torch.float64' if source.dtype == 'float64' else ''})",
        f"{name.split()[0]}.load_state_dict(torch.load({str(out)!r}))  # keys {', '.join(tensors)}",
    ]


def load_and_run(out, source, x) -> tuple:
    """The written file loaded back into its module, on ``x``: (outputs, h, c; c None for a GRU)."""
    t = torch()
    module = _module(t, source)
    module.load_state_dict(t.load(out))
    with t.no_grad():
        outputs, state = module(t.from_numpy(np.ascontiguousarray(x)))
    if source.cell == "gru":
        return outputs.numpy(), state[0].numpy(), None
    return outputs.numpy(), state[0][0].numpy(), state[1][0].numpy()
