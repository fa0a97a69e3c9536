"""The GRU forms: compat.v1 ``GRUCell`` (static_rnn and dynamic_rnn), Keras's ``GRU`` (reset before or
after the recurrent product) and ``RNN(GRUCell)``, ``tf.raw_ops.GRUBlockCell`` stepped, PyTorch's
``nn.GRU`` and an ONNX ``GRU`` node run by onnxruntime.

Each holds a GRU layout (harness/layouts.py: GRU_CELL, GRU_BLOCK, KERAS_GRU, KERAS_GRU_RESET_AFTER,
TORCH_GRU, ONNX_GRU) and is checked against reference.gru_forward / gru_backward with the same injected
per-gate weights. Only the case keys of a plain GRU apply (shapes, dtypes, seeds, activations, head,
checks, loss, tolerance): the LSTM's options and the sequence keys are not expressible here.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from harness import layouts, tf_compat
from harness.forms import ANY, Form, FormOutput, form_output, forward_and_gradients, head_logits, onnx_lstm, pytorch
from harness.forms.keras import keras_semantics

_SCOPES = itertools.count()


class GRUForm(Form):
    """A GRU form: takes ``cell: gru`` only, and ``reset_after`` where it can put the reset there."""

    cell = "gru"
    reset_after_values: tuple = (False, True)

    def cannot_express(self, options):
        if options.get("cell", "lstm") != "gru":
            return [("cell", f"is a GRU form: it cannot express an LSTM (cell: {options.get('cell', 'lstm')!r}): "
                             f"{self.about}")]
        out = []
        if options.get("reset_after", False) not in self.reset_after_values:
            where = "after" if options["reset_after"] else "before"
            out.append(("reset_after", f"cannot put the reset gate {where} the recurrent product (reset_after: "
                                       f"{options['reset_after']!r}): {self.about}"))
        return out + super().cannot_express({k: v for k, v in options.items() if k not in ("cell", "reset_after")})

    def semantics(self, case) -> dict:
        return {"reset_after": case.reset_after, "activation": case.activation,
                "recurrent_activation": case.recurrent_activation}


class KerasGRUForm(GRUForm):
    """Keras's GRU layer or RNN(GRUCell), traced once."""

    options = {"activation": ANY, "recurrent_activation": ANY, "initial_state": ANY}

    def __init__(self, name, about, make_layer):
        self.name, self.about, self._make_layer = name, about, make_layer

    def layout_for(self, case):
        return layouts.KERAS_GRU_RESET_AFTER if case.reset_after else layouts.KERAS_GRU

    def semantics(self, case):
        return keras_semantics(case, super().semantics(case))

    def run(self, case, inputs, dtype, gradients=False):
        tf, keras = tf_compat.tf(), tf_compat.keras()
        layer = self._make_layer(keras, case.num_units, dict(activation=case.activation, dtype=dtype,
                                                             recurrent_activation=case.recurrent_activation,
                                                             reset_after=case.reset_after))
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
        step = tf.function(lambda x: forward_and_gradients(tf, forward, variables, x, loss_weights),
                           input_signature=[tf.TensorSpec(inputs.x.shape, dtype)])
        outputs, h, _, logits, grads = step(tf.constant(inputs.x))
        out = form_output(variables, outputs, h, h, logits if head is not None else None, grads)
        return _no_c(out)


def _keras_head(keras, case, inputs, dtype):
    if not case.num_classes:
        return None
    head = keras.layers.Dense(case.num_classes, dtype=dtype)
    head.build((case.batch, case.num_units))
    head.kernel.assign(inputs.head_kernel)
    head.bias.assign(inputs.head_bias)
    return head


def _no_c(out: FormOutput) -> FormOutput:
    """A GRU has no cell state."""
    return FormOutput(out.tensors, out.outputs, out.h, None, out.logits, out.grads, out.evidence)


def _gru_layer(keras, units, args):
    return keras.layers.GRU(units, return_sequences=True, return_state=True, **args)


def _rnn_of_gru_cell(keras, units, args):
    dtype = args.pop("dtype")
    return keras.layers.RNN(keras.layers.GRUCell(units, dtype=dtype, **args), return_sequences=True,
                            return_state=True, dtype=dtype)


