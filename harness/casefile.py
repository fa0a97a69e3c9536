"""Reading and validating case files.

Over 400 lines, on purpose: every rule of the format (types and limits from harness.spec, the combinations
no form can run, the sizes and the sequence rules), each a few lines that must name the file, the line and
the key, read best together, against one another.

A file holds one case (a mapping with ``name``) or a list of cases under ``cases:``. Every problem is a
:class:`CaseFileError` that names the file, the line and the key, and quotes the line. Nothing is
defaulted silently: the only defaults are the ones the schema states (``dtypes``, ``forget_bias``,
``forms``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from lstm_equiv.harness import safeio, spec, yamlnodes
from lstm_equiv.harness.cells import spoken
from lstm_equiv.harness.forms import FORMS
from lstm_equiv.harness.spec import FIELDS, Field


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a case file."""

    line: int
    key: str | None
    message: str


class CaseFileError(Exception):
    """A case file that cannot be used, with every problem found in it."""

    def __init__(self, path: Path, problems: list, text: str = ""):
        self.path, self.problems = Path(path), problems
        self._lines = text.splitlines()
        super().__init__(self.render())

    def render(self) -> str:
        """``file:line: key 'k': message`` for every problem, each followed by the quoted line."""
        out = []
        for p in self.problems:
            where = f"{self.path}:{p.line}" if p.line else f"{self.path}"
            key = f" key {p.key!r}:" if p.key else ""
            out.append(f"{where}:{key} {p.message}")
            if 0 < p.line <= len(self._lines):
                out.append(f"    {p.line:4d} | {self._lines[p.line - 1]}")
        return "\n".join(out)


@dataclass(frozen=True)
class Case:
    """One validated case, with where it was written."""

    name: str
    input_depth: int
    num_units: int
    timesteps: int
    batch: int
    seed: int
    dtypes: tuple
    forget_bias: float
    weight_scale: float
    input_scale: float
    forms: tuple  # the forms this case runs: those it names, or every form that can express it
    activation: str
    recurrent_activation: str
    use_peepholes: bool
    num_proj: int | None
    cell_clip: float | None
    proj_clip: float | None
    gate_clip: float | None
    input_forget: bool
    go_backwards: bool
    bidirectional: str | None  # the merge mode, or None: one direction
    sequence_lengths: tuple | None
    initial_state: str  # zeros, random
    stateful_chunks: int | None
    layers: int
    cell: str  # lstm, gru
    reset_after: bool  # GRU: the reset gate after the recurrent product
    num_classes: int | None
    weights: Path | None  # per-gate .npz the forms run on instead of seeded random weights
    checks: tuple  # forward, gradients
    loss: str  # outputs, last_output
    tolerance: dict  # dtype -> atol override
    tolerance_reason: str | None
    expect_undecided: str | None  # why no dtype is expected to decide this case (its undecided items exit 0)
    description: str
    path: Path
    line: int

    @property
    def h_depth(self) -> int:
        """The width of h: num_proj with a projection, else num_units."""
        return self.num_proj or self.num_units

    @property
    def directions(self) -> int:
        """Cells per layer: 2 when bidirectional."""
        return 1 if self.bidirectional is None else 2

    @property
    def cells(self) -> int:
        """Cells in all: layers x directions, in the order layer by layer, forward before backward."""
        return self.layers * self.directions

    @property
    def output_width(self) -> int:
        """The width of what the network outputs: h_depth, twice that for a concat (or none) merge."""
        return self.h_depth * (2 if self.bidirectional in ("concat", "none") else 1)

    def cell_input_depth(self, k: int) -> int:
        """The width of what cell ``k`` reads: x for the first layer, the merged outputs below it after."""
        return self.input_depth if k < self.directions else self.output_width

    def cell_name(self, k: int) -> str:
        """``layer 2 backward``; empty for a one-cell case."""
        if self.cells == 1:
            return ""
        layer = f"layer {k // self.directions + 1}"
        return layer if self.directions == 1 else f"{layer} {('forward', 'backward')[k % 2]}"

    @property
    def where(self) -> str:
        """``file:line`` of the case."""
        return f"{self.path}:{self.line}"


