"""Keras model files read as data: the recurrent layers' configurations and weights, nothing executed.

Over 400 lines, on purpose: two file formats (HDF5, the .keras zip), each with its size limits and
refusals, Bidirectional wrappers as Keras 2 and Keras 3 name them, and the masks that reach each layer.

``keras.models.load_model`` rebuilds every layer of a file, and for a legacy ``.h5`` (tf_keras has no safe
mode for it) that includes running the marshalled Python code of a ``Lambda`` layer. lstm-equiv is run on
files its users did not write, so it never loads a model: this module reads

- ``.h5`` (Keras 2, or Keras 3's legacy format): the root attributes ``model_config`` (JSON) and
  ``keras_version``, and the datasets under ``model_weights/<layer>/`` named by each group's
  ``weight_names`` attribute;
- ``.keras`` (a zip archive): ``config.json``, ``metadata.json`` (``keras_version``) and
  ``model.weights.h5``, where a layer's variables sit at ``layers/<snake_case(class)>[_k]/cell/vars/0..2``,
  ``k`` counting earlier layers of the same class in the model's list (keras/src/saving/saving_lib.py,
  ``_save_container_state``; Keras 3 also writes the layer's name as the ``name`` attribute of
  ``.../vars``, which is checked where present);

as JSON and NumPy arrays, with every size checked before it is read (harness/safeio.py). A layer is
described by :class:`Recurrent`: its class, the configuration keys that change what it computes, and its
weights. harness/convert.py builds only that one layer again, from those keys, in the installed Keras.
Every other layer of the file (a ``Lambda``, a custom class) stays a name in :attr:`ModelFile.others`.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lstm_equiv.harness import safeio
from lstm_equiv.harness.npz import nonfinite

RECURRENT = ("LSTM", "GRU")
BIDIRECTIONAL = "Bidirectional"
WRAPPERS = ("TimeDistributed",)  # a wrapper lstm-equiv does not read into: named, never converted
BIDIRECTIONAL_KEYS = ("name", "trainable", "dtype", "merge_mode", "layer", "backward_layer")
"""The keys of a Bidirectional wrapper's own config: any other is refused (it may change the function)."""
MASKS = ("Embedding", "Masking")
"""Layers that start a mask: an Embedding with ``mask_zero`` true, any Masking layer (its mask_value, 0.0 by
default, is the padding's value, not a switch)."""
PASS_MASK = (
    "Dense",
    "Activation",
    "Dropout",
    "SpatialDropout1D",
    "GaussianDropout",
    "GaussianNoise",
    "AlphaDropout",
    "ActivityRegularization",
    "BatchNormalization",
    "LayerNormalization",
    "TimeDistributed",
    "InputLayer",
    "Functional",
    "Model",
    "Sequential",
)
"""Layers that pass a mask on unchanged (their ``supports_masking``, Keras 2 and 3); any other layer between
a mask and a recurrent layer (a pooling, a Flatten, a Conv1D, a RepeatVector, a Lambda) ends the mask here,
which is what Keras does where it cannot carry it."""
MODELS = ("Functional", "Model", "Sequential")
MAX_DEPTH = 32  # models nested in models; Keras files seen here nest at most 3
WEIGHT_NAMES = ("kernel", "recurrent_kernel", "bias")
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"  # the first 8 bytes of every HDF5 file (the HDF5 file format specification)

SEMANTIC = (
    "units",
    "activation",
    "recurrent_activation",
    "use_bias",
    "dtype",
    "go_backwards",
    "stateful",
    "time_major",
    "reset_after",
    "zero_output_for_mask",
)
"""The configuration keys that change what a recurrent layer computes on a given input: read, checked, and
passed on when the layer is built again."""
INERT = (
    "name",
    "trainable",
    "return_sequences",
    "return_state",
    "unroll",
    "implementation",
    "kernel_initializer",
    "recurrent_initializer",
    "bias_initializer",
    "unit_forget_bias",
    "kernel_regularizer",
    "recurrent_regularizer",
    "bias_regularizer",
    "activity_regularizer",
    "kernel_constraint",
    "recurrent_constraint",
    "bias_constraint",
    "dropout",
    "recurrent_dropout",
    "seed",
    "use_cudnn",
)
"""Keys that do not change the function of the stored weights at inference (initialisers and regularisers
act before or during training, dropout only in training, ``unroll`` and ``implementation`` choose how the
same equations run); they are read as data and otherwise ignored. Any other key is refused: it may be one
that a newer Keras added and that changes the function."""


