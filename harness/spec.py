"""The case-file format, once: the validator and the shipped JSON Schema are both generated from here.

``FIELDS`` describes every key a case may hold. :func:`json_schema` turns it into the JSON Schema that
ships as ``harness/case.schema.json`` (a test keeps the file equal to this module's output, and another
checks that ``jsonschema`` and :mod:`harness.casefile` accept and reject the same files).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lstm_equiv.harness.cells import CELLS
from lstm_equiv.harness.forms import FORMS

DTYPES = ("float32", "float64")
MEMORY_BOUND_BYTES = 4 * 2**30  # one case's arrays (TF and reference) must fit in this
NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]*$"
NAME_MAX_LENGTH = 128  # the report names a PNG after its case: file names end at 255 bytes


@dataclass(frozen=True)
class Field:
    """One key of the format: its JSON type and constraints."""

    type: str  # "string", "integer", "number", "boolean", "array", "object"
    doc: str
    required: bool = False
    default: object = None
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    enum: tuple | None = None
    items: Field | None = None
    min_items: int | None = None
    unique_items: bool = False
    fields: dict = field(default_factory=dict)  # for "object"
    min_properties: int | None = None
    option: str | None = None  # a key not every form can express: what a form that cannot says it cannot express


FORM_NAMES = tuple(sorted(FORMS))

_SIZE = "a positive integer"
FIELDS = {
    "name": Field(
        "string",
        "Unique case name, used in test ids and the report's file names.",
        required=True,
        pattern=NAME_PATTERN,
        max_length=NAME_MAX_LENGTH,
    ),
    "description": Field("string", "Free text: what this case is for."),
    "input_depth": Field("integer", "Features per timestep (rows of V).", required=True, minimum=1, maximum=65536),
    "num_units": Field("integer", "LSTM units, the width of h and c.", required=True, minimum=1, maximum=4096),
    "timesteps": Field("integer", "Sequence length.", required=True, minimum=1, maximum=100000),
    "batch": Field("integer", "Sequences per batch.", required=True, minimum=1, maximum=65536),
    "seed": Field(
        "integer", "Seed of the random, gate-distinct weights and inputs.", required=True, minimum=0, maximum=2**32 - 1
    ),
    "dtypes": Field(
        "array",
        "Dtypes to run the forms in.",
        default=list(DTYPES),
        items=Field("string", "a dtype", enum=DTYPES),
        min_items=1,
        unique_items=True,
    ),
    "forget_bias": Field(
        "number",
        "BasicLSTMCell's forget_bias, added to f's pre-activation at run time.",
        default=1.0,
        minimum=-100.0,
        maximum=100.0,
    ),
    "weight_scale": Field(
        "number",
        "Multiplies every drawn weight (V, W, peepholes, projection): trained "
        "weights are often larger than the default draw, and large ones make the LSTM sensitive "
        "to rounding.",
        default=1.0,
        exclusive_minimum=0,
        maximum=1000.0,
    ),
    "input_scale": Field("number", "Multiplies the drawn inputs x.", default=1.0, exclusive_minimum=0, maximum=1000.0),
    "weights": Field(
        "string",
        "An .npz of per-gate weights in lstm-equiv's format (harness/npz.py), relative to "
        "the case file: every form runs on these instead of seeded random ones (x stays seeded). Its "
        "shapes must match the case; its forget_bias and options must agree with the case's.",
        min_length=1,
    ),
    "forms": Field(
        "array",
        "Forms to run (default: every form that applies).",
        items=Field("string", "a form", enum=FORM_NAMES),
        min_items=1,
        unique_items=True,
    ),
    "activation": Field(
        "string",
        "Activation of the block input j and of c.",
        default="tanh",
        enum=("tanh", "relu", "sigmoid"),
        option="a block-input activation other than tanh",
    ),
    "recurrent_activation": Field(
        "string",
        "Activation of the gates i, f, o. hard_sigmoid is the installed "
        "Keras's for the Keras forms (clip(0.2x + 0.5) in Keras 2, clip(x/6 + 0.5) in Keras "
        "3) and ONNX's default HardSigmoid, clip(0.2x + 0.5), for onnx_lstm.",
        default="sigmoid",
        enum=("sigmoid", "hard_sigmoid"),
        option="a gate activation other than sigmoid",
    ),
    "use_peepholes": Field(
        "boolean",
        "Peephole diagonals: i and f see the previous c, o the new c.",
        default=False,
        option="peephole connections",
    ),
    "num_proj": Field(
        "integer",
        "Project h to this width (LSTMCell): h_depth = num_proj.",
        minimum=1,
        maximum=4096,
        option="a projection of h",
    ),
    "cell_clip": Field(
        "number",
        "Clip c to [-cell_clip, cell_clip] after each step.",
        exclusive_minimum=0,
        maximum=1e6,
        option="a clipped cell state",
    ),
    "proj_clip": Field(
        "number",
        "Clip the projected h to [-proj_clip, proj_clip] (needs num_proj).",
        exclusive_minimum=0,
        maximum=1e6,
        option="a clipped projection",
    ),
    "gate_clip": Field(
        "number",
        "ONNX's clip: clip every gate's pre-activation to [-gate_clip, gate_clip] (not c: that is TF's cell_clip).",
        exclusive_minimum=0,
        maximum=1e6,
        option="clipped gate pre-activations (ONNX's clip)",
    ),
    "input_forget": Field(
        "boolean",
        "ONNX's input_forget: couple the forget gate to the input gate, f = 1 - i.",
        default=False,
        option="a forget gate coupled to the input gate (ONNX's input_forget)",
    ),
    "cell": Field(
        "string",
        "The recurrent cell (harness/cells.py): lstm, gru (every GRU form: `lstm-equiv explain --cell gru`), or "
        "rnn, the plain tanh RNN (Keras's SimpleRNN, PyTorch's nn.RNN, ONNX's RNN, TF1's BasicRNNCell).",
        default="lstm",
        enum=tuple(CELLS),
        option="this cell",
    ),
    "reset_after": Field(
        "boolean",
        "GRU only: apply the reset gate after the recurrent product (Keras's "
        "reset_after=True, the TF2 default and cuDNN's; PyTorch's nn.GRU; ONNX's "
        "linear_before_reset=1), not before it (TF1's GRUCell, GRUBlockCell, Keras's "
        "reset_after=False).",
        default=False,
        option="the GRU's reset after the recurrent product",
    ),
    "go_backwards": Field(
        "boolean",
        "Process the sequence from the last timestep to the first (Keras's "
        "go_backwards; the compat.v1, fused and PyTorch forms reverse x as users do; ONNX's "
        "direction reverse). Each form returns the outputs in its own time order: `lstm-equiv "
        "explain` and the README say which.",
        default=False,
        option="a reversed layer",
    ),
    "bidirectional": Field(
        "object",
        "Run a forward and a backward cell (distinct weights) and merge their outputs.",
        fields={
            "merge_mode": Field(
                "string",
                "How the two outputs are merged (none: returned apart, compared side by side as [forward | backward]).",
                required=True,
                enum=("concat", "sum", "mul", "ave", "none"),
            )
        },
        option="this bidirectional merge",
    ),
    "sequence_lengths": Field(
        "array",
        "One length per batch row, each <= timesteps: the steps past a row's length "
        "are padding (Keras's mask, dynamic_rnn's sequence_length, PyTorch's packed sequences, "
        "ONNX's sequence_lens), each form with its own rule for what it emits there.",
        items=Field("integer", "a row's length", minimum=1, maximum=100000),
        min_items=1,
        option="padded rows",
    ),
    "initial_state": Field(
        "string",
        "The state every cell starts from: zeros, or seeded random h0 and c0 given to every form.",
        default="zeros",
        enum=("zeros", "random"),
        option="a given initial state",
    ),
    "stateful_chunks": Field(
        "integer",
        "Feed the sequence in this many chunks, the state carried from one to the "
        "next (a stateful Keras layer; by hand in the other forms): it must equal one pass.",
        minimum=2,
        maximum=100000,
        option="a sequence fed in chunks",
    ),
    "layers": Field(
        "integer",
        "Stacked layers, each with its own weights (MultiRNNCell, stacked Keras layers, "
        "PyTorch's num_layers); layer l + 1 reads layer l's outputs.",
        default=1,
        minimum=1,
        maximum=16,
        option="stacked layers",
    ),
    "checks": Field(
        "array",
        "What to compare: forward (weights read back, outputs, final h and c, logits) and "
        "gradients (d loss / d every gate block, and d loss / d x).",
        default=["forward", "gradients"],
        items=Field("string", "a kind of check", enum=("forward", "gradients")),
        min_items=1,
        unique_items=True,
    ),
    "loss": Field(
        "string",
        "The scalar loss of the gradient checks: a fixed random projection of every output "
        "(outputs) or of the last output only (last_output).",
        default="outputs",
        enum=("outputs", "last_output"),
    ),
    "head": Field(
        "object",
        "A dense layer on the last output, as in the question's network.",
        fields={"num_classes": Field("integer", "Output classes.", required=True, minimum=1, maximum=65536)},
    ),
    "expect_undecided": Field(
        "string",
        "Why this case is expected to be undecided: so chaotic (large weights, long "
        "sequences) that no dtype's rounding can be told from a wrong gate layout. Its undecided "
        "items then leave the exit code at 0; without this key they make lstm-equiv run exit 3 "
        "and fail under pytest.",
        min_length=1,
    ),
    "tolerance": Field(
        "object",
        "Per-dtype absolute tolerance overrides; a reason is required.",
        fields={
            "float32": Field("number", "atol for float32", exclusive_minimum=0, maximum=1.0),
            "float64": Field("number", "atol for float64", exclusive_minimum=0, maximum=1.0),
            "reason": Field("string", "Why the default tolerance does not hold here.", required=True, min_length=1),
        },
        min_properties=2,
    ),
}


OPTIONS = tuple(name for name, f in FIELDS.items() if f.option)
"""Keys that not every form can express; each form lists the ones it can (harness/forms)."""

DEFAULTS = {name: FIELDS[name].default for name in OPTIONS}
"""What a form that does not list an option computes: the case format's defaults."""

