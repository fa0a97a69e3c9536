"""``lstm-equiv convert SRC --to {torch,onnx,keras,npz} -o OUT``: move an LSTM (or a Keras GRU) layer's weights
into another framework, with the proof attached.

Over 400 lines, on purpose: it reads three kinds of source as data (a Keras file, a TF1 checkpoint, an
.npz), each with its refusals, and proves the result; writing and loading each target are its
framework's (harness/forms/<name>/files.py).

A source is read into per-gate weights (:class:`Source`): a Keras model file (``.keras``, or ``.h5``), a TF1
checkpoint prefix written by ``BasicLSTMCell``/``LSTMCell``, or an ``.npz`` in lstm-equiv's per-gate format
(:mod:`harness.npz`). The target is written through its layout (harness/layouts.py), then *loaded back from
the written file* in its own framework and run on seeded random inputs of the source's shapes, next to the
source run in its own framework. Outputs, final h and final c must agree within the bound derived for these
weights and inputs (harness/tolerances.py: two single-run bounds, one for each side); otherwise the written
file is removed and the command exits 1. An option the target cannot express is refused before anything
is written, naming the option and why.
"""

from __future__ import annotations

import json
import reprlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstm_equiv.harness import compare, layouts, modelfile, npz, safeio, sensitivity, tolerances
from lstm_equiv.harness.forms import FORMS
from lstm_equiv.harness.forms.keras.files import keras_name
from lstm_equiv.harness.forms.tf import compat as tf_compat
from lstm_equiv.harness.spec import DEFAULTS
from lstm_equiv.reference import LSTMParams, gru_forward, lstm_forward

PROOF_SEED = 0
TARGETS = ("torch", "onnx", "keras", "npz")
TF1_FORGET_BIAS = 1.0  # BasicLSTMCell's and LSTMCell's default; a checkpoint does not store it


class ConvertError(Exception):
    """A source that cannot be read or a conversion that cannot be faithful: the message says why."""


@dataclass
class Source:
    """One LSTM layer: per-gate weights, what it computes, and a way to run it in its own framework."""

    params: LSTMParams
    forget_bias: float  # added to f at run time (TF1); 0.0 where the source stores it in its bias
    semantics: dict  # the reference's keyword arguments besides forget_bias (activations, clips, ...)
    dtype: str
    what: str  # the source, in words
    runner: str  # what runs the source, in words
    run: object = None  # x -> (outputs, h, c), in the source's own framework (c None for a GRU)
    notes: list = field(default_factory=list)  # things the user must know (an assumed forget_bias)
    cell: str = "lstm"  # lstm, or gru (params are then GRUParams, semantics hold reset_after)

    @property
    def options(self) -> dict:
        """The case-format options this layer uses, for the refusals."""
        if self.cell == "gru":
            return {"cell": "gru", **self.semantics}
        return {
            "use_peepholes": self.params.peephole is not None,
            "num_proj": None if self.params.projection is None else self.params.projection.shape[1],
            **self.semantics,
        }


# ---------------------------------------------------------------------------------------------- sources


def read_source(path, forget_bias=None, layer=None) -> Source:
    """The LSTM layer held in ``path``: a Keras file, a TF1 checkpoint prefix, or an lstm-equiv .npz."""
    path = Path(path)
    if path.suffix == ".npz":
        _no_forget_bias(forget_bias, "an .npz stores its forget_bias")
        return _from_npz(path)
    if path.suffix in (".keras", ".h5") or (path / "saved_model.pb").exists():  # a Keras file or SavedModel
        _no_forget_bias(forget_bias, "Keras has no run-time forget bias: it is stored in the f block of the bias")
        return _from_keras(path, layer)
    if Path(f"{path}.index").exists():
        return _from_checkpoint(path, forget_bias, layer)
    if not path.exists():
        raise ConvertError(f"{path}: no such file, and no TF1 checkpoint {path}.index")
    raise ConvertError(
        f"{path}: not a Keras model (.keras, .h5), an lstm-equiv .npz, or a TF1 checkpoint prefix "
        "(give the prefix, without .index or .data-*)"
    )


