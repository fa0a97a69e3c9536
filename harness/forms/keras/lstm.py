"""The Keras forms of the LSTM: the ``LSTM`` layer (implementation 2 and 1) and ``RNN(LSTMCell)``; and
:class:`KerasForm`, the one Keras form over every cell (harness/forms/keras/cells.py builds the GRU's and the
plain RNN's on it): stacked layers, Bidirectional, go_backwards, masking, initial states and stateful chunks,
written once.

The LSTM forms hold layout ``keras``: a kernel for x, a recurrent kernel for h, blocks i f c o. Keras has no
run-time forget bias, so BasicLSTMCell's ``forget_bias`` is realised in the f block of the bias
(``unit_forget_bias=False``: nothing else is added).
"""

from __future__ import annotations

from lstm_equiv.harness import layouts
from lstm_equiv.harness.cells import CELLS
from lstm_equiv.harness.forms import ANY, Form, cell_variables, cells_output, chunks, forward_and_gradients, valid_mask
from lstm_equiv.harness.forms.cells import no_c
from lstm_equiv.harness.forms.tf import compat as tf_compat


class KerasForm(Form):
    """A Keras layer over the whole sequence, of any cell, traced once with a fixed input signature."""

    layout = layouts.KERAS
    options = {
        "activation": ANY,
        "recurrent_activation": ANY,
        "go_backwards": ANY,
        "bidirectional": ANY,
        "sequence_lengths": ANY,
        "initial_state": ANY,
        "stateful_chunks": ANY,
        "layers": ANY,
    }
    stacking = (
        "one layer per stacked layer; Bidirectional(layer) holds forward_layer.cell and backward_layer.cell, "
        "each with its own kernel, recurrent_kernel and bias"
    )
    padded = "carry"  # a Keras RNN layer under a mask emits its last output again (zero_output_for_mask=False)

    def padded_rule(self, case):
        # Bidirectional sets zero_output_for_mask = return_sequences on both its layers
        return "zero" if case.bidirectional is not None else self.padded

    def gradient_semantics(self, case):
        # a stateful layer keeps its state in variables between calls: the gradient stops at each chunk
        return {} if case.stateful_chunks is None else {"chunks": case.stateful_chunks}

    def __init__(self, name, about, make_layer):
        self.name, self.about, self._make_layer = name, about, make_layer

    def semantics(self, case) -> dict:
        return keras_semantics(case, super().semantics(case))

    def cell_args(self, case, dtype) -> dict:
        """The keyword arguments of the Keras cell (or layer) that computes ``case``."""
        return dict(
            activation=case.activation,
            recurrent_activation=case.recurrent_activation,
            unit_forget_bias=False,
            dtype=dtype,
        )

    def run(self, case, inputs, dtype, gradients=False):
        step, finish = self.traced(case, inputs, dtype, gradients)
        return finish(step(tf_compat.tf().constant(inputs.x)))

    def traced(self, case, inputs, dtype, gradients=False) -> tuple:
        """``(step, finish)``: the layers built with ``inputs``' weights and traced once, ``step(x)`` their
        tf.function (outputs, h, c, logits, gradients), ``finish(step(x))`` the FormOutput read back.
        lstm-equiv bench times ``step`` alone: TF's own work for the form."""
        tf, keras = tf_compat.tf(), tf_compat.keras()
        cell_args, layout = self.cell_args(case, dtype), self.layout_for(case)
        n_states = len(CELLS[self.cell].states)  # per cell: (h, c) or (h,)
        layers, cells, width = [], [], case.input_depth
        for _ in range(case.layers):
            layer = self._make_layer(
                keras,
                case.num_units,
                dict(cell_args),
                go_backwards=case.go_backwards,
                stateful=case.stateful_chunks is not None,
            )
            if case.bidirectional is not None:
                merge = None if case.bidirectional == "none" else case.bidirectional
                layer = keras.layers.Bidirectional(layer, merge_mode=merge, dtype=dtype)
            with tf_compat.stateful_states_in(dtype):
                layer.build((case.batch, case.timesteps, width))
            pair = [layer.forward_layer, layer.backward_layer] if case.bidirectional is not None else [layer]
            cells += [
                {"kernel": r.cell.kernel, "recurrent_kernel": r.cell.recurrent_kernel, "bias": r.cell.bias}
                for r in pair
            ]
            layers.append(layer)
            width = case.output_width
        for k, variables in enumerate(cells):
            for name, value in layout.stored(inputs.cells[k], case, inputs.bias_shares[k]).items():
                variables[name].assign(value)
        head = None
        if case.num_classes:
            head = keras.layers.Dense(case.num_classes, dtype=dtype)
            head.build((case.batch, case.output_width))
            head.kernel.assign(inputs.head_kernel)
            head.bias.assign(inputs.head_bias)
        mask = valid_mask(inputs)
        per = case.directions

        def forward(x):
            pieces, finals = [], None
            for n, (start, stop) in enumerate(chunks(case.timesteps, case)):
                seq, finals = x[:, start:stop], []
                for li, layer in enumerate(layers):
                    kwargs = {} if mask is None else {"mask": tf.constant(mask[:, start:stop])}
                    if inputs.h0 is not None and n == 0:  # later chunks: the stateful layer's own state
                        states0 = (inputs.h0, inputs.c0)[:n_states]
                        kwargs["initial_state"] = [
                            tf.constant(s[k]) for k in range(li * per, li * per + per) for s in states0
                        ]  # Keras 2 takes tensors only
                    result = layer(seq, **kwargs)
                    if case.bidirectional == "none":  # returned apart: compared side by side
                        seq, states = tf.concat(result[:2], axis=-1), result[2:]
                    else:
                        seq, states = result[0], result[1:]
                    # (h, c) per cell, h again for c where the cell has none (a traced function returns no None)
                    finals += [(states[n_states * d], states[n_states * d + n_states - 1]) for d in range(per)]
                pieces.append(seq)
            outputs = pieces[0] if len(pieces) == 1 else tf.concat(pieces, axis=1)
            h, c = (
                (finals[0][0], finals[0][1])
                if len(finals) == 1
                else (tf.stack([f[0] for f in finals]), tf.stack([f[1] for f in finals]))
            )
            return outputs, h, c, head(outputs[:, -1]) if head is not None else tf.zeros([0], dtype)

        loss_weights = inputs.loss_weights if gradients else None
        variables = cell_variables(cells)
        step = tf.function(
            lambda x: forward_and_gradients(tf, forward, variables, x, loss_weights),
            input_signature=[tf.TensorSpec(inputs.x.shape, dtype)],
        )

        def finish(result):
            outputs, h, c, logits, grads = result
            out = cells_output(cells, outputs, h, c, logits if head is not None else None, grads)
            return out if n_states == 2 else no_c(out)

        return step, finish


