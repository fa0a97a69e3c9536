"""``lstm-equiv check MODEL [OTHER]``: is every recurrent layer of a model file the function its weights say,
and is a conversion still the same model, gate by gate?

Over 400 lines, on purpose: the one canonical form every framework's layer is compared in (:class:`Layer`,
the reference run of it, its bound), the Keras, .npz and checkpoint readers, and the command's two modes
with their refusals; the diagnosis is harness/diagnose.py, the PyTorch and ONNX readers their frameworks'.

Why one command with one or two files (and not ``check`` and ``compare``): the second file is the first one's
conversion, and what is checked of each layer is the same with one file or two: its weights read per gate
through the layouts, and its own framework's run of the layer against the per-gate NumPy reference on the
same inputs. With two files the layers are matched as well, their per-gate weights compared block by
block, and a difference is diagnosed (harness/diagnose.py) instead of reported as a max-diff.

A model file is read as data (nothing stored in it runs): every LSTM and GRU layer, Bidirectional ones with
both directions, each as a :class:`Layer`: its cells' per-gate params (reference.LSTMParams, GRUParams), the
semantics the reference takes, and a way to run the layer in its own framework (Keras: the layer built again
from the keys read, harness/convert.py; PyTorch: nn.LSTM / nn.GRU given the state_dict's tensors; ONNX: the
node alone, with its initializers, in onnxruntime). The readers of each framework's files are
harness/forms/<framework>/files.py (``read_layers``).

Every layer is compared in one canonical form: the outputs of each direction side by side ([forward |
backward], whatever the file's merge mode, so that a sum cannot hide a wrong half), in time order (a Keras
``go_backwards`` layer's are put back in time order), and the final h (and c) of each cell.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstm_equiv.harness import compare, safeio, sensitivity, tolerances
from lstm_equiv.reference import network_forward

SEED = 0
BATCH = 4
TIMESTEPS = 12
EXIT_EQUAL, EXIT_DIFFERENT, EXIT_UNREADABLE = 0, 1, 2
GATE_NAMES = (
    "gates in TF's names: LSTM i input, j block input (Keras's and ONNX's c, PyTorch's g), f forget, o output; "
    "GRU r reset, u update (Keras's, ONNX's and PyTorch's z), c candidate (ONNX's h, PyTorch's n)"
)


class CheckError(Exception):
    """A file that cannot be read, or a layer that cannot be covered: the message names the file and layer."""


@dataclass
class Layer:
    """One recurrent layer of a model file, per gate, and how to run it in its own framework."""

    name: str
    cell: str  # "lstm" or "gru"
    cells: tuple  # per-gate params: (forward,) or (forward, backward)
    semantics: dict  # the reference's keyword arguments (forget_bias, activations, reset_after, clips)
    found: str  # what it is, in its framework's words: class, layout, gate order, where the forget bias lives
    go_backwards: bool = False  # one cell, run from the last timestep to the first
    merge_mode: str | None = None  # a bidirectional layer's, as the file has it (compared per direction)
    lengths: str | None = None  # which mask or lengths the file says it honours, in words (None: none)
    takes_lengths: str | None = None  # how it can be given lengths where the file does not say (torch: packed)
    padded: str = "zero"  # what it emits at a padded step: zeros, or its last output again (carry)
    masked_by: str | None = None  # the upstream layer whose mask reaches it (Keras), in words
    run: object = None  # (x, lengths[, states]) -> (outputs, h, c) canonical, in its own framework; None: none
    runner: str = "none"  # what runs it, in words
    stored_biases: tuple = ()  # per cell, {name: per-gate dict} of each bias stored apart (bias_ih, bias_hh)
    backward_reversed: bool = True  # False: a bidirectional layer whose second cell runs forwards too
    stateful: bool = False  # it carries its state between calls (Keras stateful=True): checked from zeros
    sequences: bool = True  # its every step's output goes on; False: only its last (Keras return_sequences=False)
    notes: list = field(default_factory=list)

    @property
    def input_depth(self) -> int:
        return self.cells[0].input_depth

    @property
    def units(self) -> int:
        return self.cells[0].num_units

    @property
    def directions(self) -> int:
        return len(self.cells)

    @property
    def shape(self) -> str:
        kind = "bidirectional" if self.directions == 2 else ("backwards" if self.go_backwards else "forward")
        return f"{self.cell.upper()} {self.input_depth}->{self.units} {kind}"


def sequence(layer: Layer, lengths) -> dict:
    """reference.network_forward's sequence keywords for ``layer`` in canonical form."""
    return {
        "merge_mode": "none" if layer.directions == 2 else None,
        "go_backwards": layer.go_backwards,
        "lengths": lengths,
        "padded": layer.padded,
        "outputs_order": "time",
    }