class LegacyGRUForm(GRUForm):
    """tf.compat.v1 GRUCell in a variable scope of its own, driven by static_rnn or dynamic_rnn."""

    layout = layouts.GRU_CELL
    options = {"activation": ANY, "initial_state": ANY}
    reset_after_values = (False,)

    def __init__(self, name, about, driver):
        self.name, self.about, self._driver = name, about, driver

    def skip_reason(self, case, dtype):
        return super().skip_reason(case, dtype) or tf_compat.legacy_cells_missing()

    def run(self, case, inputs, dtype, gradients=False):
        tf = tf_compat.tf()
        scope = f"lstm_equiv_gru_{next(_SCOPES)}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the deprecation notices of the API under test
            with tf.compat.v1.variable_scope(scope):
                cell = tf_compat.legacy_cells().GRUCell(case.num_units, activation=case.activation, dtype=dtype)
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
            return _no_c(form_output(variables, *step(tf.constant(inputs.x))))


def _static_rnn(tf, cell, x, dtype, h0):
    outputs, h = tf.compat.v1.nn.static_rnn(cell, tf.unstack(x, axis=1), initial_state=h0, dtype=dtype)
    return tf.stack(outputs, axis=1), h


def _dynamic_rnn(tf, cell, x, dtype, h0):
    return tf.compat.v1.nn.dynamic_rnn(cell, x, initial_state=h0, dtype=dtype)


class GRUBlockForm(GRUForm):
    """tf.raw_ops.GRUBlockCell once per timestep, on tf.Variables that hold layout gru_block."""

    layout = layouts.GRU_BLOCK
    dtypes = ("float32",)
    options = {"initial_state": ANY}
    reset_after_values = (False,)
    no_gradient = ("TF registers no gradient for GRUBlockCell (LookupError: gradient registry has no entry for: "
                   "GRUBlockCell; its gradient lived in tf.contrib)")
    name = "gru_block_cell"
    about = ("tf.raw_ops.GRUBlockCell, stepped: GRUCell's equations in one fused op; tanh/sigmoid only, float32 "
             "only, the reset before the product")

    def run(self, case, inputs, dtype, gradients=False):
        tf = tf_compat.tf()
        variables = {name: tf.Variable(value, name=name) for name, value in self.layout.compose(inputs.params).items()}
        h0 = tf.zeros((case.batch, case.num_units), dtype) if inputs.h0 is None else tf.constant(inputs.h0[0])

        def forward(x):
            h, outputs = h0, []
            for x_t in tf.unstack(x, axis=1):
                h = tf.raw_ops.GRUBlockCell(x=x_t, h_prev=h, w_ru=variables["w_ru"], w_c=variables["w_c"],
                                            b_ru=variables["b_ru"], b_c=variables["b_c"]).h
                outputs.append(h)
            outputs = tf.stack(outputs, axis=1)
            return outputs, h, h, head_logits(tf, outputs[:, -1], inputs, dtype)

        result = forward_and_gradients(tf, forward, variables, tf.constant(inputs.x),
                                       inputs.loss_weights if gradients else None)
        return _no_c(form_output(variables, *result))


class TorchGRUForm(GRUForm):
    """torch.nn.GRU(batch_first=True), gradients by autograd."""

    layout = layouts.TORCH_GRU
    options = {"initial_state": ANY}
    reset_after_values = (True,)
    name = "torch_gru"
    about = "torch.nn.GRU(batch_first=True): tanh/sigmoid only; n = tanh(x W_in + b_in + r * (h W_hn + b_hn)), " \
            "the reset after the product always"

    def missing(self):
        return pytorch.missing()

    def skip_reason(self, case, dtype):
        return super().skip_reason(case, dtype) or self.missing()

    def run(self, case, inputs, dtype, gradients=False):
        t = pytorch.torch()
        module = t.nn.GRU(case.input_depth, case.num_units, batch_first=True,
                          dtype=getattr(t, pytorch.TORCH_DTYPES[dtype]))
        parameters = dict(module.named_parameters())
        with t.no_grad():
            for name, value in self.layout.compose(inputs.params, inputs.bias_share).items():
                parameters[name].copy_(t.from_numpy(np.ascontiguousarray(value)))
        x = t.from_numpy(np.ascontiguousarray(inputs.x)).requires_grad_(gradients)
        h0 = None if inputs.h0 is None else t.from_numpy(inputs.h0[0][None])
        outputs, h = module(x, h0)
        logits = None
        if inputs.head_kernel is not None:
            logits = outputs[:, -1] @ t.from_numpy(inputs.head_kernel) + t.from_numpy(inputs.head_bias)
        grads = None
        if gradients:
            (outputs * t.from_numpy(inputs.loss_weights)).sum().backward()
            grads = {name: p.grad.numpy().copy() for name, p in parameters.items()}
            grads["x"] = x.grad.numpy().copy()
        array = lambda a: a.detach().numpy().copy()
        return FormOutput(tensors={n: array(p) for n, p in parameters.items()}, outputs=array(outputs),
                          h=array(h[0]), c=None, logits=None if logits is None else array(logits), grads=grads)


