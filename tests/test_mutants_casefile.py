"""Case files, the details a user sees: the exact message of each mistake (file, line, key, quoted line),
which typos get a suggestion, the values accepted or refused at each boundary, and the defaults.

Written against the survivors of a mutation run on harness/casefile.py, yamlnodes.py and spec.py
(docs/mutation_casefile.md). Every expected value below is worked out by hand from the documented rule:
line numbers are counted in the inline YAML, memory estimates from the formula in the message.
TF-free: nothing here runs a form.
"""

from pathlib import Path

import pytest

from lstm_equiv.harness import spec, yamlnodes
from lstm_equiv.harness.casefile import CaseFileError, CaseLoader, Problem, _typo_distance, case_files, parse, suggest
from lstm_equiv.harness.spec import FIELDS

FILE = Path("case.yaml")

# one valid case, a key per line: name 1, input_depth 2, num_units 3, timesteps 4, batch 5, seed 6
MINIMAL = "name: c\ninput_depth: 3\nnum_units: 4\ntimesteps: 5\nbatch: 2\nseed: 1\n"


def errors(text: str) -> list:
    """The lines of the error a user sees for ``text``."""
    with pytest.raises(CaseFileError) as err:
        parse(FILE, text.encode())
    return str(err.value).splitlines()


def only_case(text: str):
    cases = parse(FILE, text.encode())
    assert len(cases) == 1
    return cases[0]


def quoted(line: int, text: str) -> str:
    return f"    {line:4d} | {text}"


# -- how an error is written ------------------------------------------------------------------------------


def test_a_whole_file_problem_names_neither_line_nor_key_and_quotes_nothing():
    message = "is empty: write one case (a mapping with 'name') or a list of cases under 'cases:'"
    assert errors("") == [f"case.yaml: {message}"]
    assert errors("# only a comment\n\n") == [f"case.yaml: {message}"]  # line 0, so line 1 is not quoted


def test_an_error_without_the_file_text_quotes_nothing():
    err = CaseFileError(Path("x.yaml"), [Problem(1, "seed", "is required but missing")])
    assert str(err) == "x.yaml:1: key 'seed': is required but missing"


# -- typo suggestions -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "a, b, edits",
    [
        ("", "", 0),
        ("", "abc", 3),
        ("abc", "", 3),  # inserts only, deletes only
        ("a", "b", 1),
        ("ab", "a", 1),
        ("a", "ab", 1),  # one substitution, deletion, insertion
        ("a", "bb", 2),
        ("a", "aaa", 2),
        ("aaa", "a", 2),
        ("ab", "ba", 1),
        ("flaot32", "float32", 1),
        ("abcd", "bacd", 1),  # a swap of two neighbours is one edit
        ("aa", "aa", 0),
        ("kitten", "sitting", 3),
        ("num_unit", "num_units", 1),
    ],
)
def test_typo_distance_counts_edits(a, b, edits):
    assert _typo_distance(a, b) == edits
    assert _typo_distance(b, a) == edits


def test_an_empty_key_gets_no_suggestion():
    lines = errors('"": 1\n' + MINIMAL)
    assert lines[0] == f"case.yaml:1: unknown key; known keys: {', '.join(FIELDS)}"


@pytest.mark.parametrize(
    "typo, meant",
    [
        ("nmae", "name"),  # 4 letters: one edit allowed
        ("timestpe", "timesteps"),  # 8 letters: two edits allowed (a swap and a missing s)
        ("bxych", None),  # 5 letters, two edits from batch: too far
        ("bat", None),  # part of 'batch', but shorter than 4 letters
        ("time", "timesteps"),  # two edits from 'name', but part of exactly one key
        ("proj", None),  # part of two keys (num_proj, proj_clip): no guess
    ],
)
def test_which_unknown_keys_get_a_suggestion(typo, meant):
    assert suggest(typo, FIELDS) == meant
    lines = errors(MINIMAL + f"{typo}: 1\n")
    hint = f"did you mean {meant!r}?" if meant else f"known keys: {', '.join(FIELDS)}"
    assert lines[0] == f"case.yaml:7: key {typo!r}: unknown key; {hint}"
    assert lines[1] == quoted(7, f"{typo}: 1")