def keras_semantics(case, semantics: dict) -> dict:
    """The reference's semantics of a Keras layer: its hard_sigmoid is the installed Keras's."""
    if case.recurrent_activation == "hard_sigmoid" and "recurrent_activation" in semantics:
        return {**semantics, "recurrent_activation": tf_compat.keras_hard_sigmoid()}
    return semantics


def _lstm(implementation):
    def make(keras, units, cell_args, **layer_args):
        return keras.layers.LSTM(
            units, implementation=implementation, return_sequences=True, return_state=True, **cell_args, **layer_args
        )

    return make


def _rnn_of_cell(keras, units, cell_args, **layer_args):
    dtype = cell_args.pop("dtype")
    return keras.layers.RNN(
        keras.layers.LSTMCell(units, dtype=dtype, **cell_args),
        return_sequences=True,
        return_state=True,
        dtype=dtype,
        **layer_args,
    )


FORMS = [
    KerasForm("keras_lstm", "keras.layers.LSTM (implementation 2: one fused matmul for x, one for h)", _lstm(2)),
    KerasForm("keras_lstm_impl1", "keras.layers.LSTM(implementation=1): four matmuls per step, one per gate", _lstm(1)),
    KerasForm(
        "keras_lstm_cell", "keras.layers.RNN(keras.layers.LSTMCell): the cell stepped by the generic RNN", _rnn_of_cell
    ),
]
