"""The tf.compat.v1 cells: ``BasicLSTMCell`` under ``static_rnn`` (the question's code) and
``dynamic_rnn``, and ``LSTMCell`` with peepholes, projection and clips.

Layout ``basic_lstm_cell``: one kernel [input_depth + h_depth, 4u] multiplies concat([x, h]) (x rows
first), blocks i j f o; ``forget_bias`` is added to f at run time. On TF >= 2.16 the cells come from
tf-keras (see harness/forms/tf/compat.py).
"""

from __future__ import annotations

import itertools
import warnings

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms import ANY, Form, cell_variables, cells_output, chunks, forward_and_gradients, head_logits
from lstm_equiv.harness.forms.tf import compat as tf_compat

_SCOPES = itertools.count()


class LegacyCellForm(Form):
    """A tf.compat.v1 RNN cell, built in a variable scope of its own, driven over the sequence."""

    layout = layouts.BASIC_LSTM_CELL
    stacking = (
        "one cell per layer and direction, each with its own kernel and bias (MultiRNNCell's cell_0, cell_1; "
        "bidirectional_dynamic_rnn's fw/ and bw/ scopes); layer l + 1's kernel has rows for layer l's merged "
        "outputs, then for h"
    )

    def __init__(self, name, about, cell, driver, bidirectional, options):
        self.name, self.about, self._cell, self._driver, self.options = name, about, cell, driver, options
        self._bidirectional = bidirectional
        self._traced = driver is dynamic_rnn  # static_rnn runs eagerly: tracing 820 unrolled steps costs ~11 s

    def skip_reason(self, case, dtype):
        return super().skip_reason(case, dtype) or tf_compat.legacy_cells_missing()

    def _make_cell(self, cells, case, dtype):
        if self._cell == "BasicLSTMCell":
            return cells.BasicLSTMCell(
                case.num_units, forget_bias=case.forget_bias, activation=case.activation, dtype=dtype
            )
        return cells.LSTMCell(
            case.num_units,
            use_peepholes=case.use_peepholes,
            cell_clip=case.cell_clip,
            num_proj=case.num_proj,
            proj_clip=case.proj_clip,
            forget_bias=case.forget_bias,
            activation=case.activation,
            dtype=dtype,
        )

    def cannot_combine(self, options):
        if options["go_backwards"] and options["sequence_lengths"] is not None:
            return [
                (
                    "go_backwards",
                    "cannot express a reversed layer over padded rows: the compat.v1 forms reverse "
                    "x as users do (tf.reverse), which puts a row's padding first, where sequence_length expects it "
                    "last; Keras's go_backwards masks it there instead",
                )
            ]
        return []

    def run(self, case, inputs, dtype, gradients=False):
        tf = tf_compat.tf()
        cells, variables = [], []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecation notices of the API under test
            for k in range(case.cells):
                # static_rnn's variable-scope bug (docs/sources.md): every cell gets a scope no other run has used
                scope = f"lstm_equiv_{next(_SCOPES)}"
                with tf.compat.v1.variable_scope(scope):
                    cell = self._make_cell(tf_compat.legacy_cells(), case, dtype)
                    cell.build(tf.TensorShape([None, case.cell_input_depth(k)]))
                named = {_relative(w.name, scope): w for w in cell.weights}
                for name, value in self.layout.compose(inputs.cells[k], case.forget_bias).items():
                    named[name].assign(value)
                cells.append(cell)
                variables.append(named)
            lengths = None if inputs.lengths is None else tf.constant(inputs.lengths, tf.int32)

            def forward(x):
                x = tf.reverse(x, axis=[1]) if case.go_backwards else x
                state, pieces = _initial(tf, case, inputs, dtype), []
                for start, stop in chunks(case.timesteps, case):  # the state carried by hand
                    outputs, state = self._network(tf, case, cells, x[:, start:stop], state, lengths, dtype)
                    pieces.append(outputs)
                outputs = pieces[0] if len(pieces) == 1 else tf.concat(pieces, axis=1)
                h = [s.h for s in state]
                c = [s.c for s in state]
                h, c = (h[0], c[0]) if len(state) == 1 else (tf.stack(h), tf.stack(c))
                return outputs, h, c, head_logits(tf, outputs[:, -1], inputs, dtype)

            flat = cell_variables(variables)
            loss_weights = inputs.loss_weights if gradients else None
            step = lambda x: forward_and_gradients(tf, forward, flat, x, loss_weights)
            if self._traced:
                step = tf.function(step, input_signature=[tf.TensorSpec(inputs.x.shape, dtype)])
            return cells_output(variables, *step(tf.constant(inputs.x)))

    def _network(self, tf, case, cells, x, state, lengths, dtype):
        """One pass of every layer over ``x`` from ``state`` (one LSTMStateTuple per cell): (outputs, the
        final state of every cell)."""
        per = case.directions
        if per == 1:  # one cell, or MultiRNNCell over the stack
            cell = cells[0] if case.layers == 1 else tf_compat.legacy_cells().MultiRNNCell(cells)
            initial = state[0] if case.layers == 1 else tuple(state)
            outputs, final = self._driver(tf, cell, x, dtype, initial_state=initial, sequence_length=lengths)
            return outputs, [final] if case.layers == 1 else list(final)
        finals, seq = [], x
        for layer in range(case.layers):  # one bidirectional pass per layer, its outputs merged by hand
            fw, bw = cells[2 * layer], cells[2 * layer + 1]
            (out_fw, out_bw), pair = self._bidirectional(
                tf, fw, bw, seq, state[2 * layer], state[2 * layer + 1], lengths, dtype
            )
            finals += list(pair)
            seq = merge(tf, out_fw, out_bw, case.bidirectional)
        return seq, finals


