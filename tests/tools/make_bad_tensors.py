#!/usr/bin/env python3
"""make_bad_tensors.py - regenerate the malformed tensor corpus in
tests/bad/tensors/.

Each case is a file plus a sibling .expect file (same stem) holding the
substring the reader's error message must contain.
tests/unit/test_bad_tensors.c checks every file is rejected with a message
naming the file and containing that substring.  The corpus is committed;
this script only documents how each file was made.

Run from the repo root:  /usr/bin/python3 tests/tools/make_bad_tensors.py
"""
import json
import os
import struct

OUT = "tests/bad/tensors"
CASES = []


def case(name, data, expect):
    CASES.append((name, data, expect))


def npy(header, data=b"", version=(1, 0), pad=True):
    """A .npy file with the given header text (str) and raw data."""
    h = header.encode("latin1")
    prefix = 10 if version[0] == 1 else 12
    if pad:
        h += b" " * (63 - (prefix + len(h)) % 64) + b"\n"
    fmt = "<H" if version[0] == 1 else "<I"
    return b"\x93NUMPY" + bytes(version) + struct.pack(fmt, len(h)) + h + data


def hdr(descr="'<f4'", fortran="False", shape="(2, 3)"):
    return "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def st(header, data=b"", raw=False):
    """A safetensors file; header is a dict (dumped compactly) or raw bytes."""
    h = header if raw else json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + data


def t(dtype, shape, b, e):
    return {"dtype": dtype, "shape": shape, "data_offsets": [b, e]}


# ---- .npy -----------------------------------------------------------------
case("01_npy_empty.npy", b"", "empty file")
case("02_npy_bad_magic.npy", b"\x93NUMPX\x01\x00" + b"\x00" * 60, "bad magic")
case("03_npy_truncated_prefix.npy", b"\x93NUMPY\x01\x00\x76", "truncated header")
case("04_npy_header_len_too_big.npy", b"\x93NUMPY\x01\x00" + struct.pack("<H", 1000) + b"{'descr'",
     "header length 1000 exceeds file size 18")
case("05_npy_truncated_data.npy", npy(hdr("'<f8'"), b"\x00" * 20),
     "truncated data: expected 48 bytes, found 20")
case("06_npy_trailing_data.npy", npy(hdr(), b"\x00" * 28), "trailing data: expected 24 bytes, found 28")
case("07_npy_complex_dtype.npy", npy(hdr("'<c8'"), b"\x00" * 48), "unsupported dtype '<c8'")
case("08_npy_big_endian.npy", npy(hdr("'>f4'"), b"\x00" * 24), "big-endian")
case("09_npy_fortran_order.npy", npy(hdr(fortran="True"), b"\x00" * 24), "Fortran order not supported")
case("10_npy_bad_shape_syntax.npy", npy(hdr(shape="(2, x)"), b"\x00" * 24), "bad shape")
case("11_npy_shape_not_tuple.npy", npy(hdr(shape="(3)"), b"\x00" * 12), "is not a tuple")
case("12_npy_negative_dim.npy", npy(hdr(shape="(-1, 3)")), "negative dimension")
case("13_npy_shape_overflow.npy", npy(hdr(shape="(4611686018427387904, 4)")), "size overflows")
case("14_npy_missing_shape.npy", npy("{'descr': '<f4', 'fortran_order': False, }"), "missing key 'shape'")
case("15_npy_bad_version.npy", npy(hdr(), b"\x00" * 24, version=(9, 0)), "format version 9.0")
case("16_npy_rank_too_big.npy", npy(hdr(shape="(1, 1, 1, 1, 1, 1, 1, 1, 1)"), b"\x00" * 4),
     "rank exceeds the maximum")
case("17_npy_unterminated_dict.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "),
     "bad header")
case("18_npy_structured.npy", npy(hdr("[('a', '<f4')]"), b"\x00" * 24), "structured arrays")
case("19_npy_unknown_key.npy", npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1, }",
                                   b"\x00" * 4), "unexpected key 'x'")
case("20_npy_huge_dim.npy", npy(hdr(shape="(99999999999999999999999,)")), "dimension too large")
case("21_npy_header_cut_v2.npy", b"\x93NUMPY\x02\x00\x40\x00\x00", "truncated header")
case("22_npy_bad_fortran_value.npy", npy(hdr(fortran="0"), b"\x00" * 24), "fortran_order must be True or False")

# ---- safetensors ----------------------------------------------------------
case("30_st_empty.safetensors", b"", "empty file")
case("31_st_short.safetensors", b"\x08\x00\x00\x00\x00", "too short for the header length")
case("32_st_header_len_exceeds.safetensors", struct.pack("<Q", 1000000) + b"{" + b" " * 111,
     "header length 1000000 exceeds file size 120")
