"""harness/npz.py reads files users did not write: a valid file loads bit for bit, every bad one is an
NpzError whose message starts with the file and names the key, never another exception, and a file that
declares more than the weights file limit is refused before its arrays are read (bounded memory)."""

import io
import os
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lstm_equiv.harness import npz
from lstm_equiv.harness.safeio import LIMITS, MiB
from lstm_equiv.reference import GATES, PEEPHOLE_GATES, LSTMParams

ROOT = Path(__file__).resolve().parent.parent
N_IN, N, P = 3, 4, 2  # input_depth, num_units, num_proj of the test files


def _arrays(dtype="float32", peepholes=False, projection=False, seed=0) -> dict:
    """The arrays of a valid per-gate file, by key."""
    rng = np.random.default_rng(seed)
    draw = lambda *shape: rng.normal(size=shape).astype(dtype)
    arrays = {}
    for g in GATES:
        arrays.update({f"V_{g}": draw(N_IN, N), f"W_{g}": draw(P if projection else N, N), f"b_{g}": draw(N)})
    if peepholes:
        arrays.update({f"peephole_{g}": draw(N) for g in PEEPHOLE_GATES})
    if projection:
        arrays["projection"] = draw(N, P)
    return arrays


def _write(tmp_path, arrays: dict, name="w.npz") -> Path:
    """``arrays`` saved under their keys as they are (np.savez: anything goes, unlike npz.save)."""
    path = tmp_path / name
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _npy(array, **kwargs) -> bytes:
    """The .npy bytes of ``array``."""
    out = io.BytesIO()
    np.lib.format.write_array(out, np.asarray(array), **kwargs)
    return out.getvalue()


def _zip(tmp_path, members, name="w.npz", compression=zipfile.ZIP_STORED) -> Path:
    """A zip of ``members``, (name, bytes) pairs, in order (a name may come twice)."""
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of a duplicate name, which is the point of one test
        with zipfile.ZipFile(path, "w", compression) as zf:
            for member, data in members:
                zf.writestr(member, data)
    return path


def _valid_members(**kwargs) -> list:
    return [(f"{key}.npy", _npy(a)) for key, a in _arrays(**kwargs).items()]


def _refused(path, *fragments) -> str:
    """The NpzError message of loading ``path``, which starts with the path and holds every fragment."""
    with pytest.raises(npz.NpzError) as info:
        npz.load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    for fragment in fragments:
        assert fragment in message, message
    return message


# ------------------------------------------------------------------------------------ a valid file loads


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_file_written_by_save_loads_back_bit_for_bit(tmp_path, dtype):
    a = _arrays(dtype, peepholes=True, projection=True)
    info = np.finfo(dtype)
    a["V_i"][0, :3] = -0.0, info.smallest_subnormal, info.max  # the values that a careless cast would change
    part = lambda name: {g: a[f"{name}_{g}"] for g in GATES}
    params = LSTMParams(
        part("V"), part("W"), part("b"), {g: a[f"peephole_{g}"] for g in PEEPHOLE_GATES}, a["projection"]
    )
    options = {
        "activation": "relu",
        "recurrent_activation": "hard_sigmoid_1/6",
        "cell_clip": 3.0,
        "proj_clip": 0.5,
        "gate_clip": None,
        "input_forget": True,
    }
    npz.save(tmp_path / "w.npz", params, -1.25, options)
    loaded, forget_bias, stored = npz.load(tmp_path / "w.npz")
    assert forget_bias == -1.25
    assert stored == {k: v for k, v in options.items() if v is not None}  # save leaves out what is unset
    pairs = [(x, y) for (_, _, x), (_, _, y) in zip(params.items(), loaded.items(), strict=True)]
    for x, y in pairs + [(params.projection, loaded.projection)]:
        assert y.dtype == x.dtype and y.shape == x.shape and y.tobytes() == x.tobytes()
        assert y.flags.writeable  # as np.load gives them
    assert len(pairs) == 15