def reference_run(layer: Layer, x, lengths=None, cells=None, states=None, **changes) -> tuple:
    """The per-gate reference of ``layer`` in float64 (``cells``, ``changes``: another reading of it, such as
    ``padded="carry"`` or ``backward_reversed=False``): (outputs, h [cells, batch, w], c or None)."""
    seq = {**sequence(layer, lengths), **{k: v for k, v in changes.items() if k in SEQUENCE_KEYS}}
    semantics = {
        **layer.semantics,
        **{k: v for k, v in changes.items() if k not in SEQUENCE_KEYS + ("backward_reversed",)},
    }
    cells64 = tuple(p.astype(np.float64) for p in (cells or layer.cells))
    x64 = np.asarray(x, np.float64)
    if len(cells64) == 2 and not changes.get("backward_reversed", layer.backward_reversed):
        runs = [network_forward(x64, (p,), **{**seq, "merge_mode": None}, **semantics) for p in cells64]
        final = lambda k: None if runs[0][1][k] is None else np.concatenate([r[1][k] for r in runs])
        return np.concatenate([r[0] for r in runs], axis=-1), final(0), final(1)
    h0, c0 = (None, None) if states is None else (_f64(states[0]), _f64(states[1]))
    outputs, (h, c) = network_forward(x64, cells64, h0, c0, **seq, **semantics)
    return outputs, h, c


def _f64(states):
    return None if states is None else tuple(np.asarray(s, np.float64) for s in states)


SEQUENCE_KEYS = ("merge_mode", "go_backwards", "lengths", "padded", "outputs_order")


# ---------------------------------------------------------------------------------------------- reading


def read_model(path) -> tuple:
    """(the file in words, its recurrent layers) of the model file ``path``, read as data; CheckError naming
    the file for anything that cannot be read, tensors whose shapes do not fit together included."""
    path = Path(path)
    try:
        return _read_model(path)
    except (ValueError, KeyError, IndexError) as err:  # a tensor of the file that does not fit the others
        raise CheckError(f"{path}: its tensors do not fit together as a recurrent layer: {err}") from None


def _read_model(path: Path) -> tuple:
    if path.is_dir():
        if (path / "saved_model.pb").exists():  # read by its keras_metadata.pb (harness/modelfile.py)
            return _keras_layers(path)
        raise CheckError(f"{path}: a folder, not a model file (nor a SavedModel: no saved_model.pb)")
    suffix = path.suffix.lower()
    if suffix == ".tflite":
        raise CheckError(f"{path}: a TFLite model: lstm-equiv does not read .tflite files yet")
    if suffix in (".keras", ".h5", ".hdf5"):
        return _keras_layers(path)
    if suffix in (".pt", ".pth", ".bin"):
        return _framework("torch").read_layers(path)
    if suffix == ".onnx":
        return _framework("onnx").read_layers(path)
    if suffix == ".npz":
        return _npz_layers(path)
    if Path(f"{path}.index").exists():
        return _checkpoint_layers(path)
    if not path.exists():
        raise CheckError(f"{path}: no such file, and no TF1 checkpoint {path}.index")
    raise CheckError(
        f"{path}: not a model file lstm-equiv reads (.keras, .h5, a Keras SavedModel folder, .pt/.pth state_dict, "
        ".onnx, lstm-equiv .npz, or a TF1 checkpoint prefix)"
    )


