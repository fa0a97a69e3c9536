"""lstm-equiv's own per-gate weight format: one ``.npz`` per LSTM layer, nothing stacked or fused.

Keys (g in i j f o; shapes as in :class:`reference.LSTMParams`):

- ``V_g`` [input_depth, num_units], ``W_g`` [h_depth, num_units], ``b_g`` [num_units]: required;
- ``peephole_i``, ``peephole_f``, ``peephole_o`` [num_units]: all three, or none;
- ``projection`` [num_units, num_proj]: optional (then h_depth is num_proj);
- ``forget_bias``: a scalar added to f's pre-activation at run time (BasicLSTMCell's); 0 when b_f holds it;
- ``options``: a JSON object with any of activation, recurrent_activation (reference.ACTIVATIONS names:
  tanh, sigmoid, relu, hard_sigmoid_0.2, hard_sigmoid_1/6), cell_clip, proj_clip, gate_clip, input_forget.

Written by ``lstm-equiv convert --to npz`` and ``lstm-equiv vectors``; read by ``convert`` and by a case's
``weights:`` key. docs/npz_format.md has a worked example.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reference import ACTIVATIONS, GATES, PEEPHOLE_GATES, LSTMParams

OPTIONS = ("activation", "recurrent_activation", "cell_clip", "proj_clip", "gate_clip", "input_forget")


class NpzError(ValueError):
    """An .npz that is not in the per-gate format: the message names the file and the key."""


def save(path, params: LSTMParams, forget_bias: float = 0.0, options: dict | None = None):
    """Write ``params`` (and the run-time ``forget_bias`` and ``options``) to ``path``."""
    arrays = {f"{part}_{g}": a for part, g, a in params.items()}
    if params.projection is not None:
        arrays["projection"] = params.projection
    with open(path, "wb") as f:  # np.savez would append .npz to a name without it
        np.savez(f, **arrays, forget_bias=np.float64(forget_bias),
                 options=np.array(json.dumps({k: v for k, v in (options or {}).items() if v is not None})))


def load(path) -> tuple:
    """``(params, forget_bias, options)`` from ``path``; NpzError naming the key for anything malformed."""
    path = Path(path)
    try:
        data = dict(np.load(path, allow_pickle=False))
    except Exception as err:  # noqa: BLE001  NumPy's own reason is the message
        raise NpzError(f"{path}: not a readable .npz: {err}") from err
    needed = [f"{part}_{g}" for part in ("V", "W", "b") for g in GATES]
    missing = [k for k in needed if k not in data]
    if missing:
        raise NpzError(f"{path}: missing key(s) {', '.join(missing)} (per-gate format: V_g, W_g, b_g for g in i j f o)")
    known = set(needed) | {f"peephole_{g}" for g in PEEPHOLE_GATES} | {"projection", "forget_bias", "options"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise NpzError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    peep = [f"peephole_{g}" for g in PEEPHOLE_GATES]
    if any(k in data for k in peep) and not all(k in data for k in peep):
        raise NpzError(f"{path}: peephole diagonals need all of {', '.join(peep)}")
    part = lambda name: {g: data[f"{name}_{g}"] for g in GATES}  # noqa: E731
    try:
        params = LSTMParams(part("V"), part("W"), part("b"),
                            {g: data[f"peephole_{g}"] for g in PEEPHOLE_GATES} if peep[0] in data else None,
                            data.get("projection"))
    except ValueError as err:
        raise NpzError(f"{path}: {err}") from err
    dtypes = {str(a.dtype) for _, _, a in params.items()}
    if len(dtypes) != 1 or dtypes - {"float32", "float64"}:
        raise NpzError(f"{path}: every array must be float32, or every one float64; got {sorted(dtypes)}")
    options = json.loads(str(data["options"])) if "options" in data else {}
    bad = sorted(set(options) - set(OPTIONS))
    if bad:
        raise NpzError(f"{path}: options: unknown key(s) {', '.join(bad)}; known: {', '.join(OPTIONS)}")
    for key in ("activation", "recurrent_activation"):
        if key in options and options[key] not in ACTIVATIONS:
            raise NpzError(f"{path}: options.{key}: {options[key]!r} is not one of {', '.join(ACTIVATIONS)}")
    return params, float(data.get("forget_bias", 0.0)), options