def test_an_unknown_key_is_one_problem_and_the_keys_after_it_are_still_read():
    text = "name: c\nnum_unit: 4\ninput_depth: 3\ntimesteps: 0\nbatch: 2\nseed: 1\n"
    assert errors(text) == [
        "case.yaml:2: key 'num_unit': unknown key; did you mean 'num_units'?",
        quoted(2, "num_unit: 4"),
        "case.yaml:4: key 'timesteps': must be at least 1, got 0",
        quoted(4, "timesteps: 0"),
    ]


def test_an_enum_value_with_no_close_option_gets_no_hint():
    assert errors(MINIMAL + "activation: softmax\n")[0] == (
        "case.yaml:7: key 'activation': must be one of tanh, relu, sigmoid, got 'softmax'"
    )


# -- types and bounds -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, message",
    [
        ("batch: true", "key 'batch': must be an integer, got boolean True"),  # in place of batch: 2, on line 5
        ("forget_bias: true", "key 'forget_bias': must be a number, got boolean True"),  # no exponent hint
        ("forget_bias: [1]", "key 'forget_bias': must be a number, got a list"),
        (
            "forget_bias: 1E-5",
            "key 'forget_bias': must be a number, got string '1E-5' (YAML 1.1 reads an exponent "
            "without a dot as a string: write e.g. 1.0e-5)",
        ),
        ("dtypes: float32", "key 'dtypes': must be an array, got string 'float32'"),
        ("head: 2", "key 'head': must be an object, got integer 2"),
    ],
)
def test_a_value_of_the_wrong_type(line, message):
    if line.startswith("batch"):
        text, where = MINIMAL.replace("batch: 2", line), 5
    else:
        text, where = MINIMAL + line + "\n", 7
    assert errors(text) == [f"case.yaml:{where}: {message}", quoted(where, line)]


@pytest.mark.parametrize("key", ["cell_clip", "proj_clip"])
def test_a_clip_must_be_greater_than_zero(key):
    extra = "num_proj: 2\n" if key == "proj_clip" else ""
    assert errors(MINIMAL + extra + f"{key}: 0\n")[0] == (
        f"case.yaml:{7 + bool(extra)}: key {key!r}: must be greater than 0, got 0"
    )
    case = only_case(MINIMAL + extra + f"{key}: 0.001\n")
    assert getattr(case, key) == 0.001


def test_a_tolerance_must_be_greater_than_zero():
    text = MINIMAL + "tolerance:\n  float32: 0\n  reason: why\n"
    assert errors(text) == [
        "case.yaml:8: key 'tolerance.float32': must be greater than 0, got 0",
        quoted(8, "  float32: 0"),
    ]


def test_a_tolerance_reason_of_one_letter_is_enough_a_blank_one_is_not():
    case = only_case(MINIMAL + "tolerance:\n  float32: 0.001\n  reason: x\n")
    assert case.tolerance == {"float32": 0.001} and case.tolerance_reason == "x"
    text = MINIMAL + "tolerance:\n  float32: 0.001\n  reason: '   '\n"
    assert errors(text) == [
        "case.yaml:9: key 'tolerance.reason': must not be empty",  # and nothing more
        quoted(9, "  reason: '   '"),
    ]


def test_a_tolerance_with_only_a_reason_overrides_nothing():
    text = MINIMAL + "tolerance:\n  reason: flaky\n"
    assert errors(text) == [
        "case.yaml:7: key 'tolerance': needs at least one of float32, float64",
        quoted(7, "tolerance:"),
    ]