def _relative(variable_name: str, scope: str) -> str:
    """``scope/lstm_cell/projection/kernel:0`` -> ``projection/kernel``: the name inside the cell."""
    return variable_name.removeprefix(f"{scope}/").split("/", 1)[1].removesuffix(":0")


def static_rnn(tf, cell, x, dtype, **kwargs):
    """The question's code path: unstack over time, static_rnn."""
    outputs, state = tf.compat.v1.nn.static_rnn(cell, tf.unstack(x, axis=1), dtype=dtype, **kwargs)
    return tf.stack(outputs, axis=1), state


def dynamic_rnn(tf, cell, x, dtype, **kwargs):
    """dynamic_rnn: one while loop."""
    return tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=dtype, **kwargs)


def static_bidirectional(tf, fw, bw, x, state_fw, state_bw, lengths, dtype):
    """static_bidirectional_rnn: its outputs come concatenated [forward | backward]; split here."""
    outputs, final_fw, final_bw = tf.compat.v1.nn.static_bidirectional_rnn(
        fw,
        bw,
        tf.unstack(x, axis=1),
        initial_state_fw=state_fw,
        initial_state_bw=state_bw,
        dtype=dtype,
        sequence_length=lengths,
    )
    both = tf.stack(outputs, axis=1)
    width = both.shape[-1] // 2
    return (both[..., :width], both[..., width:]), (final_fw, final_bw)


def dynamic_bidirectional(tf, fw, bw, x, state_fw, state_bw, lengths, dtype):
    """bidirectional_dynamic_rnn: the backward outputs come back in time order (tf.reverse_sequence)."""
    return tf.compat.v1.nn.bidirectional_dynamic_rnn(
        fw, bw, x, sequence_length=lengths, initial_state_fw=state_fw, initial_state_bw=state_bw, dtype=dtype
    )


def merge(tf, fw, bw, mode: str):
    """The two directions' outputs merged as Keras's Bidirectional would (none: side by side)."""
    if mode in ("concat", "none"):
        return tf.concat([fw, bw], axis=-1)
    return {"sum": lambda: fw + bw, "mul": lambda: fw * bw, "ave": lambda: (fw + bw) / 2}[mode]()


def _initial(tf, case, inputs, dtype) -> list:
    """One LSTMStateTuple(c, h) per cell: the case's initial state, or zeros."""
    state = tf_compat.legacy_cells().LSTMStateTuple
    if inputs.h0 is None:
        return [
            state(tf.zeros((case.batch, case.num_units), dtype), tf.zeros((case.batch, case.h_depth), dtype))
            for _ in range(case.cells)
        ]
    return [state(tf.constant(c), tf.constant(h)) for h, c in zip(inputs.h0, inputs.c0)]


_BASIC = "tf.compat.v1.nn.rnn_cell.BasicLSTMCell: no peepholes, projection or clips; gates always sigmoid"
_SEQUENCES = {
    "go_backwards": ANY,
    "bidirectional": ANY,
    "sequence_lengths": ANY,
    "initial_state": ANY,
    "stateful_chunks": ANY,
    "layers": ANY,
}
FORMS = [
    LegacyCellForm(
        "basic_lstm_cell_static_rnn",
        _BASIC,
        "BasicLSTMCell",
        static_rnn,
        static_bidirectional,
        {"activation": ANY, **_SEQUENCES},
    ),
    LegacyCellForm(
        "basic_lstm_cell_dynamic_rnn",
        _BASIC,
        "BasicLSTMCell",
        dynamic_rnn,
        dynamic_bidirectional,
        {"activation": ANY, **_SEQUENCES},
    ),
    LegacyCellForm(
        "lstm_cell",
        "tf.compat.v1.nn.rnn_cell.LSTMCell: gates always sigmoid",
        "LSTMCell",
        dynamic_rnn,
        dynamic_bidirectional,
        {"activation": ANY, "use_peepholes": ANY, "num_proj": ANY, "cell_clip": ANY, "proj_clip": ANY, **_SEQUENCES},
    ),
]
