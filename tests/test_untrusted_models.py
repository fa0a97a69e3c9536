"""Model files lstm-equiv did not write: read as data, never run, and the user's files never lost.

Each hostile model holds a layer whose stored Python code, if it ever ran, would write a marker file: a
``Lambda`` in a legacy ``.h5`` (tf_keras loads it with no safe mode), a ``Lambda`` and a custom layer class
in a ``.keras``. The first test shows that the marker is written when Keras itself loads the file (so the
files are hostile for real); the others that ``lstm-equiv convert`` converts their LSTM and the marker
never appears. Then the outputs: an existing OUT survives a failing proof, SIGTERM and SIGKILL (the
convert runs in a subprocess, killed while its proof runs); OUT equal to the source is refused.
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from lstm_equiv.harness import convert, modelfile, npz
from lstm_equiv.harness.forms.tf import compat as tf_compat

ROOT = Path(__file__).resolve().parent.parent
needs_tf_keras = pytest.mark.skipif(
    tf_compat.keras_of_major(2) is None, reason="tf_keras is not installed: pip install -e '.[legacy]'"
)

_WRITER = textwrap.dedent("""
    import os, sys
    import numpy as np
    fmt, out, marker, legacy = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
    if legacy:
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        try:
            import tf_keras as keras
        except ImportError:  # TF <= 2.15: tf.keras is Keras 2 itself
            import tensorflow as tf
            keras = tf.keras
    else:
        import keras
    code = f"lambda t: (__import__('pathlib').Path({marker!r}).write_text('ran'), t)[1]"
    inputs = keras.Input((None, 3))
    lstm = keras.layers.LSTM(4, return_sequences=True, name="encoder")
    x = keras.layers.Lambda(eval(code), name="hostile")(lstm(inputs))
    if fmt == "custom":
        register = getattr(keras.saving, "register_keras_serializable", None) or keras.utils.register_keras_serializable
        @register(package="hostile")
        class Hostile(keras.layers.Layer):
            def call(self, t):
                return t
            @classmethod
            def from_config(cls, config):
                __import__("pathlib").Path(marker).write_text("ran")
                return cls(**config)
        x = Hostile(name="custom")(x)
    model = keras.Model(inputs, keras.layers.Dense(2)(x))
    rng = np.random.default_rng(1)
    for w in lstm.weights:
        w.assign(rng.normal(0.0, 0.5, w.shape))
    model.save(out)
    os.remove(marker)  # building the model ran the lambda once, here, in the writer
    np.savez(out + ".weights.npz", *[w.numpy() for w in lstm.weights])
