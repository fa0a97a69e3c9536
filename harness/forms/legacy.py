"""The tf.compat.v1 cells: ``BasicLSTMCell`` under ``static_rnn`` (the question's code) and
``dynamic_rnn``, and ``LSTMCell`` with peepholes, projection and clips.

Layout ``basic_lstm_cell``: one kernel [input_depth + h_depth, 4u] multiplies concat([x, h]) (x rows
first), blocks i j f o; ``forget_bias`` is added to f at run time. On TF >= 2.16 the cells come from
tf-keras (see harness/tf_compat.py).
"""
from __future__ import annotations

import itertools
import warnings


from harness import layouts, tf_compat
from harness.forms import ANY, Form, form_output, forward_and_gradients, head_logits

_SCOPES = itertools.count()


class LegacyCellForm(Form):
    """A tf.compat.v1 RNN cell, built in a variable scope of its own, driven over the sequence."""

    layout = layouts.BASIC_LSTM_CELL

    def __init__(self, name, about, cell, driver, options):
        self.name, self.about, self._cell, self._driver, self.options = name, about, cell, driver, options
        self._traced = driver is dynamic_rnn  # static_rnn runs eagerly: tracing 820 unrolled steps costs ~11 s

    def skip_reason(self, case, dtype):
        return super().skip_reason(case, dtype) or tf_compat.legacy_cells_missing()

    def _make_cell(self, cells, case, dtype):
        if self._cell == "BasicLSTMCell":
            return cells.BasicLSTMCell(case.num_units, forget_bias=case.forget_bias, activation=case.activation,
                                       dtype=dtype)
        return cells.LSTMCell(case.num_units, use_peepholes=case.use_peepholes, cell_clip=case.cell_clip,
                              num_proj=case.num_proj, proj_clip=case.proj_clip, forget_bias=case.forget_bias,
                              activation=case.activation, dtype=dtype)

    def run(self, case, inputs, dtype, gradients=False):
        tf = tf_compat.tf()
        # static_rnn's variable-scope bug (docs/sources.md): every run gets a scope no other run has used
        scope = f"lstm_equiv_{next(_SCOPES)}"
        with warnings.catch_warnings(), tf.compat.v1.variable_scope(scope):
            warnings.simplefilter("ignore")  # the deprecation notices of the API under test
            cell = self._make_cell(tf_compat.legacy_cells(), case, dtype)
            cell.build(tf.TensorShape([None, case.input_depth]))
            variables = {_relative(w.name, scope): w for w in cell.weights}
            for name, value in self.layout.compose(inputs.params, case.forget_bias).items():
                variables[name].assign(value)
            def forward(x):
                outputs, state = self._driver(tf, cell, x, dtype)
                return outputs, state.h, state.c, head_logits(tf, outputs[:, -1], inputs, dtype)

            loss_weights = inputs.loss_weights if gradients else None
            step = lambda x: forward_and_gradients(tf, forward, variables, x, loss_weights)  # noqa: E731
            if self._traced:
                step = tf.function(step, input_signature=[tf.TensorSpec(inputs.x.shape, dtype)])
            return form_output(variables, *step(tf.constant(inputs.x)))


def _relative(variable_name: str, scope: str) -> str:
    """``scope/lstm_cell/projection/kernel:0`` -> ``projection/kernel``: the name inside the cell."""
    return variable_name.removeprefix(f"{scope}/").split("/", 1)[1].removesuffix(":0")


def static_rnn(tf, cell, x, dtype):
    """The question's code path: unstack over time, static_rnn."""
    outputs, state = tf.compat.v1.nn.static_rnn(cell, tf.unstack(x, axis=1), dtype=dtype)
    return tf.stack(outputs, axis=1), state


def dynamic_rnn(tf, cell, x, dtype):
    """dynamic_rnn: one while loop."""
    return tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=dtype)


_BASIC = "tf.compat.v1.nn.rnn_cell.BasicLSTMCell: no peepholes, projection or clips; gates always sigmoid"
FORMS = [
    LegacyCellForm("basic_lstm_cell_static_rnn", _BASIC, "BasicLSTMCell", static_rnn, {"activation": ANY}),
    LegacyCellForm("basic_lstm_cell_dynamic_rnn", _BASIC, "BasicLSTMCell", dynamic_rnn, {"activation": ANY}),
    LegacyCellForm("lstm_cell", "tf.compat.v1.nn.rnn_cell.LSTMCell: gates always sigmoid", "LSTMCell", dynamic_rnn,
                   {"activation": ANY, "use_peepholes": ANY, "num_proj": ANY, "cell_clip": ANY, "proj_clip": ANY}),
]