def _framework(name: str):
    import importlib

    from lstm_equiv.harness.forms import FORMS

    missing = FORMS[f"{name}_lstm"].missing()
    if missing:
        raise CheckError(f"reading a {name} file: {missing}")
    return importlib.import_module(f"lstm_equiv.harness.forms.{name}.files")


def _convert_error(call, *args):
    from lstm_equiv.harness.convert import ConvertError
    from lstm_equiv.harness.modelfile import ModelFileError
    from lstm_equiv.harness.npz import NpzError

    try:
        return call(*args)
    except (ConvertError, ModelFileError, NpzError, safeio.InputError) as err:
        raise CheckError(str(err)) from None


def _keras_layers(path: Path) -> tuple:
    from lstm_equiv.harness import modelfile

    model = _convert_error(modelfile.read, path)
    if model.wrapped:
        raise CheckError(f"{path}: TimeDistributed layers {model.wrapped} are not read: they are not covered")
    layers = [_convert_error(_keras_layer, path, model, lay) for lay in model.recurrent]
    return f"{path} (Keras {model.keras_version})", layers


def _keras_layer(path: Path, model, lay) -> Layer:
    from lstm_equiv.harness.convert import ConvertError, keras_cell

    if lay.config.get("time_major"):
        raise ConvertError(f"{path}: layer {lay.name} has time_major=True: not read")
    notes = []
    if lay.config.get("stateful"):  # the same equations; the state it carries between calls is an input
        notes.append(
            f"layer {lay.name} is stateful: it is checked from zero initial states (the state it carries between "
            "calls is an input of the same equations; any state saved in the file is not read)"
        )
    parts = [lay] + ([lay.backward] if lay.backward is not None else [])
    cells = [keras_cell(path, model, part) for part in parts]
    first = cells[0]
    go_backwards = bool(lay.config.get("go_backwards")) and lay.backward is None
    zero = bool(lay.config.get("zero_output_for_mask")) or lay.backward is not None
    gru = first.gru
    order = "z r h" if gru else "i f c o"
    found = (
        f"Keras {lay.class_name}{' (Bidirectional, merge ' + str(lay.merge_mode) + ')' if lay.backward else ''}"
        f"{', go_backwards' if go_backwards else ''}: kernel [{first.params.input_depth}, "
        f"{(3 if gru else 4) * first.params.num_units}], gate blocks {order}"
        + (
            f", reset {'after' if first.semantics['reset_after'] else 'before'} the recurrent product"
            if gru
            else ", forget bias stored in the f block of bias (no run-time forget bias)"
        )
    )
    if lay.backward is not None and lay.merge_mode is None:
        raise ConvertError(f"{path}: layer {lay.name}: no merge mode")

    def run(x, lengths=None, states=None):
        keras = first.keras
        if lay.backward is None:
            fresh = first.built(go_backwards=go_backwards, zero_output_for_mask=zero)
        else:
            fresh = keras.layers.Bidirectional(
                first.layer(), backward_layer=cells[1].layer(go_backwards=True), merge_mode=None
            )
            fresh.build((None, None, first.params.input_depth))
            fresh.set_weights(first.weights_list() + cells[1].weights_list())
        kwargs = {} if lengths is None else {"mask": np.arange(x.shape[1])[None, :] < np.asarray(lengths)[:, None]}
        if states is not None:  # (h0, c0), each [cells, batch, width]: Keras takes them cell by cell
            h0, c0 = states
            kwargs["initial_state"] = [
                np.asarray(s, x.dtype) for k in range(len(h0)) for s in ([h0[k]] if gru else [h0[k], c0[k]])
            ]
        got = [np.asarray(t) for t in fresh(x, **kwargs)]
        per = 2 if gru else 3  # outputs, h(, c) of a layer
        if lay.backward is not None:
            outputs = np.concatenate(got[:2], axis=-1)
            states = got[2:]  # h_f(, c_f), h_b(, c_b)
            h = np.stack(states[:: per - 1])
            c = None if gru else np.stack(states[1::2])
        else:
            outputs = got[0][:, ::-1] if go_backwards else got[0]  # processing order back to time order
            h, c = got[1][None], None if gru else got[2][None]
        return outputs, h, c

    return Layer(
        lay.name,
        "gru" if gru else "lstm",
        tuple(c.params for c in cells),
        dict(first.semantics) if gru else {"forget_bias": 0.0, **first.semantics},
        found,
        go_backwards=go_backwards,
        merge_mode=lay.merge_mode,
        lengths=f"the mask of {lay.masked_by}" if lay.masked_by else None,
        padded="zero" if zero else "carry",
        masked_by=lay.masked_by,
        sequences=lay.return_sequences,
        run=run,
        runner=f"keras.layers.{'Bidirectional(' + lay.class_name + ')' if lay.backward else lay.class_name} "
        f"built from the file's keys (Keras {first.major})",
        notes=notes,
        stateful=bool(lay.config.get("stateful")),
    )