class ModelFileError(Exception):
    """A model file that cannot be read as data: the message names the file (and the layer and key)."""


@dataclass
class Recurrent:
    """One LSTM or GRU layer of a file: what it computes and its stored weights (kernel, recurrent_kernel,
    bias; bias None when ``use_bias`` is false)."""

    class_name: str
    name: str
    config: dict  # the SEMANTIC keys present in the file
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray | None
    merge_mode: str | None = None  # a Bidirectional layer's (its forward layer's fields above)
    backward: Recurrent | None = None  # a Bidirectional layer's backward layer
    masked_by: str | None = None  # the upstream layer whose mask reaches this one, in words (None: no mask)
    return_sequences: bool = False  # every step's output goes on (else only the last one)

    @property
    def described(self) -> str:
        """The layer in words: ``bidi (Bidirectional LSTM, merge concat)``."""
        kind = f"Bidirectional {self.class_name}, merge {self.merge_mode}" if self.backward else self.class_name
        return f"{self.name} ({kind})"


@dataclass
class ModelFile:
    """What a Keras file holds, read as data."""

    path: Path
    keras_major: int
    keras_version: str
    recurrent: list
    wrapped: list = field(default_factory=list)  # names of TimeDistributed layers (not read into)
    others: list = field(default_factory=list)  # "Class name" of every other layer: never built, never run
    order: list = field(default_factory=list)  # (class, name) of every layer, in the model's list


def read(path) -> ModelFile:
    """The recurrent layers of the Keras file ``path``, read as data: an HDF5 file (``.h5``, and the ``.keras``
    files of Keras 2.12) or a ``.keras`` zip archive, told apart by their first bytes."""
    path = Path(path)
    if path.is_dir() and (path / "saved_model.pb").exists():
        return _read_savedmodel(path)
    try:
        size = safeio.regular_file(path, "model file")
    except safeio.InputError as err:
        raise ModelFileError(str(err)) from None
    if not size:
        raise ModelFileError(f"{path}: is empty (0 bytes), not a Keras model file")
    with open(path, "rb") as f:
        magic = f.read(8)
    if magic == HDF5_MAGIC:  # Keras 2.12 writes HDF5 into a file named .keras (measured: TF 2.12.1)
        return _read_h5(path)
    if magic.startswith(b"PK") or path.suffix == ".keras":
        return _read_keras(path)
    return _read_h5(path)


# ---------------------------------------------------------------------------------------------- formats


def _h5py():
    import h5py  # a dependency of tensorflow itself

    return h5py


def _attr_text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _read_h5(path: Path) -> ModelFile:
    h5py = _h5py()
    try:
        f = h5py.File(path, "r")
    except OSError as err:
        raise ModelFileError(f"{path}: not an HDF5 file that can be read ({err})") from None
    with f:
        if "model_config" not in f.attrs:
            raise ModelFileError(
                f"{path}: holds no model_config (weights saved alone, with save_weights?): "
                "without the configuration the layers' options are unknown"
            )
        text = _attr_text(f.attrs["model_config"])
        if len(text) > safeio.LIMITS["model config"]:
            raise ModelFileError(
                f"{path}: model_config is {len(text)} bytes; a model config is read up to "
                f"{safeio.LIMITS['model config'] // safeio.MiB} MiB"
            )
        version = _attr_text(f.attrs.get("keras_version", ""))
        layers = _layers(path, _json(path, text, "model_config"))
        weights = f["model_weights"] if "model_weights" in f else None
        read_one = lambda cls, name, cfg, where, inner: _h5_layer(path, weights, cls, name, cfg, inner and inner[1])
        found = _recurrent_layers(path, layers, read_one)
    return _model(path, version, ".h5", layers, found)


