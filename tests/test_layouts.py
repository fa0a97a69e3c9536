"""Layouts compose and split exactly, and put each gate where the real forms keep it."""

from dataclasses import replace

import numpy as np
import pytest

from lstm_equiv.harness import layouts
from lstm_equiv.harness.casefile import parse
from lstm_equiv.harness.inputs import make_inputs
from lstm_equiv.reference import GATES

CASE = b"name: layout\ninput_depth: 5\nnum_units: 3\ntimesteps: 2\nbatch: 1\nseed: 42\n"
(_case,) = parse("layout.yaml", CASE)
PARAMS = make_inputs(_case, "float64").params
(_full,) = parse("full.yaml", CASE + b"use_peepholes: true\nnum_proj: 2\nforms: [lstm_cell]\n")
FULL = make_inputs(_full, "float64").params


@pytest.mark.parametrize("layout", layouts.LAYOUTS.values(), ids=lambda layout: layout.name)
def test_compose_then_split_is_the_identity(layout):
    tensors = layout.compose(PARAMS, forget_bias=1.5)
    assert {k: v.shape for k, v in tensors.items()} == layout.shapes(5, 3)
    back = layout.split(tensors, 5, forget_bias=1.5)
    for part, g, a in back.items():
        if layout.forget_bias == layouts.STORED and (part, g) == ("b", "f"):
            # (b + 1.5) - 1.5 rounds: the stored form cannot give back b['f'] bit for bit
            np.testing.assert_allclose(a, PARAMS.b["f"], rtol=0, atol=4 * np.finfo(float).eps * 2.5)
        else:
            np.testing.assert_array_equal(a, getattr(PARAMS, part)[g], err_msg=f"{part}[{g}]")


def test_basic_lstm_cell_kernel_is_x_rows_then_h_rows_blocks_ijfo():
    t = layouts.BASIC_LSTM_CELL.compose(PARAMS, forget_bias=1.0)
    assert t["kernel"].shape == (5 + 3, 4 * 3) and t["bias"].shape == (4 * 3,)
    for k, g in enumerate("ijfo"):
        np.testing.assert_array_equal(t["kernel"][:5, 3 * k : 3 * k + 3], PARAMS.V[g])
        np.testing.assert_array_equal(t["kernel"][5:, 3 * k : 3 * k + 3], PARAMS.W[g])
        np.testing.assert_array_equal(t["bias"][3 * k : 3 * k + 3], PARAMS.b[g])  # forget_bias is not stored


def test_keras_blocks_are_ifco_with_forget_bias_in_the_f_block():
    t = layouts.KERAS.compose(PARAMS, forget_bias=1.0)
    for k, g in enumerate("ifjo"):
        np.testing.assert_array_equal(t["kernel"][:, 3 * k : 3 * k + 3], PARAMS.V[g])
        np.testing.assert_array_equal(t["recurrent_kernel"][:, 3 * k : 3 * k + 3], PARAMS.W[g])
        np.testing.assert_array_equal(t["bias"][3 * k : 3 * k + 3], PARAMS.b[g] + (1.0 if g == "f" else 0.0))


def test_a_wrong_gate_order_does_not_split_back_to_the_same_params():
    wrong = replace(layouts.KERAS, gate_order=("i", "j", "f", "o"))
    back = wrong.split(layouts.KERAS.compose(PARAMS, 1.0), 5, 1.0)
    assert not np.array_equal(back.V["f"], PARAMS.V["f"])
    np.testing.assert_array_equal(back.V["f"], PARAMS.V["j"])


def test_gate_order_must_be_a_permutation():
    with pytest.raises(ValueError, match="not a permutation"):
        replace(layouts.KERAS, gate_order=("i", "i", "f", "o"))


def test_where_names_rows_and_columns():
    assert layouts.BASIC_LSTM_CELL.where("W", "f", 12, 64) == "kernel rows 12:76, columns 128:192"
    assert layouts.KERAS.where("V", "f", 12, 64) == "kernel columns 64:128"
    assert layouts.KERAS.where("b", "o", 12, 64) == "bias[192:256]"


