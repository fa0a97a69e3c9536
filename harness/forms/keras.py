"""The Keras forms: the ``LSTM`` layer (implementation 2 and 1) and ``RNN(LSTMCell)``.

All three hold layout ``keras``: a kernel for x, a recurrent kernel for h, blocks i f c o. Keras has no
run-time forget bias, so BasicLSTMCell's ``forget_bias`` is realised in the f block of the bias
(``unit_forget_bias=False``: nothing else is added).
"""
from __future__ import annotations


from harness import layouts, tf_compat
from harness.forms import ANY, Form, form_output, forward_and_gradients


class KerasForm(Form):
    """A Keras layer over the whole sequence, traced once with a fixed input signature."""

    layout = layouts.KERAS
    options = {"activation": ANY, "recurrent_activation": ANY}

    def __init__(self, name, about, make_layer):
        self.name, self.about, self._make_layer = name, about, make_layer

    def semantics(self, case) -> dict:
        out = super().semantics(case)
        if case.recurrent_activation == "hard_sigmoid":
            out["recurrent_activation"] = tf_compat.keras_hard_sigmoid()
        return out

    def run(self, case, inputs, dtype, gradients=False):
        tf, keras = tf_compat.tf(), tf_compat.keras()
        cell_args = dict(activation=case.activation, recurrent_activation=case.recurrent_activation,
                         unit_forget_bias=False, dtype=dtype)
        layer = self._make_layer(keras, case.num_units, cell_args)
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

        def forward(x):
            outputs, h, c = layer(x)
            return outputs, h, c, head(outputs[:, -1]) if head is not None else tf.zeros([0], dtype)

        loss_weights = inputs.loss_weights if gradients else None
        step = tf.function(lambda x: forward_and_gradients(tf, forward, variables, x, loss_weights),
                           input_signature=[tf.TensorSpec(inputs.x.shape, dtype)])
        outputs, h, c, logits, grads = step(tf.constant(inputs.x))
        return form_output(variables, outputs, h, c, logits if head is not None else None, grads)


def _lstm(implementation):
    def make(keras, units, cell_args):
        return keras.layers.LSTM(units, implementation=implementation, return_sequences=True,
                                 return_state=True, **cell_args)
    return make


def _rnn_of_cell(keras, units, cell_args):
    dtype = cell_args.pop("dtype")
    return keras.layers.RNN(keras.layers.LSTMCell(units, dtype=dtype, **cell_args), return_sequences=True,
                            return_state=True, dtype=dtype)


FORMS = [
    KerasForm("keras_lstm", "keras.layers.LSTM (implementation 2: one fused matmul for x, one for h)",
              _lstm(2)),
    KerasForm("keras_lstm_impl1", "keras.layers.LSTM(implementation=1): four matmuls per step, one per gate",
              _lstm(1)),
    KerasForm("keras_lstm_cell", "keras.layers.RNN(keras.layers.LSTMCell): the cell stepped by the generic RNN",
              _rnn_of_cell),
]
