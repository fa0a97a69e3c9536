"""Keras's forms of the cells of per-gate blocks: ``keras.layers.GRU`` and ``RNN(GRUCell)`` (the reset before
or after the recurrent product), ``keras.layers.SimpleRNN`` (the plain RNN)."""

from __future__ import annotations

from lstm_equiv.harness import layouts
from lstm_equiv.harness.forms import ANY
from lstm_equiv.harness.forms.cells import BlockCellForm
from lstm_equiv.harness.forms.keras.lstm import KerasForm, keras_semantics


class KerasCellForm(BlockCellForm, KerasForm):
    """A Keras layer of the cell, or RNN(its cell): :class:`KerasForm`'s run (every sequence key), with the
    cell's own arguments and layout (a GRU's depends on reset_after)."""

    stacking = KerasForm.stacking
    padded = KerasForm.padded
    layout = None  # layout_for(case): the GRU's depends on reset_after (not KerasForm's, the LSTM's)

    def __init__(self, name, about, cell, make_layer, options, layouts_by_reset):
        self.name, self.about, self.cell, self._make_layer, self.options = name, about, cell, make_layer, options
        self._layouts = layouts_by_reset  # {reset_after: layout}

    def layout_for(self, case):
        return self._layouts[case.reset_after]

    def semantics(self, case):
        return keras_semantics(case, BlockCellForm.semantics(self, case))

    def cell_args(self, case, dtype):
        return dict(BlockCellForm.semantics(self, case), dtype=dtype)


def _keras_layer(class_name):
    def make(keras, units, args, **layer_args):
        return getattr(keras.layers, class_name)(units, return_sequences=True, return_state=True, **args, **layer_args)

    return make


def _keras_rnn_of(class_name):
    def make(keras, units, args, **layer_args):
        dtype = args.pop("dtype")
        return keras.layers.RNN(
            getattr(keras.layers, class_name)(units, dtype=dtype, **args),
            return_sequences=True,
            return_state=True,
            dtype=dtype,
            **layer_args,
        )

    return make


_GRU_KERAS = "tanh/sigmoid or any activation; reset_after either way"
_GRU_KERAS_LAYOUTS = {False: layouts.KERAS_GRU, True: layouts.KERAS_GRU_RESET_AFTER}
_SEQUENCES = {k: ANY for k in ("go_backwards", "bidirectional", "sequence_lengths", "stateful_chunks", "layers")}
_GRU_KERAS_OPTIONS = {"activation": ANY, "recurrent_activation": ANY, "initial_state": ANY, **_SEQUENCES}
_RNN_KERAS_LAYOUTS = {False: layouts.KERAS_SIMPLE_RNN}
_ACTIVATION = {"activation": ANY, "initial_state": ANY, **_SEQUENCES}
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
