"""The PyTorch forms: ``torch.nn.LSTM(batch_first=True)`` (with ``proj_size`` as the case's ``num_proj``)
and ``torch.nn.LSTMCell`` stepped over time.

Layouts ``torch`` and ``torch_cell``: ``weight_ih`` [4u, input_depth] and ``weight_hh`` [4u, h_depth],
row blocks i f g o, and two biases ``bias_ih`` + ``bias_hh`` that PyTorch adds. PyTorch has no run-time
forget bias, so BasicLSTMCell's ``forget_bias`` sits in the f rows of the biases. The harness splits every
bias into distinct, non-zero halves (harness.layouts.split_bias), so that dropping either one is caught.
Gradients by autograd. Needs the ``torch`` extra.
"""
from __future__ import annotations

import importlib.util
import warnings

import numpy as np

from harness import layouts
from harness.forms import ANY, Form, FormOutput

EXTRA = "torch"


def missing() -> str | None:
    """Why PyTorch cannot be used here, or None when it can."""
    if importlib.util.find_spec("torch") is None:
        return f"PyTorch is not installed: pip install -e '.[{EXTRA}]'"
    return None


def torch():
    """The torch module, on one thread: the cases' matrices are small and two xdist workers share 2 cores."""
    import torch as module

    # PyPI's Linux wheel is built with CUDA: on a machine without a GPU its first backward pass warns that
    # CUDA failed to initialise (error 302), which says nothing about the CPU results
    warnings.filterwarnings("ignore", message="CUDA initialization", category=UserWarning)
    module.set_num_threads(1)
    return module


TORCH_DTYPES = {"float32": "float32", "float64": "float64"}


class TorchForm(Form):
    """A PyTorch module whose parameters are set from the layout's tensors, run once under autograd."""

    def __init__(self, name, about, layout, options, build, drive):
        self.name, self.about, self.layout, self.options = name, about, layout, options
        self._build, self._drive = build, drive

    def missing(self):
        return missing()

    def skip_reason(self, case, dtype):
        return super().skip_reason(case, dtype) or missing()

    def run(self, case, inputs, dtype, gradients=False):
        t = torch()
        module = self._build(t, case, getattr(t, TORCH_DTYPES[dtype]))
        parameters = dict(module.named_parameters())
        with t.no_grad():
            for name, value in self.layout.compose(inputs.params, case.forget_bias, inputs.bias_share).items():
                parameters[name].copy_(t.from_numpy(np.ascontiguousarray(value)))
        x = t.from_numpy(np.ascontiguousarray(inputs.x)).requires_grad_(gradients)
        outputs, h, c = self._drive(t, module, x)
        logits = None
        if inputs.head_kernel is not None:
            logits = outputs[:, -1] @ t.from_numpy(inputs.head_kernel) + t.from_numpy(inputs.head_bias)
        grads = None
        if gradients:
            (outputs * t.from_numpy(inputs.loss_weights)).sum().backward()
            grads = {name: p.grad.numpy().copy() for name, p in parameters.items()}
            grads["x"] = x.grad.numpy().copy()
        array = lambda a: a.detach().numpy().copy()  # noqa: E731
        return FormOutput(tensors={name: array(p) for name, p in parameters.items()}, outputs=array(outputs),
                          h=array(h), c=array(c), logits=None if logits is None else array(logits), grads=grads)


def _lstm(t, case, dtype):
    return t.nn.LSTM(case.input_depth, case.num_units, batch_first=True, proj_size=case.num_proj or 0, dtype=dtype)


def _whole_sequence(t, module, x):
    outputs, (h, c) = module(x)
    return outputs, h[0], c[0]


def _cell(t, case, dtype):
    return t.nn.LSTMCell(case.input_depth, case.num_units, dtype=dtype)


def _stepped(t, module, x):
    h = c = x.new_zeros((x.shape[0], module.hidden_size))
    outputs = []
    for step in range(x.shape[1]):
        h, c = module(x[:, step], (h, c))
        outputs.append(h)
    return t.stack(outputs, dim=1), h, c


FORMS = [
    TorchForm("torch_lstm", "torch.nn.LSTM(batch_first=True): tanh/sigmoid only, no peepholes or clips; "
              "proj_size is num_proj", layouts.TORCH, {"num_proj": ANY}, _lstm, _whole_sequence),
    TorchForm("torch_lstm_cell", "torch.nn.LSTMCell, stepped: tanh/sigmoid only, no peepholes, projection or clips",
              layouts.TORCH_CELL, {}, _cell, _stepped),
]
