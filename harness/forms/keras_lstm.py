"""``keras_lstm``: the Keras ``LSTM`` layer with BasicLSTMCell-equivalent settings.

tanh activation, sigmoid recurrent activation, ``unit_forget_bias=False``. Keras has no run-time forget
bias, so BasicLSTMCell's ``forget_bias`` is realised in the f block of the Keras bias (layout ``keras``).
"""
from __future__ import annotations

import numpy as np

from harness import layouts, tf_compat
from harness.forms import Form, FormOutput


class KerasLSTM(Form):
    """keras.layers.LSTM(return_sequences=True, return_state=True), traced once."""

    name = "keras_lstm"
    layout = layouts.KERAS
    about = "keras.layers.LSTM (tanh/sigmoid, unit_forget_bias=False) in a tf.function"

    def run(self, case, inputs, dtype):
        tf, keras = tf_compat.tf(), tf_compat.keras()
        layer = keras.layers.LSTM(
            case.num_units, activation="tanh", recurrent_activation="sigmoid", unit_forget_bias=False,
            return_sequences=True, return_state=True, dtype=dtype,
        )
        layer.build((case.batch, case.timesteps, case.input_depth))
        cell = layer.cell
        variables = {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel, "bias": cell.bias}
        for name, value in self.layout.compose(inputs.params, case.forget_bias).items():
            variables[name].assign(value)
        head = None
        if case.num_classes:
            head = keras.layers.Dense(case.num_classes, dtype=dtype)
            head.build((case.batch, case.num_units))
            head.kernel.assign(inputs.head_kernel)
            head.bias.assign(inputs.head_bias)

        @tf.function(input_signature=[tf.TensorSpec(inputs.x.shape, dtype)])
        def forward(x):
            outputs, h, c = layer(x)
            logits = head(outputs[:, -1]) if head is not None else tf.zeros([0], dtype)
            return outputs, h, c, logits

        outputs, h, c, logits = (np.asarray(t) for t in forward(tf.constant(inputs.x)))
        return FormOutput(
            tensors={name: np.asarray(v.numpy()) for name, v in variables.items()},
            outputs=outputs, h=h, c=c, logits=logits if head is not None else None,
        )
