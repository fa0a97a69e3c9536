"""The PyTorch forms of the LSTM: ``torch.nn.LSTM(batch_first=True)`` (with ``proj_size`` as the case's
``num_proj``) and ``torch.nn.LSTMCell`` stepped over time; and :class:`TorchForm`, written once over every
cell (harness/forms/torch/cells.py builds ``nn.GRU`` and ``nn.RNN`` on it): stacked layers, bidirectional,
packed sequences, go_backwards, initial states and chunks.

Layouts ``torch`` and ``torch_cell``: ``weight_ih`` [4u, input_depth] and ``weight_hh`` [4u, h_depth],
row blocks i f g o, and two biases ``bias_ih`` + ``bias_hh`` that PyTorch adds. PyTorch has no run-time
forget bias, so BasicLSTMCell's ``forget_bias`` sits in the f rows of the biases. The harness splits every
bias into distinct, non-zero halves (harness.layouts.split_bias), so that dropping either one is caught.
Gradients by autograd. Needs the ``torch`` extra.
"""

from __future__ import annotations

import numpy as np

from lstm_equiv.harness import layouts
from lstm_equiv.harness.cells import CELLS
from lstm_equiv.harness.forms import ANY, Form, FormOutput, chunks
from lstm_equiv.harness.forms.torch import TORCH_DTYPES, missing, torch


class TorchForm(Form):
    """A PyTorch module whose parameters are set from the layout's tensors, run once under autograd."""

    stacking = (
        "weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} for layer k, with the suffix _reverse for "
        "the backward direction; weight_ih_l{k} for k >= 1 reads [forward | backward] of the layer below"
    )

    def __init__(self, name, about, layout, options, build, drive):
        self.name, self.about, self.layout, self.options = name, about, layout, options
        self._build, self._drive = build, drive

    def missing(self):
        return missing()

    def cannot_combine(self, options):
        if options["go_backwards"] and options["sequence_lengths"] is not None:
            return [
                (
                    "go_backwards",
                    "cannot express a reversed layer over padded rows: the PyTorch forms reverse x "
                    "as users do (torch.flip), which puts a row's padding first",
                )
            ]
        return []

    def run(self, case, inputs, dtype, gradients=False):
        t = torch()
        layout, with_c = self.layout_for(case), len(CELLS[self.cell].states) == 2
        modules, cells = self._build(t, case, getattr(t, TORCH_DTYPES[dtype]))
        with t.no_grad():
            for k, parameters in enumerate(cells):
                for name, value in layout.stored(inputs.cells[k], case, inputs.bias_shares[k]).items():
                    parameters[name].copy_(t.from_numpy(np.ascontiguousarray(value)))
        x = t.from_numpy(np.ascontiguousarray(inputs.x)).requires_grad_(gradients)
        state = None  # the module's: (h, c) for the LSTM, h for a cell without c
        if inputs.h0 is not None:
            h0 = t.from_numpy(np.stack(inputs.h0))
            state = (h0, t.from_numpy(np.stack(inputs.c0))) if with_c else h0
        seq = t.flip(x, dims=[1]) if case.go_backwards else x
        pieces = []
        for start, stop in chunks(case.timesteps, case):  # the state carried by hand
            outputs, state = self._drive(t, modules, seq[:, start:stop], state, inputs.lengths, case)
            pieces.append(outputs)
        outputs = pieces[0] if len(pieces) == 1 else t.cat(pieces, dim=1)
        h, c = state if with_c else (state, None)
        if case.cells == 1:
            h, c = h[0], None if c is None else c[0]
        logits = None
        if inputs.head_kernel is not None:
            logits = outputs[:, -1] @ t.from_numpy(inputs.head_kernel) + t.from_numpy(inputs.head_bias)
        array = lambda a: a.detach().numpy().copy()
        cell_grads = None
        if gradients:
            (outputs * t.from_numpy(inputs.loss_weights)).sum().backward()
            cell_grads = tuple({n: p.grad.numpy().copy() for n, p in cell.items()} for cell in cells)
        tensors = tuple({n: array(p) for n, p in cell.items()} for cell in cells)
        grads = None if cell_grads is None else {**cell_grads[0], "x": x.grad.numpy().copy()}
        return FormOutput(
            tensors=tensors[0],
            outputs=array(outputs),
            h=array(h),
            c=None if c is None else array(c),
            logits=None if logits is None else array(logits),
            grads=grads,
            cells=tensors if case.cells > 1 else None,
            cell_grads=cell_grads if case.cells > 1 and gradients else None,
        )


