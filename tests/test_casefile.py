"""Case files: the shipped ones are valid, every malformed one gets a pinned, located message, and the
shipped JSON Schema agrees with the validator."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from lstm_equiv.harness import spec
from lstm_equiv.harness.casefile import CaseFileError, CaseLoader, case_files, parse

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "data" / "bad"

# file -> (line, key, message fragment, does JSON Schema alone reject the parsed data?)
# None for "schema" means the file is not plain YAML data, so the schema never sees it.
EXPECTED = {
    "bad_name.yaml": (1, "name", "must match ^[A-Za-z][A-Za-z0-9_]*$ (letters, digits, _), got 'my case!'", True),
    "bool_as_int.yaml": (5, "batch", "must be an integer, got boolean True", True),
    "case_not_mapping.yaml": (2, "cases", "each case must be a mapping, got string 'just_a_name'", True),
    "cases_empty_list.yaml": (1, "cases", "must be a non-empty list of cases", True),
    "cases_not_list.yaml": (1, "cases", "must be a non-empty list of cases", True),
    "cases_with_extra.yaml": (1, "name", "a file with 'cases:' holds nothing else at the top level", True),
    "comments_only.yaml": (0, None, "is empty: write one case", None),
    "custom_tag.yaml": (1, None, "YAML tag '!case' is not allowed: case files hold plain data only", None),
    "dtype_typo.yaml": (7, "dtypes", "got 'flaot32'; did you mean 'float32'?", True),
    "duplicate_key.yaml": (4, "num_units", "key 'num_units' is written twice (first on line 3)", None),
    "duplicate_name_in_file.yaml": (8, "name", "'twin' is already the name of the case on line 2", False),
    "empty.yaml": (0, None, "is empty: write one case", None),
    "empty_dtypes.yaml": (7, "dtypes", "must have at least 1 item(s)", True),
    "exponent_string.yaml": (
        8,
        "tolerance.float32",
        "got string '1e-4' (YAML 1.1 reads an exponent without a dot",
        True,
    ),
    "forget_bias_string.yaml": (7, "forget_bias", "must be a number, got string 'one'", True),
    "head_unknown_key.yaml": (8, "head.classes", "unknown key; did you mean 'num_classes'?", True),
    "huge_size.yaml": (4, "timesteps", "must be at most 100000, got 10000000", True),
    "memory_bound.yaml": (
        4,
        "timesteps",
        "GiB of arrays (batch x timesteps x (input_depth + 12 num_units) x 8 bytes); the bound is 4 GiB",
        False,
    ),
    "missing_required.yaml": (1, "seed", "is required but missing", True),
    "multi_document.yaml": (7, None, "a case file holds one YAML document", None),
    "negative_seed.yaml": (6, "seed", "must be at least 0, got -1", True),
    "negative_size.yaml": (2, "input_depth", "must be at least 1, got -3", True),
    "non_utf8.yaml": (2, None, "is not UTF-8 text (byte 0xe9 at offset 29)", None),
    "python_tag.yaml": (1, None, "YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed", None),
    "repeated_dtype.yaml": (7, "dtypes", "lists an item twice", True),
    "syntax_error.yaml": (3, None, "YAML syntax error: expected ',' or ']'", None),
    "tolerance_dtype_not_run.yaml": (9, "tolerance.float32", "overrides a dtype the case does not run", False),
    "tolerance_without_reason.yaml": (7, "tolerance.reason", "is required but missing", True),
    "top_level_list.yaml": (1, None, "must be a mapping (one case) or 'cases:' (a list), got a list", True),
    "unknown_form.yaml": (7, "forms", "got 'keras_lsmt'; did you mean 'keras_lstm'?", True),
    "unknown_key.yaml": (7, "colour", "unknown key; known keys: name, description", True),
    "unknown_key_typo.yaml": (3, "num_unit", "unknown key; did you mean 'num_units'?", True),
    "unsupported_dtype.yaml": (7, "dtypes", "must be one of float32, float64, got 'float16'", True),
    "wrong_type_float.yaml": (4, "timesteps", "must be an integer, got number 8.5", True),
    "wrong_type_string.yaml": (3, "num_units", "must be an integer, got string 'sixty-four'", True),
    "zero_size.yaml": (3, "num_units", "must be at least 1, got 0", True),
    "num_proj_on_basic_cell.yaml": (
        8,
        "num_proj",
        "form basic_lstm_cell_static_rnn (named in 'forms' on line 7) cannot express a projection of h (num_proj: 2)",
        False,
    ),
    "proj_clip_without_num_proj.yaml": (7, "proj_clip", "needs num_proj: only a projected h can be clipped", False),
    "no_form_expresses.yaml": (
        7,
        "recurrent_activation",
        "no form can express recurrent_activation='hard_sigmoid', num_proj=2 together",
        False,
    ),
    "cell_clip_for_onnx.yaml": (
        8,
        "cell_clip",
        "form onnx_lstm (named in 'forms' on line 7) cannot express a clipped cell state (cell_clip: 1.0)",
        False,
    ),
    "gate_clip_for_keras.yaml": (
        8,
        "gate_clip",
        "form keras_lstm (named in 'forms' on line 7) cannot express clipped "
        "gate pre-activations (ONNX's clip) (gate_clip: 1.0)",
        False,
    ),
    "peepholes_not_bool.yaml": (7, "use_peepholes", "must be a boolean, got string 'yes'", True),
    "forget_bias_nan.yaml": (7, "forget_bias", "must be a finite number, got nan", False),
    "cell_clip_inf.yaml": (7, "cell_clip", "must be a finite number, got inf", True),
    "tolerance_minus_inf.yaml": (8, "tolerance.float32", "must be a finite number, got -inf", True),
    "billion_laughs.yaml": (2, None, "the file expands to more than 100000 values through its aliases", None),
    "merge_not_mapping.yaml": (9, "<<", "a '<<' merge key takes a mapping or a list of mappings", None),
    "weights_wrong_shape.yaml": (
        8,
        "weights",
        "does not fit the case: input_depth is 6 in the file but 7 in the case",
        False,
    ),
    "weights_missing.yaml": (7, "weights", "nowhere.npz: no such file", False),
    "weights_forget_bias.yaml": (7, "weights", "forget_bias is 0.0 in the file but 1.0 in the case", False),
    "sequence_lengths_count.yaml": (
        7,
        "sequence_lengths",
        "has 3 lengths; the case has batch 2 (one length per batch row)",
        False,
    ),
    "sequence_lengths_too_long.yaml": (7, "sequence_lengths", "a length of 6 exceeds timesteps 5", False),
    "sequence_lengths_zero.yaml": (7, "sequence_lengths", "must be at least 1, got 0", True),
    "go_backwards_with_bidirectional.yaml": (7, "go_backwards", "unsupported combination with bidirectional", False),
    "stateful_chunks_too_many.yaml": (7, "stateful_chunks", "6 chunks of a sequence of 5 timesteps", False),
    "stateful_chunks_with_lengths.yaml": (8, "stateful_chunks", "unsupported combination with sequence_lengths", False),
    "stateful_chunks_bidirectional.yaml": (
        8,
        "stateful_chunks",
        "unsupported combination with bidirectional: a reversed pass over chunks",
        False,
    ),
    "merge_mode_typo.yaml": (7, "bidirectional.merge_mode", "got 'average'; did you mean 'ave'?", True),
    "merge_none_stacked.yaml": (7, "layers", "unsupported combination with bidirectional merge_mode none", False),
    "bidirectional_sum_for_torch.yaml": (
        8,
        "bidirectional",
        "form torch_lstm (named in 'forms' on line 7) cannot express this bidirectional merge (bidirectional: 'sum')",
        False,
    ),
    "layers_for_block_lstm.yaml": (
        8,
        "layers",
        "form block_lstm (named in 'forms' on line 7) cannot express stacked layers (layers: 2)",
        False,
    ),
    "go_backwards_padded_for_dynamic_rnn.yaml": (
        8,
        "go_backwards",
        "cannot express a reversed layer over padded rows",
        False,
    ),
    "weights_bidirectional.yaml": (
        7,
        "weights",
        "unsupported combination with bidirectional: a weights file holds one cell's weights",
        False,
    ),
    "initial_state_typo.yaml": (7, "initial_state", "got 'randon'; did you mean 'random'?", True),
    "go_backwards_with_layers.yaml": (
        7,
        "go_backwards",
        "unsupported combination with layers: go_backwards is one reversed layer",
        False,
    ),
    "stateful_chunks_go_backwards.yaml": (
        8,
        "stateful_chunks",
        "unsupported combination with go_backwards: a reversed pass over chunks",
        False,
    ),
    "weights_layers.yaml": (
        8,
        "weights",
        "unsupported combination with layers: a weights file holds one cell's weights",
        False,
    ),
    "weights_activation.yaml": (
        9,
        "weights",
        "does not fit the case: activation is 'tanh' in the file but 'relu' in the case",
        False,
    ),
    "weights_peepholes.yaml": (
        9,
        "weights",
        "does not fit the case: use_peepholes is False in the file but True in the case",
        False,
    ),
    "reset_after_for_lstm.yaml": (7, "reset_after", "applies to cell: gru only", False),
    "gru_with_peepholes.yaml": (
        8,
        "use_peepholes",
        "no form can express use_peepholes=True, cell='gru' together",
        False,
    ),
    "torch_gru_reset_before.yaml": (
        8,
        "reset_after",
        "form torch_gru (named in 'forms' on line 8) cannot put the reset gate before the recurrent product",
        False,
    ),
    "gru_on_an_lstm_form.yaml": (
        7,
        "cell",
        "form keras_lstm (named in 'forms' on line 8) cannot express this cell (cell: 'gru')",
        False,
    ),
    "cell_typo.yaml": (7, "cell", "got 'gur'; did you mean 'gru'?", True),
    "gru_with_weights.yaml": (
        8,
        "weights",
        "unsupported combination with cell: gru: a weights file holds an LSTM's",
        False,
    ),
    "gru_with_forget_bias.yaml": (
        8,
        "forget_bias",
        "unsupported combination with cell: gru: it is the LSTM's forget gate bias",
        False,
    ),
    "checks_typo.yaml": (
        7,
        "checks",
        "must be one of forward, gradients, got 'gradient'; did you mean 'gradients'?",
        True,
    ),
}


def test_every_bad_file_has_an_expectation():
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted(EXPECTED)
    assert len(EXPECTED) >= 25


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_message_names_file_line_and_key(name):
    line, key, fragment, _ = EXPECTED[name]
    path = BAD / name
    with pytest.raises(CaseFileError) as err:
        parse(path, path.read_bytes())
    text = str(err.value)
    first = text.splitlines()[0]
    where = f"{path}:{line}:" if line else f"{path}:"
    assert first.startswith(where), text
    if key:
        assert f" key {key!r}:" in first, text
    assert fragment in text, text
    assert "Traceback" not in text
    if line:  # the offending line is quoted under the message
        quoted = path.read_bytes().decode("utf-8", "replace").splitlines()[line - 1]
        assert f"{line:4d} | {quoted}" in text, text


def test_yaml_tags_construct_nothing(tmp_path):
    marker = Path("/tmp/lstm_equiv_pwned")
    marker.unlink(missing_ok=True)
    path = BAD / "python_tag.yaml"
    with pytest.raises(CaseFileError):
        parse(path, path.read_bytes())
    assert not marker.exists()


def test_duplicate_names_across_files_name_both_places():
    loader = CaseLoader()
    files = case_files([ROOT / "tests" / "data" / "dup"])
    assert [f.name for f in files] == ["a.yaml", "b.yaml"]
    assert [c.name for c in loader.load(files[0])] == ["shared_name"]
    with pytest.raises(CaseFileError) as err:
        loader.load(files[1])
    assert str(err.value).splitlines()[0] == (
        f"{files[1]}:9: key 'name': 'shared_name' is already the name of a case in {files[0]}:1"
    )


def test_shipped_cases_are_valid_and_cover_the_question():
    loader = CaseLoader()
    cases = [c for f in case_files([ROOT / "cases"]) for c in loader.load(f)]
    by_name = {c.name: c for c in cases}
    q = by_name["question_network"]
    assert (q.input_depth, q.num_units, q.timesteps, q.batch, q.num_classes) == (12, 64, 820, 2, 2)
    assert set(q.dtypes) == {"float32", "float64"} and q.forget_bias == 1.0
    assert len(cases) >= 11
    assert any(c.input_depth == 1 for c in cases) and any(c.num_units == 1 for c in cases)
    assert any(c.timesteps == 1 for c in cases) and any(c.batch == 1 for c in cases)
    assert any(c.input_depth > c.num_units for c in cases) and any(c.num_units >= 256 for c in cases)
    assert any(c.forget_bias == 0.0 for c in cases) and any(c.forget_bias not in (0.0, 1.0) for c in cases)


def test_shipped_cases_exercise_every_form_and_every_option():
    from lstm_equiv.harness.forms import FORMS
    from lstm_equiv.harness.spec import DEFAULTS

    loader = CaseLoader()
    cases = [c for f in case_files([ROOT / "cases"]) for c in loader.load(f)]
    assert {form for c in cases for form in c.forms} == set(FORMS)
    for option, default in DEFAULTS.items():
        for form in FORMS.values():
            if form.options.get(option):  # every form that can express an option runs a case that sets it
                assert any(getattr(c, option) != default and form.name in c.forms for c in cases), (option, form.name)


def test_shipped_schema_is_generated_from_the_spec():
    shipped = json.loads((ROOT / "harness" / "case.schema.json").read_text())
    assert shipped == spec.json_schema(), "regenerate: lstm-equiv schema > harness/case.schema.json"


def _schema_accepts(data) -> bool:
    jsonschema = pytest.importorskip("jsonschema")
    return jsonschema.Draft202012Validator(spec.json_schema()).is_valid(data)


@pytest.mark.parametrize("path", case_files([ROOT / "cases"]), ids=lambda p: p.name)
def test_schema_accepts_every_shipped_case(path):
    assert _schema_accepts(yaml.safe_load(path.read_text()))


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECTED.items() if e[3] is not None))
def test_schema_and_validator_agree_on_bad_files(name):
    """Both reject, except the rules the schema's description says only the validator applies."""
    data = yaml.safe_load((BAD / name).read_text())
    assert _schema_accepts(data) is not EXPECTED[name][3]