def _h5_layer(path: Path, weights, cls: str, name: str, config: dict, within: str | None = None) -> Recurrent:
    """The layer's datasets: among every group's ``weight_names``, those with the layer's name as a path
    component (a nested model's group names its inner layers' weights ``inner/cell/kernel:0``); ``within``:
    only the group of that layer (a Bidirectional's, whose inner layers are ``forward_<name>`` and
    ``backward_<name>``)."""
    if weights is None:
        raise ModelFileError(f"{path}: holds no model_weights group")
    arrays = {}
    for group_name in weights:
        if within is not None and group_name != within:
            continue
        group = weights[group_name]
        names = [_attr_text(n) for n in group.attrs.get("weight_names", [])]
        for weight in names:
            parts = weight.split("/")
            if name in parts[:-1]:
                arrays.setdefault(parts[-1].split(":")[0], []).append((f"{group_name}/{weight}", group[weight]))
    return _recurrent(path, cls, name, config, arrays)


def _read_keras(path: Path) -> ModelFile:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ModelFileError(f"{path}: not a .keras archive (a zip file): {err}") from None
    with archive:
        members = {info.filename: info for info in archive.infolist()}
        for needed in ("config.json", "model.weights.h5"):
            if needed not in members:
                raise ModelFileError(f"{path}: the archive has no {needed} (members: {sorted(members) or 'none'})")
        config = _member(path, archive, members["config.json"], "model config").decode("utf-8", "replace")
        version = ""
        if "metadata.json" in members:
            meta = _json(
                path,
                _member(path, archive, members["metadata.json"], "model config").decode("utf-8", "replace"),
                "metadata.json",
            )
            version = str(meta.get("keras_version", "")) if isinstance(meta, dict) else ""
        layers = _layers(path, _json(path, config, "config.json"))
        blob = _member(path, archive, members["model.weights.h5"], "model file")
    h5py = _h5py()
    try:
        weights = h5py.File(io.BytesIO(blob), "r")
    except OSError as err:
        raise ModelFileError(f"{path}: model.weights.h5 is not a readable HDF5 file ({err})") from None
    with weights:
        read_one = lambda cls, name, cfg, where, inner: _keras_layer(
            path, weights, cls, name, cfg, f"{where}/{inner[0]}" if inner else where
        )
        found = _recurrent_layers(path, layers, read_one)
    return _model(path, version, ".keras", layers, found)


