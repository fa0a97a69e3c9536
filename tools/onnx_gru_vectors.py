"""Extract ONNX's published GRU node-test vectors from an onnx wheel into tests/data/onnx_gru_vectors.npz.

onnx wheels up to 1.22.0 ship onnx/backend/test/data/node/test_gru_*/ (model.onnx and the input and
expected-output TensorProtos); later wheels drop the data. This reads them straight from the wheel (a zip)
and writes, per test, its inputs, its expected outputs and the LSTM node's attributes, so that the test of
the reference needs neither onnx nor the wheel:

    pip download onnx==1.22.0 --no-deps -d /tmp/onnx122
    python tools/onnx_gru_vectors.py /tmp/onnx122/onnx-1.22.0-*.whl

The wheel's name and sha256 go into the file; docs/sources.md records them too.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "onnx_gru_vectors.npz"


def main(wheel: str) -> int:
    import onnx
    from onnx import numpy_helper

    data = Path(wheel).read_bytes()
    arrays, about = {}, {"wheel": Path(wheel).name, "sha256": hashlib.sha256(data).hexdigest(), "tests": {}}
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        found = (re.match(r"onnx/backend/test/data/node/(test_gru_\w+?)/", n) for n in names)
        tests = sorted({m.group(1) for m in found if m})
        for test in tests:
            root = f"onnx/backend/test/data/node/{test}/"
            model = onnx.load_from_string(z.read(root + "model.onnx"))
            (node,) = model.graph.node
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in attrs.items()}
            inputs = [i for i in node.input]
            outputs = [o for o in node.output if o]
            files = sorted(n for n in names if n.startswith(root + "test_data_set_0/") and n.endswith(".pb"))
            for f in files:
                kind, k = re.search(r"(input|output)_(\d+)\.pb$", f).groups()
                tensor = onnx.TensorProto()
                tensor.ParseFromString(z.read(f))
                name = (inputs if kind == "input" else outputs)[int(k)]
                arrays[f"{test}/{name}"] = numpy_helper.to_array(tensor)
            about["tests"][test] = {"attributes": attrs, "inputs": inputs, "outputs": outputs}
    arrays["about.json"] = np.frombuffer(json.dumps(about, sort_keys=True).encode(), np.uint8)
    np.savez(OUT, **arrays)
    print(f"{OUT}: {len(about['tests'])} tests from {about['wheel']} (sha256 {about['sha256']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