def _no_forget_bias(value, why):
    if value is not None:
        raise ConvertError(f"--forget-bias applies to TF1 checkpoints only: {why}")


def _from_npz(path: Path) -> Source:
    params, forget_bias, semantics = npz.load(path)
    dtype = str(params.V["i"].dtype)

    def run(x):
        outputs, (h, c) = lstm_forward(x, params, forget_bias=forget_bias, **semantics)
        return outputs, h, c

    return Source(
        params, forget_bias, semantics, dtype, f"{path} (lstm-equiv per-gate .npz)", "the per-gate NumPy reference", run
    )


_KERAS_ACTIVATIONS = ("tanh", "relu", "sigmoid")
_KERAS_DTYPES = ("float32", "float64", "mixed_float16", "mixed_bfloat16")


def _from_keras(path: Path, layer_name=None) -> Source:
    """The one LSTM or GRU layer of a Keras file, read as data (harness/modelfile.py: nothing in the file is
    built or run) and built again, alone, from the keys that define what it computes."""
    try:
        model = modelfile.read(path)
    except modelfile.ModelFileError as err:
        raise ConvertError(str(err)) from None
    found = [lay for lay in model.recurrent if not layer_name or lay.name == layer_name]
    every = [lay.described for lay in model.recurrent]
    if len(found) != 1:
        wrapped = model.wrapped
        why = (
            f"holds no recurrent layer{' named ' + layer_name if layer_name else ''} (recurrent layers: "
            f"{every or 'none'}" + (f"; TimeDistributed layers {wrapped} are not read" if wrapped else "") + ")"
            if not found
            else f"holds {len(found)} recurrent layers {every}: convert writes one layer; choose it with --layer "
            "(lstm-equiv check compares every layer of two files)"
        )
        raise ConvertError(f"{path} {why}")
    lay = found[0]
    if lay.backward is not None:
        raise ConvertError(
            f"{path}: layer {lay.described}: convert writes one direction's layer; a Bidirectional layer is "
            "not converted yet (lstm-equiv check reads it and compares it with a conversion)"
        )
    for key, why in (
        ("go_backwards", "a reversed layer is not converted yet"),
        ("stateful", "a stateful layer carries state between calls that a file does not hold"),
        ("time_major", "a time-major layer is not converted"),
    ):
        if lay.config.get(key):
            raise ConvertError(f"{path}: layer {lay.name} has {key}=True: {why}")
    cell = keras_cell(path, model, lay)
    params, semantics, major, gru = cell.params, cell.semantics, cell.major, cell.gru
    fresh = cell.built()

    def run(x):
        got = fresh(x)  # the user's layer, re-run with its own weights, every step returned
        return tuple(np.asarray(t) for t in got) + ((None,) if gru else ())

    notes = [
        f"read as data, nothing in the file was run: the config and weights of layer {lay.name}"
        + (f"; the file's other layers were not loaded ({', '.join(model.others)})" if model.others else "")
    ]
    left_out = [d for d in every if d != lay.described]
    if left_out:
        notes.append(
            f"ONLY layer {lay.name} was converted, as --layer asked; the file's other recurrent layers were "
            f"left out: {', '.join(left_out)}"
        )
    if lay.masked_by:
        notes.append(
            f"layer {lay.name} runs under the mask of {lay.masked_by}: the proof below runs full rows only; on "
            "padded rows the written layer computes the same only when given the lengths (torch: "
            "pack_padded_sequence; ONNX: sequence_lens) and zeros at padded steps are what Keras emits only "
            "with zero_output_for_mask"
        )
    what = f"{path} (Keras {model.keras_major}, layer {lay.name}" + (
        f": GRU, reset {'after' if gru and semantics['reset_after'] else 'before'} the recurrent product)"
        if gru
        else ")"
    )
    return Source(
        params,
        0.0,
        semantics,
        str(lay.kernel.dtype),
        what,
        f"keras.layers.{lay.class_name} {lay.name} (Keras {major})",
        run,
        notes,
        cell="gru" if gru else "lstm",
    )