def test_inputs_are_random_and_differ_per_gate():
    for part in ("V", "W", "b"):
        blocks = getattr(PARAMS, part)
        for a in GATES:
            assert np.unique(blocks[a]).size == blocks[a].size  # no constant entries
            for b in GATES:
                assert a == b or not np.allclose(blocks[a], blocks[b])


def test_peepholes_and_projection_are_named_tensors_of_the_cell_layout():
    t = layouts.BASIC_LSTM_CELL.compose(FULL, forget_bias=1.0)
    assert {k: v.shape for k, v in t.items()} == layouts.BASIC_LSTM_CELL.shapes(5, 3, num_proj=2, use_peepholes=True)
    assert t["kernel"].shape == (5 + 2, 4 * 3)  # h rows are num_proj wide
    np.testing.assert_array_equal(t["w_f_diag"], FULL.peephole["f"])
    np.testing.assert_array_equal(t["projection/kernel"], FULL.projection)
    back = layouts.BASIC_LSTM_CELL.split(t, 5, forget_bias=1.0)
    np.testing.assert_array_equal(back.projection, FULL.projection)
    for g in "ifo":
        np.testing.assert_array_equal(back.peephole[g], FULL.peephole[g])


def test_a_layout_without_projection_refuses_one():
    with pytest.raises(ValueError, match="has no projection"):
        layouts.BLOCK_LSTM.compose(FULL, forget_bias=1.0)


def test_every_layout_lives_in_its_frameworks_folder_and_every_form_holds_a_registered_one():
    """The layouts are data in harness/forms/<framework>/layouts.py, each a CellLayout (the one interface
    the engine uses); harness.layouts gathers them by cell and names them; every form's layout is one of
    them."""
    import importlib

    from lstm_equiv.harness.forms import FORMS, FRAMEWORKS

    registered = {**layouts.LAYOUTS, **layouts.GRU_LAYOUTS, **layouts.RNN_LAYOUTS}
    homes = {}
    for framework in FRAMEWORKS:
        for layout in importlib.import_module(f"lstm_equiv.harness.forms.{framework}.layouts").LAYOUTS:
            assert isinstance(layout, layouts.CellLayout), layout.name
            assert layout.name not in homes, f"{layout.name} in {homes.get(layout.name)} and {framework}"
            homes[layout.name] = framework
    assert sorted(homes) == sorted(registered)
    for name in ("KERAS", "BASIC_LSTM_CELL", "TORCH_GRU", "ONNX_RNN"):
        layout = getattr(layouts, name)
        home = importlib.import_module(f"lstm_equiv.harness.forms.{homes[layout.name]}.layouts")
        assert getattr(home, name) is layout, name
    for form in FORMS.values():
        for reset_after in (False, True)[: 2 if form.cell == "gru" else 1]:
            held = form.layout_for(_Case(reset_after))
            if held is not None:
                assert registered.get(held.name) is held, (form.name, held.name)
    assert not hasattr(layouts, "NOT_A_LAYOUT")


class _Case:
    def __init__(self, reset_after):
        self.reset_after = reset_after


def test_importing_the_forms_package_builds_no_form():
    """harness.forms and each framework package build their forms only when FORMS is first asked for, so
    a framework's layouts can be read before its forms import the cells (which read the layouts)."""
    import subprocess
    import sys

    probe = (
        "import sys, lstm_equiv.harness.forms, lstm_equiv.harness.layouts as layouts; layouts.KERAS; "
        "print(sorted(m.split('.')[-1] for m in sys.modules if m.startswith('lstm_equiv.harness.forms.') "
        "and not m.endswith('layouts')))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['keras', 'onnx', 'tf', 'torch']"


def test_an_attribute_error_while_building_a_registry_is_not_read_as_a_missing_name(monkeypatch):
    """Inside a module __getattr__, an AttributeError raised while building the registry would read as
    "no attribute LAYOUTS", its cause lost: it comes out as a RuntimeError naming it."""

    def broken():
        raise AttributeError("module 'lstm_equiv.harness.forms.tf.layouts' has no attribute 'GRU_CELL'")

    monkeypatch.setattr(layouts, "_framework_modules", broken)
    monkeypatch.delitem(vars(layouts), "GRU_LAYOUTS", raising=False)
    with pytest.raises(RuntimeError, match="has no attribute 'GRU_CELL'"):
        _ = layouts.GRU_LAYOUTS
