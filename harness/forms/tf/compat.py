"""The one module that knows TensorFlow and Keras versions apart.

TF 2.12-2.15 ship Keras 2 as ``tf.keras``; TF >= 2.16 ship Keras 3 as the ``keras`` package, and Keras 2
only as ``tf_keras`` — which becomes ``tf.keras`` when ``TF_USE_LEGACY_KERAS=1`` is set before TF is
imported. The Keras forms use whatever ``tf.keras`` is; the compat.v1 cells need Keras 2. Nothing outside
this module reads a version or branches on one.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import re
import sys
import tempfile
from importlib import metadata

# TF >= 2.18 prints absl INFO lines at import that TF_CPP_MIN_LOG_LEVEL no longer silences
_STARTUP_CHATTER = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|I\d{4} )")


def _minor(version: str) -> tuple:
    return tuple(int(p) for p in version.split(".")[:2])


@functools.cache
def tf():
    """``tensorflow``, imported once per process with its start-up chatter silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with tempfile.TemporaryFile(mode="w+b") as captured:
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            kept = [
                line
                for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                if not _STARTUP_CHATTER.match(line)
            ]
            sys.stderr.write("".join(kept))
    tensorflow.get_logger().setLevel("ERROR")  # deprecation notices of the legacy APIs we use on purpose
    return tensorflow


def _tf_minor() -> tuple:
    version = _dist_version("tensorflow") or _dist_version("tensorflow-cpu") or "0.0"
    return _minor(version)


def legacy_keras_requested() -> bool:
    """Whether ``TF_USE_LEGACY_KERAS`` asks TF >= 2.16 to make tf-keras its ``tf.keras``."""
    return os.environ.get("TF_USE_LEGACY_KERAS", "") in ("1", "true", "True")


def keras_major() -> int:
    """The major version of ``tf.keras``: 2 on TF 2.12-2.15 and with TF_USE_LEGACY_KERAS, else 3."""
    return 3 if _tf_minor() >= (2, 16) and not legacy_keras_requested() else 2


def keras_hard_sigmoid() -> str:
    """The reference activation that the installed Keras calls ``hard_sigmoid``."""
    return "hard_sigmoid_1/6" if keras_major() == 3 else "hard_sigmoid_0.2"


def legacy_cells_missing() -> str | None:
    """Why ``BasicLSTMCell``/``LSTMCell`` cannot be built here, or None when they can."""
    if _tf_minor() >= (2, 16) and importlib.util.find_spec("tf_keras") is None:
        want = ".".join(map(str, _tf_minor()))
        return (
            f"the tf.compat.v1 LSTM cells are not available with Keras 3 (TF {want}): "
            f"pip install 'tf-keras=={want}.*' (or pip install -e '.[legacy]')"
        )
    return None


@functools.cache
def legacy_cells():
    """The module holding ``BasicLSTMCell`` and ``LSTMCell`` for this TF.

    ``tf.compat.v1.nn.rnn_cell`` where ``tf.keras`` is Keras 2 (TF <= 2.15, or TF_USE_LEGACY_KERAS=1);
    otherwise TF raises on it, and tf_keras's legacy cells are imported directly, which keeps Keras 3
    for the Keras forms in the same process.
    """
    if keras_major() == 3:
        from tf_keras.src.layers.rnn import legacy_cells as cells

        return cells
    return tf().compat.v1.nn.rnn_cell


@functools.cache
def keras():
    """``tf.keras``: Keras 3 (the ``keras`` package) on TF >= 2.16, Keras 2 before it or in legacy mode."""
    if keras_major() == 3:
        import keras as keras3

        return keras3
    return tf().keras


def keras_of_major(major: int):
    """An installed Keras of ``major`` version, or None: ``tf.keras`` when it is that major, else tf_keras
    for Keras 2 where it is installed (importing it leaves ``tf.keras`` as it was)."""
    if major == keras_major():
        return keras()
    if major == 2 and importlib.util.find_spec("tf_keras") is not None:
        tf()
        import tf_keras

        return tf_keras
    return None


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def versions() -> dict:
    """Installed versions of the stack, read from package metadata (TensorFlow is not imported)."""
    tf_version = _dist_version("tensorflow") or _dist_version("tensorflow-cpu")
    return {
        "tensorflow": tf_version,
        "keras": _dist_version("keras"),
        "tf_keras": _dist_version("tf-keras"),
        "numpy": _dist_version("numpy"),
        "tf.keras": f"Keras {keras_major()}" + (" (TF_USE_LEGACY_KERAS)" if legacy_keras_requested() else ""),
    }


def device() -> str:
    """The device TF runs on: the first GPU's name, or 'CPU'."""
    gpus = tf().config.list_physical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else "CPU"


@contextlib.contextmanager
def stateful_states_in(dtype: str):
    """Build a stateful Keras RNN layer of ``dtype``. Keras 2's ``RNN.reset_states`` creates the state
    variables with ``backend.variable(value)``, whose dtype is ``backend.floatx()`` whatever the layer's:
    a float64 stateful layer fails with "Tensor conversion requested dtype float32 for Tensor with dtype
    float64" (keras/layers/rnn/base_rnn.py, measured on TF 2.12). floatx is set to the layer's dtype
    while it builds, and put back. Keras 3 creates them in the layer's dtype: nothing to do."""
    if keras_major() == 3:
        yield
        return
    backend = keras().backend
    before = backend.floatx()
    backend.set_floatx(dtype)
    try:
        yield
    finally:
        backend.set_floatx(before)
