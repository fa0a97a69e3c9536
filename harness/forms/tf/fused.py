"""The fused block ops: ``LSTMBlockCell`` stepped over time, ``BlockLSTM`` and ``BlockLSTMV2``; and the
GRU's ``GRUBlockCell``, stepped.

Both stack ``w`` [input_depth + u, 4u] on [x, h]. LSTMBlockCell and BlockLSTM order the blocks
i ci f o and take ``forget_bias`` as an attribute (default 1.0); BlockLSTMV2 orders them i f c o and has
no forget bias, so it is stored in the f block of ``b``. The ops clip c at ``cell_clip``: 3.0 by default
for the first two, which this harness never leaves on by accident (a value <= 0 turns it off).
They take float16 and float32 only.
"""

from __future__ import annotations

import numpy as np

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms import ANY, Form, KnownGradientBug, form_output, forward_and_gradients, head_logits
from lstm_equiv.harness.forms.cells import BlockCellForm, no_c
from lstm_equiv.harness.forms.tf import compat as tf_compat

_NO_CLIP = -1.0  # any value <= 0 turns the ops' clip off


class BlockForm(Form):
    """A raw fused LSTM op, run eagerly on tf.Variables that hold the layout's tensors."""

    dtypes = ("float32",)
    options = {"use_peepholes": ANY, "cell_clip": ANY, "initial_state": ANY, "go_backwards": ANY}

    def __init__(self, name, about, layout, step, no_gradient=None, gradient_bug=None):
        self.name, self.about, self.layout, self._step = name, about, layout, step
        self.no_gradient, self.gradient_bug = no_gradient, gradient_bug

    def gradient_semantics(self, case):
        # measured: TF's BlockLSTMGrad kernels pass the gradient straight through the cell clip, where
        # the clip's derivative (LSTMCell's tf.clip_by_value) is zero (46 vs 1.6e-5 on the cell_clip case)
        return {"cell_clip_gradient": "straight_through"}

    def run(self, case, inputs, dtype, gradients=False):
        tf = tf_compat.tf()
        n = case.num_units
        tensors = self.layout.compose(inputs.params, case.forget_bias)
        zeros = np.zeros(n, dtype)
        for _, name in self.layout.peepholes:  # the ops always take the diagonals; zeros when unused
            tensors.setdefault(name, zeros)
        variables = {name: tf.Variable(value, name=name.replace("/", "_")) for name, value in tensors.items()}
        attrs = {"cell_clip": case.cell_clip or _NO_CLIP, "use_peephole": case.use_peepholes}
        if self.layout.forget_bias == layouts.RUNTIME:
            attrs["forget_bias"] = case.forget_bias
        h0 = tf.zeros((case.batch, n), dtype) if inputs.h0 is None else tf.constant(inputs.h0[0])
        c0 = tf.zeros((case.batch, n), dtype) if inputs.c0 is None else tf.constant(inputs.c0[0])

        def forward(x):
            x = tf.reverse(x, axis=[1]) if case.go_backwards else x  # reversed as users do: outputs last step first
            time_major, h, c = self._step(tf, tf.transpose(x, (1, 0, 2)), h0, c0, variables, attrs)
            outputs = tf.transpose(time_major, (1, 0, 2))
            return outputs, h, c, head_logits(tf, outputs[:, -1], inputs, dtype)

        x = tf.constant(inputs.x)
        result = forward_and_gradients(tf, forward, variables, x, inputs.loss_weights if gradients else None)
        unused = () if case.use_peepholes else dict(self.layout.peepholes).values()
        evidence = (
            _gradient_kernels(tf, x, h0, c0, variables, attrs, inputs.loss_weights, case.go_backwards)
            if (gradients and self.gradient_bug)
            else None
        )
        return form_output(variables, *result, read=[n for n in variables if n not in unused], evidence=evidence)


def _weights(v):
    return dict(w=v["kernel"], wci=v["wci"], wcf=v["wcf"], wco=v["wco"], b=v["bias"])


def lstm_block_cell(tf, x, h0, c0, v, attrs):
    """tf.raw_ops.LSTMBlockCell once per timestep."""
    h, c, outputs = h0, c0, []
    for x_t in tf.unstack(x):
        step = tf.raw_ops.LSTMBlockCell(x=x_t, cs_prev=c, h_prev=h, **_weights(v), **attrs)
        h, c = step.h, step.cs
        outputs.append(h)
    return tf.stack(outputs), h, c


def block_lstm(tf, x, h0, c0, v, attrs):
    """tf.raw_ops.BlockLSTM over the whole sequence."""
    out = tf.raw_ops.BlockLSTM(seq_len_max=np.int64(x.shape[0]), x=x, cs_prev=c0, h_prev=h0, **_weights(v), **attrs)
    return out.h, out.h[-1], out.cs[-1]


def block_lstm_v2(tf, x, h0, c0, v, attrs):
    """tf.raw_ops.BlockLSTMV2 over the whole sequence."""
    out = tf.raw_ops.BlockLSTMV2(seq_len_max=np.int64(x.shape[0]), x=x, cs_prev=c0, h_prev=h0, **_weights(v), **attrs)
    return out.h, out.h[-1], out.cs[-1]


