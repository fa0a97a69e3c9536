"""Write the inputs of tests/test_hostile.py that are too large or too special to commit.

tests/data/hostile/ holds the small hostile inputs as files; this script makes the rest, into a folder:
files past a size limit (a 2 MiB case file, a weights .npz declaring 2 GiB that compresses to 2 MB), a
FIFO, folders named like files, and model files whose bytes are easier to write with h5py and zipfile than
to review as binaries. Run by the test into a temporary folder; by hand:

    python tools/hostile_corpus.py DIR
"""

from __future__ import annotations

import io
import json
import os
import sys
import zipfile
from pathlib import Path

import numpy as np

ZIP_BOMB_BYTES = 2 * 2**30  # declared by one .npy member of zeros; about 2 MB compressed


def _npz_with_member(path: Path, key: str, shape: tuple, chunk: int = 64 * 2**20):
    """An .npz of valid per-gate weights plus ``key``: a float64 array of zeros of ``shape``, streamed
    into the archive so that writing it takes little memory."""
    from lstm_equiv.harness import npz
    from lstm_equiv.reference import GATES, LSTMParams

    rng = np.random.default_rng(0)
    params = LSTMParams(
        {g: rng.normal(size=(3, 4)) for g in GATES},
        {g: rng.normal(size=(4, 4)) for g in GATES},
        {g: rng.normal(size=4) for g in GATES},
    )
    npz.save(path, params)
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        with archive.open(f"{key}.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_2_0(member, {"descr": "<f8", "fortran_order": False, "shape": shape})
            left = int(np.prod(shape)) * 8
            zeros = bytes(chunk)
            while left:
                member.write(zeros[: min(left, chunk)])
                left -= min(left, chunk)


def _weights(path: Path, **changes):
    """An .npz of per-gate weights (input_depth 3, num_units 4) with the members in ``changes`` replaced
    (None removes one), written member by member as np.savez does."""
    from lstm_equiv.reference import GATES

    rng = np.random.default_rng(0)
    arrays = {
        f"{part}_{g}": rng.normal(size=shape)
        for part, shape in (("V", (3, 4)), ("W", (4, 4)), ("b", (4,)))
        for g in GATES
    }
    arrays.update({"forget_bias": np.float64(0.0), "options": np.array("{}")})
    arrays.update(changes)
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            if value is None:
                continue
            with archive.open(f"{key}.npy", "w") as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=True)


def _h5(path: Path, attrs: dict, datasets: dict = ()):
    import h5py

    with h5py.File(path, "w") as f:
        for key, value in attrs.items():
            f.attrs[key] = value
        for name, value in dict(datasets).items():
            f[name] = value


def _keras(path: Path, config, weights: dict | None = None, metadata=None):
    """A .keras archive holding ``config`` (a dict, or the raw text) and ``weights`` at their paths."""
    import h5py

    blob = io.BytesIO()
    with h5py.File(blob, "w") as f:
        for name, value in (weights or {}).items():
            f[name] = value
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps(metadata or {"keras_version": "3.15.1"}))
        archive.writestr("config.json", config if isinstance(config, str) else json.dumps(config))
        archive.writestr("model.weights.h5", blob.getvalue())


def lstm_config(**changes) -> dict:
    """A Keras 3 functional model config with one LSTM(4) on 3 inputs, its keys changed by ``changes``."""
    lstm = {
        "name": "encoder",
        "units": 4,
        "activation": "tanh",
        "recurrent_activation": "sigmoid",
        "use_bias": True,
        "dtype": "float32",
        "return_sequences": False,
        **changes,
    }
    return {
        "class_name": "Functional",
        "config": {
            "name": "m",
            "layers": [
                {"class_name": "InputLayer", "config": {"name": "input_layer", "batch_shape": [None, None, 3]}},
                {"class_name": "LSTM", "config": lstm},
            ],
        },
    }


def lstm_weights(kernel=None) -> dict:
    rng = np.random.default_rng(1)
    return {
        "layers/lstm/cell/vars/0": rng.normal(size=(3, 16)).astype(np.float32) if kernel is None else kernel,
        "layers/lstm/cell/vars/1": rng.normal(size=(4, 16)).astype(np.float32),
        "layers/lstm/cell/vars/2": rng.normal(size=16).astype(np.float32),
    }