def test_a_missing_key_is_reported_on_the_line_of_its_case():
    text = (
        "cases:\n"
        "  - name: a\n    input_depth: 3\n    num_units: 4\n    timesteps: 5\n    batch: 2\n    seed: 1\n"
        "  - name: b\n    input_depth: 3\n    num_units: 4\n    timesteps: 5\n    batch: 2\n"
    )
    assert errors(text) == ["case.yaml:8: key 'seed': is required but missing", quoted(8, "  - name: b")]


# -- the memory bound: batch x timesteps x (input_depth + 12 num_units) x 8 bytes, plus the weights ---------


def test_memory_estimate_follows_its_formula():
    # (3 + 12*5) = 63 per step, 2*7*63 = 882; weights 4*5*(3+5+1) = 180, four sets = 720; 8 * (882 + 720)
    assert spec.memory_bytes({"input_depth": 3, "num_units": 5, "batch": 2, "timesteps": 7}) == 12816


def test_a_case_of_exactly_4_gib_is_accepted_one_more_timestep_is_refused():
    # per step 25 + 12*6 = 97; 64 * 86480 * 97 = 536 867 840; weights 4*6*(25+6+1) = 768, four sets = 3072;
    # 536 867 840 + 3072 = 536 870 912 = 2**29, times 8 bytes = 2**32 = 4 GiB
    text = "name: edge\ninput_depth: 25\nnum_units: 6\ntimesteps: 86480\nbatch: 64\nseed: 1\n"
    assert only_case(text).timesteps == 86480
    lines = errors(text.replace("86480", "86481"))
    assert lines == [
        "case.yaml:4: key 'timesteps': the case would need about 4.0 GiB of arrays (batch x timesteps x "
        "(input_depth + 12 num_units) x 8 bytes); the bound is 4 GiB",
        quoted(4, "timesteps: 86481"),
    ]


def test_the_memory_bound_blames_the_largest_size():
    # 65536 * 1000 * (1 + 12) = 851 968 000, weights 4 * 1 * 3 * 4 = 48; * 8 bytes = 6.35 GiB
    text = "name: wide\ninput_depth: 1\nnum_units: 1\ntimesteps: 1000\nbatch: 65536\nseed: 1\n"
    assert errors(text)[0] == (
        "case.yaml:5: key 'batch': the case would need about 6.3 GiB of arrays (batch x "
        "timesteps x (input_depth + 12 num_units) x 8 bytes); the bound is 4 GiB"
    )


# -- defaults and values ----------------------------------------------------------------------------------


def test_the_defaults_of_the_optional_keys():
    case = only_case(MINIMAL)
    assert (case.name, case.input_depth, case.num_units, case.timesteps, case.batch, case.seed) == ("c", 3, 4, 5, 2, 1)
    assert case.dtypes == ("float32", "float64")
    assert case.forget_bias == 1.0
    assert (case.weight_scale, case.input_scale) == (1.0, 1.0)
    assert case.checks == ("forward", "gradients")
    assert case.loss == "outputs"
    assert case.description == ""
    assert case.tolerance == {} and case.tolerance_reason is None
    assert case.num_classes is None and case.num_proj is None and case.h_depth == 4
    assert (case.activation, case.recurrent_activation, case.use_peepholes) == ("tanh", "sigmoid", False)
    assert (case.cell_clip, case.proj_clip) == (None, None)
    assert (case.path, case.line, case.where) == (FILE, 1, "case.yaml:1")


def test_every_optional_key_is_read():
    text = MINIMAL.replace("seed: 1", "seed: 7") + (
        "description: what it is for\ndtypes: [float64]\nforget_bias: 0.25\nchecks: [forward]\nloss: last_output\n"
        "weight_scale: 3\ninput_scale: 0.5\n"
        "head:\n  num_classes: 3\ntolerance:\n  float64: 0.001\n  reason: because\n"
    )
    case = only_case(text)
    assert case.seed == 7 and case.description == "what it is for"
    assert case.dtypes == ("float64",) and case.forget_bias == 0.25
    assert (case.weight_scale, case.input_scale) == (3.0, 0.5) and isinstance(case.weight_scale, float)
    assert case.checks == ("forward",) and case.loss == "last_output" and case.num_classes == 3
    assert case.tolerance == {"float64": 0.001} and case.tolerance_reason == "because"


