"""Small models trained for a few epochs on synthetic data (so their weights are not initial values: biases
moved away from zero, the forget gate's from one), saved the way users save them: Keras ``.keras`` and
``.h5`` files, a PyTorch ``state_dict``, and that model exported by ``torch.onnx.export``.

Each builder writes into ``folder`` and returns the file's path; the tests read them with lstm-equiv as data.
The data is random and the labels a fixed function of it: the point is trained weights, not accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

VOCAB, EMBED, STEPS, ROWS = 40, 6, 10, 64


def _tokens(seed: int = 0) -> tuple:
    """Padded token rows (0 is the padding token), each at least 3 tokens long, and a label per row."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, (ROWS, STEPS))
    lengths = rng.integers(3, STEPS + 1, ROWS)
    x[np.arange(STEPS)[None, :] >= lengths[:, None]] = 0
    return x, (x[:, 0] > VOCAB // 2).astype(np.int64)


def _keras_model(keras, folder: Path, name: str, suffix: str, layers: list, mask_zero: bool = True) -> Path:
    """``Embedding -> layers... -> Dense(2, softmax)`` on token rows, trained 3 epochs and saved."""
    inputs = keras.Input((None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, EMBED, mask_zero=mask_zero, name="embedding")(inputs)
    for layer in layers:
        x = layer(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax", name="head")(x))
    return _fit(keras, model, folder, name, suffix)


def keras_text_classifier(keras, folder: Path, suffix: str = ".keras") -> Path:
    """``Embedding(mask_zero) -> Bidirectional(LSTM, return_sequences) -> LSTM -> Dense``."""
    bidi = keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=True), name="bidi")
    return _keras_model(keras, folder, "text_clf", suffix, [bidi, keras.layers.LSTM(4, name="lstm")])


def keras_stacked_masked(keras, folder: Path, suffix: str = ".keras") -> Path:
    """``Embedding(mask_zero) -> LSTM(return_sequences) -> LSTM -> Dense``: the first layer emits its last
    output again at padded steps (zero_output_for_mask=False), which the second ignores."""
    layers = [keras.layers.LSTM(5, return_sequences=True, name="first"), keras.layers.LSTM(4, name="second")]
    return _keras_model(keras, folder, "stacked_masked", suffix, layers)


def keras_masked_gru(keras, folder: Path, suffix: str = ".keras") -> Path:
    """``Embedding(mask_zero) -> GRU (reset after, Keras's default) -> Dense``."""
    return _keras_model(keras, folder, "gru_clf", suffix, [keras.layers.GRU(5, name="gru")])


def keras_backwards(keras, folder: Path, suffix: str = ".keras") -> Path:
    """``Embedding -> LSTM(go_backwards) -> Dense`` (no mask)."""
    layers = [keras.layers.LSTM(5, go_backwards=True, name="backwards")]
    return _keras_model(keras, folder, "backwards", suffix, layers, mask_zero=False)


def keras_mixed(keras, folder: Path, suffix: str = ".keras") -> Path:
    """``Embedding -> Bidirectional(GRU, merge sum) -> LSTM(go_backwards, return_sequences) -> LSTM -> Dense``
    (no mask): a summed merge and a reversed sequence passed on."""
    layers = [
        keras.layers.Bidirectional(keras.layers.GRU(5, return_sequences=True), merge_mode="sum", name="bigru"),
        keras.layers.LSTM(4, go_backwards=True, return_sequences=True, name="reversed"),
        keras.layers.LSTM(3, name="last"),
    ]
    return _keras_model(keras, folder, "mixed", suffix, layers, mask_zero=False)


def keras_merges(keras, folder: Path, suffix: str = ".keras") -> Path:
    """``Embedding(mask_zero) -> Bidirectional(LSTM, merge ave) -> Bidirectional(GRU, merge mul) -> Dense``
    (a masked chain through the two merges the other models do not use)."""
    layers = [
        keras.layers.Bidirectional(keras.layers.LSTM(5, return_sequences=True), merge_mode="ave", name="averaged"),
        keras.layers.Bidirectional(keras.layers.GRU(4), merge_mode="mul", name="multiplied"),
    ]
    return _keras_model(keras, folder, "merges", suffix, layers)


def keras_plain(keras, folder: Path, cell: str, suffix: str = ".keras", **layer_args) -> Path:
    """``Embedding -> LSTM or GRU -> Dense`` (no mask)."""
    layers = [getattr(keras.layers, cell)(5, name=cell.lower(), **layer_args)]
    return _keras_model(keras, folder, f"plain_{cell.lower()}", suffix, layers, mask_zero=False)


KERAS_MODELS = {
    "text_clf": keras_text_classifier,
    "stacked_masked": keras_stacked_masked,
    "gru_clf": keras_masked_gru,
    "backwards": keras_backwards,
    "mixed": keras_mixed,
    "merges": keras_merges,
    "lstm": lambda keras, folder: keras_plain(keras, folder, "LSTM"),
    "gru": lambda keras, folder: keras_plain(keras, folder, "GRU", reset_after=False),
}
"""Every trained Keras model of the tests, by name (each trained 3 epochs and saved as .keras)."""


def _fit(keras, model, folder: Path, name: str, suffix: str) -> Path:
    x, y = _tokens()
    if keras.__version__.startswith("3."):
        keras.utils.set_random_seed(0)
    else:  # Keras 2's set_random_seed leaves a seed generator behind whose randint(1, 1e9) warns
        #     (DeprecationWarning: non-integer randrange) in every later test of the worker that builds a
        #     layer (measured: Keras 2.12, Python 3.11); TF's own seed makes its initializers repeatable
        import random

        import tensorflow as tf

        random.seed(0)
        np.random.seed(0)
        tf.random.set_seed(0)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    path = folder / f"{name}{suffix}"
    model.save(str(path))
    return path


def _classifier(torch, cell: str):
    """An ``nn.Embedding -> nn.LSTM or nn.GRU (2 layers, bidirectional) -> nn.Linear`` classifier."""

    class Classifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = torch.nn.Embedding(VOCAB, EMBED)
            self.rnn = getattr(torch.nn, cell)(EMBED, 5, num_layers=2, bidirectional=True, batch_first=True)
            self.head = torch.nn.Linear(10, 2)

        def forward(self, tokens):
            out, _ = self.rnn(self.embedding(tokens))
            return self.head(out[:, -1])

    Classifier.__qualname__ = Classifier.__name__ = f"{cell}Classifier"
    globals()[Classifier.__name__] = Classifier  # so that torch.save can pickle a whole module (a test refuses it)
    return Classifier()


def torch_classifier(torch, folder: Path, cell: str = "LSTM") -> Path:
    """:func:`_classifier` trained 30 steps of gradient descent; its state_dict saved (returned with the module)."""
    torch.manual_seed(0)
    model = _classifier(torch, cell)
    x, y = (torch.from_numpy(a) for a in _tokens())
    for _ in range(30):  # plain gradient descent: torch.optim imports torch._dynamo, whose triton import
        #                    crashes a process that has loaded TensorFlow (measured: SIGSEGV, torch 2.14, TF 2.21)
        model.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        with torch.no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad
    path = folder / f"torch_{cell.lower()}.pt"
    torch.save(model.state_dict(), path)
    return path, model


def export_onnx(torch, module, folder: Path, name: str) -> Path:
    """``module.rnn`` exported alone by torch.onnx.export (the TorchScript exporter), input [batch, T, EMBED]."""
    import warnings

    path = folder / f"{name}.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its note on exporting an LSTM with a batch size other than 1
        torch.onnx.export(
            module.rnn,
            (torch.zeros(2, STEPS, EMBED),),
            str(path),
            dynamo=False,
            input_names=["x"],
            dynamic_axes={"x": {0: "batch", 1: "time"}},
        )
    return path


class Trained(dict):
    """The models of :data:`KERAS_MODELS` by name, each trained the first time it is asked for."""

    def __init__(self, keras, folder: Path):
        super().__init__()
        self.keras, self.folder = keras, folder

    def __missing__(self, name: str) -> Path:
        self[name] = KERAS_MODELS[name](self.keras, self.folder)
        return self[name]
