"""The NumPy reference on its own: independent of TensorFlow, per gate, and right on published vectors."""

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lstm_equiv.reference import GATES, LSTMParams, lstm_forward

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


def _const(input_depth, num_units, v, w, b):
    """Constant per-gate params; ``b`` maps gate -> value. Only published vectors use constants."""
    return LSTMParams(
        V={g: np.full((input_depth, num_units), v) for g in GATES},
        W={g: np.full((num_units, num_units), w) for g in GATES},
        b={g: np.full(num_units, b[g]) for g in GATES},
    )


def test_gates_are_named_as_the_question_names_them():
    assert GATES == ("i", "j", "f", "o")


def test_reference_never_imports_tensorflow_or_keras():
    for path in REFERENCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            for name in names:
                assert name.split(".")[0] not in {"tensorflow", "keras", "tf_keras"}, f"{path} imports {name}"
    code = (
        "import sys, lstm_equiv.reference; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REFERENCE.parent
    ).stdout
    assert out.strip() == "[]"


def test_reference_never_stacks_or_fuses():
    """No concatenation of x with h and no 4*num_units-wide matrix anywhere in reference/."""
    banned = {"concatenate", "hstack", "vstack", "stack", "column_stack", "block", "c_", "r_", "append"}
    for path in REFERENCE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            numpy_attribute = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            if numpy_attribute and node.value.id in ("np", "numpy"):
                assert node.attr not in banned, f"{path}:{node.lineno} uses np.{node.attr}"
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
                assert not any(isinstance(s, ast.Constant) and s.value == 4 for s in (node.left, node.right)), (
                    f"{path}:{node.lineno} multiplies by 4"
                )


def test_tf_basic_lstm_cell_published_vector():
    """TF rnn_cell_test.py::testBasicLSTMCellWithStateTuple: two stacked BasicLSTMCell(2), kernel 0.5,
    bias 0, forget_bias 1.0, x = [[1, 1]], c = h = 0.1. TF's values are float32 printed to 8 digits,
    so they are matched to 1e-6 (the test's own assertAllClose tolerance)."""
    params = _const(2, 2, 0.5, 0.5, dict.fromkeys(GATES, 0.0))
    state = np.full((1, 2), 0.1)
    _, (h1, c1) = lstm_forward(np.ones((1, 1, 2)), params, h0=state, c0=state, forget_bias=1.0)
    _, (h2, c2) = lstm_forward(h1[:, None, :], params, h0=state, c0=state, forget_bias=1.0)
    np.testing.assert_allclose(c1, [[0.68967271] * 2], atol=1e-6)
    np.testing.assert_allclose(h1, [[0.44848421] * 2], atol=1e-6)
    np.testing.assert_allclose(c2, [[0.39897051] * 2], atol=1e-6)
    np.testing.assert_allclose(h2, [[0.24024698] * 2], atol=1e-6)


def test_keras3_lstm_published_vector():
    """Keras 3 lstm_test.py::test_correctness: LSTM(3), kernel 0.01, recurrent 0.02, bias 0.03 with
    unit_forget_bias (the f block initialised to 1.0 instead), input arange(72).reshape(3, 6, 4)."""
    params = _const(4, 3, 0.01, 0.02, {"i": 0.03, "j": 0.03, "f": 1.0, "o": 0.03})
    x = np.arange(72, dtype=np.float64).reshape(3, 6, 4)
    outputs, (h, _) = lstm_forward(x, params)
    np.testing.assert_allclose(h[:, 0], [0.6288687, 0.86899155, 0.9460773], atol=1e-6)
    np.testing.assert_array_equal(outputs[:, -1], h)


def test_forget_bias_is_added_to_f_only():
    rng = np.random.default_rng(0)
    p = LSTMParams(*({g: rng.normal(size=s) for g in GATES} for s in ((3, 2), (2, 2), (2,))))
    x = rng.normal(size=(2, 4, 3))
    moved = LSTMParams(p.V, p.W, {g: p.b[g] + (0.7 if g == "f" else 0.0) for g in GATES})
    np.testing.assert_allclose(lstm_forward(x, p, forget_bias=0.7)[0], lstm_forward(x, moved)[0], atol=1e-15)
    assert not np.allclose(lstm_forward(x, p, forget_bias=0.7)[0], lstm_forward(x, p)[0], atol=1e-3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_computes_in_the_dtype_of_x(dtype):
    rng = np.random.default_rng(1)
    p = LSTMParams(*({g: rng.normal(size=s) for g in GATES} for s in ((3, 2), (2, 2), (2,))))
    outputs, (h, c) = lstm_forward(rng.normal(size=(2, 4, 3)).astype(dtype), p)
    assert outputs.dtype == h.dtype == c.dtype == dtype
    assert outputs.shape == (2, 4, 2) and h.shape == c.shape == (2, 2)


def test_params_refuse_missing_gates_and_wrong_shapes():
    blocks = {g: np.zeros((3, 2)) for g in GATES}
    with pytest.raises(ValueError, match="exactly the gates"):
        LSTMParams(V={"i": blocks["i"]}, W=blocks, b=blocks)
    with pytest.raises(ValueError, match=r"W\['i'\] has shape \(3, 2\), expected \(2, 2\)"):
        LSTMParams(V=blocks, W=blocks, b={g: np.zeros(2) for g in GATES})


def test_lstm_params_map_visits_the_blocks_in_a_fixed_order():
    """harness.sensitivity perturbs the params through map with one random stream: the order V, W, b,
    peephole, projection keeps every case's draws (and so its bounds) as they were before map existed."""
    import numpy as np

    from lstm_equiv.reference import LSTMParams

    rng = np.random.default_rng(0)
    params = LSTMParams(
        *({g: rng.normal(size=s) for g in "ijfo"} for s in ((2, 3), (4, 3), (3,))),
        peephole={g: rng.normal(size=3) for g in "ifo"},
        projection=rng.normal(size=(3, 4)),
    )
    seen = []
    params.map(lambda a: seen.append(a.shape) or a)
    assert seen == [(2, 3)] * 4 + [(4, 3)] * 4 + [(3,)] * 4 + [(3,)] * 3 + [(3, 4)]
