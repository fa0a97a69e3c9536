"""A whole pickled PyTorch module (``torch.save(model)``) read as data: its parameters by name, no class of it
imported, no code of it run.

``torch.load`` of such a file imports every class the pickle names and runs their ``__setstate__``: code from
the file's world. ``torch.load(weights_only=True)`` refuses it. This reader follows Python's "Restricting
Globals" recipe (the pickle module's documentation): :class:`DataUnpickler.find_class` is the only way a
pickle reaches a class or function, and it returns

- for the few it needs to rebuild containers and tensors: ``collections.OrderedDict``, ``set``, and its own
  ``_rebuild_tensor_v2`` / ``_rebuild_parameter`` (which build NumPy arrays, torch/_utils.py's names);
- for a storage class (``torch.FloatStorage`` ...): a marker of its dtype;
- for anything else (``torch.nn.modules.rnn.LSTM``, a user's class, ``os.system``): a new, empty stub class
  that records the name and keeps whatever state the pickle gives it.

A file written by ``torch.save`` is a zip: ``<name>/data.pkl`` (the pickle), ``<name>/data/<key>`` (each
storage's bytes, little-endian, as ``<name>/byteorder`` says), which ``persistent_load`` reads, each size
checked first. The module tree is then walked through its stubs' ``_modules`` and ``_parameters``, giving
the state_dict names ``torch.nn.Module.state_dict`` gives (``rnn.weight_ih_l0``), and each module's class name
(read, not imported) and its plain keys (``bidirectional``, ``proj_size``, ``batch_first``).
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile

import numpy as np

STORAGES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}
"""torch's typed storage classes, as torch.save names them, and their NumPy dtypes (bfloat16 has none)."""


class PickledError(Exception):
    """A file that is not a whole module this reader can read as data: the message says why."""


class Stub:
    """An object of a class the file names, which is never imported: it keeps what the pickle gives it."""

    qualified = "?"
    state = None

    def __init__(self, *args, **kwargs):
        self.args, self.state = args, None

    def __setstate__(self, state):
        self.state = state


class _Storage:
    def __init__(self, array, limit: int):
        self.array, self.limit = array, limit


class _StorageType:
    def __init__(self, name):
        self.name = name


def _rebuild_tensor_v2(storage, offset, size, stride, *rest):
    """The tensor's values as a NumPy array, its view checked to lie inside its storage (the pickle's
    offset, sizes and strides are the file's word, never trusted)."""
    if not isinstance(storage, _Storage):
        raise PickledError("a tensor without a storage")
    ints = lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0
    size, stride = tuple(size), tuple(stride)
    if not (ints(offset) and all(map(ints, size)) and all(map(ints, stride)) and len(size) == len(stride)):
        raise PickledError(f"a tensor with offset {offset!r}, sizes {size!r}, strides {stride!r}: not read")
    array = storage.array
    if size and not all(size):
        return np.zeros(size, array.dtype)
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= len(array):
        raise PickledError(f"a tensor that reaches past its storage ({last} >= {len(array)} values)")
    if not size:
        return array[offset : offset + 1].reshape(()).copy()
    itemsize = array.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        array[offset:], shape=size, strides=tuple(s * itemsize for s in stride), writeable=False
    )
    if view.size * itemsize > storage.limit:
        raise PickledError(f"a tensor of {view.size} values: over the limit")
    return np.array(view)


def _rebuild_parameter(data, *rest):
    return data


class DataUnpickler(pickle.Unpickler):
    """Unpickles containers and tensors; every other global becomes a :class:`Stub` (see the module)."""

    ALLOWED = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("__builtin__", "set"): set,
        ("builtins", "set"): set,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    }

    def __init__(self, data: bytes, storage, limit: int):
        super().__init__(io.BytesIO(data))
        self._storage, self._limit, self._read = storage, limit, {}

    def find_class(self, module, name):
        if (module, name) in self.ALLOWED:
            return self.ALLOWED[(module, name)]
        if module == "torch" and name in STORAGES:
            return _StorageType(name)
        return type(name, (Stub,), {"qualified": f"{module}.{name}"})

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise PickledError(f"a persistent id torch.save does not write: {str(pid)[:80]}")
        _, kind, key, _, numel = pid
        if not isinstance(kind, _StorageType) or not isinstance(numel, int) or numel < 0:
            raise PickledError(f"a storage of type {getattr(kind, 'qualified', kind)!r}: not read")
        if key not in self._read:  # each storage read once, however often the pickle names it
            array = self._storage(str(key), STORAGES[kind.name], numel)
            if sum(a.array.nbytes for a in self._read.values()) + array.nbytes > self._limit:
                raise PickledError(f"its storages hold more than {self._limit} bytes")
            self._read[key] = _Storage(array, self._limit)
        return self._read[key]