def _typo_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) that turn ``a`` into ``b``."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def suggest(word: str, options) -> str | None:
    """The option ``word`` is most likely a typo of: a few edits away, or a part of its name."""
    scored = sorted((_typo_distance(word, o), o) for o in options)
    if scored and scored[0][0] <= max(1, len(word) // 4):
        return scored[0][1]
    parts = [o for o in options if len(word) >= 4 and (word in o or o in word)]
    return parts[0] if len(parts) == 1 else None


def _type_ok(f: Field, value) -> bool:
    if f.type == "boolean":
        return isinstance(value, bool)
    if f.type == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if f.type == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if f.type == "string":
        return isinstance(value, str)
    if f.type == "array":
        return isinstance(value, yamlnodes.Sequence)
    return isinstance(value, yamlnodes.Mapping)


_YAML_TYPE = {
    int: "integer",
    float: "number",
    bool: "boolean",
    str: "string",
    type(None): "null",
    yamlnodes.Sequence: "list",
    yamlnodes.Mapping: "mapping",
}


def _describe(value) -> str:
    kind = _YAML_TYPE.get(type(value), type(value).__name__)
    if isinstance(value, (yamlnodes.Sequence, yamlnodes.Mapping)):
        return f"a {kind}"
    return f"{kind} {value!r}"


def _check(f: Field, value, key: str, line: int, problems: list):
    """Validate ``value`` against ``f``; return it as plain data (None if it is invalid)."""
    if not _type_ok(f, value):
        hint = ""
        if f.type == "number" and isinstance(value, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?[eE][-+]?\d+", value):
            hint = " (YAML 1.1 reads an exponent without a dot as a string: write e.g. 1.0e-5)"
        problems.append(
            Problem(
                line, key, f"must be {'an' if f.type[0] in 'aeiou' else 'a'} {f.type}, got {_describe(value)}{hint}"
            )
        )
        return None
    if f.type == "boolean":
        return value
    if f.type in ("integer", "number"):
        if not math.isfinite(value):  # YAML's .nan and .inf: every comparison with NaN is False
            problems.append(Problem(line, key, f"must be a finite number, got {value!r}"))
            return None
        if f.minimum is not None and value < f.minimum:
            problems.append(Problem(line, key, f"must be at least {f.minimum:g}, got {value!r}"))
            return None
        if f.maximum is not None and value > f.maximum:
            problems.append(Problem(line, key, f"must be at most {f.maximum:g}, got {value!r}"))
            return None
        if f.exclusive_minimum is not None and value <= f.exclusive_minimum:
            problems.append(Problem(line, key, f"must be greater than {f.exclusive_minimum:g}, got {value!r}"))
            return None
        return value
    if f.type == "string":
        if f.enum is not None and value not in f.enum:
            close = suggest(value, f.enum)
            hint = f"; did you mean {close!r}?" if close else ""
            problems.append(Problem(line, key, f"must be one of {', '.join(f.enum)}, got {value!r}{hint}"))
            return None
        if f.pattern is not None and not re.fullmatch(f.pattern, value):  # '$' alone would let "name\n" through
            problems.append(Problem(line, key, f"must match {f.pattern} (letters, digits, _), got {value!r}"))
            return None
        if f.max_length is not None and len(value) > f.max_length:
            problems.append(Problem(line, key, f"must be at most {f.max_length} characters long, got {len(value)}"))
            return None
        if f.min_length is not None and len(value.strip()) < f.min_length:
            problems.append(Problem(line, key, "must not be empty"))
            return None
        return value
    if f.type == "array":
        if f.min_items is not None and len(value.items) < f.min_items:
            problems.append(Problem(line, key, f"must have at least {f.min_items} item(s)"))
            return None
        items = [_check(f.items, v, key, vline, problems) for v, vline in zip(value.items, value.item_lines)]
        if None in items:
            return None
        if f.unique_items and len(set(items)) != len(items):
            problems.append(Problem(line, key, f"lists an item twice: {items}"))
            return None
        return tuple(items)
    return _check_object(f.fields, value, key, problems, line, f.min_properties)


def _check_object(
    fields: dict,
    mapping: yamlnodes.Mapping,
    where: str | None,
    problems: list,
    line: int = 0,
    min_properties: int | None = None,
):
    """Validate a mapping against ``fields``: unknown keys (with a suggestion), required keys, values."""
    out, before, meant = {}, len(problems), set()
    for key, value in mapping.values.items():
        qual = f"{where}.{key}" if where else key
        if key not in fields:
            close = suggest(key, fields)
            meant.add(close)
            hint = f"; did you mean {close!r}?" if close else f"; known keys: {', '.join(fields)}"
            problems.append(Problem(mapping.key_lines[key], qual, f"unknown key{hint}"))
            continue
        out[key] = _check(fields[key], value, qual, mapping.key_lines[key], problems)
    for key, f in fields.items():
        if f.required and key not in mapping.values and key not in meant:  # a typo is reported once
            qual = f"{where}.{key}" if where else key
            problems.append(Problem(line or mapping.line, qual, "is required but missing"))
    optional = [k for k, f in fields.items() if not f.required]
    if len(problems) == before and min_properties and len(mapping.values) < min_properties:
        problems.append(Problem(line or mapping.line, where, f"needs at least one of {', '.join(optional)}"))
    return out if len(problems) == before else None


def _to_case(values: dict, mapping: yamlnodes.Mapping, path: Path, problems: list):
    """Cross-field rules, then the Case."""
    need = spec.memory_bytes(values)
    if need > spec.MEMORY_BOUND_BYTES:
        key = max(("batch", "timesteps", "num_units", "input_depth"), key=lambda k: values[k])
        problems.append(
            Problem(
                mapping.key_lines.get(key, mapping.line),
                key,
                f"the case would need about {need / 2**30:.1f} GiB of arrays "
                f"(batch x timesteps x (input_depth + 12 num_units) x 8 bytes); "
                f"the bound is {spec.MEMORY_BOUND_BYTES // 2**30} GiB",
            )
        )
        return None
    if "proj_clip" in values and "num_proj" not in values:
        problems.append(
            Problem(mapping.key_lines["proj_clip"], "proj_clip", "needs num_proj: only a projected h can be clipped")
        )
        return None
    options = {k: values.get(k, spec.DEFAULTS[k]) for k in spec.OPTIONS}
    options["bidirectional"] = (values.get("bidirectional") or {}).get("merge_mode")
    if "sequence_lengths" in values:
        options["sequence_lengths"] = tuple(values["sequence_lengths"])
    if not _sequence_rules(values, mapping, problems):
        return None
    weights = _weights_file(values, options, mapping, path, problems)
    if weights is False:
        return None
    forms = _forms_for(values, options, mapping, problems)
    if forms is None:
        return None
    tolerance = values.get("tolerance") or {}
    for dtype in spec.DTYPES:
        if dtype in tolerance and dtype not in values.get("dtypes", spec.DTYPES):
            problems.append(
                Problem(
                    mapping.values["tolerance"].key_lines[dtype],
                    f"tolerance.{dtype}",
                    f"overrides a dtype the case does not run (dtypes: {list(values['dtypes'])})",
                )
            )
            return None
    return Case(
        name=values["name"],
        input_depth=values["input_depth"],
        num_units=values["num_units"],
        timesteps=values["timesteps"],
        batch=values["batch"],
        seed=values["seed"],
        dtypes=tuple(values.get("dtypes", spec.DTYPES)),
        forget_bias=float(values.get("forget_bias", 1.0)),
        weight_scale=float(values.get("weight_scale", 1.0)),
        input_scale=float(values.get("input_scale", 1.0)),
        forms=forms,
        **options,
        checks=tuple(values.get("checks", FIELDS["checks"].default)),
        loss=values.get("loss", FIELDS["loss"].default),
        num_classes=(values.get("head") or {}).get("num_classes"),
        weights=weights,
        tolerance={d: float(v) for d, v in tolerance.items() if d in spec.DTYPES},
        tolerance_reason=tolerance.get("reason"),
        expect_undecided=values.get("expect_undecided"),
        description=values.get("description", ""),
        path=path,
        line=mapping.line,
    )


def _sequence_rules(values: dict, mapping, problems: list) -> bool:
    """The sequence keys against the sizes and each other; False (the problem recorded) when they clash."""
    line = lambda key: mapping.key_lines[key]
    before = len(problems)
    lengths = values.get("sequence_lengths")
    if lengths is not None:
        if len(lengths) != values["batch"]:
            problems.append(
                Problem(
                    line("sequence_lengths"),
                    "sequence_lengths",
                    f"has {len(lengths)} lengths; the case has batch {values['batch']} (one length per batch row)",
                )
            )
        elif max(lengths) > values["timesteps"]:
            problems.append(
                Problem(
                    line("sequence_lengths"),
                    "sequence_lengths",
                    f"a length of {max(lengths)} exceeds timesteps {values['timesteps']}",
                )
            )
    unsupported = "unsupported combination"
    cell = values.get("cell", "lstm")
    if cell != "lstm":
        for key, why in (
            ("weights", "a weights file holds an LSTM's per-gate weights"),
            ("forget_bias", f"it is the LSTM's forget gate bias; {spoken(cell)} has no forget gate"),
        ):
            if key in values:
                problems.append(Problem(line(key), key, f"{unsupported} with cell: {cell}: {why}"))
    if values.get("reset_after") and values.get("cell", "lstm") != "gru":
        problems.append(
            Problem(line("reset_after"), "reset_after", "applies to cell: gru only (an LSTM has no reset gate)")
        )
    if values.get("go_backwards") and ("bidirectional" in values or values.get("layers", 1) > 1):
        other = "bidirectional" if "bidirectional" in values else "layers"
        problems.append(
            Problem(
                line("go_backwards"),
                "go_backwards",
                f"{unsupported} with {other}: go_backwards is "
                "one reversed layer (a bidirectional layer already runs its backward cell reversed)",
            )
        )
    chunks = values.get("stateful_chunks")
    if chunks is not None and chunks > values["timesteps"]:
        problems.append(
            Problem(
                line("stateful_chunks"),
                "stateful_chunks",
                f"{chunks} chunks of a sequence of {values['timesteps']} timesteps: each chunk needs at least one",
            )
        )
    for other in ("bidirectional", "go_backwards"):
        if chunks is not None and values.get(other):
            problems.append(
                Problem(
                    line("stateful_chunks"),
                    "stateful_chunks",
                    f"{unsupported} with {other}: a "
                    "reversed pass over chunks is not a reversed pass over the whole sequence",
                )
            )
    if values.get("layers", 1) > 1 and (values.get("bidirectional") or {}).get("merge_mode") == "none":
        problems.append(
            Problem(
                line("layers"),
                "layers",
                f"{unsupported} with bidirectional merge_mode none: the next layer would get two outputs",
            )
        )
    if chunks is not None and lengths is not None:
        problems.append(
            Problem(
                line("stateful_chunks"),
                "stateful_chunks",
                f"{unsupported} with sequence_lengths: "
                "a padded row's state across chunks is not defined the same way by the forms",
            )
        )
    if "weights" in values and ("bidirectional" in values or values.get("layers", 1) > 1):
        problems.append(
            Problem(
                line("weights"),
                "weights",
                f"{unsupported} with "
                f"{'bidirectional' if 'bidirectional' in values else 'layers'}: a weights file holds "
                "one cell's weights",
            )
        )
    return len(problems) == before


def _weights_file(values: dict, options: dict, mapping, path: Path, problems: list):
    """The case's ``weights:`` .npz (None when it has none), checked against the case's shapes, forget_bias
    and options; False (with the problem recorded) when it does not fit."""
    if "weights" not in values:
        return None
    from lstm_equiv.harness import npz

    line, file = mapping.key_lines["weights"], (Path(path).parent / values["weights"])
    try:
        params, forget_bias, stored = npz.load(file)
    except npz.NpzError as err:
        problems.append(Problem(line, "weights", str(err)))
        return False
    h_depth = options["num_proj"] or values["num_units"]
    want = {
        "input_depth": values["input_depth"],
        "num_units": values["num_units"],
        "h_depth": h_depth,
        "use_peepholes": options["use_peepholes"],
        "num_proj": options["num_proj"],
    }
    got = {
        "input_depth": params.input_depth,
        "num_units": params.num_units,
        "h_depth": params.h_depth,
        "use_peepholes": params.peephole is not None,
        "num_proj": None if params.projection is None else params.projection.shape[1],
    }
    stored = {**stored, "forget_bias": forget_bias}
    case = {**options, "forget_bias": float(values.get("forget_bias", FIELDS["forget_bias"].default))}
    for key, value in stored.items():
        if key in ("activation", "recurrent_activation") and key in options:
            value = value.replace("hard_sigmoid_0.2", "hard_sigmoid").replace("hard_sigmoid_1/6", "hard_sigmoid")
        if key in case and value != case[key]:
            got[key], want[key] = value, case[key]
    wrong = [k for k in got if got[k] != want.get(k)]
    if wrong:
        problems.append(
            Problem(
                line,
                "weights",
                f"{file} does not fit the case: "
                + "; ".join(f"{k} is {got[k]!r} in the file but {want[k]!r} in the case" for k in wrong),
            )
        )
        return False
    return file


def _forms_for(values: dict, options: dict, mapping, problems: list):
    """The forms named (each must express every option set), or every form that can express them."""
    if "forms" in values:
        before = len(problems)
        for name in values["forms"]:
            for key, why in FORMS[name].cannot_express(options):
                # a key left at its default (reset_after: false for torch_gru) is reported on the forms line
                line = mapping.key_lines.get(key, mapping.key_lines["forms"])
                problems.append(
                    Problem(line, key, f"form {name} (named in 'forms' on line {mapping.key_lines['forms']}) {why}")
                )
        return None if len(problems) > before else values["forms"]
    forms = tuple(name for name in spec.FORM_NAMES if not FORMS[name].cannot_express(options))
    if not forms:
        set_keys = [k for k in spec.OPTIONS if options[k] != spec.DEFAULTS[k]]
        problems.append(
            Problem(
                mapping.key_lines[set_keys[0]],
                set_keys[0],
                f"no form can express {', '.join(f'{k}={options[k]!r}' for k in set_keys)} together",
            )
        )
        return None
    return forms


def parse(path: Path, data: bytes) -> list:
    """Validate one file's bytes; return its cases or raise :class:`CaseFileError`."""
    path = Path(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise CaseFileError(
            path,
            [Problem(line, None, f"is not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})")],
            data.decode("utf-8", "replace"),
        ) from None
    try:
        root = yamlnodes.load(text)
    except yamlnodes.YamlError as err:
        raise CaseFileError(path, [Problem(err.line, err.key, err.message)], text) from None
    if root is None:
        raise CaseFileError(
            path,
            [Problem(0, None, "is empty: write one case (a mapping with 'name') or a list of cases under 'cases:'")],
            text,
        )
    if not isinstance(root, yamlnodes.Mapping):
        raise CaseFileError(
            path,
            [
                Problem(
                    getattr(root, "line", 1),
                    None,
                    f"must be a mapping (one case) or 'cases:' (a list), got {_describe(root)}",
                )
            ],
            text,
        )
    problems = []
    if "cases" in root.values:
        extra = [k for k in root.values if k != "cases"]
        if extra:
            problems.append(
                Problem(root.key_lines[extra[0]], extra[0], "a file with 'cases:' holds nothing else at the top level")
            )
        seq = root.values["cases"]
        if not isinstance(seq, yamlnodes.Sequence) or not seq.items:
            problems.append(Problem(root.key_lines["cases"], "cases", "must be a non-empty list of cases"))
            raise CaseFileError(path, problems, text)
        entries = seq.items
    else:
        entries = [root]
    cases = []
    lines = seq.item_lines if "cases" in root.values else [root.line]
    for entry, entry_line in zip(entries, lines):
        if not isinstance(entry, yamlnodes.Mapping):
            problems.append(Problem(entry_line, "cases", f"each case must be a mapping, got {_describe(entry)}"))
            continue
        values = _check_object(FIELDS, entry, None, problems)
        if values is not None:
            case = _to_case(values, entry, path, problems)
            if case is not None:
                cases.append(case)
    seen = {}
    for case in cases:
        if case.name in seen:
            problems.append(
                Problem(
                    case.line, "name", f"{case.name!r} is already the name of the case on line {seen[case.name].line}"
                )
            )
        seen.setdefault(case.name, case)
    if problems:
        raise CaseFileError(path, sorted(problems, key=lambda p: p.line), text)
    return cases


class CaseLoader:
    """Loads case files one at a time and refuses a name that an earlier file already used."""

    def __init__(self):
        self._names = {}  # name -> Case

    def load(self, path) -> list:
        """The cases of ``path``; raises :class:`CaseFileError` for any problem, duplicates included."""
        path = Path(path)
        try:
            data = safeio.read_bytes(path, "case file")  # regular files only, at most 1 MiB
        except safeio.InputError as err:
            raise CaseFileError(path, [Problem(0, None, str(err).removeprefix(f"{path}: "))]) from None
        cases = parse(path, data)
        clashes = [c for c in cases if c.name in self._names and self._names[c.name].path != path]
        if clashes:
            text = data.decode("utf-8")
            raise CaseFileError(
                path,
                [
                    Problem(c.line, "name", f"{c.name!r} is already the name of a case in {self._names[c.name].where}")
                    for c in clashes
                ],
                text,
            )
        for c in cases:
            self._names[c.name] = c
        return cases


def case_files(paths) -> list:
    """Every ``*.yaml`` / ``*.yml`` file under ``paths`` (files are taken as given), sorted."""
    found = []
    for p in map(Path, paths):
        if p.is_dir():
            # not is_file(): a FIFO or a device named *.yaml is reported as such by the loader, not skipped
            found += [f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and not f.is_dir()]
        else:
            found.append(p)
    return sorted(set(found))