def _read_savedmodel(path: Path) -> ModelFile:
    """A SavedModel written by Keras 2 (``model.save(folder)``): the model's config from the root node of
    ``keras_metadata.pb`` (a SavedMetadata protobuf, parsed as data), and each layer's variables from
    ``variables/variables`` (a TF checkpoint, read with tf.train.load_checkpoint), found through the
    checkpoint's object graph: the root's child ``layer-<k>`` is the model's k-th layer, and its children
    ``cell`` (``forward_layer``/``backward_layer`` first in a Bidirectional) and ``kernel``,
    ``recurrent_kernel``, ``bias`` lead to each variable's node and its checkpoint key."""
    meta = path / "keras_metadata.pb"
    if not meta.exists():
        raise ModelFileError(
            f"{path}: a SavedModel without keras_metadata.pb (written by tf.saved_model.save or Keras 3's export): "
            "its layers are graph functions with no Keras config to read them by; save the Keras model as "
            ".keras or .h5"
        )
    try:
        from tensorflow.core.protobuf import trackable_object_graph_pb2
        from tensorflow.python.keras.protobuf import saved_metadata_pb2
    except ImportError as err:
        raise ModelFileError(f"{path}: reading a SavedModel needs TensorFlow's protobuf modules ({err})") from None
    try:
        data = safeio.read_bytes(meta, "model config")
        metadata = saved_metadata_pb2.SavedMetadata()
        metadata.ParseFromString(data)
    except safeio.InputError as err:
        raise ModelFileError(str(err)) from None
    except Exception as err:  # noqa: BLE001  protobuf's DecodeError says why
        raise ModelFileError(f"{path}: keras_metadata.pb is not a SavedMetadata protobuf ({err})") from None
    roots = [n for n in metadata.nodes if n.node_path == "root"]
    if not roots:
        raise ModelFileError(f"{path}: keras_metadata.pb has no root node")
    root = _json(path, roots[0].metadata, "keras_metadata.pb")
    if not isinstance(root, dict) or "config" not in root:
        raise ModelFileError(f"{path}: the root of keras_metadata.pb holds no model config")
    layers = _layers(path, {"class_name": root.get("class_name"), "config": root["config"]})
    if any(where.count("/layers/") for _, _, _, where, _ in layers):
        raise ModelFileError(f"{path}: a model nested in the SavedModel's model: not read yet (save it as .keras)")
    from lstm_equiv.harness.forms.tf import compat as tf_compat

    prefix = path / "variables" / "variables"
    for part in [Path(f"{prefix}.index"), *sorted(prefix.parent.glob("variables.data-*"))]:
        try:
            safeio.regular_file(part, "model file")
        except safeio.InputError as err:
            raise ModelFileError(str(err)) from None
    try:
        reader = tf_compat.tf().train.load_checkpoint(str(prefix))
        graph = trackable_object_graph_pb2.TrackableObjectGraph()
        graph.ParseFromString(reader.get_tensor("_CHECKPOINTABLE_OBJECT_GRAPH"))
    except Exception as err:  # noqa: BLE001  TF's reason is the message
        raise ModelFileError(f"{path}: its variables cannot be read as a checkpoint ({err})") from None
    shapes = reader.get_variable_to_shape_map()
    dtypes = reader.get_variable_to_dtype_map()
    index = {name: k for k, (_, name, *_) in enumerate(layers)}

    def child(node: int, name: str):
        found = [c.node_id for c in graph.nodes[node].children if c.local_name == name]
        return found[0] if found else None

    def read_one(cls, name, cfg, where, inner):
        outer = inner[1] if inner else name
        node = child(0, f"layer-{index[outer]}")
        for step in ([inner[0]] if inner else []) + ["cell"]:
            node = None if node is None else child(node, step)
        arrays = {}
        for weight in WEIGHT_NAMES:
            leaf = None if node is None else child(node, weight)
            keys = [a.checkpoint_key for a in graph.nodes[leaf].attributes] if leaf is not None else []
            if keys:
                arrays[weight] = [(keys[0], _CheckpointTensor(reader, keys[0], shapes[keys[0]], dtypes[keys[0]]))]
        return _recurrent(path, cls, name, cfg, arrays)

    version = str(root.get("keras_version", ""))
    return _model(path, version, ".h5", layers, _recurrent_layers(path, layers, read_one))


class _CheckpointTensor:
    """One checkpoint variable as _array reads a dataset: dtype and shape first, the values only when asked."""

    def __init__(self, reader, key: str, shape, dtype):
        self.reader, self.key = reader, key
        self.shape, self.dtype = tuple(shape), np.dtype(dtype.as_numpy_dtype)

    def __getitem__(self, _):
        return self.reader.get_tensor(self.key)


def _member(path: Path, archive, info, what: str) -> bytes:
    limit = safeio.LIMITS[what]
    if info.file_size > limit:
        raise ModelFileError(
            f"{path}: {info.filename} declares {info.file_size} bytes; a {what} is read up to {limit // safeio.MiB} MiB"
        )
    try:
        with archive.open(info) as f:
            data = f.read(limit + 1)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as err:
        raise ModelFileError(f"{path}: {info.filename} cannot be read from the archive ({err})") from None
    if len(data) > limit:
        raise ModelFileError(f"{path}: {info.filename} holds more than {limit // safeio.MiB} MiB")
    return data