case("33_st_bad_json.safetensors", st(b'{"w":{"dtype":"F32",,"shape":[1]}}', raw=True),
     "invalid JSON in header")
case("34_st_not_object.safetensors", st(b"[1,2]", raw=True), "header must be a JSON object")
case("35_st_missing_offsets.safetensors", st({"w": {"dtype": "F32", "shape": [2]}}, b"\x00" * 8),
     "missing 'data_offsets'")
case("36_st_offsets_out_of_range.safetensors", st({"w": t("F32", [4], 0, 16)}, b"\x00" * 8),
     "out of range")
case("37_st_overlap.safetensors", st({"a": t("F32", [2], 0, 8), "b": t("F32", [2], 4, 12)}, b"\x00" * 12),
     "overlap")
case("38_st_size_mismatch.safetensors", st({"w": t("F32", [3], 0, 8)}, b"\x00" * 8), "size mismatch")
case("39_st_unknown_dtype.safetensors", st({"w": t("F33", [2], 0, 8)}, b"\x00" * 8), "unknown dtype 'F33'")
case("40_st_unsupported_dtype.safetensors", st({"w": t("F16", [2], 0, 4)}, b"\x00" * 4),
     "dtype F16 not supported")
case("41_st_duplicate_key.safetensors",
     st(b'{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
        b'"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\x00" * 8, raw=True),
     "duplicate key 'w'")
case("42_st_negative_dim.safetensors", st({"w": t("F32", [-2, 1], 0, 8)}, b"\x00" * 8),
     "negative dimension -2")
case("43_st_numel_overflow.safetensors", st({"w": t("F32", [4294967296, 4294967296, 4], 0, 8)}, b"\x00" * 8),
     "shape size overflows")
case("44_st_hole.safetensors", st({"a": t("F32", [1], 0, 4), "b": t("F32", [1], 8, 12)}, b"\x00" * 12),
     "hole in data region")
case("45_st_trailing_data.safetensors", st({"a": t("F32", [1], 0, 4)}, b"\x00" * 12), "trailing data")
case("46_st_begin_after_end.safetensors", st({"a": t("F32", [1], 8, 4)}, b"\x00" * 8), "begin 8 > end 4")
case("47_st_metadata_not_string.safetensors",
     st({"__metadata__": {"epoch": 3}, "a": t("F32", [1], 0, 4)}, b"\x00" * 4),
     "__metadata__ value of 'epoch' must be a string")
case("48_st_float_offsets.safetensors",
     st(b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.0,4]}}', b"\x00" * 4, raw=True),
     "data_offsets must be two non-negative integers")
case("49_st_truncated_json.safetensors", struct.pack("<Q", 12) + b'{"w":{"dtype', "unterminated string")
case("50_st_deep_nesting.safetensors", st(b"[" * 200 + b"]" * 200, raw=True), "nesting deeper")
case("51_st_bad_utf8_name.safetensors",
     st(b'{"\xff\xfe":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', b"\x00" * 4, raw=True),
     "invalid UTF-8")
case("52_st_json_trailing_garbage.safetensors", st(b"{} x", raw=True), "after the JSON value")
case("53_st_rank_too_big.safetensors", st({"w": t("F32", [1] * 9, 0, 4)}, b"\x00" * 4),
     "rank 9 exceeds the maximum")
case("54_st_entry_not_object.safetensors", st({"w": [1, 2]}), "entry must be an object")
case("55_st_shape_not_int.safetensors", st({"w": t("F32", ["2"], 0, 8)}, b"\x00" * 8),
     "shape dimension 0 is not a non-negative integer")
case("56_st_control_char.safetensors", st(b'{"a\x01":{}}', raw=True), "control character")
case("57_st_huge_offsets.safetensors",
     st({"w": t("F32", [1], 18446744073709551612, 18446744073709551616)}, b"\x00" * 4),
     "data_offsets must be two non-negative integers")
case("58_st_duplicate_field.safetensors",
     st(b'{"w":{"dtype":"F32","shape":[1],"dtype":"F64","data_offsets":[0,4]}}', b"\x00" * 4, raw=True),
     "tensor 'w': duplicate key 'dtype'")


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data, expect in CASES:
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
        stem = name.rsplit(".", 1)[0]
        with open(os.path.join(OUT, stem + ".expect"), "w") as f:
            f.write(expect + "\n")
    print("wrote %d cases to %s" % (len(CASES), OUT))


if __name__ == "__main__":
    main()