@dataclass
class KerasCell:
    """One direction of a Keras LSTM or GRU layer read from a file: per-gate params, the reference's
    semantics, the keyword arguments that build it again, and the installed Keras that computes it."""

    params: object
    semantics: dict
    build: dict
    keras: object
    major: int
    gru: bool
    weights: dict
    dtype: str
    class_name: str

    def layer(self, **keys):
        """A new layer of the installed Keras built from the keys read (``keys``: more, such as go_backwards),
        unbuilt; :meth:`weights_list` are its weights."""
        return getattr(self.keras.layers, self.class_name)(**self.build, **keys)

    def built(self, **keys):
        """:meth:`layer`, built on this cell's input width, with the file's weights set."""
        fresh = self.layer(**keys)
        fresh.build((None, None, self.params.input_depth))
        fresh.set_weights(self.weights_list())
        return fresh

    def weights_list(self) -> list:
        """The stored weights in Keras's order (no bias where the layer has none)."""
        return [
            self.weights[k] for k in ("kernel", "recurrent_kernel", "bias") if self.build["use_bias"] or k != "bias"
        ]


def keras_cell(path: Path, model, lay) -> KerasCell:
    """The layer ``lay`` of ``model`` (harness.modelfile) checked and read per gate; nothing is built."""
    config = lay.config
    gru = lay.class_name == "GRU"
    if gru and not config.get("use_bias", True):
        raise ConvertError(f"{path}: layer {lay.name} has use_bias=False: not converted")
    where = f"{path}: layer {lay.name}"
    semantics = {
        "activation": _keras_activation(config.get("activation", "tanh"), where),
        "recurrent_activation": _keras_activation(config.get("recurrent_activation", "sigmoid"), where),
    }
    if semantics["recurrent_activation"] == "hard_sigmoid":
        semantics["recurrent_activation"] = "hard_sigmoid_0.2" if model.keras_major == 2 else "hard_sigmoid_1/6"
    dtype = _keras_dtype(config.get("dtype", "float32"), where)
    weights = {"kernel": lay.kernel, "recurrent_kernel": lay.recurrent_kernel}
    if str(lay.kernel.dtype) not in ("float32", "float64"):
        raise ConvertError(
            f"{path}: layer {lay.name} stores {lay.kernel.dtype} weights: lstm-equiv converts float32 "
            "and float64 layers"
        )
    width = (3 if gru else 4) * config["units"]
    bias_shape = (2, width) if gru and config.get("reset_after") else (width,)
    weights["bias"] = lay.bias if lay.bias is not None else np.zeros(bias_shape, lay.kernel.dtype)
    n_in = lay.kernel.shape[0] if lay.kernel.ndim == 2 else None
    for key, shape in (("kernel", (n_in, width)), ("recurrent_kernel", (config["units"], width)), ("bias", bias_shape)):
        if weights[key].shape != shape:
            raise ConvertError(
                f"{path}: layer {lay.name}: the stored {key} has shape {list(weights[key].shape)}, but "
                f"units {config['units']} need {list(shape)}"
            )
    keras, major = _keras_to_run(model.keras_major, semantics, path, lay.name)
    build = {
        "units": config["units"],
        "activation": semantics["activation"],
        "recurrent_activation": keras_name(semantics["recurrent_activation"]),
        "use_bias": config.get("use_bias", True),
        "dtype": dtype,
        "return_sequences": True,
        "return_state": True,
    }
    if gru:
        build["reset_after"] = bool(config.get("reset_after", False))
        reset_after = build["reset_after"]
        semantics = {"reset_after": reset_after, **semantics}
        layout = layouts.KERAS_GRU_RESET_AFTER if reset_after else layouts.KERAS_GRU
        params = layout.split(weights, n_in, reset_after)
    else:
        params = layouts.KERAS.split(weights, n_in, forget_bias=0.0)
    return KerasCell(params, semantics, build, keras, major, gru, weights, dtype, lay.class_name)


