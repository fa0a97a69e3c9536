"""The one module that knows TensorFlow and Keras versions apart.

TF 2.12-2.15 ship Keras 2 as ``tf.keras``; TF >= 2.16 ship Keras 3 as the ``keras`` package (and Keras 2
only as ``tf_keras``). Nothing outside this module reads a version or branches on one.
"""
from __future__ import annotations

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
            kept = [line for line in captured.read().decode(errors="replace").splitlines(keepends=True)
                    if not _STARTUP_CHATTER.match(line)]
            sys.stderr.write("".join(kept))
    tensorflow.get_logger().setLevel("ERROR")  # deprecation notices of the legacy APIs we use on purpose
    return tensorflow


def _tf_minor() -> tuple:
    version = _dist_version("tensorflow") or _dist_version("tensorflow-cpu") or "0.0"
    return _minor(version)


def keras_major() -> int:
    """2 on TF 2.12-2.15 (``tf.keras``), 3 on TF >= 2.16 (the ``keras`` package)."""
    return 3 if _tf_minor() >= (2, 16) else 2


def keras_hard_sigmoid() -> str:
    """The reference activation that the installed Keras calls ``hard_sigmoid``."""
    return "hard_sigmoid_1/6" if keras_major() == 3 else "hard_sigmoid_0.2"


def legacy_cells_missing() -> str | None:
    """Why ``BasicLSTMCell``/``LSTMCell`` cannot be built here, or None when they can."""
    if keras_major() == 3 and importlib.util.find_spec("tf_keras") is None:
        want = ".".join(map(str, _tf_minor()))
        return (f"the tf.compat.v1 LSTM cells are not available with Keras 3 (TF {want}): "
                f"pip install 'tf-keras=={want}.*' (or pip install -e '.[legacy]')")
    return None


@functools.cache
def legacy_cells():
    """The module holding ``BasicLSTMCell``, ``LSTMCell`` and ``LSTMStateTuple`` for this TF.

    TF >= 2.16 raises on ``tf.compat.v1.nn.rnn_cell.*`` unless Keras 2 is the global Keras; importing
    tf_keras's legacy cells directly keeps Keras 3 for the Keras forms in the same process.
    """
    if keras_major() == 3:
        from tf_keras.src.layers.rnn import legacy_cells as cells

        return cells
    return tf().compat.v1.nn.rnn_cell


@functools.cache
def keras():
    """The Keras that goes with this TensorFlow: Keras 3 on TF >= 2.16, ``tf.keras`` (Keras 2) before."""
    if keras_major() == 3:
        import keras as keras3

        return keras3
    return tf().keras


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
    }


def device() -> str:
    """The device TF runs on: the first GPU's name, or 'CPU'."""
    gpus = tf().config.list_physical_devices("GPU")
    return f"GPU ({gpus[0].name})" if gpus else "CPU"