def whole_module(class_name, layout, **fixed):
    """A builder of ``torch.nn.<class_name>`` over the case's layers and directions: (module, one
    {layout name: parameter} per cell). ``fixed(case)``: its other arguments."""

    def build(t, case, dtype):
        module = getattr(t.nn, class_name)(
            case.input_depth,
            case.num_units,
            num_layers=case.layers,
            batch_first=True,
            bidirectional=case.bidirectional is not None,
            dtype=dtype,
            **{k: f(case) for k, f in fixed.items()},
        )
        named = dict(module.named_parameters())
        cells = []
        for k in range(case.cells):  # weight_ih_l{layer}, with _reverse for the backward direction
            suffix = f"_l{k // case.directions}" + ("_reverse" if k % case.directions else "")
            cells.append({name: named[name.replace("_l0", suffix)] for name in layout.shapes_of(case, 0)})
        return module, cells

    return build


def whole_sequence(t, module, x, state, lengths, case):
    """nn.LSTM, nn.GRU or nn.RNN over x (packed with pack_padded_sequence when rows are padded): outputs and
    the final state."""
    if lengths is None:
        return module(x, state)
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    packed = pack_padded_sequence(x, t.from_numpy(lengths), batch_first=True, enforce_sorted=False)
    outputs, state = module(packed, state)
    return pad_packed_sequence(outputs, batch_first=True, total_length=x.shape[1])[0], state


def _cell(t, case, dtype):
    modules = [t.nn.LSTMCell(case.cell_input_depth(k), case.num_units, dtype=dtype) for k in range(case.cells)]
    return modules, [dict(m.named_parameters()) for m in modules]


def _stepped(t, modules, x, state, lengths, case):
    """One LSTMCell per layer, stepped over time, each layer reading the one below: outputs, (h, c) stacked."""
    h = [x.new_zeros((x.shape[0], m.hidden_size)) for m in modules] if state is None else list(state[0])
    c = [x.new_zeros((x.shape[0], m.hidden_size)) for m in modules] if state is None else list(state[1])
    outputs = []
    for step in range(x.shape[1]):
        below = x[:, step]
        for k, module in enumerate(modules):
            h[k], c[k] = module(below, (h[k], c[k]))
            below = h[k]
        outputs.append(below)
    return t.stack(outputs, dim=1), (t.stack(h), t.stack(c))


_SEQUENCES = {"go_backwards": ANY, "initial_state": ANY, "stateful_chunks": ANY, "layers": ANY}
WHOLE_SEQUENCES = {**_SEQUENCES, "bidirectional": ("concat",), "sequence_lengths": ANY}
"""What a whole-sequence torch.nn module (LSTM, GRU, RNN) expresses of the sequence keys."""
FORMS = [
    TorchForm(
        "torch_lstm",
        "torch.nn.LSTM(batch_first=True): tanh/sigmoid only, no peepholes or clips; "
        "proj_size is num_proj; bidirectional concatenates only; padded rows by pack_padded_sequence",
        layouts.TORCH,
        {"num_proj": ANY, **WHOLE_SEQUENCES},
        whole_module("LSTM", layouts.TORCH, proj_size=lambda case: case.num_proj or 0),
        whole_sequence,
    ),
    TorchForm(
        "torch_lstm_cell",
        "torch.nn.LSTMCell, stepped (stacked by hand): tanh/sigmoid only, no peepholes, "
        "projection or clips, one direction, full rows",
        layouts.TORCH_CELL,
        _SEQUENCES,
        _cell,
        _stepped,
    ),
]