def _keras_dtype(value, where: str) -> str:
    """A layer's dtype policy name (a string in Keras 2, a DTypePolicy mapping in Keras 3)."""
    name = (value.get("config") or {}).get("name") if isinstance(value, dict) else value
    if not isinstance(name, str) or name not in _KERAS_DTYPES:
        raise ConvertError(
            f"{where}: dtype {reprlib.repr(name)} is not one lstm-equiv converts ({', '.join(_KERAS_DTYPES)})"
        )
    return name


def _keras_to_run(file_major: int, semantics: dict, path: Path, layer: str) -> tuple:
    """The installed Keras that computes what the file's Keras computed: the file's major version where it
    is installed (tf_compat.keras_of_major); any other only when the layer uses no hard_sigmoid, whose
    definition changed between Keras 2 and 3."""
    keras = tf_compat.keras_of_major(file_major)
    if keras is not None:
        return keras, file_major
    if semantics["recurrent_activation"].startswith("hard_sigmoid"):
        raise ConvertError(
            f"{path}: layer {layer} uses hard_sigmoid as Keras {file_major} defines it "
            f"({semantics['recurrent_activation']}), and no Keras {file_major} is installed to run it "
            f"(the installed Keras computes {tf_compat.keras_hard_sigmoid()})"
        )
    return tf_compat.keras(), tf_compat.keras_major()


def _keras_activation(value, where: str) -> str:
    """A Keras activation's name: a string, or Keras 3's serialized built-in function."""
    name = value
    if isinstance(value, dict):  # only Keras's own functions: a registered one of the same name is user code
        keras_own = str(value.get("module", "keras")).startswith("keras") and value.get("registered_name") in (
            None,
            value.get("config"),
        )
        name = value.get("config") if keras_own and value.get("class_name") == "function" else None
    if name not in _KERAS_ACTIVATIONS + ("hard_sigmoid",):
        raise ConvertError(
            f"{where}: activation {reprlib.repr(value)} is not one the reference computes "
            f"({', '.join(_KERAS_ACTIVATIONS)}, hard_sigmoid)"
        )
    return name


def _from_checkpoint(prefix: Path, forget_bias, cell=None) -> Source:
    for part in source_files(prefix):
        try:
            safeio.regular_file(part, "model file")
        except safeio.InputError as err:
            raise ConvertError(str(err)) from None
    tf = tf_compat.tf()
    try:
        reader = tf.train.load_checkpoint(str(prefix))
    except Exception as err:  # noqa: BLE001  TF's reason (DataLossError, NotFoundError, ...) is the message
        raise ConvertError(f"{prefix}: TensorFlow cannot read it as a checkpoint: {err}") from None
    names = sorted(reader.get_variable_to_shape_map())
    cells = sorted({n.rsplit("/", 1)[0] for n in names if n.endswith("lstm_cell/kernel")})
    if cell:
        cells = [c for c in cells if c == cell]
    if len(cells) != 1:
        raise ConvertError(
            f"{prefix}: "
            + (
                f"holds {len(cells)} LSTM cells {cells}: choose one with --layer"
                if cells
                else f"holds no '.../basic_lstm_cell/kernel' or '.../lstm_cell/kernel' "
                f"variable{' under ' + cell if cell else ''} (variables: {names})"
            )
        )
    scope = cells[0]
    tensors = {
        name.removeprefix(scope + "/"): reader.get_tensor(name) for name in names if name.startswith(scope + "/")
    }
    if "bias" not in tensors:
        raise ConvertError(f"{prefix}: {scope}/kernel has no {scope}/bias next to it")
    for name, value in tensors.items():
        problem = f"has dtype {value.dtype}, not a real float" if value.dtype.kind != "f" else npz.nonfinite(value)
        if problem:
            raise ConvertError(f"{prefix}: {scope}/{name} {problem}")
    num_units = tensors["bias"].shape[0] // 4
    h_depth = tensors["projection/kernel"].shape[1] if "projection/kernel" in tensors else num_units
    input_depth = tensors["kernel"].shape[0] - h_depth
    params = layouts.BASIC_LSTM_CELL.split(tensors, input_depth, forget_bias=0.0)
    notes = []
    if forget_bias is None:
        forget_bias = TF1_FORGET_BIAS
        notes.append(
            f"forget_bias {TF1_FORGET_BIAS}: a TF1 checkpoint does NOT store BasicLSTMCell's forget_bias (it "
            f"is added at run time): the default {TF1_FORGET_BIAS} was assumed; pass --forget-bias if the "
            "model was built with another"
        )
    notes.append("activation tanh, no cell_clip or proj_clip: a checkpoint does not store them either")
    basic = params.peephole is None and params.projection is None and scope.endswith("basic_lstm_cell")
    dtype = str(tensors["kernel"].dtype)
    cell_name = "BasicLSTMCell" if basic else "LSTMCell"

    def run(x):
        return _run_legacy_cell(basic, params, forget_bias, x)

    return Source(
        params,
        float(forget_bias),
        {},
        dtype,
        f"{prefix} (TF1 checkpoint, {scope}: {cell_name} kernel {list(tensors['kernel'].shape)})",
        f"tf.compat.v1 {cell_name} + dynamic_rnn",
        run,
        notes,
    )


