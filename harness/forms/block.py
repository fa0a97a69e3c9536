"""The fused block ops: ``LSTMBlockCell`` stepped over time, ``BlockLSTM`` and ``BlockLSTMV2``.

Both stack ``w`` [input_depth + u, 4u] on [x, h]. LSTMBlockCell and BlockLSTM order the blocks
i ci f o and take ``forget_bias`` as an attribute (default 1.0); BlockLSTMV2 orders them i f c o and has
no forget bias, so it is stored in the f block of ``b``. The ops clip c at ``cell_clip``: 3.0 by default
for the first two, which this harness never leaves on by accident (a value <= 0 turns it off).
They take float16 and float32 only.
"""
from __future__ import annotations

import numpy as np

from harness import layouts, tf_compat
from harness.forms import ANY, Form, FormOutput, head_logits

_NO_CLIP = -1.0  # any value <= 0 turns the ops' clip off


class BlockForm(Form):
    """A raw fused LSTM op, run eagerly on tf.Variables that hold the layout's tensors."""

    dtypes = ("float32",)
    options = {"use_peepholes": ANY, "cell_clip": ANY}

    def __init__(self, name, about, layout, step):
        self.name, self.about, self.layout, self._step = name, about, layout, step

    def run(self, case, inputs, dtype):
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
        x = tf.constant(np.transpose(inputs.x, (1, 0, 2)))  # time-major
        h0 = tf.zeros((case.batch, n), dtype)
        outputs, c = self._step(tf, x, h0, variables, attrs)  # [time, batch, u], last c
        outputs = tf.transpose(outputs, (1, 0, 2))
        logits = head_logits(tf, outputs[:, -1], inputs, dtype)
        read = {name: v.numpy() for name, v in variables.items()
                if case.use_peepholes or name not in dict(self.layout.peepholes).values()}
        return FormOutput(tensors=read, outputs=np.asarray(outputs), h=np.asarray(outputs[:, -1]),
                          c=np.asarray(c), logits=None if logits is None else np.asarray(logits))


def _weights(v):
    return dict(w=v["kernel"], wci=v["wci"], wcf=v["wcf"], wco=v["wco"], b=v["bias"])


def lstm_block_cell(tf, x, h0, v, attrs):
    """tf.raw_ops.LSTMBlockCell once per timestep."""
    h, c, outputs = h0, h0, []
    for x_t in tf.unstack(x):
        step = tf.raw_ops.LSTMBlockCell(x=x_t, cs_prev=c, h_prev=h, **_weights(v), **attrs)
        h, c = step.h, step.cs
        outputs.append(h)
    return tf.stack(outputs), c


def block_lstm(tf, x, h0, v, attrs):
    """tf.raw_ops.BlockLSTM over the whole sequence."""
    out = tf.raw_ops.BlockLSTM(seq_len_max=np.int64(x.shape[0]), x=x, cs_prev=h0, h_prev=h0, **_weights(v), **attrs)
    return out.h, out.cs[-1]


def block_lstm_v2(tf, x, h0, v, attrs):
    """tf.raw_ops.BlockLSTMV2 over the whole sequence."""
    out = tf.raw_ops.BlockLSTMV2(seq_len_max=np.int64(x.shape[0]), x=x, cs_prev=h0, h_prev=h0, **_weights(v), **attrs)
    return out.h, out.cs[-1]


_ABOUT = "a fused op: activations fixed to tanh/sigmoid, no projection"
FORMS = [
    BlockForm("lstm_block_cell", f"tf.raw_ops.LSTMBlockCell, {_ABOUT}", layouts.BLOCK_LSTM, lstm_block_cell),
    BlockForm("block_lstm", f"tf.raw_ops.BlockLSTM, {_ABOUT}", layouts.BLOCK_LSTM, block_lstm),
    BlockForm("block_lstm_v2", f"tf.raw_ops.BlockLSTMV2, {_ABOUT}", layouts.BLOCK_LSTM_V2, block_lstm_v2),
]
