"""Whole models in ``lstm-equiv convert``: every recurrent layer of a Keras file, as one PyTorch state_dict or one
ONNX graph, proven on plain and padded rows.

The recurrent layers of a file are converted together when they form a chain: each reads the one before's
output, with nothing between them but layers that are the identity at inference (:data:`BETWEEN`); the first
reads whatever comes before it (an Embedding, a Masking layer: applied by the user, as the head after the
last). Every layer may be Bidirectional (any merge mode but None), go_backwards, masked (the mask of an
Embedding(mask_zero=True) or a Masking layer upstream) and return its sequence or only its last output (the
last layer only: nothing recurrent reads a single step). What a target cannot express is refused before
anything is written, naming the layer and the option.

- ``--to onnx``: one graph, ``x`` [batch, timesteps, in] (and ``sequence_lens`` [batch] int32 where the
  layers are masked) -> ``outputs`` (the last layer's, as Keras passes it on): one LSTM or GRU node per layer
  (direction ``bidirectional``, ``reverse`` for go_backwards), the merge and the time flip of a go_backwards
  sequence as ONNX operators.
- ``--to torch``: a state_dict of a ``torch.nn.ModuleDict`` of one nn.LSTM / nn.GRU per layer (keys
  ``<layer>.weight_ih_l0`` ...), and the lines that run it (pack_padded_sequence where masked, the merge,
  the flips of go_backwards, the last output from h_n), which :func:`torch_chain` runs for the proof.

The proof: every layer of the written file read back by lstm-equiv check's readers, matched with the source's
and run in the target's framework against the source layer on plain and padded rows (harness/check.py); and
the whole chain, the written file run as a whole against the Keras layers chained, within a bound derived as
every bound here is (harness/tolerances.py: the spread of the reference chain perturbed at float32's
roundoff).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from lstm_equiv.harness import check, safeio, sensitivity, tolerances
from lstm_equiv.harness.convert import ConvertError

BETWEEN = ("Dropout", "SpatialDropout1D", "GaussianDropout", "GaussianNoise", "AlphaDropout", "ActivityRegularization")
"""Layers that are the identity at inference: they may sit between two recurrent layers of a chain."""
TARGETS = ("torch", "onnx")


@dataclass
class Stack:
    """The recurrent chain of a Keras file: its layers (harness.check.Layer) in order."""

    path: Path
    layers: list
    what: str
    masked: bool


def wanted(path, to: str, layer) -> bool:
    """Whether ``convert`` takes the whole-model path: a Keras file, no --layer, and more than one recurrent
    layer, or one that is Bidirectional, go_backwards or masked."""
    keras_file = Path(path).suffix in (".keras", ".h5") or (Path(path) / "saved_model.pb").exists()
    if layer or not keras_file or to not in TARGETS:
        return False
    from lstm_equiv.harness import modelfile

    try:
        model = modelfile.read(path)
    except modelfile.ModelFileError:
        return False  # convert's own reading reports it
    lays = model.recurrent
    return len(lays) > 1 or any(
        lay.backward is not None or lay.config.get("go_backwards") or lay.masked_by for lay in lays
    )


def read(path) -> Stack:
    """The file's recurrent chain (see the module), or ConvertError naming what breaks it."""
    from lstm_equiv.harness import modelfile

    path = Path(path)
    try:
        model = modelfile.read(path)
        layers = [check._keras_layer(path, model, lay) for lay in model.recurrent]
    except (modelfile.ModelFileError, ConvertError) as err:
        raise ConvertError(str(err)) from None
    if model.wrapped:
        raise ConvertError(f"{path}: TimeDistributed layers {model.wrapped} are not converted")
    names = [lay.name for lay in layers]
    positions = [next(k for k, (_, name) in enumerate(model.order) if name == n) for n in names]
    for (a, b), (pa, pb) in zip(zip(layers, layers[1:]), zip(positions, positions[1:])):
        between = [f"{cls} {name}" for cls, name in model.order[pa + 1 : pb] if cls not in BETWEEN]
        if between:
            raise ConvertError(
                f"{path}: layers {a.name} and {b.name} are not a chain: {', '.join(between)} sits between them "
                "(a whole model converts a chain of recurrent layers; convert one with --layer)"
            )
        if not a.sequences:
            raise ConvertError(f"{path}: layer {a.name} passes on its last output only, and {b.name} reads it")
        if b.input_depth != width(a):
            raise ConvertError(f"{path}: layer {b.name} reads {b.input_depth} features, {a.name} gives {width(a)}")
    return Stack(
        path,
        layers,
        f"{path} (Keras, {len(layers)} recurrent layers: {', '.join(names)})",
        any(lay.masked_by for lay in layers),
    )


def width(layer) -> int:
    """The features a layer passes on: units, twice for a concatenated bidirectional layer."""
    return layer.units * (2 if layer.directions == 2 and layer.merge_mode == "concat" else 1)