""")


def _hostile(folder: Path, fmt: str, legacy: bool) -> tuple:
    """(model file, marker path, the LSTM's kernel, recurrent kernel and bias as written)."""
    suffix = ".h5" if fmt == "h5" else ".keras"
    out, marker = folder / f"hostile_{fmt}{'_legacy' if legacy else ''}{suffix}", folder / f"marker_{fmt}"
    proc = subprocess.run(
        [sys.executable, "-c", _WRITER, fmt, str(out), str(marker), "1" if legacy else "0"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=folder,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not marker.exists()
    stored = np.load(f"{out}.weights.npz")
    return out, marker, [stored[f"arr_{k}"] for k in range(3)]


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    files = {"keras": _hostile(folder, "keras", legacy=False), "custom": _hostile(folder, "custom", legacy=False)}
    if tf_compat.keras_of_major(2) is not None:
        files["h5"] = _hostile(folder, "h5", legacy=True)
    return files


@needs_tf_keras
def test_keras_itself_runs_the_code_stored_in_the_h5_file(hostile_files):
    """The witness: tf_keras's load_model on the .h5 writes the marker, so the file is hostile for real."""
    path, marker, _ = hostile_files["h5"]
    loader = (
        "import os; os.environ['TF_USE_LEGACY_KERAS'] = '1'; import sys, importlib.util\n"
        "if importlib.util.find_spec('tf_keras'):\n    import tf_keras as keras\n"
        "else:\n    import tensorflow as tf; keras = tf.keras  # TF <= 2.15\n"
        "keras.models.load_model(sys.argv[1], compile=False)"
    )
    proc = subprocess.run([sys.executable, "-c", loader, str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert marker.read_text() == "ran"
    marker.unlink()


@pytest.mark.parametrize("fmt", ["h5", "keras", "custom"])
def test_convert_reads_only_the_lstm_and_runs_no_stored_code(hostile_files, fmt, tmp_path):
    if fmt not in hostile_files:
        pytest.skip("tf_keras is not installed: pip install -e '.[legacy]'")
    path, marker, (kernel, recurrent, bias) = hostile_files[fmt]
    lines = []
    assert convert.main(path, "npz", tmp_path / "out.npz", say=lines.append) == 0, "\n".join(lines)
    assert not marker.exists(), "code stored in the model file ran"
    assert any("read as data, nothing in the file was run" in line and "Lambda hostile" in line for line in lines)
    params, _, _ = npz.load(tmp_path / "out.npz")
    units = 4
    # the per-gate blocks are the file's columns, bit for bit (Keras orders the gates i f c o)
    for k, g in enumerate("ifjo"):
        np.testing.assert_array_equal(params.V[g], kernel[:, k * units : (k + 1) * units])
        np.testing.assert_array_equal(params.W[g], recurrent[:, k * units : (k + 1) * units])
        np.testing.assert_array_equal(params.b[g], bias[k * units : (k + 1) * units])


def test_the_reader_names_the_other_layers_and_builds_none(hostile_files):
    model = modelfile.read(hostile_files["custom"][0])
    assert [r.name for r in model.recurrent] == ["encoder"]
    assert {"Lambda hostile", "Dense dense"} <= set(model.others) and any("custom" in o for o in model.others)
    from importlib.metadata import version

    assert model.keras_major == int(version("keras").split(".")[0])  # the Keras that wrote it


def test_an_unknown_config_key_of_the_lstm_is_refused(hostile_files, tmp_path):
    """A key lstm-equiv does not know may change what the layer computes: the layer is not read."""
    import json
    import zipfile

    def edit(text):
        config = json.loads(text)
        lstm = next(lay for lay in config["config"]["layers"] if lay["class_name"] == "LSTM")
        lstm["config"]["peephole_strength"] = 0.5
        return json.dumps(config)

    path = hostile_files["keras"][0]
    edited = tmp_path / "edited.keras"
    if zipfile.is_zipfile(path):  # Keras >= 2.13's .keras: config.json in a zip archive
        with zipfile.ZipFile(path) as src, zipfile.ZipFile(edited, "w") as dst:
            for info in src.infolist():
                data = src.read(info)
                dst.writestr(info.filename, edit(data) if info.filename == "config.json" else data)
    else:  # Keras 2.12 writes HDF5 into a .keras file: the model_config attribute
        import h5py

        edited.write_bytes(path.read_bytes())
        with h5py.File(edited, "r+") as f:
            f.attrs["model_config"] = edit(f.attrs["model_config"])
    lines = []
    assert convert.main(edited, "npz", tmp_path / "o.npz", say=lines.append) == 2
    assert "layer encoder (LSTM): config key(s) peephole_strength are not ones lstm-equiv knows" in lines[-1]


# ---------------------------------------------------------------------------------------------- outputs


@pytest.fixture()
def source(tmp_path, hostile_files):
    return hostile_files["keras"][0]


def test_an_existing_out_is_kept_without_force(source, tmp_path):
    out = tmp_path / "mine.npz"
    out.write_bytes(b"the user's own file")
    lines = []
    assert convert.main(source, "npz", out, say=lines.append) == 2
    assert "-o " + str(out) + ": exists; lstm-equiv does not replace it unless you add --force" in lines[-1]
    assert out.read_bytes() == b"the user's own file"
    assert convert.main(source, "npz", out, say=lines.append, force=True) == 0
    assert npz.load(out)[0].num_units == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.npz"], "a temporary file was left behind"


def test_an_existing_out_survives_a_failing_proof(source, tmp_path, monkeypatch):
    out = tmp_path / "mine.npz"
    out.write_bytes(b"the user's own file")
    real = convert.write

    def wrong_bias(src, to, path):  # a converter bug: the bias of every gate doubled
        from lstm_equiv.reference import LSTMParams

        p = src.params
        bad = LSTMParams(p.V, p.W, {g: 2 * b + 1 for g, b in p.b.items()})
        return real(convert.Source(bad, src.forget_bias, src.semantics, src.dtype, "", ""), to, path)

    monkeypatch.setattr(convert, "write", wrong_bias)
    lines = []
    assert convert.main(source, "npz", out, say=lines.append, force=True) == 1
    assert out.read_bytes() == b"the user's own file"
    assert f"{out} is as it was" in lines[-1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.npz"]


def test_out_equal_to_the_source_is_refused_even_with_force(source, tmp_path):
    before = source.read_bytes()
    link = tmp_path / "link.keras"
    link.symlink_to(source)
    for out in (source, link, Path(os.path.relpath(source))):
        lines = []
        assert convert.main(source, "keras", out, say=lines.append, force=True) == 2
        assert "is an input of this run" in lines[-1]
    assert source.read_bytes() == before


def test_an_out_folder_that_does_not_exist_is_refused_before_reading(tmp_path):
    lines = []
    assert convert.main(tmp_path / "nothing.keras", "npz", tmp_path / "no" / "out.npz", say=lines.append) == 2
    assert lines == [
        f"lstm-equiv convert: -o {tmp_path / 'no' / 'out.npz'}: the folder {tmp_path / 'no'} does not exist"
    ]


def test_a_missing_extra_is_named(source, tmp_path, monkeypatch):
    from lstm_equiv.harness.forms.torch import lstm as pytorch

    monkeypatch.setattr(pytorch, "missing", lambda: "PyTorch is not installed: pip install -e '.[torch]'")
    lines = []
    assert convert.main(source, "torch", tmp_path / "o.pt", say=lines.append) == 2
    assert lines[-1] == "lstm-equiv convert: --to torch: PyTorch is not installed: pip install -e '.[torch]'"


def _start_convert(source, out, *extra):
    """``lstm-equiv convert`` in a subprocess whose proof runs for a few seconds (a long proof input)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lstm_equiv.harness",
            "convert",
            str(source),
            "--to",
            "npz",
            "-o",
            str(out),
            "--force",
            "--timesteps",
            "20000",
            "--batch",
            "16",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_an_existing_out_survives_a_kill_during_the_proof(source, tmp_path, sig):
    out = tmp_path / "mine.npz"
    out.write_bytes(b"the user's own file")
    proc = _start_convert(source, out)
    deadline = time.monotonic() + 240
    partial = []
    while not partial and proc.poll() is None and time.monotonic() < deadline:
        partial = list(tmp_path.glob(".mine.npz.lstm-equiv-*.partial.npz"))
        time.sleep(0.01)
    assert partial, "the target was never written beside OUT: " + (proc.communicate()[1] if proc.poll() else "")
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert out.read_bytes() == b"the user's own file"
    left = sorted(p.name for p in tmp_path.iterdir())
    if sig == signal.SIGTERM:
        assert proc.returncode == 130, err[-2000:]
        assert left == ["mine.npz"], "the temporary file was not removed"
    else:  # SIGKILL cannot be caught: the temporary file stays beside OUT, under its own name
        assert proc.returncode == -signal.SIGKILL
        assert left[-1] == "mine.npz" and all(".lstm-equiv-" in name for name in left[:-1])