def _npz_layers(path: Path) -> tuple:
    from lstm_equiv.harness import npz

    params, forget_bias, semantics = _convert_error(npz.load, path)
    found = "lstm-equiv per-gate .npz: V_g, W_g, b_g for g in i j f o"
    return f"{path} (lstm-equiv .npz)", [
        Layer("npz", "lstm", (params,), {"forget_bias": forget_bias, **semantics}, found, runner="none (weights only)")
    ]


def _checkpoint_layers(prefix: Path) -> tuple:
    """Every BasicLSTMCell / LSTMCell of a TF1 checkpoint (a scope holding ``.../lstm_cell/kernel``), one
    Layer each, read by convert's reader (the forget_bias a checkpoint does not store: 1.0, said so)."""
    from lstm_equiv.harness.convert import _from_checkpoint
    from lstm_equiv.harness.forms.tf import compat as tf_compat

    try:
        names = tf_compat.tf().train.load_checkpoint(str(prefix)).get_variable_to_shape_map()
    except Exception as err:  # noqa: BLE001  TF's reason (DataLossError, NotFoundError, ...) is the message
        raise CheckError(f"{prefix}: TensorFlow cannot read it as a checkpoint: {err}") from None
    scopes = sorted({n.rsplit("/", 1)[0] for n in names if n.endswith("lstm_cell/kernel")}) or [None]
    layers = []
    for scope in scopes:
        source = _convert_error(_from_checkpoint, prefix, None, scope)

        def run(x, lengths=None, source=source):
            if lengths is not None:
                return None
            outputs, h, c = source.run(x)
            return outputs, h[None], c[None]

        layers.append(
            Layer(
                scope or prefix.name,
                "lstm",
                (source.params,),
                {"forget_bias": source.forget_bias, **source.semantics},
                source.what,
                run=run,
                runner=source.runner,
                notes=list(source.notes),
            )
        )
    return f"{prefix} (TF1 checkpoint)", layers


# ---------------------------------------------------------------------------------------------- inputs


def inputs_for(layer: Layer, lengths_wanted: bool, user=None, seed: int = SEED) -> tuple:
    """(x, lengths or None, in words) for ``layer``: the user's own x where its width fits, else seeded
    random normal x [BATCH, TIMESTEPS, input_depth]; lengths (row 0 full, the others shorter) where the layer
    is masked or honours lengths."""
    rng = np.random.default_rng([seed, layer.input_depth, layer.units])
    if user is not None and user.shape[2] == layer.input_depth:
        x, said = user, f"your --inputs {list(user.shape)}"
    else:
        batch, steps = (user.shape[0], user.shape[1]) if user is not None else (BATCH, TIMESTEPS)
        x = rng.normal(0.0, 1.0, (batch, steps, layer.input_depth))
        said = f"seeded random x [{batch}, {steps}, {layer.input_depth}] (seed {seed})"
    lengths = None
    if lengths_wanted:
        lengths = padded_lengths(rng, x.shape[0], x.shape[1])
        said += f", padded rows: lengths {lengths.tolist()}" if lengths.min() < x.shape[1] else " (too short to pad)"
    return np.asarray(x, np.float32), lengths, said