def _run_legacy_cell(basic: bool, params: LSTMParams, forget_bias: float, x):
    """The checkpoint's cell, rebuilt in tf.compat.v1 with its tensors assigned, over ``x``."""
    from lstm_equiv.harness import casefile
    from lstm_equiv.harness.inputs import Inputs

    form = FORMS["basic_lstm_cell_dynamic_rnn" if basic else "lstm_cell"]
    missing = tf_compat.legacy_cells_missing()
    if missing:
        raise ConvertError(f"cannot run the TF1 cell: {missing}")
    text = (
        f"name: source\ninput_depth: {params.input_depth}\nnum_units: {params.num_units}\ntimesteps: "
        f"{x.shape[1]}\nbatch: {x.shape[0]}\nseed: 0\nforget_bias: {forget_bias!r}\n"
        f"forms: [{form.name}]\nchecks: [forward]\n"
        + ("use_peepholes: true\n" if params.peephole is not None else "")
        + (f"num_proj: {params.projection.shape[1]}\n" if params.projection is not None else "")
    )
    (case,) = casefile.parse("<checkpoint>", text.encode())
    zeros = np.zeros((x.shape[0], x.shape[1], params.h_depth), x.dtype)
    out = form.run(case, Inputs(params, x, None, None, zeros, zeros), str(x.dtype))
    return out.outputs, out.h, out.c


# ---------------------------------------------------------------------------------------------- targets

TARGET_FORMS = {
    "torch": {"lstm": "torch_lstm", "gru": "torch_gru"},
    "onnx": {"lstm": "onnx_lstm", "gru": "onnx_gru"},
    "keras": {"lstm": "keras_lstm", "gru": "keras_gru"},
    "npz": {},
}
"""The form that computes what each target writes, by cell: a target refuses exactly what its form cannot
express (harness.forms, the option vocabulary of harness.spec), so the two never disagree. The npz format
has no form: it holds every LSTM option (docs/npz_format.md) and no other cell."""


def refusals(source: Source, to: str) -> list:
    """Why, for every option of the source that target ``to`` cannot express (naming the option and its value)."""
    options = {**DEFAULTS, "cell": source.cell, **source.options}
    if to == "npz":
        out = (
            []
            if source.cell == "lstm"
            else [f"cell={source.cell!r}: the per-gate .npz format (docs/npz_format.md) holds an LSTM"]
        )
    else:
        form = FORMS[TARGET_FORMS[to][source.cell]]
        out = [f"{form.name} {why}" for _, why in form.cannot_express(options)]
    hard = options.get("recurrent_activation", "sigmoid")
    if to == "keras" and hard.startswith("hard_sigmoid") and hard != tf_compat.keras_hard_sigmoid():
        out.append(
            f"recurrent_activation={hard!r}: the installed Keras's hard_sigmoid is {tf_compat.keras_hard_sigmoid()}"
        )
    return out


