"""The forms of the cells of per-gate blocks (harness.cells: the GRU and the plain RNN), one class per
framework, each form given its cell: Keras's layer and ``RNN(cell)``, tf.compat.v1's cell driven by
static_rnn or dynamic_rnn, PyTorch's module, an ONNX node run by onnxruntime, and the GRU's fused
``tf.raw_ops.GRUBlockCell``.

GRU: compat.v1 ``GRUCell``, Keras's ``GRU`` (reset before or after the recurrent product) and
``RNN(GRUCell)``, ``GRUBlockCell`` stepped, PyTorch's ``nn.GRU``, an ONNX ``GRU`` node. Plain RNN: compat.v1
``BasicRNNCell``, Keras's ``SimpleRNN``, PyTorch's ``nn.RNN``, an ONNX ``RNN`` node. Each holds a layout of
harness.block_layouts and is checked against its cell's reference (reference.gru, reference.rnn) with the
same injected per-gate weights. Only the case keys of a plain one-layer cell apply (shapes, dtypes, seeds,
activations, head, checks, loss, tolerance, initial_state): the LSTM's options and the sequence keys are
not expressible here.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np

from harness import layouts, tf_compat
from harness.cells import CELLS
from harness.forms import ANY, Form, FormOutput, form_output, forward_and_gradients, head_logits, onnx_lstm, pytorch
from harness.forms.keras import keras_semantics

_SCOPES = itertools.count()


class BlockCellForm(Form):
    """A form of one cell of per-gate blocks: takes ``cell:`` its cell only, and (a GRU) ``reset_after`` where
    it can put the reset there."""

    cell = "gru"
    reset_after_values: tuple = (False, True)

    def cannot_express(self, options):
        if options.get("cell", "lstm") != self.cell:
            return [("cell", f"is a {self.cell.upper()} form: it cannot express another cell (cell: "
                             f"{options.get('cell', 'lstm')!r}): {self.about}")]
        out = []
        if options.get("reset_after", False) not in self.reset_after_values:
            where = "after" if options["reset_after"] else "before"
            out.append(("reset_after", f"cannot put the reset gate {where} the recurrent product (reset_after: "
                                       f"{options['reset_after']!r}): {self.about}"))
        return out + super().cannot_express({k: v for k, v in options.items() if k not in ("cell", "reset_after")})

    def semantics(self, case) -> dict:
        return {key: getattr(case, key) for key in CELLS[self.cell].keys}


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
    """These cells have no cell state."""
    return FormOutput(out.tensors, out.outputs, out.h, None, out.logits, out.grads, out.evidence)


def _keras_layer(class_name):
    def make(keras, units, args):
        return getattr(keras.layers, class_name)(units, return_sequences=True, return_state=True, **args)
    return make


def _keras_rnn_of(class_name):
    def make(keras, units, args):
        dtype = args.pop("dtype")
        return keras.layers.RNN(getattr(keras.layers, class_name)(units, dtype=dtype, **args), return_sequences=True,
                                return_state=True, dtype=dtype)
    return make


class LegacyCellForm(BlockCellForm):
    """A tf.compat.v1 cell in a variable scope of its own, driven by static_rnn or dynamic_rnn."""

    options = {"activation": ANY, "initial_state": ANY}
    reset_after_values = (False,)

    def __init__(self, name, about, cell, class_name, layout, driver):
        self.name, self.about, self.cell, self._class_name, self.layout, self._driver = (
            name, about, cell, class_name, layout, driver)

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
            return _no_c(form_output(variables, *step(tf.constant(inputs.x))))


def _static_rnn(tf, cell, x, dtype, h0):
    outputs, h = tf.compat.v1.nn.static_rnn(cell, tf.unstack(x, axis=1), initial_state=h0, dtype=dtype)
    return tf.stack(outputs, axis=1), h


def _dynamic_rnn(tf, cell, x, dtype, h0):
    return tf.compat.v1.nn.dynamic_rnn(cell, x, initial_state=h0, dtype=dtype)


class GRUBlockForm(BlockCellForm):
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


class TorchCellForm(BlockCellForm):
    """The cell's torch.nn module (batch_first=True), gradients by autograd."""

    def __init__(self, name, about, cell, layout, options, make_module, reset_after_values=(False,)):
        self.name, self.about, self.cell, self.layout, self.options = name, about, cell, layout, options
        self._make_module, self.reset_after_values = make_module, reset_after_values

    def missing(self):
        return pytorch.missing()

    def run(self, case, inputs, dtype, gradients=False):
        t = pytorch.torch()
        module = self._make_module(t, case, getattr(t, pytorch.TORCH_DTYPES[dtype]))
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