OPTION_WORDS = {name: FIELDS[name].option for name in OPTIONS}
"""Each option in words, for "cannot express ..." (harness.forms.Form.cannot_express, explain, the README)."""


def memory_bytes(case: dict) -> int:
    """A generous estimate of the bytes one case's arrays take (inputs, gates, outputs, weights)."""
    per_step = case["input_depth"] + 12 * case["num_units"]
    weights = 4 * case["num_units"] * (case["input_depth"] + case["num_units"] + 1)
    return 8 * (case["batch"] * case["timesteps"] * per_step + 4 * weights)


def _field_schema(f: Field) -> dict:
    """One Field as a JSON Schema fragment."""
    out = {"type": f.type, "description": f.doc}
    for key, value in (
        ("default", f.default),
        ("minimum", f.minimum),
        ("maximum", f.maximum),
        ("exclusiveMinimum", f.exclusive_minimum),
        ("pattern", f.pattern),
        ("minLength", f.min_length),
        ("maxLength", f.max_length),
        ("minItems", f.min_items),
        ("minProperties", f.min_properties),
    ):
        if value is not None:
            out[key] = value
    if f.enum is not None:
        out["enum"] = list(f.enum)
    if f.unique_items:
        out["uniqueItems"] = True
    if f.items is not None:
        out["items"] = _field_schema(f.items)
    if f.type == "object":
        out.update(_object_schema(f.fields))
    return out


def _object_schema(fields: dict) -> dict:
    """A closed JSON Schema object of ``fields``."""
    return {
        "properties": {name: _field_schema(f) for name, f in fields.items()},
        "required": [name for name, f in fields.items() if f.required],
        "additionalProperties": False,
    }


def json_schema() -> dict:
    """The JSON Schema of a case file: one case, or a list of cases under ``cases:``."""
    case = {"type": "object", **_object_schema(FIELDS)}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://lstm-equiv.invalid/case.schema.json",
        "title": "lstm-equiv case file",
        "description": "One LSTM case, or a list of them under 'cases:'. Beyond this schema, the validator also "
        f"refuses duplicate names across files, cases whose arrays would exceed {MEMORY_BOUND_BYTES // 2**30} GiB, and "
        "non-finite numbers (YAML's .nan and .inf, which JSON cannot hold).",
        "$defs": {"case": case},
        "oneOf": [
            {"$ref": "#/$defs/case"},
            {
                "type": "object",
                "properties": {"cases": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/case"}}},
                "required": ["cases"],
                "additionalProperties": False,
            },
        ],
    }