def padded_lengths(rng, batch: int, steps: int) -> np.ndarray:
    """One length per row: the first row full, the others seeded in [1, steps - 1] (all full where a row of
    ``steps`` cannot be shortened: one timestep)."""
    rest = rng.integers(1, steps, batch - 1) if steps > 1 else np.full(batch - 1, steps)
    return np.concatenate([[steps], rest]).astype(np.int64)


# ---------------------------------------------------------------------------------------------- comparing


@dataclass
class Verdict:
    """One compared quantity: outputs, h or c of one layer."""

    what: str
    max_abs_err: float
    bound: float
    passed: bool
    message: str


def bounds(layer: Layer, x, lengths, dtype: str = "float32") -> dict:
    """The bound of outputs, h and c for ``layer`` on ``x``: twice the derived single-run bound (one for each
    side), harness/tolerances.py, from the spread of the reference perturbed at float32's roundoff."""
    seq = {k: v for k, v in sequence(layer, lengths).items()}
    net = sensitivity.Network(tuple(layer.cells), sequence=seq)
    spread = sensitivity.spread(x, layer.cells[0], layer.semantics, dtype, SEED, network=net)
    ref = reference_run(layer, x, lengths)
    out = {}
    for name, scale, value in (
        ("outputs", spread.outputs[None, :, None], ref[0]),
        ("h", spread.final_h, ref[1]),
        ("c", spread.final_c, ref[2]),
    ):
        if value is None:
            continue
        single = tolerances.derived(scale, value, dtype, name)
        out[name] = tolerances.Tolerance(2 * np.asarray(single.atol), "twice " + single.source + ": one for each side")
    return out


def verdicts(mine: tuple, theirs: tuple, tols: dict, what: str, valid=None) -> list:
    """outputs, h and c of two runs of one layer compared within ``tols`` (``valid`` [batch, T]: only those
    steps' outputs, where the padded ones are not part of the model)."""
    if valid is not None:
        hide = lambda run: (np.where(valid[:, :, None], run[0], 0.0), *run[1:])
        mine, theirs = hide(mine), hide(theirs)
    out = []
    for k, name in enumerate(("outputs", "h", "c")):
        if name not in tols or mine[k] is None or theirs[k] is None:
            continue
        axes = ("batch", "timestep", "unit") if name == "outputs" else ("cell", "batch", "unit")
        a, b = np.asarray(mine[k], np.float64), np.asarray(theirs[k], np.float64)
        if a.shape != b.shape:
            out.append(Verdict(name, float("inf"), tols[name].largest, False, f"{what}: shapes {a.shape} != {b.shape}"))
            continue
        got = compare.compare(a, b, tols[name], f"{what}, {name}", axes, ulp_dtype="float32")
        out.append(Verdict(name, got.max_abs_err, tols[name].largest, got.passed, got.message))
    return out


# ---------------------------------------------------------------------------------------------- the command


def own_run(layer: Layer, x, lengths):
    """``layer`` run by its own framework; CheckError naming the layer where the framework fails on it (an
    onnxruntime that refuses a node, a Keras that refuses a config): that layer is then not covered."""
    try:
        return layer.run(x, lengths)
    except CheckError:
        raise
    except Exception as err:  # noqa: BLE001  the framework's own reason is the message
        first = (str(err).strip().splitlines() or [""])[0][:300]
        raise CheckError(f"layer {layer.name}: {layer.runner} failed on it: {type(err).__name__}: {first}") from None


def _describe(layer: Layer, say) -> None:
    p = layer.cells[0]
    say(f"  layer {layer.name}: {layer.shape}, {layer.units} units")
    say(f"    found: {layer.found}")
    if layer.merge_mode:
        say(f"    merge mode {layer.merge_mode}: compared per direction, [forward | backward]")
    say(
        f"    lengths: {layer.lengths or layer.takes_lengths or 'none (every step is run)'}; at a padded step it "
        f"emits {_padded(layer)}"
    )
    say(
        f"    per gate: V [{p.input_depth}, {p.num_units}] W [{p.W[next(iter(p.W))].shape[0]}, {p.num_units}]"
        + "".join(f"; {k}={v}" for k, v in layer.semantics.items())
    )
    for note in layer.notes:
        say(f"    NOTE {note}")


