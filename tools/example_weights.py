"""Writes cases/weights/keras_initialised.npz, the weights of cases/real_weights.yaml, the way a user would:
a Keras model saved to a file, then ``lstm-equiv convert model.keras --to npz``.

The weights are what Keras itself initialises an LSTM(8) on 6 inputs with (seed 0): glorot_uniform
kernel, orthogonal recurrent kernel, bias zero but 1.0 in the f block (unit_forget_bias) — structured,
not the harness's own gate-distinct normal draws. Run: python tools/example_weights.py
"""

import sys
import tempfile
from pathlib import Path

from lstm_equiv.harness import convert
from lstm_equiv.harness.forms.tf import compat as tf_compat

OUT = Path(__file__).resolve().parent.parent / "cases" / "weights" / "keras_initialised.npz"


def main() -> int:
    keras = tf_compat.keras()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((None, 6))
    model = keras.Model(inputs, keras.layers.LSTM(8, name="lstm")(inputs))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.keras"
        model.save(str(path))
        return convert.main(path, "npz", OUT)


if __name__ == "__main__":
    sys.exit(main())