class OnnxGRUForm(GRUForm):
    """An ONNX model with a GRU node (linear_before_reset = the case's reset_after), run by onnxruntime."""

    layout = layouts.ONNX_GRU
    options = {"initial_state": ANY}
    dtypes = ("float32",)
    no_gradient = onnx_lstm.NO_GRADIENT
    name = "onnx_gru"
    about = "an ONNX GRU node run by onnxruntime (CPU, float32 only): sigmoid/tanh; linear_before_reset is reset_after"

    def missing(self):
        return onnx_lstm.missing()

    def skip_reason(self, case, dtype):
        return super().skip_reason(case, dtype) or self.missing()

    def run(self, case, inputs, dtype, gradients=False):
        tensors = self.layout.compose(inputs.params, inputs.bias_share)
        head = (inputs.head_kernel, inputs.head_bias) if inputs.head_kernel is not None else None
        model = gru_model(tensors, dtype, case.input_depth, case.num_units, case.reset_after, head,
                          initial=inputs.h0 is not None)
        feeds = {} if inputs.h0 is None else {"h0": inputs.h0[0][None]}
        out = onnx_lstm.run_model(model, inputs.x, "onnxruntime", **feeds)
        return FormOutput(tensors=read_gru_tensors(model), outputs=out["outputs"], h=out["h"], c=None,
                          logits=out.get("logits"))


def read_gru_tensors(model) -> dict:
    """The layout ``onnx_gru`` tensors held in ``model``'s initializers: W, R and B unpacked (B = [Wb, Rb])."""
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    width = init["B"].shape[1] // 2
    return {"W": init["W"][0], "R": init["R"][0], "Wb": init["B"][0, :width], "Rb": init["B"][0, width:]}


def gru_model(tensors: dict, dtype: str, input_depth: int, num_units: int, reset_after: bool, head=None,
              initial: bool = False, batch="batch", timesteps="timesteps"):
    """An ONNX model with one GRU node: ``x`` [batch, timesteps, input_depth] -> ``outputs``, ``h`` (and
    ``logits`` with a head); ``initial``: a graph input ``h0`` [1, batch, units]."""
    from onnx import TensorProto, helper, numpy_helper

    onnx_type = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    init = [numpy_helper.from_array(np.asarray(a, dtype), name) for name, a in {
        "W": tensors["W"][None], "R": tensors["R"][None], "B": np.concatenate([tensors["Wb"], tensors["Rb"]])[None],
    }.items()] + [numpy_helper.from_array(np.array([k], np.int64), f"axis{k}") for k in (0, 1)]
    nodes = [helper.make_node("Transpose", ["x"], ["X"], perm=[1, 0, 2]),
             helper.make_node("GRU", ["X", "W", "R", "B", "", "h0" if initial else ""][:6 if initial else 4],
                              ["Y", "Y_h"], hidden_size=num_units, linear_before_reset=int(reset_after)),
             helper.make_node("Squeeze", ["Y", "axis1"], ["Y_tbu"]),
             helper.make_node("Transpose", ["Y_tbu"], ["outputs"], perm=[1, 0, 2]),
             helper.make_node("Squeeze", ["Y_h", "axis0"], ["h"])]
    outputs = [helper.make_tensor_value_info("outputs", onnx_type, [batch, timesteps, num_units]),
               helper.make_tensor_value_info("h", onnx_type, [batch, num_units])]
    inputs = [helper.make_tensor_value_info("x", onnx_type, [batch, timesteps, input_depth])]
    if initial:
        inputs.append(helper.make_tensor_value_info("h0", onnx_type, [1, batch, num_units]))
    return onnx_lstm.finish_model("lstm_equiv_gru", nodes, inputs, outputs, init, dtype, head, batch)


_KERAS = "tanh/sigmoid or any activation; reset_after either way"
FORMS = [
    KerasGRUForm("keras_gru", f"keras.layers.GRU: {_KERAS}", _gru_layer),
    KerasGRUForm("keras_gru_cell", f"keras.layers.RNN(keras.layers.GRUCell): {_KERAS}", _rnn_of_gru_cell),
    LegacyGRUForm("gru_cell_static_rnn", "tf.compat.v1.nn.rnn_cell.GRUCell + static_rnn: gates always sigmoid, the "
                  "reset before the product", _static_rnn),
    LegacyGRUForm("gru_cell_dynamic_rnn", "tf.compat.v1.nn.rnn_cell.GRUCell + dynamic_rnn: gates always sigmoid, the "
                  "reset before the product", _dynamic_rnn),
    GRUBlockForm(),
    TorchGRUForm(),
    OnnxGRUForm(),
]
