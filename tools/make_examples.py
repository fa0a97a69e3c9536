"""Write the example model files of examples/ (the README's check and convert section runs on them).

    python tools/make_examples.py

- ``examples/text_clf.keras``: tests/trained.py's text classifier (Embedding(mask_zero) -> Bidirectional(LSTM)
  -> LSTM -> Dense), trained 3 epochs, written by the installed Keras;
- ``examples/text_clf_swapped.onnx``: its recurrent layers converted by tests/converters.py's hand-written
  converter with the mistake ``gate_order`` (Keras's gate blocks written in ONNX's slots as they are), to show
  what a diagnosis looks like.

Training is seeded, but the bits of a trained model depend on TensorFlow's version and the CPU: the files are
committed as written once, and their outputs in the README are what check printed on them.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    from lstm_equiv.harness.forms.tf import compat as tf_compat
    from tests import converters, trained

    folder = ROOT / "examples"
    folder.mkdir(exist_ok=True)
    keras = tf_compat.keras()
    path = trained.keras_text_classifier(keras, folder)
    model = keras.models.load_model(str(path))  # the file this script just wrote
    converters.keras_to_onnx(model, folder / "text_clf_swapped.onnx", masked=("bidi", "lstm"), fault="gate_order")
    print(f"wrote {path} and {folder / 'text_clf_swapped.onnx'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
