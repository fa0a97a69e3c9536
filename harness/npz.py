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

Reading a file somebody else wrote: ``np.load`` is not used, because it decompresses whatever a member
declares (a 2 MB file can hold 2 GiB of zeros), lists any number of members, waits on a FIFO and answers
a text file with advice to unpickle it. :func:`load` reads the zip directory's size from its end record
first, then the members' names and declared sizes, then each ``.npy`` header, and only then the arrays,
each checked against the size its header declares; every problem is an :class:`NpzError` that starts with
the file and names the key.
"""

from __future__ import annotations

import json
import math
import struct
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from lstm_equiv.harness import safeio
from lstm_equiv.reference import ACTIVATIONS, GATES, PEEPHOLE_GATES, LSTMParams

OPTIONS = ("activation", "recurrent_activation", "cell_clip", "proj_clip", "gate_clip", "input_forget")
REQUIRED = tuple(f"{part}_{g}" for part in ("V", "W", "b") for g in GATES)
PEEPHOLES = tuple(f"peephole_{g}" for g in PEEPHOLE_GATES)
WEIGHTS = REQUIRED + PEEPHOLES + ("projection",)
KEYS = WEIGHTS + ("forget_bias", "options")
DIRECTORY_LIMIT = 64 * 1024
"""The most bytes of zip directory read: the 18 keys of an .npz take about 2 KiB of it; a million empty
members fit in an 84 MiB file and cost zipfile 560 MiB to list (measured, Python 3.11)."""
NOT_NPZ = "not an .npz (a zip archive of .npy arrays)"
MEANING = {
    "V": (2, "[input_depth, num_units]"),
    "W": (2, "[h_depth, num_units]"),
    "b": (1, "[num_units]"),
    "peephole": (1, "[num_units]"),
    "projection": (2, "[num_units, num_proj]"),
}
"""Each weight's rank and what its dimensions are, by the part of its key before the gate."""
CHUNK = 16 * safeio.MiB


class NpzError(ValueError):
    """An .npz that is not in the per-gate format: the message names the file and the key."""


def save(path, params: LSTMParams, forget_bias: float = 0.0, options: dict | None = None):
    """Write ``params`` (and the run-time ``forget_bias`` and ``options``) to ``path``."""
    arrays = {f"{part}_{g}": a for part, g, a in params.items()}
    if params.projection is not None:
        arrays["projection"] = params.projection
    with open(path, "wb") as f:  # np.savez would append .npz to a name without it
        np.savez(
            f,
            **arrays,
            forget_bias=np.float64(forget_bias),
            options=np.array(json.dumps({k: v for k, v in (options or {}).items() if v is not None})),
        )


def load(path) -> tuple:
    """``(params, forget_bias, options)`` from ``path``, read as data within ``safeio.LIMITS['weights
    file']``; NpzError naming the file and the key for anything else."""
    path = Path(path)
    try:
        f = safeio.open_regular(path, "weights file")
    except safeio.InputError as err:
        raise NpzError(str(err)) from None
    with f:
        arrays = _read(path, f)
    return (
        _params(path, arrays),
        _forget_bias(path, arrays.get("forget_bias")),
        _options(path, arrays.get("options"), "projection" in arrays),
    )


def nonfinite(array: np.ndarray) -> str | None:
    """'holds 3 non-finite values (nan, inf)' when ``array`` holds any, else None."""
    finite = np.isfinite(array)
    count = int(finite.size - np.count_nonzero(finite))
    if not count:
        return None
    kinds = [
        word
        for word, found in (
            ("nan", np.isnan(array).any()),
            ("inf", np.isposinf(array).any()),
            ("-inf", np.isneginf(array).any()),
        )
        if found
    ]
    return f"holds {count} non-finite value{'s' if count > 1 else ''} ({', '.join(kinds)})"


# ------------------------------------------------------------------------------------ reading the zip