def test_dtypes_and_tolerance_each_without_the_other():
    assert only_case(MINIMAL + "dtypes: [float32]\n").dtypes == ("float32",)
    case = only_case(MINIMAL + "tolerance:\n  float32: 0.5\n  reason: r\n")  # dtypes default: both
    assert case.dtypes == ("float32", "float64") and case.tolerance == {"float32": 0.5}


def test_named_forms_that_express_the_options_are_run():
    case = only_case(MINIMAL + "forms: [lstm_cell]\nnum_proj: 2\n")
    assert case.forms == ("lstm_cell",) and case.num_proj == 2 and case.h_depth == 2


def test_a_case_refused_for_its_forms_does_not_take_its_name():
    text = (
        "cases:\n"
        "  - name: twin\n    input_depth: 3\n    num_units: 4\n    timesteps: 5\n    batch: 2\n    seed: 1\n"
        "    forms: [keras_lstm]\n    use_peepholes: true\n"
        "  - name: twin\n    input_depth: 3\n    num_units: 4\n    timesteps: 5\n    batch: 2\n    seed: 2\n"
    )
    lines = errors(text)
    problems = [line for line in lines if line.startswith("case.yaml:")]
    assert len(problems) == 1, lines
    assert problems[0].startswith("case.yaml:9: key 'use_peepholes': form keras_lstm (named in 'forms' on line 8) ")


# -- the top level ----------------------------------------------------------------------------------------


def test_a_top_level_scalar_or_list_is_refused_on_its_line():
    assert errors("hello\n") == [
        "case.yaml:1: must be a mapping (one case) or 'cases:' (a list), got string 'hello'",
        quoted(1, "hello"),
    ]
    assert errors("# a comment\n# another\n- name: c\n")[0] == (
        "case.yaml:3: must be a mapping (one case) or 'cases:' (a list), got a list"
    )


def test_cases_beside_other_keys_and_an_empty_cases_list():
    assert errors("name: c\ncases: []\n") == [
        "case.yaml:1: key 'name': a file with 'cases:' holds nothing else at the top level",
        quoted(1, "name: c"),
        "case.yaml:2: key 'cases': must be a non-empty list of cases",
        quoted(2, "cases: []"),
    ]


def test_every_case_of_a_list_is_checked_after_one_that_is_not_a_mapping():
    text = "cases:\n  - just_a_name\n  - name: b\n    input_depth: 0\n"
    assert [line for line in errors(text) if line.startswith("case.yaml:")] == [
        "case.yaml:2: key 'cases': each case must be a mapping, got string 'just_a_name'",
        "case.yaml:3: key 'num_units': is required but missing",
        "case.yaml:3: key 'timesteps': is required but missing",
        "case.yaml:3: key 'batch': is required but missing",
        "case.yaml:3: key 'seed': is required but missing",
        "case.yaml:4: key 'input_depth': must be at least 1, got 0",
    ]


# -- YAML itself ------------------------------------------------------------------------------------------


def test_one_document_per_file():
    assert errors("name: a\n---\nname: b\n") == [
        "case.yaml:2: a case file holds one YAML document; put several cases under 'cases:'",
        quoted(2, "---"),
    ]


def test_a_control_character_is_named_with_its_line():
    with pytest.raises(yamlnodes.YamlError) as err:
        yamlnodes.load("name: a\x07\n")
    assert err.value.line == 1 and err.value.key is None
    assert str(err.value) == err.value.message == "holds the character U+0007, which YAML does not allow in a file"
    assert errors("name: a\ninput_depth: 3\nseed: \x00\n") == [
        "case.yaml:3: holds the character U+0000, which YAML does not allow in a file",
        quoted(3, "seed: \x00"),
    ]