def refusals(stack: Stack, to: str) -> list:
    """Why, for every layer option the target cannot express (naming the layer and the option)."""
    out = []
    for lay in stack.layers:
        semantics = {k: v for k, v in lay.semantics.items() if k not in ("forget_bias", "reset_after")}
        if lay.merge_mode == "none":
            out.append(f"layer {lay.name}: merge_mode=None returns two tensors, not a chain's one")
        if lay.go_backwards and lay.masked_by and lay.sequences:
            out.append(
                f"layer {lay.name}: go_backwards with return_sequences under a mask: Keras reverses the outputs "
                "but not the mask the next layer reads"
            )
        if to == "torch":
            if any(v not in ("tanh", "sigmoid") for v in semantics.values()):
                out.append(f"layer {lay.name}: activations {semantics}: nn.LSTM and nn.GRU have tanh and sigmoid")
            if lay.cell == "gru" and not lay.semantics.get("reset_after"):
                out.append(f"layer {lay.name}: reset_after=False: nn.GRU applies the reset after the product")
            if lay.go_backwards and lay.masked_by:
                out.append(
                    f"layer {lay.name}: go_backwards under a mask: nn.{lay.cell.upper()} has no go_backwards "
                    "(the written recipe flips whole rows, which moves the padding first)"
                )
    return out


# ---------------------------------------------------------------------------------------------- chains


def next_input(layer, run: tuple):
    """What ``layer`` passes on, as Keras does, from its canonical run (outputs per direction, time order;
    h, c per cell): the merged sequence (a go_backwards layer's in the order it processed it), or its last
    output: the final h, merged."""
    outputs, h, _ = run
    if not layer.sequences:
        return _merge(layer, h[0], h[1] if layer.directions == 2 else None)
    u = layer.units
    merged = _merge(layer, outputs[..., :u], outputs[..., u:] if layer.directions == 2 else None)
    return merged[:, ::-1] if layer.go_backwards else merged


def _merge(layer, fw, bw):
    if bw is None:
        return fw
    return {
        "concat": lambda: np.concatenate([fw, bw], axis=-1),
        "sum": lambda: fw + bw,
        "mul": lambda: fw * bw,
        "ave": lambda: (fw + bw) / 2,
    }[layer.merge_mode]()


def chain(stack: Stack, x, lengths, run_layer, states=None) -> np.ndarray:
    """The chain's output: each layer run by ``run_layer(layer, x, lengths, states)`` (canonical), fed to the
    next; ``states``: the initial (h, c) of each stateful layer, by name (the state it carried in)."""
    for layer in stack.layers:
        given = (states or {}).get(layer.name)
        x = next_input(layer, run_layer(layer, x, lengths if layer.masked_by else None, given))
    return x


def initial_states(stack: Stack, batch: int, seed: int = check.SEED) -> dict:
    """Seeded initial states (h0, c0 or None; [cells, batch, width]) for every stateful layer: the proof runs
    from a carried state, not from zeros."""
    rng = np.random.default_rng([seed, 0x57A7E])
    out = {}
    for lay in stack.layers:
        if lay.stateful:
            shape = (lay.directions, batch, lay.units)
            h0 = rng.normal(0.0, 0.5, shape).astype(np.float32)
            out[lay.name] = (h0, None if lay.cell == "gru" else rng.normal(0.0, 0.5, shape).astype(np.float32))
    return out


def chain_bound(stack: Stack, x, lengths, seed: int = check.SEED, states=None) -> tolerances.Tolerance:
    """Twice the derived single-run bound of the chain's output: MULTIPLE x the spread of the reference chain
    with every input, weight and state perturbed at float32's unit roundoff over DRAWS runs, at least FLOOR
    roundoffs of its size (harness/tolerances.py)."""
    u = sensitivity.UNIT_ROUNDOFF["float32"]
    rng = np.random.default_rng([seed, 0xC4A1])
    exact = chain(stack, x, lengths, lambda lay, xs, ls, st: check.reference_run(lay, xs, ls, states=st), states)
    spread = np.zeros(exact.shape[1:-1] or (1,))
    for _ in range(sensitivity.DRAWS):

        def perturbed(lay, xs, ls, st):
            cells = tuple(sensitivity._perturb_params(p, u, rng) for p in lay.cells)
            rounded = lambda h, *c: (  # every state rounded after every step, as harness.sensitivity does
                (sensitivity._perturb(h, u, rng), *(sensitivity._perturb(s, u, rng) for s in c))
                if c
                else sensitivity._perturb(h, u, rng)
            )
            return check.reference_run(
                lay, sensitivity._perturb(xs, u, rng), ls, cells=cells, states=st, after_step=rounded
            )

        got = chain(stack, x, lengths, perturbed, states)
        err = np.abs(got - exact)
        spread = np.maximum(spread, err.max(axis=(0, -1)) if err.ndim == 3 else err.max())
    single = tolerances.derived(
        spread[None, :, None] if exact.ndim == 3 else float(spread.max()), exact, "float32", "outputs"
    )
    return tolerances.Tolerance(2 * np.asarray(single.atol), "twice " + single.source + " (the chain)")