def read(path, limit: int) -> tuple:
    """(parameters by state_dict name, {module name: (class name, plain keys)}) of the whole module pickled
    in ``path``; each storage read up to ``limit`` bytes."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise PickledError(f"not a zip written by torch.save ({err})") from None
    with archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise PickledError(f"holds {len(pickles)} data.pkl, torch.save writes one")
        root = pickles[0][: -len("data.pkl")]
        if f"{root}byteorder" in names and archive.read(f"{root}byteorder").strip() not in (b"little", b""):
            raise PickledError("its storages are big-endian: not read")

        def member(name: str) -> bytes:  # at most limit bytes, whatever the zip declares
            try:
                info = archive.getinfo(name)
            except KeyError:
                raise PickledError(f"no member {name}") from None
            if info.file_size > limit:
                raise PickledError(f"{name} declares {info.file_size} bytes (limit {limit})")
            with archive.open(info) as f:
                data = f.read(limit + 1)
            if len(data) > limit:
                raise PickledError(f"{name} holds more than {limit} bytes")
            return data

        def storage(key, dtype, numel):
            want = numel * np.dtype(dtype).itemsize
            data = member(f"{root}data/{key}")
            if len(data) < want:
                raise PickledError(f"storage {key} holds {len(data)} bytes for {numel} values")
            return np.frombuffer(data[:want], dtype=np.dtype(dtype).newbyteorder("<"))

        try:
            top = DataUnpickler(member(pickles[0]), storage, limit).load()
        except PickledError:
            raise
        except Exception as err:  # noqa: BLE001  pickle's reason (a truncated stream, an opcode it refuses)
            raise PickledError(f"its pickle cannot be read as data ({type(err).__name__}: {err})") from None
    if not isinstance(top, Stub) or not isinstance(top.state, dict):
        raise PickledError("its pickle holds no module (a Module with _modules and _parameters)")
    params, modules = {}, {}
    _walk(top, "", params, modules, 0, set())
    return params, modules


MAX_MODULES = 100_000  # a model with more modules than this is not one lstm-equiv reads


def _walk(module, prefix: str, params: dict, modules: dict, depth: int, seen: set):
    """Every module's parameters by state_dict name; a module met again (the pickle memo shares objects) is
    not walked again, and the tree is bounded in depth and size."""
    if depth > 64:
        raise PickledError("modules nested more than 64 deep")
    if id(module) in seen:
        return
    seen.add(id(module))
    if len(seen) > MAX_MODULES:
        raise PickledError(f"more than {MAX_MODULES} modules")
    state = module.state if isinstance(module, Stub) and isinstance(module.state, dict) else {}
    plain = {k: v for k, v in state.items() if isinstance(v, (bool, int, float, str)) and not k.startswith("_")}
    modules[prefix.rstrip(".")] = (type(module).qualified if isinstance(module, Stub) else type(module).__name__, plain)
    parameters, children = state.get("_parameters") or {}, state.get("_modules") or {}
    if not isinstance(parameters, dict) or not isinstance(children, dict):
        raise PickledError(f"module {prefix.rstrip('.') or 'root'}: _parameters and _modules must be mappings")
    for name, value in parameters.items():
        if value is not None:
            if not isinstance(value, np.ndarray):
                raise PickledError(f"parameter {prefix}{name} is not a tensor")
            params[f"{prefix}{name}"] = value
    for name, child in children.items():
        if child is not None:
            _walk(child, f"{prefix}{name}.", params, modules, depth + 1, seen)