MERGED = """\
cases:
  - &base
    name: base
    input_depth: 3
    num_units: 4
    timesteps: 6
    batch: 2
    seed: 1
    forget_bias: 0.5
  - <<: *base
    name: wider
    num_units: 8
  - <<: [*base]
    name: bad_merge
    timesteps: -2
"""


def test_anchors_and_merge_keys_share_settings_and_keep_their_lines():
    text = MERGED.replace("  - <<: [*base]\n    name: bad_merge\n    timesteps: -2\n", "")
    base, wider = parse("merged.yaml", text.encode())
    assert (wider.input_depth, wider.num_units, wider.timesteps, wider.forget_bias) == (3, 8, 6, 0.5)
    assert base.num_units == 4  # the written key wins over the merged one, and the anchor is untouched
    with pytest.raises(CaseFileError) as err:  # a bad written key on its line, merged keys still fine
        parse("merged.yaml", MERGED.encode())
    assert str(err.value).splitlines()[0] == "merged.yaml:15: key 'timesteps': must be at least 1, got -2"


def test_a_bad_merged_value_is_reported_where_it_was_written():
    text = MERGED.replace("    forget_bias: 0.5", "    forget_bias: .nan")
    with pytest.raises(CaseFileError) as err:
        parse("merged.yaml", text.encode())
    lines = str(err.value).splitlines()
    assert lines[0] == "merged.yaml:9: key 'forget_bias': must be a finite number, got nan"
    assert lines.count("       9 |     forget_bias: .nan") >= 2  # the anchor's own case and every case merging it