# ---------------------------------------------------------------------------------------------- the command


def _files(to: str):
    import importlib

    return importlib.import_module(f"lstm_equiv.harness.forms.{to}.files")


def _as_written(a, b):
    """The written layer ``b`` as the written lines run it: nn.LSTM and nn.GRU have no go_backwards, so a
    go_backwards layer's rows are fed to them flipped (its outputs then come in time order flipped back)."""
    if not a.go_backwards or b.go_backwards:
        return b
    run = b.run

    def flipped(x, lengths=None):
        outputs, h, c = run(np.ascontiguousarray(x[:, ::-1]), lengths)
        return outputs[:, ::-1], h, c

    return replace(b, go_backwards=True, run=flipped, runner=b.runner + ", fed the rows flipped (go_backwards)")


def main(src, to: str, out, batch: int, timesteps: int, say, warn, force: bool) -> int:
    """Convert the whole chain of ``src``; 0 written, 1 disproved (nothing kept), 2 refused (nothing written)."""
    from lstm_equiv.harness import compare, diagnose
    from lstm_equiv.harness.forms import FORMS

    out = Path(out)
    try:
        safeio.check_file(out, "-o", force, inputs=[Path(src)])
        missing = FORMS[f"{to}_lstm"].missing()
        if missing:
            raise ConvertError(f"--to {to}: {missing}")
        stack = read(src)
        refused = refusals(stack, to)
        if refused:
            raise ConvertError(f"cannot convert {stack.what} to {to} faithfully:\n  " + "\n  ".join(refused))
    except (ConvertError, safeio.OutputError, safeio.InputError) as err:
        warn(f"lstm-equiv convert: {err}")
        return 2
    say(f"lstm-equiv convert: {stack.what}, read as data")
    for lay in stack.layers:
        say(
            f"  {lay.name}: {lay.shape}, {lay.units} units"
            + (f", merge {lay.merge_mode}" if lay.directions == 2 else "")
            + (f", masked by {lay.masked_by}" if lay.masked_by else "")
            + ("" if lay.sequences else ", passes on its last output")
        )
    files = _files(to)
    rng = np.random.default_rng([check.SEED, 0xC0DE])
    x = rng.normal(0.0, 1.0, (batch, timesteps, stack.layers[0].input_depth)).astype(np.float32)
    lengths = None
    if stack.masked:
        lengths = check.padded_lengths(rng, batch, timesteps)
    try:
        with safeio.publishing(out, "-o", force) as pending:
            lines = [line.replace(str(pending.path), str(out)) for line in files.write_stack(stack, pending.path)]
            say(f"proof, layer by layer: the written file read back and run in {to}, against each Keras layer:")
            written = files.read_layers(pending.path)[1]
            same = True
            for a, b in diagnose.match(stack.layers, written, str(src), str(out)):
                b = _as_written(a, b)
                say(f"  {a.name} = {b.name}:")
                same = check.compare_pair(a, b, say) and same
            said = f"x [{batch}, {timesteps}, {stack.layers[0].input_depth}] (seed {check.SEED})" + (
                f", padded rows: lengths {lengths.tolist()}" if lengths is not None else ""
            )
            say(f"proof, whole: the written file run as a whole against the Keras layers chained, on {said}:")
            states = initial_states(stack, batch)
            if states:
                say(f"  (stateful layers {', '.join(states)} start from seeded states, as carried from a call before)")
            theirs = chain(stack, x, lengths, lambda lay, xs, ls, st: lay.run(xs, ls, st), states)
            mine = files.run_stack(pending.path, stack, x, lengths, states)
            tol = chain_bound(stack, x, lengths, states=states)
            if lengths is not None and mine.ndim == 3:  # padded steps of a returned sequence: the mask's to hide
                valid = np.arange(timesteps)[None, :, None] < lengths[:, None, None]
                mine, theirs = np.where(valid, mine, 0.0), np.where(valid, theirs, 0.0)
                say("  (the outputs at padded steps are not compared: the layers after honour the mask)")
            axes = ("batch", "timestep", "unit") if mine.ndim == 3 else ("batch", "unit")
            got = compare.compare(
                np.asarray(mine, np.float64), np.asarray(theirs, np.float64), tol, "outputs", axes, "float32"
            )
            verdict = "PASS" if got.passed else "FAIL"
            say(f"  outputs  max abs err {got.max_abs_err:.3g}  bound {tol.largest:.3g}  {verdict}")
            if not (same and got.passed):
                if not got.passed:
                    say(got.message)
                pending.discard()
    except (safeio.OutputError, diagnose.Unmatched, check.CheckError) as err:
        warn(f"lstm-equiv convert: {err}")
        return 2
    if pending.discarded:
        kept = f"{out} is as it was" if out.exists() else f"nothing was written to {out}"
        warn(f"lstm-equiv convert: the {to} file does NOT compute what the source computes: {kept}")
        return 1
    say(f"wrote {out}: every recurrent layer of {src} ({len(stack.layers)})")
    for line in lines:
        say(f"  {line}")
    return 0
