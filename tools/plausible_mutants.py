"""Plausible bugs written into the modules whose tests need TensorFlow, each run against the tests that
should catch it: the mutation testing of convert, the forms' sequence code and the Keras file reader, where
mutmut would need about 8 s of TF per mutant for each of thousands of mutants (docs/mutation-testing.md).

Each mutant is one textual change (the old text must occur exactly once) with the tests that must fail. A
copy of the repository is mutated, never the checkout; each mutant runs ``pytest -x`` on its tests in a
fresh process. Killed: pytest exits 1. Survived: it exits 0. Anything else (the tests could not run) is
an error, never counted as killed.

    python tools/plausible_mutants.py [--jobs 2] [ID ...]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = (
    "lstm_equiv",
    "harness",
    "reference",
    "tests",
    "cases",
    "tools",
    "docs",
    "conftest.py",
    "pyproject.toml",
    "README.md",
)


@dataclass(frozen=True)
class Mutant:
    id: str
    path: str
    old: str
    new: str
    tests: tuple
    why: str


CONVERT = ("tests/test_convert.py", "tests/test_untrusted_models.py")
CHECK = ("tests/test_check.py",)
WHOLE = ("tests/test_convert_models.py",)
SEQUENCES = "cases/sequences.yaml"

MUTANTS = [
    # ------------------------------------------------------------------------------------- check, diagnose
    Mutant(
        "check-keras-mask-ignored",
        "harness/check.py",
        'kwargs = {} if lengths is None else {"mask": np.arange(x.shape[1])[None, :] < np.asarray(lengths)[:, None]}',
        "kwargs = {}",
        CHECK,
        "a masked Keras layer re-run without its mask: padded rows would compare the wrong run",
    ),
    Mutant(
        "diagnose-no-permutation",
        "harness/diagnose.py",
        "found = _permutation(mine, theirs)",
        "found = None",
        CHECK,
        "swapped gate blocks reported as unexplained differences",
    ),
    Mutant(
        "diagnose-runtime-forget-bias-not-folded",
        "harness/diagnose.py",
        'b["f"] = b["f"] + float(layer.semantics.get("forget_bias", 0.0))',
        'b["f"] = b["f"]',
        CHECK,
        "a TF1 forget_bias kept apart counted as a difference of the stored f bias",
    ),
    Mutant(  # (reading the two biases apart where linear_before_reset=0 is an equivalent mutant: with the
        #        reset before the product, b_h[c] is added outside it, the same as the sum; measured: survived)
        "onnx-reader-reset-always-after",
        "harness/forms/onnx/files.py",
        'reset_after = bool(_attributes(group[0]).get("linear_before_reset", 0)) if gru else None',
        "reset_after = True if gru else None",
        CHECK,
        "an ONNX GRU with linear_before_reset=0 read as if its reset came after the product",
    ),
    Mutant(
        "torch-reader-packs-nothing",
        "harness/forms/torch/files.py",
        "            if lengths is None:\n                outputs, final = mod(xt)",
        "            if True:\n                outputs, final = mod(xt)",
        CHECK,
        "a torch layer run over the padding as data where the check gives it lengths",
    ),
    Mutant(
        "pickled-imports-classes",
        "harness/forms/torch/pickled.py",
        'return type(name, (Stub,), {"qualified": f"{module}.{name}"})',
        "return super().find_class(module, name)",
        CHECK,
        "a whole pickled module unpickled with its own classes: the file's code runs",
    ),
    # ------------------------------------------------------------------------------------- whole models
    Mutant(
        "stack-onnx-no-time-flip",
        "harness/forms/onnx/files.py",
        "            if lay.go_backwards:  # Keras passes a go_backwards sequence on in the order it processed it",
        "            if False:",
        WHOLE,
        "a go_backwards layer's sequence passed on in time order, where Keras passes it reversed",
    ),
    Mutant(
        "stack-torch-sum-merge-dropped",
        "harness/forms/torch/files.py",
        'if lay.directions == 2 and lay.merge_mode != "concat":\n                    got = merge(',
        "if False:\n                    got = merge(",
        WHOLE,
        "a summed bidirectional layer passed on as its two halves side by side",
    ),
    Mutant(
        "stack-no-sequence-lens",
        "harness/forms/onnx/files.py",
        '"sequence_lens" if lay.masked_by else ""]',
        '""]',
        WHOLE,
        "a masked layer's node written without sequence_lens",
    ),
    Mutant(
        "stack-onnx-state-not-read",
        "harness/forms/onnx/files.py",
        'ins += [f"{name}0_{lay.name}" for name in names]',
        "ins += []",
        CHECK,
        "a stateful layer's node written without its carried state: every call would start from zeros",
    ),
    Mutant(
        "stack-chain-without-lengths",
        "harness/stack.py",
        "x = next_input(layer, run_layer(layer, x, lengths if layer.masked_by else None, given))",
        "x = next_input(layer, run_layer(layer, x, None, given))",
        WHOLE,
        "the source chain run without its masks: the proof would compare padded rows against the wrong run",
    ),
    # ------------------------------------------------------------------------------------- convert
    Mutant(
        "convert-torch-forget-bias-dropped",
        "harness/forms/torch/files.py",
        "layouts.TORCH.compose(p, source.forget_bias)",
        "layouts.TORCH.compose(p, 0.0)",
        CONVERT,
        "the checkpoint's run-time forget_bias not folded into PyTorch's bias",
    ),
    Mutant(
        "convert-onnx-activations-dropped",
        "harness/forms/onnx/files.py",
        'onnx.save(lstm_model(tensors, "float32", n_in, n, attributes(source.semantics)), str(out))',
        'onnx.save(lstm_model(tensors, "float32", n_in, n, attributes({})), str(out))',
        CONVERT,
        "an ONNX target written with the default activations whatever the source's",
    ),
    Mutant(
        "convert-proof-bound-x1000",
        "harness/convert.py",
        "tol = tolerances.Tolerance(2 * np.asarray(single.atol)",
        "tol = tolerances.Tolerance(2000 * np.asarray(single.atol)",
        CONVERT,
        "the proof's bound loosened a thousandfold",
    ),
    Mutant(
        "convert-proof-against-itself",
        "harness/convert.py",
        "            np.asarray(mine, np.float64),\n            np.asarray(src, np.float64),\n",
        "            np.asarray(mine, np.float64),\n            np.asarray(mine, np.float64),\n",
        CONVERT,
        "the target compared with itself instead of the source",
    ),
    Mutant(
        "convert-failed-proof-published",
        "harness/convert.py",
        "                pending.discard()",
        "                pass",
        CONVERT,
        "a target that failed its proof renamed into place anyway",
    ),
    Mutant(
        "convert-tf1-default-forget-bias",
        "harness/convert.py",
        "TF1_FORGET_BIAS = 1.0",
        "TF1_FORGET_BIAS = 0.0",
        CONVERT,
        "BasicLSTMCell's default forget_bias forgotten",
    ),
    Mutant(
        "convert-checkpoint-input-depth",
        "harness/convert.py",
        'input_depth = tensors["kernel"].shape[0] - h_depth',
        'input_depth = tensors["kernel"].shape[0] - num_units',
        CONVERT,
        "a projected checkpoint's x rows counted as if h were num_units wide",
    ),
    Mutant(
        "convert-checkpoint-nonfinite-accepted",
        "harness/convert.py",
        'problem = f"has dtype {value.dtype}, not a real float" if value.dtype.kind != "f" else npz.nonfinite(value)',
        'problem = f"has dtype {value.dtype}, not a real float" if value.dtype.kind != "f" else None',
        CONVERT + ("tests/test_hostile.py",),
        "NaN weights of a checkpoint converted",
    ),
    Mutant(
        "modelfile-unknown-keys-accepted",
        "harness/modelfile.py",
        "unknown = sorted(set(config) - set(SEMANTIC) - set(INERT))",
        "unknown = []",
        CONVERT + ("tests/test_hostile.py",),
        "a Keras layer key lstm-equiv does not know read past",
    ),
    Mutant(
        "modelfile-lambda-layers-unnamed",
        "harness/modelfile.py",
        '[f"{cls} {name}" for cls, name, *_ in layers if cls not in RECURRENT + MODELS + (BIDIRECTIONAL,)]',
        "[]",
        CONVERT,
        "the layers convert leaves out not named to the user",
    ),
    # ----------------------------------------------------------------- the forms' sequence code
    Mutant(
        "torch-pad-packed-without-total-length",
        "harness/forms/torch/lstm.py",
        "pad_packed_sequence(outputs, batch_first=True, total_length=x.shape[1])",
        "pad_packed_sequence(outputs, batch_first=True)",
        (SEQUENCES, "-k", "torch_lstm and padded_no_full_row"),
        "PyTorch's classic: padded to the longest row",
    ),
    Mutant(
        "torch-go-backwards-ignored",
        "harness/forms/torch/lstm.py",
        "seq = t.flip(x, dims=[1]) if case.go_backwards else x",
        "seq = x",
        (SEQUENCES, "-k", "torch_lstm and go_backwards"),
        "a reversed layer run forwards",
    ),
    Mutant(
        "torch-directions-swapped",
        "harness/forms/torch/lstm.py",
        '("_reverse" if k % case.directions else "")',
        '("_reverse" if not k % case.directions and case.directions == 2 else "")',
        (SEQUENCES, "-k", "torch_lstm and bidirectional"),
        "the forward and backward cells' tensors swapped",
    ),
    Mutant(
        "legacy-go-backwards-ignored",
        "harness/forms/tf/compat_v1.py",
        "x = tf.reverse(x, axis=[1]) if case.go_backwards else x",
        "x = x",
        (SEQUENCES, "-k", "lstm_cell and go_backwards"),
        "tf.reverse left out",
    ),
    Mutant(
        "legacy-sequence-length-dropped",
        "harness/forms/tf/compat_v1.py",
        "outputs, final = self._driver(tf, cell, x, dtype, initial_state=initial, sequence_length=lengths)",
        "outputs, final = self._driver(tf, cell, x, dtype, initial_state=initial, sequence_length=None)",
        (SEQUENCES, "-k", "basic_lstm_cell_dynamic_rnn and sequence_lengths"),
        "dynamic_rnn not told the lengths",
    ),
    Mutant(
        "keras-bidirectional-padding-rule",
        "harness/forms/keras/lstm.py",
        'return "zero" if case.bidirectional is not None else self.padded',
        "return self.padded",
        (SEQUENCES, "-k", "keras_lstm and bidirectional_padded"),
        "Bidirectional's zero_output_for_mask forgotten: padded steps expected to carry",
    ),
    Mutant(
        "keras-stateful-gradient-chunks",
        "harness/forms/keras/lstm.py",
        'return {} if case.stateful_chunks is None else {"chunks": case.stateful_chunks}',
        "return {}",
        (SEQUENCES, "-k", "keras_lstm and stateful"),
        "the gradient through a stateful layer's chunks",
    ),
    Mutant(
        "onnx-sequence-lens-unwired",
        "harness/forms/onnx/lstm.py",
        '"sequence_lens" if lengths is not None else ""',
        '""',
        (SEQUENCES, "-k", "onnx_lstm and sequence_lengths"),
        "the LSTM node not given sequence_lens",
    ),
    Mutant(
        "onnx-reverse-as-forward",
        "harness/forms/onnx/lstm.py",
        'direction = "bidirectional" if case.bidirectional else "reverse" if case.go_backwards else "forward"',
        'direction = "bidirectional" if case.bidirectional else "forward"',
        (SEQUENCES, "-k", "onnx_lstm and go_backwards"),
        "direction reverse dropped",
    ),
    Mutant(
        "onnx-reverse-output-order",
        "harness/forms/onnx/lstm.py",
        'out["outputs_order"] = "time"',
        "pass",
        (SEQUENCES, "-k", "onnx_lstm and go_backwards"),
        "ONNX's time-ordered Y read as Keras's processing order",
    ),
]


def _copy(into: Path):
    for name in COPIED:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, into / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy(src, into / name)


def run(mutant: Mutant, timeout: float = 900) -> tuple:
    """(outcome, seconds, the last lines pytest printed) of one mutant, in a fresh copy of the repository."""
    with tempfile.TemporaryDirectory(prefix="mutant-" + re.sub(r"\W+", "_", mutant.id)[:40] + "-") as tmp:
        copy = Path(tmp)
        _copy(copy)
        if mutant.path:  # a baseline run has none
            target = copy / mutant.path
            text = target.read_text()
            if text.count(mutant.old) != 1:
                return "error", 0.0, f"the old text occurs {text.count(mutant.old)} times in {mutant.path}"
            target.write_text(text.replace(mutant.old, mutant.new))
        env = {**os.environ, "PYTHONPATH": str(copy)}
        start = time.monotonic()
        try:
            proc = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    "-x",
                    "-q",
                    "-p",
                    "no:randomly",
                    "-p",
                    "no:xdist",
                    "-p",
                    "no:cacheprovider",
                    *mutant.tests,
                ],
                cwd=copy,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return "timeout", time.monotonic() - start, ""
        said = (proc.stdout + proc.stderr).strip().splitlines()
        failed = [line for line in said if line.startswith("FAILED ")]
        tail = "\n".join(failed[:1] if proc.returncode == 1 and failed else said[-3:])
        outcome = {0: "survived", 1: "killed"}.get(proc.returncode, "error")
        return outcome, time.monotonic() - start, tail


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("ids", nargs="*", help="mutant ids (default: all)")
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    chosen = [m for m in MUTANTS if not args.ids or m.id in args.ids]
    selections = dict.fromkeys(m.tests for m in chosen)
    baselines = [Mutant(f"baseline {' '.join(t)}", "", "", "", t, "unmutated") for t in selections]
    with ThreadPoolExecutor(args.jobs) as pool:
        base = list(pool.map(run, baselines))
        broken = [(b, r) for b, r in zip(baselines, base) if r[0] != "survived"]
        for b, (outcome, _, tail) in broken:
            print(f"{b.id}: {outcome} without any mutant: a mutant there proves nothing\n    {tail}")
        if broken:
            return 2
        results = list(pool.map(run, chosen))
    for m, (outcome, seconds, tail) in zip(chosen, results):
        print(f"{outcome:9} {seconds:6.1f} s  {m.id}: {m.why}")
        print("    " + tail.replace("\n", "\n    ")[:300])  # killed: the test that failed; else what pytest said
    killed = sum(o == "killed" for o, _, _ in results)
    print(
        f"\n{killed}/{len(chosen)} killed, {sum(o == 'survived' for o, _, _ in results)} survived, "
        f"{sum(o not in ('killed', 'survived') for o, _, _ in results)} errors"
    )
    return 0 if killed == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