class OnnxCellForm(BlockCellForm):
    """An ONNX model with one node of the cell's operator, run by onnxruntime."""

    dtypes = ("float32",)
    no_gradient = onnx_lstm.NO_GRADIENT

    def __init__(self, name, about, cell, layout, options, op, attributes):
        self.name, self.about, self.cell, self.layout, self.options = name, about, cell, layout, options
        self._op, self._attributes = op, attributes

    def missing(self):
        return onnx_lstm.missing()

    def run(self, case, inputs, dtype, gradients=False):
        tensors = self.layout.compose(inputs.params, inputs.bias_share)
        head = (inputs.head_kernel, inputs.head_bias) if inputs.head_kernel is not None else None
        model = node_model(self._op, tensors, dtype, case.input_depth, case.num_units, self._attributes(case), head,
                           initial=inputs.h0 is not None)
        feeds = {} if inputs.h0 is None else {"h0": inputs.h0[0][None]}
        out = onnx_lstm.run_model(model, inputs.x, "onnxruntime", **feeds)
        return FormOutput(tensors=read_node_tensors(model), outputs=out["outputs"], h=out["h"], c=None,
                          logits=out.get("logits"))


def read_node_tensors(model) -> dict:
    """The layout tensors held in ``model``'s initializers (onnx_gru, onnx_rnn): W, R and B unpacked (B =
    [Wb, Rb])."""
    from onnx import numpy_helper

    init = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    width = init["B"].shape[1] // 2
    return {"W": init["W"][0], "R": init["R"][0], "Wb": init["B"][0, :width], "Rb": init["B"][0, width:]}


def node_model(op: str, tensors: dict, dtype: str, input_depth: int, num_units: int, attributes: dict, head=None,
               initial: bool = False, batch="batch", timesteps="timesteps"):
    """An ONNX model with one ``op`` node (GRU, RNN): ``x`` [batch, timesteps, input_depth] -> ``outputs``,
    ``h`` (and ``logits`` with a head); ``initial``: a graph input ``h0`` [1, batch, units]."""
    from onnx import TensorProto, helper, numpy_helper

    onnx_type = {"float32": TensorProto.FLOAT, "float64": TensorProto.DOUBLE}[dtype]
    init = [numpy_helper.from_array(np.asarray(a, dtype), name) for name, a in {
        "W": tensors["W"][None], "R": tensors["R"][None], "B": np.concatenate([tensors["Wb"], tensors["Rb"]])[None],
    }.items()] + [numpy_helper.from_array(np.array([k], np.int64), f"axis{k}") for k in (0, 1)]
    nodes = [helper.make_node("Transpose", ["x"], ["X"], perm=[1, 0, 2]),
             helper.make_node(op, ["X", "W", "R", "B", "", "h0" if initial else ""][:6 if initial else 4],
                              ["Y", "Y_h"], hidden_size=num_units, **attributes),
             helper.make_node("Squeeze", ["Y", "axis1"], ["Y_tbu"]),
             helper.make_node("Transpose", ["Y_tbu"], ["outputs"], perm=[1, 0, 2]),
             helper.make_node("Squeeze", ["Y_h", "axis0"], ["h"])]
    outputs = [helper.make_tensor_value_info("outputs", onnx_type, [batch, timesteps, num_units]),
               helper.make_tensor_value_info("h", onnx_type, [batch, num_units])]
    inputs = [helper.make_tensor_value_info("x", onnx_type, [batch, timesteps, input_depth])]
    if initial:
        inputs.append(helper.make_tensor_value_info("h0", onnx_type, [1, batch, num_units]))
    return onnx_lstm.finish_model(f"lstm_equiv_{op.lower()}", nodes, inputs, outputs, init, dtype, head, batch)


