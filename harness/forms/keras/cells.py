"""Keras's forms of the cells of per-gate blocks: ``keras.layers.GRU`` and ``RNN(GRUCell)`` (the reset before
or after the recurrent product), ``keras.layers.SimpleRNN`` (the plain RNN)."""

from __future__ import annotations

from harness import layouts, tf_compat
from harness.forms import ANY, form_output, forward_and_gradients
from harness.forms.cells import BlockCellForm, no_c
from harness.forms.keras.lstm import keras_semantics


class KerasCellForm(BlockCellForm):
    """A Keras layer of the cell, or RNN(its cell), traced once."""

    def __init__(self, name, about, cell, make_layer, options, layouts_by_reset):
        self.name, self.about, self.cell, self._make_layer, self.options = name, about, cell, make_layer, options
        self._layouts = layouts_by_reset  # {reset_after: layout}

    def layout_for(self, case):
        return self._layouts[case.reset_after]

    def semantics(self, case):
        return keras_semantics(case, super().semantics(case))

    def run(self, case, inputs, dtype, gradients=False):
        tf, keras = tf_compat.tf(), tf_compat.keras()
        layer = self._make_layer(keras, case.num_units, dict(BlockCellForm.semantics(self, case), dtype=dtype))
        layer.build((case.batch, case.timesteps, case.input_depth))
        cell = layer.cell
        variables = {"kernel": cell.kernel, "recurrent_kernel": cell.recurrent_kernel, "bias": cell.bias}
        for name, value in self.layout_for(case).compose(inputs.params, inputs.bias_share).items():
            variables[name].assign(value)
        head = _keras_head(keras, case, inputs, dtype)
        h0 = None if inputs.h0 is None else tf.constant(inputs.h0[0])

        def forward(x):
            outputs, h = layer(x) if h0 is None else layer(x, initial_state=[h0])
            return outputs, h, h, head(outputs[:, -1]) if head is not None else tf.zeros([0], dtype)

        loss_weights = inputs.loss_weights if gradients else None
        step = tf.function(
            lambda x: forward_and_gradients(tf, forward, variables, x, loss_weights),
            input_signature=[tf.TensorSpec(inputs.x.shape, dtype)],
        )
        outputs, h, _, logits, grads = step(tf.constant(inputs.x))
        out = form_output(variables, outputs, h, h, logits if head is not None else None, grads)
        return no_c(out)


def _keras_head(keras, case, inputs, dtype):
    if not case.num_classes:
        return None
    head = keras.layers.Dense(case.num_classes, dtype=dtype)
    head.build((case.batch, case.num_units))
    head.kernel.assign(inputs.head_kernel)
    head.bias.assign(inputs.head_bias)
    return head


def _keras_layer(class_name):
    def make(keras, units, args):
        return getattr(keras.layers, class_name)(units, return_sequences=True, return_state=True, **args)

    return make


def _keras_rnn_of(class_name):
    def make(keras, units, args):
        dtype = args.pop("dtype")
        return keras.layers.RNN(
            getattr(keras.layers, class_name)(units, dtype=dtype, **args),
            return_sequences=True,
            return_state=True,
            dtype=dtype,
        )

    return make


_GRU_KERAS = "tanh/sigmoid or any activation; reset_after either way"
_GRU_KERAS_LAYOUTS = {False: layouts.KERAS_GRU, True: layouts.KERAS_GRU_RESET_AFTER}
_GRU_KERAS_OPTIONS = {"activation": ANY, "recurrent_activation": ANY, "initial_state": ANY}
_RNN_KERAS_LAYOUTS = {False: layouts.KERAS_SIMPLE_RNN}
_ACTIVATION = {"activation": ANY, "initial_state": ANY}
FORMS = [
    KerasCellForm(
        "keras_gru",
        f"keras.layers.GRU: {_GRU_KERAS}",
        "gru",
        _keras_layer("GRU"),
        _GRU_KERAS_OPTIONS,
        _GRU_KERAS_LAYOUTS,
    ),
    KerasCellForm(
        "keras_gru_cell",
        f"keras.layers.RNN(keras.layers.GRUCell): {_GRU_KERAS}",
        "gru",
        _keras_rnn_of("GRUCell"),
        _GRU_KERAS_OPTIONS,
        _GRU_KERAS_LAYOUTS,
    ),
    KerasCellForm(
        "keras_simple_rnn",
        "keras.layers.SimpleRNN: any activation",
        "rnn",
        _keras_layer("SimpleRNN"),
        _ACTIVATION,
        _RNN_KERAS_LAYOUTS,
    ),
]