def test_the_shipped_weights_file_still_loads():
    params, forget_bias, options = npz.load(ROOT / "cases" / "weights" / "keras_initialised.npz")
    assert (params.input_depth, params.num_units, forget_bias) == (6, 8, 0.0)
    assert options == {"activation": "tanh", "recurrent_activation": "sigmoid"}


def test_a_valid_compressed_file_loads(tmp_path):
    path = tmp_path / "c.npz"
    with open(path, "wb") as f:
        np.savez_compressed(f, **_arrays("float64", peepholes=True), forget_bias=np.float32(1.0))
    params, forget_bias, options = npz.load(path)
    assert params.peephole is not None and params.V["o"].dtype == np.float64
    assert (forget_bias, options) == (1.0, {})


# --------------------------------------------------- 1. bounded reading: declared sizes, before the data

CHILD = """
import sys
from lstm_equiv.harness import npz
try:
    npz.load(sys.argv[1])
except npz.NpzError as err:
    print("refused:", err)
else:
    print("loaded:")
print("heavy:", sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "tf_keras", "torch")))
"""
"""Loads argv[1] and reports the outcome (and, through the measured_child fixture, its peak memory)."""


def _huge_member(path, key, size=2 * 2**30):
    """A small deflated .npz of valid weights plus ``key`` holding ``size`` bytes of float32 zeros, streamed
    (np.savez_compressed would need the array in memory)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in _valid_members():
            if member != f"{key}.npy":
                zf.writestr(member, data)
        with zf.open(f"{key}.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_2_0(
                f, {"descr": "<f4", "fortran_order": False, "shape": (size // 4 // N, N)}
            )
            chunk = bytes(16 * MiB)
            for _ in range(size // len(chunk)):
                f.write(chunk)


@pytest.mark.parametrize(
    "key, fragment",
    [
        ("junk", "unknown key(s) junk"),  # refused by its name
        ("V_i", f"a weights file is read up to {LIMITS['weights file'] // MiB} MiB"),  # refused by its declared size
    ],
)
def test_a_2_gib_member_is_refused_before_it_is_read(tmp_path, key, fragment, measured_child):
    path = tmp_path / "huge.npz"
    _huge_member(path, key)
    assert path.stat().st_size < 4 * MiB  # about 2 MiB: only what it unpacks to is large
    report = measured_child(CHILD, path)
    assert report["refused"].strip().startswith(f"{path}: ") and fragment in report["refused"], report
    assert report["heavy"].strip() == "[]", "harness.npz must not import TensorFlow"
    peak = int(report["peak_kib"]) * 1024
    print(f"\npeak RSS refusing a 2 GiB {key} member: {peak / MiB:.0f} MiB")
    assert peak < 400 * MiB


def test_a_member_declared_larger_than_the_limit_in_its_npy_header_is_refused_unread(tmp_path):
    # the zip entry is small and honest; the .npy header inside claims 8 GiB of float64 rows
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (2**28, N)})
    members = [m for m in _valid_members(dtype="float64") if m[0] != "V_i.npy"]
    path = _zip(tmp_path, members + [("V_i.npy", header.getvalue() + bytes(8 * N))])
    _refused(
        path,
        "V_i.npy is corrupt: its header declares shape (268435456, 4) of float64 (8589934592 bytes)",
        "the member holds 32 bytes",
    )


def test_a_zip_directory_too_large_for_an_npz_is_refused_before_zipfile_parses_it(tmp_path):
    # a million empty members fit in 84 MiB and cost zipfile 560 MiB (measured) to list
    path = _zip(tmp_path, _valid_members() + [(f"m{k}", b"") for k in range(3000)])
    _refused(path, "its zip directory takes", "bytes; the 18 keys of an .npz take about 2 KiB")


# ------------------------------------------------------ 7. whatever the bytes: an NpzError, path first


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"V_i,V_j\n0.1,0.2\n",
        bytes(MiB),
        _npy(np.zeros((3, 4), np.float32)),
        b"PK\x05\x06" + bytes(18),  # an empty zip archive
    ],
    ids=["empty", "text", "zero_bytes", "npy", "empty_zip"],
)
def test_a_file_that_is_not_a_zip_is_not_an_npz(tmp_path, content):
    path = tmp_path / "w.npz"
    path.write_bytes(content)
    message = _refused(path, "not an .npz (a zip archive of .npy arrays)")
    assert "pickle" not in message  # numpy's message invited the user to load it unsafely


def test_a_folder_or_a_missing_file_is_refused(tmp_path):
    _refused(tmp_path, "is a folder, not a weights file: only regular files are read")
    _refused(tmp_path / "nowhere.npz", "no such file")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_waiting_on_it(tmp_path, measured_child):
    os.mkfifo(tmp_path / "w.npz")
    report = measured_child(CHILD, tmp_path / "w.npz", timeout=60)  # in a child: np.load would wait for ever
    assert f"{tmp_path / 'w.npz'}: is a FIFO (named pipe), not a weights file" in report["refused"], report


def _object_array() -> bytes:
    return _npy(np.array([{"rm": "-rf"}, None], dtype=object), allow_pickle=True)


def _structured() -> bytes:
    return _npy(np.zeros(4, dtype=[("a", "<f4"), ("b", "<f4")]))


def _header(text: bytes) -> bytes:
    """A .npy 1.0 whose header is ``text``, padded as NumPy pads it, followed by 64 bytes."""
    text = text + b" " * (-(len(text) + 11) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + bytes(64)


BROKEN_MEMBERS = {
    "not_npy": (b"just some text that is not an array", "V_i.npy is not a readable .npy array"),
    "object_array": (_object_array(), "V_i has dtype object: object and structured arrays are not read"),
    "structured": (_structured(), "V_i has dtype [('a', '<f4'), ('b', '<f4')]: object and structured"),
    "bad_descr": (
        _header(b"{'descr': 'bogus', 'fortran_order': False, 'shape': (4, 4), }"),
        "V_i.npy is not a readable .npy array",
    ),
    "negative_shape": (
        _header(b"{'descr': '<f4', 'fortran_order': False, 'shape': (-4, -4), }"),
        "V_i.npy is corrupt: its header declares shape (-4, -4)",
    ),
    "version_3": (b"\x93NUMPY\x03\x00" + bytes(60), "V_i.npy is .npy version 3.0; 1.0 and 2.0 are read"),
    "truncated_npy": (_npy(np.zeros((N_IN, N), np.float32))[:-5], "V_i.npy is corrupt: its header declares"),
    "trailing_bytes": (
        _npy(np.zeros((N_IN, N), np.float32)) + bytes(12),
        "V_i.npy is corrupt: its header declares shape (3, 4) of float32 (48 bytes), the member holds 60 bytes",
    ),
}


@pytest.mark.parametrize("name", sorted(BROKEN_MEMBERS))
def test_a_broken_member_is_named(tmp_path, name):
    data, fragment = BROKEN_MEMBERS[name]
    members = [m for m in _valid_members() if m[0] != "V_i.npy"] + [("V_i.npy", data)]
    _refused(_zip(tmp_path, members), fragment)


def test_members_that_are_not_known_npy_keys_are_refused_by_name(tmp_path):
    extra = [("README.txt", b"hello"), ("V_x.npy", _npy(np.zeros(3))), ("sub/V_i.npy", _npy(np.zeros(3)))]
    _refused(
        _zip(tmp_path, _valid_members() + extra),
        "unknown key(s) README.txt (not a .npy), V_x, sub/V_i; known: V_i, V_j",
    )
    _refused(
        _zip(tmp_path, _valid_members() + [("b_f.npy", _npy(np.zeros(N)))], name="twice.npz"), "holds b_f.npy twice"
    )


def test_missing_keys_and_partial_peepholes_are_refused_from_the_listing(tmp_path):
    members = [m for m in _valid_members() if m[0] not in ("W_o.npy", "b_j.npy")]
    _refused(_zip(tmp_path, members), "missing key(s) W_o, b_j")
    partial = [m for m in _valid_members(peepholes=True) if m[0] != "peephole_f.npy"]
    _refused(_zip(tmp_path, partial, name="p.npz"), "peephole diagonals need all of peephole_i, peephole_f")


def _valid_bytes(compression) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for member, data in _valid_members(peepholes=True, projection=True):
            zf.writestr(member, data)
        zf.writestr("forget_bias.npy", _npy(np.float64(1.0)))
        zf.writestr("options.npy", _npy(np.array('{"cell_clip": 3.0, "activation": "tanh"}')))
    return buf.getvalue()


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED], ids=["stored", "deflated"])
def test_truncated_or_damaged_bytes_give_an_npz_error_and_nothing_else(tmp_path, compression):
    good = _valid_bytes(compression)
    rng = np.random.default_rng(1)
    path = tmp_path / "w.npz"
    cuts = [0, 3, 4, 30, len(good) // 2, len(good) - 23, len(good) - 1]
    for k in range(400):
        if k < len(cuts):
            data = good[: cuts[k]]
        elif k % 2:
            data = good[: rng.integers(len(good))]
        else:  # one to four bytes overwritten anywhere: headers, directory, data, CRCs
            data = bytearray(good)
            for at in rng.integers(len(good), size=rng.integers(1, 5)):
                data[at] = rng.integers(256)
            data = bytes(data)
        path.write_bytes(data)
        try:
            npz.load(path)
        except npz.NpzError as err:
            assert str(err).startswith(f"{path}: "), err
        # any other exception fails the test, with the case in the traceback


def test_a_damaged_crc_is_refused(tmp_path):
    good = bytearray(_valid_bytes(zipfile.ZIP_STORED))
    at = good.index(b"\x93NUMPY") + 130  # inside V_i's data (its header takes 128 bytes)
    good[at] ^= 0xFF
    (tmp_path / "w.npz").write_bytes(bytes(good))
    _refused(tmp_path / "w.npz", "V_i.npy is not a readable .npy array: Bad CRC-32")


# ------------------------------------------------------------------------------ 2. non-finite weights


@pytest.mark.parametrize("key", ["V_f", "W_o", "b_i", "peephole_f", "projection"])
def test_non_finite_weights_are_refused_with_their_key(tmp_path, key):
    a = _arrays(peepholes=True, projection=True)
    a[key].flat[:3] = np.nan, np.inf, np.nan
    _refused(_write(tmp_path, a), f": {key} holds 3 non-finite values (nan, inf)")


def test_one_negative_infinity_is_counted(tmp_path):
    a = _arrays("float64")
    a["W_j"][1, 1] = -np.inf
    _refused(_write(tmp_path, a), ": W_j holds 1 non-finite value (-inf)")


# -------------------------------------------------------------------- 3. real float32 or float64 only


@pytest.mark.parametrize(
    "key, cast, dtype",
    [
        ("projection", np.complex64, "complex64"),  # was cast to real silently
        ("projection", str, "<U"),  # was an error later, in the forms
        ("V_i", np.int64, "int64"),
        ("b_o", np.float16, "float16"),
        ("peephole_o", bool, "bool"),
        ("W_j", ">f4", ">f4"),
    ],
)
def test_an_array_that_is_not_real_float32_or_float64_is_named_with_its_dtype(tmp_path, key, cast, dtype):
    a = _arrays(peepholes=True, projection=True)
    a[key] = a[key].astype(cast)
    _refused(_write(tmp_path, a), f": {key} has dtype {dtype}", "weights are real numbers, float32 or float64")


def test_mixed_float32_and_float64_names_the_odd_array(tmp_path):
    a = _arrays(projection=True)
    a["projection"] = a["projection"].astype(np.float64)
    _refused(_write(tmp_path, a), ": projection has dtype float64 but V_i, V_j, V_f, V_o, W_i", "have float32")


# ------------------------------------------------------------------------------------------ 4. options


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("{not json", "options is not JSON: Expecting property name"),
        ("[" * 100_000, "options is not JSON: maximum recursion depth"),
        ("1" * 5000, "options is not JSON: Exceeds the limit"),
        ("[1, 2]", "options must be a JSON object, got an array"),
        ('"tanh"', "options must be a JSON object, got a string"),
        ('{"colour": "red"}', "options: unknown key(s) colour; known: activation"),
        ('{"activation": ["tanh"]}', 'options.activation is ["tanh"]; it must be one of tanh, sigmoid, relu'),
        ('{"recurrent_activation": "softmax"}', 'options.recurrent_activation is "softmax"; it must be one of'),
        ('{"activation": null}', "options.activation is null; it must be one of"),
        ('{"cell_clip": -1}', "options.cell_clip is -1; it must be a finite positive number or null"),
        ('{"cell_clip": 0}', "options.cell_clip is 0; it must be"),
        ('{"gate_clip": NaN}', "options.gate_clip is NaN; it must be"),
        ('{"gate_clip": 1e999}', "options.gate_clip is Infinity; it must be"),
        ('{"cell_clip": ' + "9" * 400 + "}", "options.cell_clip is 9999"),
        ('{"gate_clip": "3"}', 'options.gate_clip is "3"; it must be'),
        ('{"cell_clip": true}', "options.cell_clip is true; it must be"),
        ('{"input_forget": "yes"}', 'options.input_forget is "yes"; it must be true or false'),
        ('{"input_forget": 1}', "options.input_forget is 1; it must be true or false"),
        ('{"proj_clip": 1.0}', "options.proj_clip needs a projection; the file has none"),
    ],
)
def test_bad_options_are_refused_naming_options(tmp_path, text, fragment):
    _refused(_write(tmp_path, {**_arrays(), "options": np.array(text)}), f": {fragment}")


@pytest.mark.parametrize("value", [np.arange(3), np.array(["{}", "{}"]), np.float64(1.0), np.array(b"{}")])
def test_options_that_are_not_one_string_are_refused(tmp_path, value):
    _refused(_write(tmp_path, {**_arrays(), "options": value}), ": options must be a JSON string, got dtype")


def test_valid_options_and_a_null_clip_load(tmp_path):
    text = '{"activation": "hard_sigmoid_0.2", "cell_clip": null, "gate_clip": 2, "input_forget": false}'
    _, _, options = npz.load(_write(tmp_path, {**_arrays(), "options": np.array(text)}))
    assert options == {"activation": "hard_sigmoid_0.2", "cell_clip": None, "gate_clip": 2, "input_forget": False}


# -------------------------------------------------------------------------------------- 5. forget_bias


@pytest.mark.parametrize(
    "value, fragment",
    [
        (np.ones(3), "dtype float64, shape (3,)"),
        (np.array("one"), "dtype <U3, shape ()"),
        (np.float64(np.nan), "nan (float64)"),
        (np.float32(-np.inf), "-inf (float32)"),
        (np.complex128(1j), "1j (complex128)"),
        (np.bool_(True), "True (bool)"),
    ],
)
def test_a_forget_bias_that_is_not_a_finite_real_scalar_is_refused(tmp_path, value, fragment):
    _refused(
        _write(tmp_path, {**_arrays(), "forget_bias": value}),
        ": forget_bias must be a finite real scalar, got " + fragment,
    )


def test_an_integer_forget_bias_loads_as_a_float(tmp_path):
    assert npz.load(_write(tmp_path, {**_arrays(), "forget_bias": np.int32(2)}))[1] == 2.0


# ----------------------------------------------------------------------------- 6. ranks and shapes

WHY = "num_units is 4, the columns of V_i, V_j, V_f, V_o"


@pytest.mark.parametrize(
    "key, shape, fragment",
    [
        ("V_i", (5, 4), "V_i has shape (5, 4) but V_j, V_f, V_o have (3, 4)"),  # blamed V['j'] before
        ("V_o", (3, 5), "V_o has shape (3, 5) but V_i, V_j, V_f have (3, 4)"),
        ("V_i", (2, 3, 4), "V_i has shape (2, 3, 4); it must be 2-D, [input_depth, num_units]"),  # "too many values"
        ("V_j", (3,), "V_j has shape (3,); it must be 2-D, [input_depth, num_units]"),
        ("b_o", (4, 1), "b_o has shape (4, 1); it must be 1-D, [num_units]"),
        ("peephole_i", (), "peephole_i has shape (); it must be 1-D, [num_units]"),
        ("projection", (4,), "projection has shape (4,); it must be 2-D, [num_units, num_proj]"),
        ("W_f", (5, 4), f"W_f has shape (5, 4); expected (2, 4), [h_depth, num_units]: {WHY}; h_depth is 2, num_proj"),
        ("b_j", (5,), f"b_j has shape (5,); expected (4,), [num_units]: {WHY}"),
        ("peephole_o", (3,), f"peephole_o has shape (3,); expected (4,), [num_units]: {WHY}"),
        ("projection", (5, 2), f"projection has shape (5, 2); expected (4, num_proj) with num_proj at least 1: {WHY}"),
    ],
)
def test_a_wrongly_shaped_array_is_the_one_blamed(tmp_path, key, shape, fragment):
    a = _arrays(peepholes=True, projection=True)
    a[key] = np.zeros(shape, np.float32)
    message = _refused(_write(tmp_path, a), f": {fragment}")
    assert "V[" not in message and "LSTMParams" not in message


def test_two_wrong_blocks_are_both_named_without_a_projection(tmp_path):
    a = _arrays()
    a["W_i"], a["W_o"] = np.zeros((3, 4), np.float32), np.zeros((5, 4), np.float32)
    _refused(
        _write(tmp_path, a),
        ": W_i has shape (3, 4), W_o has shape (5, 4); expected (4, 4), "
        f"[h_depth, num_units]: {WHY}; h_depth is 4, num_units without a projection",
    )


def test_zero_units_are_refused(tmp_path):
    a = {k: np.zeros(v.shape[:-1] + (0,) if k[0] != "W" else (0, 0), np.float32) for k, v in _arrays().items()}
    _refused(
        _write(tmp_path, a), ": V_i, V_j, V_f, V_o have shape (3, 0): input_depth and num_units must be at least 1"
    )


# ------------------------------------------- what mutation testing found untested (docs/mutation-testing.md)


def _zip64(good: bytes, directory=None) -> bytes:
    """``good`` (an .npz) with a zip64 end record and locator before its end record, whose own fields then
    say 0xFFFF and 0xFFFFFFFF, as a writer does past 65535 members or 4 GiB; ``directory``: the directory
    size the zip64 record declares (default: the true one)."""
    import struct

    entries, size, offset = struct.unpack("<HII", good[-12:-2])
    body = good[:-22]
    record = struct.pack(
        "<4sQHHIIQQQQ",
        b"PK\x06\x06",
        44,
        45,
        45,
        0,
        0,
        entries,
        entries,
        size if directory is None else directory,
        offset,
    )
    locator = struct.pack("<4sIQI", b"PK\x06\x07", 0, len(body), 1)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + record + locator + end


def _marked(data: bytes, entries: bool, size: bool) -> bytes:
    """A zip64 file whose plain end record marks only its count of entries, or only its directory size."""
    end = bytearray(data[-22:])
    if not entries:
        end[8:12] = data[-22 - 20 - 56 + 24 : -22 - 20 - 56 + 26] * 2  # the real count, from the zip64 record
    if not size:
        end[12:16] = data[-22 - 20 - 56 + 40 : -22 - 20 - 56 + 44]  # the real size, from the zip64 record
    return data[:-22] + bytes(end)


@pytest.mark.parametrize("entries, size", [(True, False), (False, True)], ids=["count_marked", "size_marked"])
def test_either_marker_of_a_zip64_end_record_leads_to_the_zip64_record(tmp_path, entries, size):
    good = _valid_bytes(zipfile.ZIP_STORED)
    (tmp_path / "ok.npz").write_bytes(_marked(_zip64(good), entries, size))
    assert npz.load(tmp_path / "ok.npz")[0].num_units == N
    (tmp_path / "big.npz").write_bytes(_marked(_zip64(good, directory=10 * MiB), entries, size))
    if entries:  # the record's size is the one read: refused
        _refused(tmp_path / "big.npz", f": its zip directory takes {10 * MiB} bytes")


def test_an_option_value_is_shown_whole_up_to_60_characters(tmp_path):
    for length, shown in ((58, '"' + "x" * 58 + '"'), (59, '"' + "x" * 47 + "... (61 characters)")):
        text = '{"activation": "' + "x" * length + '"}'
        path = _write(tmp_path, {**_arrays(), "options": np.array(text)}, f"o{length}.npz")
        assert f"options.activation is {shown}; it must be one of" in _refused(path)


def test_a_zip64_end_record_is_read_and_its_directory_size_checked(tmp_path):
    good = _valid_bytes(zipfile.ZIP_STORED)
    (tmp_path / "z64.npz").write_bytes(_zip64(good))
    params, forget_bias, options = npz.load(tmp_path / "z64.npz")
    assert params.num_units == N and forget_bias == 1.0 and options["cell_clip"] == 3.0
    (tmp_path / "big.npz").write_bytes(_zip64(good, directory=10 * MiB))
    _refused(
        tmp_path / "big.npz",
        f": its zip directory takes {10 * MiB} bytes; the 18 keys of an .npz take about 2 KiB (read up to 64 KiB)",
    )


def test_the_end_record_signature_inside_an_array_is_not_taken_for_the_end(tmp_path):
    a = _arrays("float64")
    a["V_i"].reshape(-1).view(np.uint8)[:4] = np.frombuffer(b"PK\x05\x06", np.uint8)  # the end record's signature
    params, _, _ = npz.load(_write(tmp_path, a))
    assert params.V["i"].tobytes() == a["V_i"].tobytes()


def test_the_directory_and_declared_size_limits_are_inclusive(tmp_path, monkeypatch):
    import struct

    path = _write(tmp_path, _arrays())
    data = path.read_bytes()
    directory = struct.unpack("<I", data[-10:-6])[0]
    monkeypatch.setattr(npz, "DIRECTORY_LIMIT", directory)
    npz.load(path)
    monkeypatch.setattr(npz, "DIRECTORY_LIMIT", directory - 1)
    _refused(path, f": its zip directory takes {directory} bytes")
    monkeypatch.setattr(npz, "DIRECTORY_LIMIT", 64 * 1024)
    path = tmp_path / "zeros.npz"  # deflated zeros: the file is far smaller than what it declares
    with open(path, "wb") as f:
        shapes = {"V": (30, 20), "W": (20, 20)}
        np.savez_compressed(f, **{k: np.zeros(shapes.get(k[0], 20), np.float32) for k in _arrays()})
    with zipfile.ZipFile(path) as zf:
        declared = sum(i.file_size for i in zf.infolist())
    assert path.stat().st_size < declared - 1
    monkeypatch.setitem(npz.safeio.LIMITS, "weights file", declared)
    npz.load(path)
    monkeypatch.setitem(npz.safeio.LIMITS, "weights file", declared - 1)
    _refused(path, f": its arrays take {declared} bytes once unpacked; a weights file is read up to 0 MiB")


def test_fortran_order_version_2_and_many_chunks_load_bit_for_bit(tmp_path, monkeypatch):
    a = _arrays("float64", peepholes=True, projection=True)
    members = [(f"{k}.npy", _npy(np.asfortranarray(v), version=(2, 0))) for k, v in a.items()]
    monkeypatch.setattr(npz, "CHUNK", 7)  # every array read in many pieces of a size that divides nothing
    params, _, _ = npz.load(_zip(tmp_path, members))
    assert params.V["j"].tobytes() == a["V_j"].tobytes() and params.projection.tobytes() == a["projection"].tobytes()
    assert np.array_equal(params.W["o"], a["W_o"]) and params.V["j"].flags.f_contiguous


def test_a_zero_byte_dtype_is_refused_by_its_header(tmp_path):
    members = [m for m in _valid_members() if m[0] != "V_i.npy"]
    zero = _header(b"{'descr': '<U0', 'fortran_order': False, 'shape': (3, 4), }")
    _refused(_zip(tmp_path, members + [("V_i.npy", zero)]), ": V_i has dtype <U0, of 0 bytes an element")


def test_full_messages(tmp_path):
    """Each message whole, as a user reads it."""
    two = _zip(
        tmp_path, _valid_members() + [("V_i.npy", _npy(np.zeros(3))), ("b_f.npy", _npy(np.zeros(3)))], name="two.npz"
    )
    assert str(_refused(two)) == f"{two}: holds V_i.npy, b_f.npy twice"
    a = _arrays(projection=True)
    a["V_i"], a["W_j"] = a["V_i"].astype(np.float64), a["W_j"].astype(np.float64)
    assert _refused(_write(tmp_path, a, "mixed.npz")).endswith(
        ": V_i, W_j have dtype float64 but V_j, V_f, V_o, W_i, W_f, W_o, b_i, b_j, b_f, b_o, projection have "
        "float32: every array must be float32, or every one float64"
    )
    a = _arrays()
    a["V_j"], a["V_o"] = np.zeros((5, 4), np.float32), np.zeros((6, 4), np.float32)
    assert _refused(_write(tmp_path, a, "shapes.npz")).endswith(
        ": V_j has shape (5, 4), V_o has shape (6, 4) but V_i, V_f have (3, 4)"
    )
    a = _arrays()
    a["b_f"] = a["b_f"].astype(">f4")
    assert _refused(_write(tmp_path, a, "big_endian.npz")).endswith(
        ": b_f has dtype >f4; weights are real numbers, float32 or float64 (little-endian)"
    )
    options = _write(tmp_path, {**_arrays(), "options": np.array('{"b": 1, "a": 2}')}, "options.npz")
    assert _refused(options).endswith(
        ": options: unknown key(s) a, b; known: activation, recurrent_activation, "
        "cell_clip, proj_clip, gate_clip, input_forget"
    )
    long = _write(tmp_path, {**_arrays(), "options": np.array('{"activation": "' + "x" * 100 + '"}')}, "long.npz")
    assert _refused(long).endswith(
        ': options.activation is "' + "x" * 47 + "... (102 characters); it must be one of "
        "tanh, sigmoid, relu, hard_sigmoid_0.2, hard_sigmoid_1/6"
    )
    a = _arrays()
    a["b_o"][:2] = np.inf, -np.inf
    assert _refused(_write(tmp_path, a, "two_inf.npz")).endswith(": b_o holds 2 non-finite values (inf, -inf)")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"PK\x05\x06" + bytes(18))
    assert str(_refused(empty)) == f"{empty}: not an .npz (a zip archive of .npy arrays): the archive is empty"


def test_defaults_a_projection_of_one_column_and_no_forget_bias(tmp_path):
    a = _arrays(projection=True)
    a["projection"] = a["projection"][:, :1]
    a.update({f"W_{g}": a[f"W_{g}"][:1] for g in GATES})
    params, forget_bias, options = npz.load(_write(tmp_path, a))  # no forget_bias, no options member
    assert params.h_depth == 1 and forget_bias == 0.0 and options == {}
    p = LSTMParams(*({g: a[f"{part}_{g}"] for g in GATES} for part in "VWb"), projection=a["projection"])
    npz.save(tmp_path / "saved.npz", p)
    assert npz.load(tmp_path / "saved.npz")[1] == 0.0