def _target_files(to: str):
    """The module of target ``to``'s framework that writes its files and loads them back (harness/forms/<name>/
    files.py): ``write(source, out)``, ``load_and_run(out, source, x)``."""
    import importlib

    return importlib.import_module(f"lstm_equiv.harness.forms.{to}.files")


def write(source: Source, to: str, out: Path) -> list:
    """Write ``source`` as target ``to`` into ``out``; lines that tell how to load it."""
    if to == "npz":
        npz.save(out, source.params, source.forget_bias, source.semantics)
        return [
            f"per-gate arrays V_g, W_g, b_g (g in i j f o), forget_bias {source.forget_bias:g} and the options "
            "(docs/npz_format.md)"
        ]
    return _target_files(to).write(source, out)


def run_written(to: str, out: Path, source: Source, x) -> tuple:
    """The written file, loaded back in the target's own framework, on ``x``: (outputs, h, c; c None for a GRU)."""
    if to == "npz":
        params, forget_bias, semantics = npz.load(out)
        outputs, (h, c) = lstm_forward(x, params, forget_bias=forget_bias, **semantics)
        return outputs, h, c
    return _target_files(to).load_and_run(out, source, x)


# ---------------------------------------------------------------------------------------------- proof


@dataclass
class Check:
    """One compared quantity of the proof."""

    name: str
    max_abs_err: float
    bound: float
    passed: bool
    message: str


def prove(source: Source, to: str, out: Path, batch: int = 3, timesteps: int = 20) -> list:
    """Source (in its framework) against the written target (loaded back in its framework) on seeded random
    inputs: one Check each for outputs, final h and final c."""
    dtype = "float32" if to == "onnx" else source.dtype  # onnxruntime's LSTM takes float32 only
    rng = np.random.default_rng(PROOF_SEED)
    x = rng.normal(0.0, 1.0, (batch, timesteps, source.params.input_depth)).astype(dtype)
    theirs = source.run(x.astype(source.dtype))
    ours = run_written(to, out, source, x)
    params = source.params.astype(dtype)
    if source.cell == "gru":
        semantics = dict(source.semantics)
        ref_out, ref_h = gru_forward(x.astype(np.float64), params.astype(np.float64), **semantics)
        ref_c = None
    else:
        semantics = {"forget_bias": source.forget_bias, **source.semantics}
        ref_out, (ref_h, ref_c) = lstm_forward(x.astype(np.float64), params.astype(np.float64), **semantics)
    spread = sensitivity.spread(x, params, semantics, dtype, PROOF_SEED)
    checks = []
    for name, mine, src, scale, ref, axes in (
        ("outputs", ours[0], theirs[0], spread.outputs[None, :, None], ref_out, ("batch", "timestep", "unit")),
        ("h", ours[1], theirs[1], spread.final_h, ref_h, ("batch", "unit")),
        ("c", ours[2], theirs[2], spread.final_c, ref_c, ("batch", "unit")),
    ):
        if ref is None:  # a GRU has no c
            continue
        single = tolerances.derived(scale, ref, dtype, name)
        tol = tolerances.Tolerance(2 * np.asarray(single.atol), "twice " + single.source + ": one for each side")
        outcome = compare.compare(
            np.asarray(mine, np.float64),
            np.asarray(src, np.float64),
            tol,
            f"{to} target against the source, {name}",
            axes,
            ulp_dtype=dtype,
        )
        checks.append(Check(name, outcome.max_abs_err, tol.largest, outcome.passed, outcome.message))
    return checks


def source_files(src) -> list:
    """The files a source is read from: the file itself, or a TF1 checkpoint's index and data shards."""
    src = Path(src)
    if src.suffix in (".npz", ".keras", ".h5") or not Path(f"{src}.index").exists():
        return [src]
    return [Path(f"{src}.index")] + sorted(src.parent.glob(f"{src.name}.data-*"))


