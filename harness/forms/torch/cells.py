"""PyTorch's forms of the cells of per-gate blocks: ``torch.nn.GRU`` (the reset after the product always) and
``torch.nn.RNN`` (tanh or relu), gradients by autograd."""

from __future__ import annotations

import numpy as np

from harness import layouts
from harness.forms import ANY, FormOutput
from harness.forms.cells import BlockCellForm
from harness.forms.torch import TORCH_DTYPES, missing, torch


class TorchCellForm(BlockCellForm):
    """The cell's torch.nn module (batch_first=True), gradients by autograd."""

    def __init__(self, name, about, cell, layout, options, make_module, reset_after_values=()):
        self.name, self.about, self.cell, self.layout, self.options = name, about, cell, layout, options
        self._make_module, self._reset_after = make_module, reset_after_values

    def missing(self):
        return missing()

    def run(self, case, inputs, dtype, gradients=False):
        t = torch()
        module = self._make_module(t, case, getattr(t, TORCH_DTYPES[dtype]))
        parameters = dict(module.named_parameters())
        with t.no_grad():
            for name, value in self.layout.compose(inputs.params, inputs.bias_share).items():
                parameters[name].copy_(t.from_numpy(np.ascontiguousarray(value)))
        x = t.from_numpy(np.ascontiguousarray(inputs.x)).requires_grad_(gradients)
        h0 = None if inputs.h0 is None else t.from_numpy(inputs.h0[0][None])
        outputs, h = module(x, h0)
        logits = None
        if inputs.head_kernel is not None:
            logits = outputs[:, -1] @ t.from_numpy(inputs.head_kernel) + t.from_numpy(inputs.head_bias)
        grads = None
        if gradients:
            (outputs * t.from_numpy(inputs.loss_weights)).sum().backward()
            grads = {name: p.grad.numpy().copy() for name, p in parameters.items()}
            grads["x"] = x.grad.numpy().copy()
        array = lambda a: a.detach().numpy().copy()
        return FormOutput(
            tensors={n: array(p) for n, p in parameters.items()},
            outputs=array(outputs),
            h=array(h[0]),
            c=None,
            logits=None if logits is None else array(logits),
            grads=grads,
        )


FORMS = [
    TorchCellForm(
        "torch_gru",
        "torch.nn.GRU(batch_first=True): tanh/sigmoid only; n = tanh(x W_in + b_in + r * (h "
        "W_hn + b_hn)), the reset after the product always",
        "gru",
        layouts.TORCH_GRU,
        {"initial_state": ANY},
        lambda t, case, dtype: t.nn.GRU(case.input_depth, case.num_units, batch_first=True, dtype=dtype),
        reset_after_values=(True,),
    ),
    TorchCellForm(
        "torch_rnn",
        "torch.nn.RNN(batch_first=True): nonlinearity tanh or relu",
        "rnn",
        layouts.TORCH_RNN,
        {"activation": ("relu",), "initial_state": ANY},
        lambda t, case, dtype: t.nn.RNN(
            case.input_depth, case.num_units, nonlinearity=case.activation, batch_first=True, dtype=dtype
        ),
    ),
]