def _padded(layer: Layer) -> str:
    return "zeros" if layer.padded == "zero" else "its last output again"


def _report(verdicts_: list, say) -> bool:
    for v in verdicts_:
        say(f"      {v.what:8} max abs err {v.max_abs_err:.3g}  bound {v.bound:.3g}  {'PASS' if v.passed else 'FAIL'}")
    return all(v.passed for v in verdicts_)


def check_one(path, say=print, warn=None, user_inputs=None) -> int:
    """Every recurrent layer of ``path``: its own framework's run against the per-gate reference."""
    warn = warn or say
    try:
        what, layers = read_model(path)
    except CheckError as err:
        warn(f"lstm-equiv check: {err}")
        return EXIT_UNREADABLE
    if not layers:
        warn(f"lstm-equiv check: {what} holds no LSTM or GRU layer: nothing to check")
        return EXIT_UNREADABLE
    say(f"lstm-equiv check: {what}: {len(layers)} recurrent layer(s), read as data")
    worst, uncovered = EXIT_EQUAL, []
    for layer in layers:
        _describe(layer, say)
        if layer.run is None:
            say(f"    not run: {layer.runner}; its weights were read per gate")
            uncovered.append(layer.name)
            continue
        runs = [False, True] if (layer.lengths or layer.takes_lengths) else [False]
        for padded_rows in runs:
            x, lengths, said = inputs_for(layer, padded_rows, user_inputs)
            try:
                theirs = own_run(layer, x, lengths)
            except CheckError as err:
                warn(f"lstm-equiv check: {err}")
                uncovered.append(layer.name)
                break
            if theirs is None:
                say(f"    {layer.runner} does not take lengths: padded rows not run")
                continue
            ref = reference_run(layer, x, lengths)
            say(f"    {layer.runner} against the per-gate reference, on {said}:")
            if not _report(verdicts(theirs, ref, bounds(layer, x, lengths), f"layer {layer.name}"), say):
                worst = EXIT_DIFFERENT
    if worst == EXIT_DIFFERENT:
        warn(f"lstm-equiv check: a layer of {what} does NOT compute what its weights say (FAIL above)")
    if uncovered:
        warn(f"lstm-equiv check: layers {uncovered} were read but not run: not covered")
        return EXIT_UNREADABLE
    if worst == EXIT_EQUAL:
        say(f"EQUAL: every recurrent layer of {path} computes what its per-gate weights say")
    return worst


def check_two(path, other, say=print, warn=None, user_inputs=None) -> int:
    """The layers of ``other`` (a conversion of ``path``) matched to ``path``'s, compared and diagnosed."""
    from lstm_equiv.harness import diagnose

    warn = warn or say
    try:
        what_a, layers_a = read_model(path)
        what_b, layers_b = read_model(other)
    except CheckError as err:
        warn(f"lstm-equiv check: {err}")
        return EXIT_UNREADABLE
    say(f"lstm-equiv check: {what_a}")
    say(f"  against {what_b}")
    try:
        pairs = diagnose.match(layers_a, layers_b, str(path), str(other))
    except diagnose.Unmatched as err:
        warn(f"lstm-equiv check: {err}")
        return EXIT_UNREADABLE
    say(f"  layers matched by order and shape ({len(pairs)}): " + ", ".join(f"{a.name} = {b.name}" for a, b in pairs))
    worst, uncovered = EXIT_EQUAL, []
    for a, b in pairs:
        say(f"  {a.name} ({a.shape}) = {b.name}:")
        say(f"    {path}: {a.found}; lengths: {a.lengths or 'none'}")
        say(f"    {other}: {b.found}; lengths: {b.lengths or 'none'}")
        try:
            if not compare_pair(a, b, say, user_inputs):
                worst = EXIT_DIFFERENT
        except CheckError as err:
            warn(f"lstm-equiv check: {err}")
            uncovered.append(a.name)
    if uncovered:
        warn(f"lstm-equiv check: layers {uncovered} could not be run: not covered")
        return EXIT_UNREADABLE
    if worst != EXIT_EQUAL:
        say(f"  ({GATE_NAMES})")
    if worst == EXIT_EQUAL:
        say(f"EQUAL: every recurrent layer of {other} computes what the matching layer of {path} computes")
    else:
        warn(f"lstm-equiv check: {other} is NOT the same model as {path} (DIAGNOSIS above)")
    return worst


