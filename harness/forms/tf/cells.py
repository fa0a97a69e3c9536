"""tf.compat.v1's forms of the cells of per-gate blocks: ``GRUCell`` and ``BasicRNNCell``, each in a variable
scope of its own, driven by ``static_rnn`` or ``dynamic_rnn``."""

from __future__ import annotations

import itertools
import warnings

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms import ANY, form_output, forward_and_gradients, head_logits
from lstm_equiv.harness.forms.cells import BlockCellForm, no_c
from lstm_equiv.harness.forms.tf import compat as tf_compat

_SCOPES = itertools.count()


class CompatV1CellForm(BlockCellForm):
    """A tf.compat.v1 cell in a variable scope of its own, driven by static_rnn or dynamic_rnn."""

    options = {"activation": ANY, "initial_state": ANY}
    _reset_after = (False,)

    def __init__(self, name, about, cell, class_name, layout, driver):
        self.name, self.about, self.cell, self._class_name, self.layout, self._driver = (
            name,
            about,
            cell,
            class_name,
            layout,
            driver,
        )

    def skip_reason(self, case, dtype):
        return super().skip_reason(case, dtype) or tf_compat.legacy_cells_missing()

    def run(self, case, inputs, dtype, gradients=False):
        tf = tf_compat.tf()
        scope = f"lstm_equiv_{self.cell}_{next(_SCOPES)}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecation notices of the API under test
            with tf.compat.v1.variable_scope(scope):
                make = getattr(tf_compat.legacy_cells(), self._class_name)
                cell = make(case.num_units, activation=case.activation, dtype=dtype)
                cell.build(tf.TensorShape([None, case.input_depth]))
            variables = {w.name.removeprefix(f"{scope}/").split("/", 1)[1].removesuffix(":0"): w for w in cell.weights}
            for name, value in self.layout.compose(inputs.params).items():
                variables[name].assign(value)
            h0 = None if inputs.h0 is None else tf.constant(inputs.h0[0])

            def forward(x):
                outputs, h = self._driver(tf, cell, x, dtype, h0)
                return outputs, h, h, head_logits(tf, outputs[:, -1], inputs, dtype)

            loss_weights = inputs.loss_weights if gradients else None
            step = lambda x: forward_and_gradients(tf, forward, variables, x, loss_weights)
            if self._driver is _dynamic_rnn:
                step = tf.function(step, input_signature=[tf.TensorSpec(inputs.x.shape, dtype)])
            return no_c(form_output(variables, *step(tf.constant(inputs.x))))


def _static_rnn(tf, cell, x, dtype, h0):
    outputs, h = tf.compat.v1.nn.static_rnn(cell, tf.unstack(x, axis=1), initial_state=h0, dtype=dtype)
    return tf.stack(outputs, axis=1), h


def _dynamic_rnn(tf, cell, x, dtype, h0):
    return tf.compat.v1.nn.dynamic_rnn(cell, x, initial_state=h0, dtype=dtype)


_GRU_LEGACY = "gates always sigmoid, the reset before the product"
FORMS = [
    CompatV1CellForm(
        "gru_cell_static_rnn",
        f"tf.compat.v1.nn.rnn_cell.GRUCell + static_rnn: {_GRU_LEGACY}",
        "gru",
        "GRUCell",
        layouts.GRU_CELL,
        _static_rnn,
    ),
    CompatV1CellForm(
        "gru_cell_dynamic_rnn",
        f"tf.compat.v1.nn.rnn_cell.GRUCell + dynamic_rnn: {_GRU_LEGACY}",
        "gru",
        "GRUCell",
        layouts.GRU_CELL,
        _dynamic_rnn,
    ),
    CompatV1CellForm(
        "basic_rnn_cell_static_rnn",
        "tf.compat.v1.nn.rnn_cell.BasicRNNCell + static_rnn: any activation",
        "rnn",
        "BasicRNNCell",
        layouts.BASIC_RNN_CELL,
        _static_rnn,
    ),
]