def _gradient_kernels(tf, x, h0, c0, v, attrs, loss_weights, reversed_x=False) -> dict:
    """BlockLSTMV2's outputs run through both gradient kernels for the loss ``sum(loss_weights * h)``:
    ``registered`` (the V1 kernel BlockLSTMGrad, which TF registers as V2's gradient) and ``own``
    (BlockLSTMGradV2), each as d loss / d tensor by layout name and d loss / d x (batch-major; with
    ``reversed_x``, the op ran on x reversed in time and d loss / d x is turned back)."""
    x_t = tf.transpose(tf.reverse(x, axis=[1]) if reversed_x else x, (1, 0, 2))
    inputs = dict(seq_len_max=np.int64(x_t.shape[0]), x=x_t, cs_prev=c0, h_prev=h0, **_weights(v))
    fwd = tf.raw_ops.BlockLSTMV2(**inputs, **attrs)
    args = dict(
        **inputs,
        i=fwd.i,
        cs=fwd.cs,
        f=fwd.f,
        o=fwd.o,
        ci=fwd.ci,
        co=fwd.co,
        h=fwd.h,
        cs_grad=tf.zeros_like(fwd.cs),
        h_grad=tf.transpose(tf.constant(loss_weights, x.dtype), (1, 0, 2)),
        use_peephole=attrs["use_peephole"],
    )
    out = {}
    for name, op in (("registered", tf.raw_ops.BlockLSTMGrad), ("own", tf.raw_ops.BlockLSTMGradV2)):
        g = op(**args)
        dx = tf.transpose(g.x_grad, (1, 0, 2))
        out[name] = {
            "kernel": g.w_grad,
            "bias": g.b_grad,
            "wci": g.wci_grad,
            "wcf": g.wcf_grad,
            "wco": g.wco_grad,
            "x": tf.reverse(dx, axis=[1]) if reversed_x else dx,
        }
    return out


_ABOUT = (
    "a fused op: activations fixed to tanh/sigmoid, no projection; one layer, one direction (x reversed by "
    "hand for "
    "go_backwards), full rows, one pass"
)
FORMS = [
    BlockForm(
        "lstm_block_cell",
        f"tf.raw_ops.LSTMBlockCell, {_ABOUT}",
        layouts.BLOCK_LSTM,
        lstm_block_cell,
        no_gradient="TF registers no gradient for LSTMBlockCell (its gradient lived in tf.contrib)",
    ),
    BlockForm("block_lstm", f"tf.raw_ops.BlockLSTM, {_ABOUT}", layouts.BLOCK_LSTM, block_lstm),
    BlockForm(
        "block_lstm_v2",
        f"tf.raw_ops.BlockLSTMV2, {_ABOUT}",
        layouts.BLOCK_LSTM_V2,
        block_lstm_v2,
        gradient_bug=KnownGradientBug(
            "TF registers BlockLSTMV2's gradient as BlockLSTM's (tensorflow/python/ops/rnn_grad.py: the V1 "
            "kernel BlockLSTMGrad, which assumes blocks i ci f o), so tf.GradientTape returns wrong gradients; "
            "tf.raw_ops.BlockLSTMGradV2 itself matches the reference (measured on TF 2.15.1 and 2.21.0)",
            registered="the V1 kernel BlockLSTMGrad run on V2's outputs",
            own="tf.raw_ops.BlockLSTMGradV2",
        ),
    ),
]


class GRUBlockForm(BlockCellForm):
    """tf.raw_ops.GRUBlockCell once per timestep, on tf.Variables that hold layout gru_block."""

    layout = layouts.GRU_BLOCK
    dtypes = ("float32",)
    options = {"initial_state": ANY}
    _reset_after = (False,)
    no_gradient = (
        "TF registers no gradient for GRUBlockCell (LookupError: gradient registry has no entry for: "
        "GRUBlockCell; its gradient lived in tf.contrib)"
    )
    name = "gru_block_cell"
    about = (
        "tf.raw_ops.GRUBlockCell, stepped: GRUCell's equations in one fused op; tanh/sigmoid only, float32 "
        "only, the reset before the product"
    )

    def run(self, case, inputs, dtype, gradients=False):
        tf = tf_compat.tf()
        variables = {name: tf.Variable(value, name=name) for name, value in self.layout.compose(inputs.params).items()}
        h0 = tf.zeros((case.batch, case.num_units), dtype) if inputs.h0 is None else tf.constant(inputs.h0[0])

        def forward(x):
            h, outputs = h0, []
            for x_t in tf.unstack(x, axis=1):
                h = tf.raw_ops.GRUBlockCell(
                    x=x_t,
                    h_prev=h,
                    w_ru=variables["w_ru"],
                    w_c=variables["w_c"],
                    b_ru=variables["b_ru"],
                    b_c=variables["b_c"],
                ).h
                outputs.append(h)
            outputs = tf.stack(outputs, axis=1)
            return outputs, h, h, head_logits(tf, outputs[:, -1], inputs, dtype)

        result = forward_and_gradients(
            tf, forward, variables, tf.constant(inputs.x), inputs.loss_weights if gradients else None
        )
        return no_c(form_output(variables, *result))


FORMS.append(GRUBlockForm())