def _extra_missing(to: str) -> str | None:
    """Why target ``to`` cannot be written here (its framework's extra not installed), or None."""
    if to == "npz":
        return None
    return FORMS[TARGET_FORMS[to]["lstm"]].missing()


def main(
    src, to: str, out, forget_bias=None, layer=None, batch=3, timesteps=20, say=print, force=False, warn=None
) -> int:
    """Convert, prove, and put the file at ``out`` only if the proof holds: 0 written, 1 disproved (``out``
    untouched), 2 refused (nothing written). ``out`` is checked before anything is read: it must not be the
    source, and an existing file is replaced only with ``force``. The target is written beside ``out`` under
    a temporary name, proven there, and renamed into place (harness/safeio.py); ``warn`` takes the errors
    (stderr from the command line)."""
    warn = warn or say
    out = Path(out)
    from lstm_equiv.harness import stack

    if stack.wanted(src, to, layer):  # every recurrent layer of a Keras model (harness/stack.py)
        return stack.main(src, to, out, batch, timesteps, say, warn, force)
    try:
        if to == "keras" and out.suffix != ".keras":
            raise ConvertError(f"-o {out}: a Keras model file must end in .keras")
        safeio.check_file(out, "-o", force, inputs=source_files(src))
        missing = _extra_missing(to)
        if missing:
            raise ConvertError(f"--to {to}: {missing}")
        source = read_source(src, forget_bias, layer)
        refused = refusals(source, to)
        if refused:
            raise ConvertError(f"cannot convert {source.what} to {to} faithfully:\n  " + "\n  ".join(refused))
    except (ConvertError, safeio.OutputError, safeio.InputError, npz.NpzError) as err:
        warn(f"lstm-equiv convert: {err}")
        return 2
    say(f"lstm-equiv convert: {source.what}")
    p = source.params
    width = p.num_units if source.cell == "gru" else p.h_depth
    gates = "r u c" if source.cell == "gru" else "i j f o"
    say(
        f"  per gate ({gates}): V [{p.input_depth}, {p.num_units}], W [{width}, {p.num_units}], b [{p.num_units}]"
        + (f", b_h [{p.num_units}]" if getattr(p, "b_h", None) is not None else "")
        + f"; {json.dumps(_shown(source))}"
    )
    for note in source.notes:
        say(f"  NOTE {note}")
    try:
        with safeio.publishing(out, "-o", force) as pending:
            lines = [line.replace(str(pending.path), str(out)) for line in write(source, to, pending.path)]
            checks = prove(source, to, pending.path, batch, timesteps)
            say(
                f"proof: {source.runner} against {to} loaded back from the written file, on seeded random x "
                f"[{batch}, {timesteps}, {source.params.input_depth}] (seed {PROOF_SEED}):"
            )
            for c in checks:
                say(
                    f"  {c.name:8} max abs err {c.max_abs_err:.3g}  bound {c.bound:.3g}  "
                    f"{'PASS' if c.passed else 'FAIL'}"
                )
            if not all(c.passed for c in checks):
                pending.discard()
    except safeio.OutputError as err:
        warn(f"lstm-equiv convert: {err}")
        return 2
    if pending.discarded:
        for c in checks:
            if not c.passed:
                say(c.message)
        kept = f"{out} is as it was" if out.exists() else f"nothing was written to {out}"
        warn(f"lstm-equiv convert: the {to} target does NOT compute what the source computes: {kept}")
        return 1
    say(f"wrote {out}")
    for line in lines:
        say(f"  {line}")
    return 0


def _shown(source: Source) -> dict:
    if source.cell == "gru":
        return {"dtype": source.dtype, **source.semantics}
    shown = {"forget_bias": source.forget_bias, "dtype": source.dtype, **source.semantics}
    if source.params.peephole is not None:
        shown["use_peepholes"] = True
    if source.params.projection is not None:
        shown["num_proj"] = int(source.params.projection.shape[1])
    return shown
