"""The sequence keys: the table in docs/sequences.md of which form takes which key is the forms' own answer, and
tools/padded_steps.py shows each form's own rule from a real run."""

import re
import sys
from pathlib import Path

import pytest

from lstm_equiv.harness import runs
from lstm_equiv.harness.explain import _EXAMPLE, _SEQUENCE_KEYS
from lstm_equiv.harness.forms import FORMS
from lstm_equiv.harness.spec import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent


def _readme_table() -> dict:
    """form -> {key: cell text} from the table of sequence keys in docs/sequences.md."""
    text = (ROOT / "docs" / "sequences.md").read_text()
    start = text.index("| form | go_backwards | bidirectional | sequence_lengths")
    rows = {}
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        for form in re.findall(r"`([a-z0-9_]+)`", cells[0]):
            rows[form] = dict(zip(_SEQUENCE_KEYS, cells[1:]))
    return rows


def test_the_readme_table_of_sequence_keys_is_what_the_forms_express():
    rows = _readme_table()
    assert sorted(rows) == sorted(FORMS)
    for form, cells in rows.items():
        for key, cell in cells.items():
            base = {**DEFAULTS, "cell": FORMS[form].cell}  # a GRU form with a reset position it computes
            base.update({"reset_after": FORMS[form].reset_after_values[0]} if FORMS[form].cell == "gru" else {})
            can = not FORMS[form].cannot_express({**base, key: _EXAMPLE[key]})
            assert can == (not cell.startswith("—")), (form, key, cell)


def test_the_padded_steps_table_shows_each_forms_own_rule(make_case):
    sys.path.insert(0, str(ROOT / "tools"))
    import padded_steps

    case = make_case(name="padded_table", dtypes="float32", extra="checks: [forward]\nsequence_lengths: [6, 2]\n")
    lines = padded_steps.table(case)
    rows = {line.split("|")[1].strip(" `"): line for line in lines if line.startswith("| `")}
    installed = [n for n in case.forms if not FORMS[n].missing() and "float32" in FORMS[n].dtypes]
    assert sorted(rows) == sorted(installed)
    for form, line in rows.items():
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[1] == ("last output again" if form.startswith("keras") else "zeros"), line
        last_valid, padded = cells[2], cells[3:]
        assert "reference" not in line  # TF's values are the reference's for that form
        assert all(p == (last_valid if form.startswith("keras") else "0.0000") for p in padded), line


def test_a_gradient_leaking_through_the_padding_fails_however_small(make_case):
    """d loss / d x past a row's length must be exactly 0: a leak of 1e-30 fails grad_x, naming row and step."""
    from dataclasses import replace

    import numpy as np

    from lstm_equiv.harness import engine

    case = make_case(name="leak", dtypes="float64", extra="sequence_lengths: [6, 3]\n")
    item = engine.Item(case, "keras_lstm", "float64", "grad_x")
    assert engine.evaluate(item).status == "pass"
    run = engine.read(case, "keras_lstm", "float64")
    assert np.all(run.form_out.grads["x"][1, 3:] == 0.0)  # TF's own: exactly zero
    dx = run.form_out.grads["x"].copy()
    dx[1, 4, 2] = 1e-30
    leaky = replace(run.tf, form_out=replace(run.form_out, grads={**run.form_out.grads, "x": dx}), reads={})
    result = engine.judge(item, runs.read_back(case, FORMS["keras_lstm"], leaky, engine.IDENTITY), engine.IDENTITY)
    assert result.status == "fail"
    assert "leaked through the padding: d loss / d x of row 1 (length 3) is 1e-30 at timestep 4" in result.message