def write(folder) -> list:
    """Write every generated input into ``folder``; their names."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    made = {
        "big_case.yaml": lambda p: p.write_text("name: big\n" + "#" * (2 * 2**20) + "\n"),
        "many_values.yaml": lambda p: p.write_text("name: many\nlist:\n" + "  - 1\n" * 100_001),
        "deep_brackets.yaml": lambda p: p.write_text("name: deep\nx: " + "[" * 500 + "]" * 500 + "\n"),
        "fifo.yaml": lambda p: os.mkfifo(p),
        "folder.yaml": lambda p: p.mkdir(),
        "fifo.npz": lambda p: os.mkfifo(p),
        "bomb.npz": lambda p: _npz_with_member(p, "padding", (ZIP_BOMB_BYTES // 8,)),
        "nan.npz": lambda p: _weights(p, V_f=np.array([[np.nan, 1, 2, 3]] * 3), W_o=np.full((4, 4), np.inf)),
        "complex_projection.npz": lambda p: _weights(p, projection=np.ones((4, 2), np.complex128)),
        "string_projection.npz": lambda p: _weights(p, projection=np.array([["a", "b"]] * 4)),
        "options_not_json.npz": lambda p: _weights(p, options=np.array("{activation: tanh")),
        "options_list.npz": lambda p: _weights(p, options=np.array("[1, 2]")),
        "forget_bias_array.npz": lambda p: _weights(p, forget_bias=np.ones(3)),
        "forget_bias_string.npz": lambda p: _weights(p, forget_bias=np.array("one")),
        "three_d.npz": lambda p: _weights(p, V_j=np.ones((3, 4, 1))),
        "wrong_v_i.npz": lambda p: _weights(p, V_i=np.ones((5, 4))),
        "pickled.npz": lambda p: _weights(p, V_i=np.array([{"__reduce__": "os.system"}], dtype=object)),
        "int_weights.npz": lambda p: _weights(p, **{f"b_{g}": np.ones(4, np.int64) for g in "ijfo"}),
        "folder.keras": lambda p: p.mkdir(),
        "empty.keras": lambda p: p.write_bytes(b""),
        "truncated.keras": lambda p: (_keras(p, lstm_config(), lstm_weights()), p.write_bytes(p.read_bytes()[:300])),
        "text.h5": lambda p: p.write_text("this is not HDF5\n"),
        "weights_only.h5": lambda p: _h5(p, {}, {"kernel": np.zeros(3)}),
        "config_not_json.keras": lambda p: _keras(p, "{not json", lstm_weights()),
        "config_deep.keras": lambda p: _keras(p, "[" * 100_000 + "]" * 100_000, lstm_weights()),
        "subclassed.keras": lambda p: _keras(p, {"class_name": "MyModel", "config": {"name": "m"}}),
        "unknown_lstm_key.keras": lambda p: _keras(p, lstm_config(peephole_strength=0.5), lstm_weights()),
        "units_string.keras": lambda p: _keras(p, lstm_config(units="4"), lstm_weights()),
        "custom_activation.keras": lambda p: _keras(
            p, lstm_config(activation={"class_name": "__lambda__", "config": {"code": "4wEAAAAAAAAA"}}), lstm_weights()
        ),
        "nan_weights.keras": lambda p: _keras(p, lstm_config(), lstm_weights(np.full((3, 16), np.nan, np.float32))),
        "wrong_shape.keras": lambda p: _keras(p, lstm_config(), lstm_weights(np.zeros((3, 12), np.float32))),
        "missing_weights.keras": lambda p: _keras(p, lstm_config(), {}),
        "float16_weights.keras": lambda p: _keras(
            p, lstm_config(), {k: v.astype(np.float16) for k, v in lstm_weights().items()}
        ),
        "int_weights.keras": lambda p: _keras(p, lstm_config(), lstm_weights(np.zeros((3, 16), np.int32))),
        "policy_float8.keras": lambda p: _keras(
            p, lstm_config(dtype={"class_name": "DTypePolicy", "config": {"name": "float8_e4m3fn"}}), lstm_weights()
        ),
    }
    for name, make in made.items():
        make(folder / name)
    return list(made)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    print("\n".join(write(sys.argv[1])))