def _read(path: Path, f) -> dict:
    """The members of the archive ``f`` as arrays by key, every size checked before it is read."""
    _check_directory(path, f)
    try:
        archive = zipfile.ZipFile(f)
    except Exception as err:  # noqa: BLE001  zipfile raises a zoo of errors on damaged bytes
        raise NpzError(f"{path}: {NOT_NPZ}: {err}") from None
    with archive:
        infos = archive.infolist()
        if not infos:
            raise NpzError(f"{path}: {NOT_NPZ}: the archive is empty")
        keys = _keys(path, [info.filename for info in infos])
        declared = sum(info.file_size for info in infos)
        limit = safeio.LIMITS["weights file"]
        if declared > limit:
            raise NpzError(
                f"{path}: its arrays take {declared} bytes once unpacked; a weights file is read up to "
                f"{limit // safeio.MiB} MiB"
            )
        return {key: _member(path, archive, info, key) for key, info in zip(keys, infos)}


def _check_directory(path: Path, f):
    """Refuse a file without a zip end record, or whose zip directory is larger than an .npz's can be."""
    size = f.seek(0, 2)
    tail = min(size, 22 + 0xFFFF)  # the end record, then a comment of up to 64 KiB
    f.seek(size - tail)
    data = f.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < 22:
        raise NpzError(f"{path}: {NOT_NPZ}: no zip end record")
    entries, directory = struct.unpack("<HI", data[at + 10 : at + 16])
    if (entries == 0xFFFF or directory == 0xFFFFFFFF) and at >= 20 and data[at - 20 : at - 16] == b"PK\x06\x07":
        f.seek(struct.unpack("<Q", data[at - 12 : at - 4])[0])  # the zip64 end record, where its locator says
        record = f.read(56)
        if len(record) == 56 and record[:4] == b"PK\x06\x06":
            directory = struct.unpack("<Q", record[40:48])[0]
    if directory > DIRECTORY_LIMIT:
        raise NpzError(
            f"{path}: its zip directory takes {directory} bytes; the {len(KEYS)} keys of an .npz take "
            f"about 2 KiB (read up to {DIRECTORY_LIMIT // 1024} KiB)"
        )


def _keys(path: Path, names: list) -> list:
    """The key of every member name, in order; NpzError for a duplicate, an unknown or a missing key."""
    twice = sorted(name for name, count in Counter(names).items() if count > 1)
    if twice:
        raise NpzError(f"{path}: holds {', '.join(twice)} twice")
    keys = [name[:-4] if name.endswith(".npy") else name for name in names]
    unknown = [
        key if name.endswith(".npy") else f"{name} (not a .npy)"
        for name, key in zip(names, keys)
        if key not in KEYS or not name.endswith(".npy")
    ]
    if unknown:
        raise NpzError(f"{path}: unknown key(s) {', '.join(unknown)}; known: {', '.join(KEYS)}")
    missing = [k for k in REQUIRED if k not in keys]
    if missing:
        raise NpzError(f"{path}: missing key(s) {', '.join(missing)} (per-gate format: V_g, W_g, b_g for g in i j f o)")
    if any(k in keys for k in PEEPHOLES) and not all(k in keys for k in PEEPHOLES):
        raise NpzError(f"{path}: peephole diagonals need all of {', '.join(PEEPHOLES)}")
    return keys