def test_the_alias_bound_is_far_above_what_real_files_need():
    from lstm_equiv.harness import yamlnodes

    many = "cases:\n" + "".join(
        f"  - <<: *b\n    name: c{k}\n"
        if k
        else "  - &b {input_depth: 3, num_units: 4, timesteps: 6, batch: 2, seed: 1, name: c0}\n"
        for k in range(1000)
    )
    assert len(parse("many.yaml", many.encode())) == 1000
    deep = BAD / "billion_laughs.yaml"
    with pytest.raises(CaseFileError) as err:
        parse(deep, deep.read_bytes())
    assert f"more than {yamlnodes.MAX_VALUES} values" in str(err.value)


def test_with_several_merged_mappings_the_first_wins_and_a_written_key_beats_both():
    """YAML's merge key: of the mappings in <<: [*a, *b], an earlier one's key wins over a later one's
    (num_units 4 and timesteps 6 from small, not 9 and 7 from other); a key written in the case wins over
    both (batch 2, seed 1)."""
    text = (
        "cases:\n  - &small {name: small, input_depth: 3, num_units: 4, timesteps: 6, batch: 1, seed: 3}\n"
        "  - &other {name: other, input_depth: 5, num_units: 9, timesteps: 7, batch: 5, seed: 2}\n"
        "  - <<: [*small, *other]\n    name: merged\n    batch: 2\n    seed: 1\n"
    )
    small, other, merged = parse("several.yaml", text.encode())
    assert (merged.input_depth, merged.num_units, merged.timesteps) == (3, 4, 6)
    assert (merged.batch, merged.seed) == (2, 1)
    assert (other.num_units, small.num_units) == (9, 4)
    bad = text.replace("num_units: 9", "num_units: -9").replace("input_depth: 3, num_units: 4, ", "input_depth: 3, ")
    with pytest.raises(CaseFileError) as err:  # the key only the second mapping holds, reported where written
        parse("several.yaml", bad.encode())
    assert "several.yaml:3: key 'num_units': must be at least 1, got -9" in str(err.value)