def gru_model(tensors: dict, dtype: str, input_depth: int, num_units: int, reset_after: bool, head=None,
              initial: bool = False, batch="batch", timesteps="timesteps"):
    """An ONNX model with one GRU node (linear_before_reset = reset_after): :func:`node_model`."""
    return node_model("GRU", tensors, dtype, input_depth, num_units, {"linear_before_reset": int(reset_after)}, head,
                      initial, batch, timesteps)


_ONNX_ACTIVATIONS = {"tanh": "Tanh", "relu": "Relu", "sigmoid": "Sigmoid"}

_GRU_KERAS = "tanh/sigmoid or any activation; reset_after either way"
_GRU_KERAS_LAYOUTS = {False: layouts.KERAS_GRU, True: layouts.KERAS_GRU_RESET_AFTER}
_GRU_KERAS_OPTIONS = {"activation": ANY, "recurrent_activation": ANY, "initial_state": ANY}
_RNN_KERAS_LAYOUTS = {False: layouts.KERAS_SIMPLE_RNN}
_ACTIVATION = {"activation": ANY, "initial_state": ANY}
_GRU_LEGACY = "gates always sigmoid, the reset before the product"
FORMS = [
    KerasCellForm("keras_gru", f"keras.layers.GRU: {_GRU_KERAS}", "gru", _keras_layer("GRU"), _GRU_KERAS_OPTIONS,
                  _GRU_KERAS_LAYOUTS),
    KerasCellForm("keras_gru_cell", f"keras.layers.RNN(keras.layers.GRUCell): {_GRU_KERAS}", "gru",
                  _keras_rnn_of("GRUCell"), _GRU_KERAS_OPTIONS, _GRU_KERAS_LAYOUTS),
    LegacyCellForm("gru_cell_static_rnn", f"tf.compat.v1.nn.rnn_cell.GRUCell + static_rnn: {_GRU_LEGACY}", "gru",
                   "GRUCell", layouts.GRU_CELL, _static_rnn),
    LegacyCellForm("gru_cell_dynamic_rnn", f"tf.compat.v1.nn.rnn_cell.GRUCell + dynamic_rnn: {_GRU_LEGACY}", "gru",
                   "GRUCell", layouts.GRU_CELL, _dynamic_rnn),
    GRUBlockForm(),
    TorchCellForm("torch_gru", "torch.nn.GRU(batch_first=True): tanh/sigmoid only; n = tanh(x W_in + b_in + r * (h "
                  "W_hn + b_hn)), the reset after the product always", "gru", layouts.TORCH_GRU,
                  {"initial_state": ANY},
                  lambda t, case, dtype: t.nn.GRU(case.input_depth, case.num_units, batch_first=True, dtype=dtype),
                  reset_after_values=(True,)),
    OnnxCellForm("onnx_gru", "an ONNX GRU node run by onnxruntime (CPU, float32 only): sigmoid/tanh; "
                 "linear_before_reset is reset_after", "gru", layouts.ONNX_GRU, {"initial_state": ANY}, "GRU",
                 lambda case: {"linear_before_reset": int(case.reset_after)}),
    # the plain RNN: the third cell (README, "Adding a cell")
    KerasCellForm("keras_simple_rnn", "keras.layers.SimpleRNN: any activation", "rnn", _keras_layer("SimpleRNN"),
                  _ACTIVATION, _RNN_KERAS_LAYOUTS),
    LegacyCellForm("basic_rnn_cell_static_rnn", "tf.compat.v1.nn.rnn_cell.BasicRNNCell + static_rnn: any activation",
                   "rnn", "BasicRNNCell", layouts.BASIC_RNN_CELL, _static_rnn),
    TorchCellForm("torch_rnn", "torch.nn.RNN(batch_first=True): nonlinearity tanh or relu", "rnn", layouts.TORCH_RNN,
                  {"activation": ("relu",), "initial_state": ANY},
                  lambda t, case, dtype: t.nn.RNN(case.input_depth, case.num_units, nonlinearity=case.activation,
                                                  batch_first=True, dtype=dtype)),
    OnnxCellForm("onnx_rnn", "an ONNX RNN node run by onnxruntime (CPU, float32 only): activations Tanh, Relu, "
                 "Sigmoid", "rnn", layouts.ONNX_RNN, _ACTIVATION, "RNN",
                 lambda case: {"activations": [_ONNX_ACTIVATIONS[case.activation]]}),
]