def test_a_tag_on_a_mapping_or_a_sequence_is_refused_on_its_line():
    for value in ("!custom {num_classes: 2}", "!!omap [{num_classes: 2}]"):
        tag = value.split()[0].replace("!!", "tag:yaml.org,2002:")
        assert errors(MINIMAL + f"head: {value}\n") == [
            f"case.yaml:7: YAML tag {tag!r} is not allowed: case files hold plain data only",
            quoted(7, f"head: {value}"),
        ]


def test_a_key_that_is_not_a_string():
    assert errors(MINIMAL + "1: one\n") == ["case.yaml:7: mapping key 1 is not a string", quoted(7, "1: one")]


def test_a_merge_key_of_a_scalar():
    assert errors(MINIMAL + "<<: 3\n") == [
        "case.yaml:7: key '<<': a '<<' merge key takes a mapping or a list of mappings (e.g. <<: *defaults)",
        quoted(7, "<<: 3"),
    ]


def test_each_merged_mapping_of_a_merge_key_is_merged():
    root = yamlnodes.load("a: &a {x: 1}\nb: &b {y: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n")
    c = root.values["c"]
    assert c.values == {"z": 3, "x": 1, "y": 2}
    assert c.key_lines == {"z": 5, "x": 1, "y": 2}  # a merged key keeps the line it was written on


def _expanding(extra_zeros: int) -> str:
    # the outer list (1 value) holds a list of 99 zeros (100 values), 998 aliases of it (99 800 values)
    # and extra_zeros zeros: 99 901 + extra_zeros values
    inner = "&x [" + ", ".join(["0"] * 99) + "]"
    return "[" + ", ".join([inner] + ["*x"] * 998 + ["0"] * extra_zeros) + "]\n"


def test_the_alias_bound_allows_exactly_max_values():
    assert yamlnodes.MAX_VALUES == 100_000
    assert len(yamlnodes.load(_expanding(99)).items) == 1 + 998 + 99  # 100 000 values
    with pytest.raises(yamlnodes.YamlError) as err:  # 100 001 values
        yamlnodes.load(_expanding(100))
    assert err.value.line == 1
    assert err.value.message == (
        "the file expands to more than 100000 values through its aliases (nested aliases, a 'billion laughs'?): "
        "share settings with one level of anchors or '<<' merge keys instead"
    )


# -- files ------------------------------------------------------------------------------------------------


def test_an_unreadable_file(tmp_path):
    path = tmp_path / "missing.yaml"
    with pytest.raises(CaseFileError) as err:
        CaseLoader().load(path)
    assert str(err.value) == f"{path}: no such file"


def test_a_name_used_in_an_earlier_file_is_quoted_where_it_is_reused(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text(MINIMAL.replace("name: c", "name: shared"))
    second.write_text(
        "# the same name again\ncases:\n"
        + "".join(
            f"  {'-' if k == 0 else ' '} {line}\n"
            for k, line in enumerate(MINIMAL.replace("name: c", "name: shared").splitlines())
        )
    )
    loader = CaseLoader()
    loader.load(first)
    with pytest.raises(CaseFileError) as err:
        loader.load(second)
    assert str(err.value).splitlines() == [
        f"{second}:3: key 'name': 'shared' is already the name of a case in {first}:1",
        quoted(3, "  - name: shared"),
    ]


def test_case_files_finds_yaml_and_yml_under_every_folder_and_takes_files_as_given(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    (one / "sub").mkdir(parents=True)
    (one / "folder.yaml").mkdir()  # a folder is not a case file, whatever its name
    two.mkdir()
    for name in ("one/a.yaml", "one/sub/b.yml", "one/notes.txt", "two/d.yaml", "given.txt"):
        (tmp_path / name).write_text("")
    found = case_files([two, one, tmp_path / "given.txt"])
    assert found == sorted([one / "a.yaml", one / "sub" / "b.yml", two / "d.yaml", tmp_path / "given.txt"])
    assert case_files([tmp_path / "given.txt"]) == [tmp_path / "given.txt"]