def test_two_merge_keys_in_one_mapping_are_refused():
    text = MERGED.replace("  - <<: [*base]\n", "  - <<: *base\n    <<: *base\n")
    with pytest.raises(CaseFileError) as err:
        parse("merged.yaml", text.encode())
    assert str(err.value).splitlines()[0] == (
        "merged.yaml:14: key '<<': key '<<' is written twice (first on line 13): "
        "merge several mappings with <<: [*a, *b]"
    )


def test_a_case_with_weights_runs_every_form_on_them():
    from lstm_equiv.harness import npz
    from lstm_equiv.harness.inputs import make_inputs

    (case,) = CaseLoader().load(ROOT / "cases" / "real_weights.yaml")
    params, _, _ = npz.load(ROOT / "cases" / "weights" / "keras_initialised.npz")
    for dtype in ("float32", "float64"):
        inputs = make_inputs(case, dtype)
        for part, g, a in params.items():
            np.testing.assert_array_equal(getattr(inputs.params, part)[g], a.astype(dtype), err_msg=f"{part}[{g}]")
    # Keras's own initialisation, not the harness's draw: orthogonal W (the recurrent kernel's gate blocks side
    # by side), unit forget bias in b_f
    recurrent = np.concatenate([params.W[g] for g in ("i", "f", "j", "o")], axis=1)
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(8), atol=1e-5)
    np.testing.assert_array_equal(params.b["f"], np.ones(8, np.float32))
