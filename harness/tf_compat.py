"""The one module that knows TensorFlow and Keras versions apart.

TF 2.12-2.15 ship Keras 2 as ``tf.keras``; TF >= 2.16 ship Keras 3 as the ``keras`` package (and Keras 2
only as ``tf_keras``). Nothing outside this module reads a version or branches on one.
"""
from __future__ import annotations

import functools
import os
from importlib import metadata


def _minor(version: str) -> tuple:
    return tuple(int(p) for p in version.split(".")[:2])


@functools.cache
def tf():
    """``tensorflow``, imported once per process with its start-up chatter silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow

    return tensorflow


@functools.cache
def keras():
    """The Keras that goes with this TensorFlow: Keras 3 on TF >= 2.16, ``tf.keras`` (Keras 2) before."""
    if _minor(tf().__version__) >= (2, 16):
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