def _keras_layer(path: Path, weights, cls: str, name: str, config: dict, where: str) -> Recurrent:
    group = weights.get(f"{where}/cell/vars")
    if group is None:
        raise ModelFileError(f"{path}: layer {name}: no weights at {where}/cell/vars in model.weights.h5")
    named = weights.get(f"{where}/vars")
    if named is not None and "name" in named.attrs and _attr_text(named.attrs["name"]) != name:
        raise ModelFileError(
            f"{path}: layer {name}: the weights at {where} belong to layer {_attr_text(named.attrs['name'])!r}"
        )
    arrays = {}
    for k, weight in enumerate(WEIGHT_NAMES):
        if str(k) in group:
            arrays[weight] = [(f"{where}/cell/vars/{k}", group[str(k)])]
    return _recurrent(path, cls, name, config, arrays)


def _json(path: Path, text: str, what: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ModelFileError(f"{path}: {what} is not JSON: {err}") from None
    except RecursionError:
        raise ModelFileError(f"{path}: {what} is nested too deeply to be a model config") from None


# ---------------------------------------------------------------------------------------------- layers


def _snake(name: str) -> str:
    """keras.src.utils.naming.to_snake_case, which names the weights groups of a .keras file."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _layers(path: Path, config, where: str = "", depth: int = 0) -> list:
    """(class, name, config, weights path in a .keras file) of every layer, models' inner layers included."""
    if depth > MAX_DEPTH:
        raise ModelFileError(f"{path}: models nested more than {MAX_DEPTH} deep")
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ModelFileError(
            f"{path}: the model config is not a Keras model's (a mapping with 'class_name' and 'config')"
        )
    inner = config["config"].get("layers")
    if not isinstance(inner, list):
        raise ModelFileError(
            f"{path}: the model ({config.get('class_name')!r}) has no list of layers in its config "
            "(a subclassed model?): its layers cannot be read as data"
        )
    out, used = [], {}
    sequential = config.get("class_name") == "Sequential"
    for entry in inner:
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise ModelFileError(f"{path}: a layer entry of the model config is not a mapping with 'config'")
        cls, cfg = str(entry.get("class_name")), entry["config"]
        name = str(cfg.get("name", entry.get("name", "?")))
        if sequential and cls == "InputLayer":  # Sequential.layers leaves its InputLayer out
            continue
        snake = _snake(cls)
        used[snake] = used.get(snake, -1) + 1
        mine = f"{where}layers/{snake}" + (f"_{used[snake]}" if used[snake] else "")
        out.append((cls, name, cfg, mine, _explicit_mask(entry)))
        if cls in MODELS:
            out += _layers(path, entry, mine + "/", depth + 1)
    return out


def _explicit_mask(entry: dict) -> str | None:
    """The mask Keras 3 recorded as an argument of a functional layer's call (its ``inbound_nodes``
    kwargs ``mask``: the layer that computed it, in words), "" where a Keras 3 call records none, None where
    the file records no calls this way (Keras 2, Sequential)."""
    nodes = entry.get("inbound_nodes")
    if not isinstance(nodes, list) or not nodes or not all(isinstance(n, dict) and "args" in n for n in nodes):
        return None
    for node in nodes:
        mask = (node.get("kwargs") or {}).get("mask")
        history = (mask or {}).get("config", {}).get("keras_history") if isinstance(mask, dict) else None
        if history:
            return f"recorded by Keras from {history[0]}"
    return ""


def _recurrent_layers(path: Path, layers: list, read_one) -> list:
    """Every LSTM, GRU and Bidirectional(LSTM or GRU) layer, in the model's order, each with the mask that
    reaches it. ``read_one(cls, name, config, where, inner)`` reads one layer's weights (``inner``: for a
    Bidirectional's inner layer, (``forward_layer`` or ``backward_layer``, the Bidirectional's name), else None).

    The mask is followed along the model's list of layers, as Keras propagates it through a chain: an
    ``Embedding(mask_zero=True)`` or a ``Masking`` layer starts it, a recurrent layer without
    ``return_sequences`` ends it (its one output per row has no timesteps to mask), and so does any layer not in
    :data:`PASS_MASK`. A model whose branches mask differently is read as the chain of its listed layers
    (docs/check.md)."""
    found, mask = [], None
    explicit = any(recorded is not None for *_, recorded in layers)  # Keras 3 functional: masks recorded
    found, mask, source = [], None, None
    for cls, name, cfg, where, recorded in layers:
        if cls == "Embedding" and cfg.get("mask_zero") is True:
            mask = source = f"Embedding {name} (mask_zero=True)"
        elif cls == "Masking":
            mask = source = f"Masking {name} (mask_value={cfg.get('mask_value', 0.0)!r})"
        if cls == BIDIRECTIONAL:
            lay = _bidirectional(path, name, cfg, where, read_one)
        elif cls in RECURRENT:
            lay = read_one(cls, name, cfg, where, None)
        else:
            if cls not in PASS_MASK + MASKS:
                mask = None
            continue
        if explicit:  # what Keras recorded it was called with, exactly
            lay.masked_by = f"{source or 'a mask'}, {recorded}" if recorded else None
        else:
            lay.masked_by = mask
        found.append(lay)
        inner = cfg.get("layer", {}).get("config", {}) if cls == BIDIRECTIONAL else cfg
        if not inner.get("return_sequences", False):
            mask = None
    return found


def _bidirectional(path: Path, name: str, cfg: dict, where: str, read_one) -> Recurrent:
    """A Bidirectional(LSTM or GRU) layer: its forward layer's record, with its merge mode and its backward
    layer (config ``backward_layer``; where the file has none, Keras builds it from ``layer`` with
    ``go_backwards`` flipped, and names it ``backward_<name>``)."""
    unknown = sorted(set(cfg) - set(BIDIRECTIONAL_KEYS))
    if unknown:
        raise ModelFileError(
            f"{path}: layer {name} (Bidirectional): config key(s) {', '.join(unknown)} are not ones "
            "lstm-equiv knows: they may change what the layer computes, so the layer is not read"
        )
    merge = cfg.get("merge_mode", "concat")
    merge = "none" if merge is None else merge
    if merge not in ("concat", "sum", "mul", "ave", "none"):
        raise ModelFileError(f"{path}: layer {name} (Bidirectional): merge_mode {merge!r} is not one Keras has")
    entries = {}
    for key in ("layer", "backward_layer"):
        entry = cfg.get(key)
        if entry is None and key == "backward_layer":
            inner = dict(entries["layer"][1])
            inner["go_backwards"] = not inner.get("go_backwards", False)
            inner["name"] = str(inner.get("name", "")).removeprefix("forward_")
            entry = {"class_name": entries["layer"][0], "config": inner}
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise ModelFileError(f"{path}: layer {name} (Bidirectional): {key} is not a layer's config")
        cls = str(entry.get("class_name"))
        if cls not in RECURRENT:
            raise ModelFileError(
                f"{path}: layer {name} (Bidirectional): wraps a {cls}; lstm-equiv reads {' and '.join(RECURRENT)}"
            )
        entries[key] = (cls, entry["config"])
    (f_cls, f_cfg), (b_cls, b_cfg) = entries["layer"], entries["backward_layer"]
    if f_cls != b_cls:
        raise ModelFileError(f"{path}: layer {name} (Bidirectional): forward {f_cls}, backward {b_cls}: not one cell")

    # The inner layers' names: Keras 3 stores each inner layer's own config (forward_lstm; a given
    # backward_layer keeps its own name), Keras 2 the wrapped layer's (lstm), renamed forward_lstm and
    # backward_lstm when wrapped, which its weights carry: the config's name first, then the prefixed one
    def inner(cls, cfg, prefix, kind):
        own = str(cfg.get("name"))
        try:
            return read_one(cls, own, cfg, where, (kind, name))
        except ModelFileError:
            if own.startswith(prefix):
                raise
            return read_one(cls, prefix + own, cfg, where, (kind, name))

    forward = inner(f_cls, f_cfg, "forward_", "forward_layer")
    backward = inner(b_cls, b_cfg, "backward_", "backward_layer")
    if forward.config.get("go_backwards"):
        raise ModelFileError(
            f"{path}: layer {name} (Bidirectional): its forward layer has go_backwards=True (the two directions "
            "exchanged): not read"
        )
    if bool(forward.config.get("go_backwards")) == bool(backward.config.get("go_backwards")):
        raise ModelFileError(
            f"{path}: layer {name} (Bidirectional): both layers have go_backwards="
            f"{bool(forward.config.get('go_backwards'))}: one must run backwards"
        )
    forward.name, forward.merge_mode, forward.backward = name, merge, backward
    return forward


def _model(path: Path, version: str, fmt: str, layers: list, found: list) -> ModelFile:
    match = re.match(r"(\d+)\.", version)
    major = int(match.group(1)) if match else (2 if fmt == ".h5" else 3)
    return ModelFile(
        path,
        major,
        version or f"unknown (Keras {major} assumed from the {fmt} format)",
        found,
        [name for cls, name, *_ in layers if cls in WRAPPERS],
        [f"{cls} {name}" for cls, name, *_ in layers if cls not in RECURRENT + MODELS + (BIDIRECTIONAL,)],
        [(cls, name) for cls, name, *_ in layers],
    )


def _recurrent(path: Path, cls: str, name: str, config: dict, arrays: dict) -> Recurrent:
    """The layer's keys checked (unknown ones refused) and its weights read, each size checked first."""
    unknown = sorted(set(config) - set(SEMANTIC) - set(INERT))
    if unknown:
        raise ModelFileError(
            f"{path}: layer {name} ({cls}): config key(s) {', '.join(unknown)} are not ones "
            "lstm-equiv knows: they may change what the layer computes, so the layer is not read"
        )
    semantic = {k: config[k] for k in SEMANTIC if k in config}
    if not isinstance(semantic.get("units"), int) or isinstance(semantic.get("units"), bool) or semantic["units"] < 1:
        raise ModelFileError(
            f"{path}: layer {name} ({cls}): key 'units' must be a positive integer, got {config.get('units')!r}"
        )
    use_bias = semantic.get("use_bias", True)
    read = {}
    for weight in WEIGHT_NAMES:
        found = arrays.get(weight, [])
        if weight == "bias" and not use_bias:
            continue
        if len(found) != 1:
            raise ModelFileError(
                f"{path}: layer {name} ({cls}): "
                + (
                    f"no stored {weight}"
                    if not found
                    else f"{len(found)} stored {weight}s ({', '.join(w for w, _ in found)}): the layer "
                    "name is not unique in the file"
                )
            )
        where, dataset = found[0]
        read[weight] = _array(path, name, where, dataset)
    lay = Recurrent(cls, name, semantic, read["kernel"], read["recurrent_kernel"], read.get("bias"))
    lay.return_sequences = bool(config.get("return_sequences", False))
    return lay


def _array(path: Path, layer: str, where: str, dataset) -> np.ndarray:
    """One stored weight: a real float array within the size limit (checked before it is read), all finite."""
    dtype, shape = getattr(dataset, "dtype", None), getattr(dataset, "shape", None)
    if dtype is None or shape is None:
        raise ModelFileError(f"{path}: layer {layer}: {where} is not a dataset")
    if dtype.kind != "f":
        raise ModelFileError(f"{path}: layer {layer}: {where} has dtype {dtype}, not a real float")
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if size > safeio.LIMITS["weights file"]:
        raise ModelFileError(
            f"{path}: layer {layer}: {where} declares {size} bytes; weights are read up to "
            f"{safeio.LIMITS['weights file'] // safeio.MiB} MiB"
        )
    array = np.asarray(dataset[()])
    problem = nonfinite(array)
    if problem:
        raise ModelFileError(f"{path}: layer {layer}: {where} {problem}")
    return array