def test_every_cell_draws_its_own_weights_and_the_first_is_the_plain_cases(make_case):
    """Stacked layers and the two directions each get distinct seeded weights (and initial states, and bias
    shares); the first cell's draws are those of the same case without the sequence keys, so adding a
    key to a case leaves its first cell as it was."""
    import numpy as np

    from lstm_equiv.harness.inputs import make_inputs

    plain = make_inputs(make_case(name="plain_cells"), "float64")
    deep = make_inputs(
        make_case(name="deep_cells", extra="layers: 2\nbidirectional: {merge_mode: concat}\ninitial_state: random\n"),
        "float64",
    )
    assert len(deep.cells) == 4 and len(deep.h0) == 4 and len(deep.bias_shares) == 4
    for part, g, a in plain.params.items():
        np.testing.assert_array_equal(getattr(deep.cells[0], part)[g], a)
    np.testing.assert_array_equal(deep.x, plain.x)
    assert deep.cells[2].input_depth == 2 * deep.cells[0].num_units  # layer 2 reads [forward | backward]
    for k in range(4):
        for m in range(k):
            assert not np.array_equal(deep.cells[k].W["i"], deep.cells[m].W["i"])
            assert not np.array_equal(deep.h0[k], deep.h0[m]) and not np.array_equal(deep.c0[k], deep.c0[m])
            assert not np.array_equal(deep.bias_shares[k]["f"], deep.bias_shares[m]["f"])


def test_a_leak_at_any_padded_step_of_any_row_fails(make_case):
    """No row runs the whole sequence here; a leak of 1e-30 at each padded (row, step) in turn fails grad_x,
    naming that row and step."""
    from dataclasses import replace

    from lstm_equiv.harness import engine

    case = make_case(name="leak_all", dtypes="float64", extra="sequence_lengths: [5, 3]\n")
    item = engine.Item(case, "keras_lstm", "float64", "grad_x")
    run = engine.read(case, "keras_lstm", "float64")
    padded = [(row, step) for row, length in enumerate(case.sequence_lengths) for step in range(length, case.timesteps)]
    assert len(padded) == 4
    for row, step in padded:
        dx = run.form_out.grads["x"].copy()
        dx[row, step, step % case.input_depth] = 1e-30
        leaky = replace(run.tf, form_out=replace(run.form_out, grads={**run.form_out.grads, "x": dx}), reads={})
        result = engine.judge(item, runs.read_back(case, FORMS["keras_lstm"], leaky, engine.IDENTITY), engine.IDENTITY)
        assert result.status == "fail", (row, step)
        assert (
            f"d loss / d x of row {row} (length {case.sequence_lengths[row]}) is 1e-30 at timestep {step}"
            in result.message
        ), (row, step)


@pytest.mark.parametrize("lengths, caught", [("[5, 3]", True), ("[6, 3]", False)], ids=["no_full_row", "a_full_row"])
def test_pad_packed_sequence_without_total_length_is_caught_when_no_row_is_full(
    make_case, monkeypatch, lengths, caught
):
    """The classic PyTorch bug: pad_packed_sequence without total_length pads to the longest row, not to the
    sequence. With a full-length row it is invisible (hence cases/sequences.yaml's padded_no_full_row)."""
    from lstm_equiv.harness import engine

    if FORMS["torch_lstm"].missing():
        pytest.skip(FORMS["torch_lstm"].missing())
    import torch.nn.utils.rnn as rnn

    real = rnn.pad_packed_sequence
    monkeypatch.setattr(
        rnn,
        "pad_packed_sequence",
        lambda seq, batch_first=False, padding_value=0.0, total_length=None: real(
            seq, batch_first=batch_first, padding_value=padding_value
        ),
    )
    case = make_case(
        name=f"packed_{caught}",
        dtypes="float64",
        extra=f"sequence_lengths: {lengths}\nforms: [torch_lstm]\nchecks: [forward]\n",
    )
    result = engine.evaluate(engine.Item(case, "torch_lstm", "float64", "outputs"))
    if caught:
        assert result.status == "fail" and "Shape mismatch: form (2, 5, 4), reference (2, 6, 4)" in result.message
    else:
        assert result.status == "pass"