def compare_pair(a: Layer, b: Layer, say, user_inputs=None) -> bool:
    """``b`` (a conversion of ``a``) against ``a``: weights block by block, and both run on the same inputs (padded
    rows where ``a`` is masked); what differs is diagnosed. True when they are the same function."""
    from lstm_equiv.harness import diagnose

    findings = diagnose.weights(a, b)
    x, lengths, said = inputs_for(a, bool(a.lengths), user_inputs)
    runs = {}
    for side in (a, b):
        got = own_run(side, x, lengths) if side.run is not None else None
        takes = side.lengths or side.takes_lengths
        runs[id(side)] = got if got is not None else reference_run(side, x, lengths if takes else None)
    tols = bounds(a, x, lengths)
    valid = None if lengths is None or not a.masked_by else np.arange(x.shape[1])[None, :] < lengths[:, None]
    result = verdicts(runs[id(b)], runs[id(a)], tols, f"{b.name} against {a.name}", valid)
    say(f"    {b.runner} against {a.runner}, on {said}:")
    if valid is not None:
        say(
            f"    ({a.name} runs under a Keras mask, which every layer after it honours: its outputs at padded "
            "steps are compared apart, below)"
        )
    same = _report(result, say)
    if not same:
        findings += diagnose.behaviour(a, b, x, lengths, runs[id(b)], tols, valid)
    for finding in findings:
        say(f"    DIAGNOSIS {finding}")
    if not same and not findings:
        say(f"    no diagnosis found: the difference is none of {', '.join(diagnose.KNOWN)}")
    if valid is not None and same and a.sequences:
        padded = verdicts(runs[id(b)], runs[id(a)], tols, "", ~valid)
        if not all(v.passed for v in padded[:1]):
            rule = diagnose.behaviour(a, b, x, lengths, runs[id(b)], tols, ~valid, only_padding=True)
            say(
                f"    NOTE at padded steps its outputs differ from {a.name}'s (max abs err "
                f"{padded[0].max_abs_err:.3g}): "
                + ("; ".join(rule) or "by no known rule")
                + "; the same model for every layer after it that honours the mask (Keras's recurrent layers, "
                "pooling and attention do; Flatten does not)"
            )
    return same and not findings


def read_inputs(path) -> np.ndarray:
    """The user's own inputs: a float .npy [batch, timesteps, features], read without pickle, bounded."""
    try:
        safeio.regular_file(Path(path), "weights file")
        x = np.load(path, allow_pickle=False)
    except (safeio.InputError, ValueError, OSError) as err:
        raise CheckError(f"--inputs {path}: {err}") from None
    if x.ndim != 3 or x.dtype.kind != "f" or not np.all(np.isfinite(x)):
        raise CheckError(
            f"--inputs {path}: must be finite floats [batch, timesteps, features], got {x.dtype} {x.shape}"
        )
    return x


def main(path, other=None, inputs=None, say=print, warn=None) -> int:
    """0: every recurrent layer equal; 1: a layer differs (diagnosed); 2: a file cannot be read, or a layer is
    not covered (named)."""
    warn = warn or say
    try:
        user = None if inputs is None else read_inputs(inputs)
    except CheckError as err:
        warn(f"lstm-equiv check: {err}")
        return EXIT_UNREADABLE
    if other is None:
        return check_one(path, say, warn, user)
    return check_two(path, other, say, warn, user)