def _member(path: Path, archive, info, key: str) -> np.ndarray:
    """One member: its .npy header read and checked against the member's size, then its data."""
    name = info.filename
    unreadable = f"{path}: {name} is not a readable .npy array"
    try:
        with archive.open(info) as m:
            version = np.lib.format.read_magic(m)
            if version not in ((1, 0), (2, 0)):
                raise NpzError(f"{path}: {name} is .npy version {version[0]}.{version[1]}; 1.0 and 2.0 are read")
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(m)
            held = info.file_size - m.tell()
            _check_header(path, name, key, shape, dtype, held)
            flat = np.empty(held // dtype.itemsize, dtype)
            raw = flat.view(np.uint8)
            for start in range(0, held, CHUNK):  # in chunks: the array is the only full copy in memory
                # zipfile raises on a member that ends early, and checks the CRC on the last read
                raw[start : start + CHUNK] = np.frombuffer(m.read(min(CHUNK, held - start)), np.uint8)
    except NpzError:
        raise
    except Exception as err:  # noqa: BLE001  NumPy's and zipfile's reasons are the message
        raise NpzError(f"{unreadable}: {err}") from None
    return flat.reshape(shape[::-1]).T if fortran else flat.reshape(shape)


def _check_header(path: Path, name: str, key: str, shape: tuple, dtype: np.dtype, held: int):
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise NpzError(f"{path}: {key} has dtype {dtype}: object and structured arrays are not read")
    if not dtype.itemsize:
        raise NpzError(f"{path}: {key} has dtype {dtype}, of 0 bytes an element")
    if any(n < 0 for n in shape):
        raise NpzError(f"{path}: {name} is corrupt: its header declares shape {shape}, with a negative dimension")
    declared = math.prod(shape) * dtype.itemsize
    if declared != held:
        raise NpzError(
            f"{path}: {name} is corrupt: its header declares shape {shape} of {dtype} ({declared} bytes), "
            f"the member holds {held} bytes"
        )


# ---------------------------------------------------------------------------------- checking the arrays


def _params(path: Path, arrays: dict) -> LSTMParams:
    """The weights as LSTMParams: real floats of one dtype, ranks, shapes against V's, all finite."""
    weights = [k for k in WEIGHTS if k in arrays]
    for key in weights:
        dtype = arrays[key].dtype
        if dtype.str not in ("<f4", "<f8"):
            raise NpzError(
                f"{path}: {key} has dtype {dtype}; weights are real numbers, float32 or float64 (little-endian)"
            )
    first = Counter(arrays[k].dtype for k in weights).most_common(1)[0][0]  # the odd ones are the fewer
    odd = [k for k in weights if arrays[k].dtype != first]
    if odd:
        same = [k for k in weights if k not in odd]
        raise NpzError(
            f"{path}: {', '.join(odd)} {_has(odd)} dtype {arrays[odd[0]].dtype} but {', '.join(same)} "
            f"{_has(same)} {first}: every array must be float32, or every one float64"
        )
    for key in weights:
        rank, meaning = MEANING[key.rsplit("_", 1)[0]]
        if arrays[key].ndim != rank:
            raise NpzError(f"{path}: {key} has shape {arrays[key].shape}; it must be {rank}-D, {meaning}")
    n_in, n, h_depth = _sizes(path, arrays)
    why = f"num_units is {n}, the columns of {', '.join(f'V_{g}' for g in GATES)}"
    h_why = (
        f"h_depth is {h_depth}, num_proj (the columns of projection)"
        if "projection" in arrays
        else f"h_depth is {h_depth}, num_units without a projection"
    )
    for part, shape, because in (("W", (h_depth, n), f"{why}; {h_why}"), ("b", (n,), why), ("peephole", (n,), why)):
        wrong = [k for k in weights if k.startswith(part + "_") and arrays[k].shape != shape]
        if wrong:
            raise NpzError(
                f"{path}: {', '.join(f'{k} has shape {arrays[k].shape}' for k in wrong)}; expected "
                f"{shape}, {MEANING[part][1]}: {because}"
            )
    for key in weights:
        problem = nonfinite(arrays[key])
        if problem:
            raise NpzError(f"{path}: {key} {problem}")
    block = lambda part: {g: arrays[f"{part}_{g}"] for g in GATES}
    return LSTMParams(
        block("V"),
        block("W"),
        block("b"),
        {g: arrays[f"peephole_{g}"] for g in PEEPHOLE_GATES} if PEEPHOLES[0] in arrays else None,
        arrays.get("projection"),
    )


def _has(keys: list) -> str:
    return "has" if len(keys) == 1 else "have"


def _sizes(path: Path, arrays: dict) -> tuple:
    """(input_depth, num_units, h_depth): V's shape, the one its four blocks share, and the projection's."""
    names = [f"V_{g}" for g in GATES]
    shapes = {k: arrays[k].shape for k in names}
    common = Counter(shapes.values()).most_common(1)[0][0]
    odd = [k for k in names if shapes[k] != common]
    if odd:
        same = [k for k in names if k not in odd]
        raise NpzError(
            f"{path}: {', '.join(f'{k} has shape {shapes[k]}' for k in odd)} but {', '.join(same)} "
            f"{_has(same)} {common}"
        )
    n_in, n = common
    if not n_in or not n:
        raise NpzError(f"{path}: {', '.join(names)} have shape {common}: input_depth and num_units must be at least 1")
    projection = arrays.get("projection")
    if projection is None:
        return n_in, n, n
    if projection.shape[0] != n or projection.shape[1] < 1:
        raise NpzError(
            f"{path}: projection has shape {projection.shape}; expected ({n}, num_proj) with num_proj at "
            f"least 1: num_units is {n}, the columns of {', '.join(names)}"
        )
    return n_in, n, projection.shape[1]


def _forget_bias(path: Path, value) -> float:
    if value is None:
        return 0.0
    if value.shape != () or value.dtype.kind not in "biufc":
        raise NpzError(
            f"{path}: forget_bias must be a finite real scalar, got dtype {value.dtype}, shape {value.shape}"
        )
    if value.dtype.kind in "bc" or not np.isfinite(value):
        raise NpzError(f"{path}: forget_bias must be a finite real scalar, got {value[()]} ({value.dtype})")
    return float(value)


JSON_TYPES = (
    (bool, "a boolean"),
    (dict, "an object"),
    (list, "an array"),
    (str, "a string"),
    ((int, float), "a number"),
    (type(None), "null"),
)


def _options(path: Path, value, projection: bool) -> dict:
    """The ``options`` member: one JSON string of an object whose keys and values lstm-equiv knows."""
    if value is None:
        return {}
    if value.shape != () or value.dtype.kind != "U":
        raise NpzError(f"{path}: options must be a JSON string, got dtype {value.dtype}, shape {value.shape}")
    try:
        options = json.loads(str(value[()]))
    except (ValueError, RecursionError) as err:  # RecursionError: '[' nested past Python's stack
        raise NpzError(f"{path}: options is not JSON: {err}") from None
    if not isinstance(options, dict):
        kind = next(word for types, word in JSON_TYPES if isinstance(options, types))
        raise NpzError(f"{path}: options must be a JSON object, got {kind}")
    bad = sorted(set(options) - set(OPTIONS))
    if bad:
        raise NpzError(f"{path}: options: unknown key(s) {', '.join(bad)}; known: {', '.join(OPTIONS)}")
    for key, v in options.items():
        rule = _option_rule(key, v)
        if rule:
            raise NpzError(f"{path}: options.{key} is {_shown(v)}; it must be {rule}")
    if options.get("proj_clip") is not None and not projection:
        raise NpzError(f"{path}: options.proj_clip needs a projection; the file has none")
    return options


def _option_rule(key: str, value) -> str | None:
    """What ``value`` must be for option ``key``, when it is not."""
    if key in ("activation", "recurrent_activation"):
        return None if isinstance(value, str) and value in ACTIVATIONS else f"one of {', '.join(ACTIVATIONS)}"
    if key == "input_forget":
        return None if isinstance(value, bool) else "true or false"
    if value is None:
        return None
    try:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0
    except OverflowError:  # an integer of hundreds of digits
        ok = False
    return None if ok else "a finite positive number or null"


def _shown(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 60 else f"{text[:48]}... ({len(text)} characters)"
