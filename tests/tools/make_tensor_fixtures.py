#!/usr/bin/env python3
"""make_tensor_fixtures.py - regenerate tests/data/tensors/ with numpy.

Small .npy files written by numpy itself (format 1.0, 2.0 and 3.0) and a
safetensors file laid out the way the `safetensors` Python package writes
one (its Rust core: compact JSON, __metadata__ first, tensors sorted by
dtype then name, header padded with spaces to a multiple of 8).  The
generated files are committed: the tests read them and never need python.
The values are simple formulas that tests/unit/test_npy.c and
test_safetensors.c recompute.

Run from the repo root:  /usr/bin/python3 tests/tools/make_tensor_fixtures.py
"""
import json
import os
import struct

import numpy as np

OUT = "tests/data/tensors"


def save(name, arr, version=None):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        np.lib.format.write_array(f, arr, version=version, allow_pickle=False)


def st_write(path, tensors, metadata):
    """tensors: list of (name, array); written in safetensors' order."""
    codes = {np.dtype("<f4"): "F32", np.dtype("<f8"): "F64",
             np.dtype("<i4"): "I32", np.dtype("<i8"): "I64"}
    # safetensors' Rust Dtype enum order (I32 < F32 < I64 < F64 here);
    # prepare() sorts by dtype descending, then name.
    rank = {"I32": 0, "F32": 1, "I64": 2, "F64": 3}
    tensors = sorted(tensors, key=lambda t: (-rank[codes[t[1].dtype]], t[0]))
    header = {"__metadata__": metadata}
    at = 0
    blobs = []
    for name, arr in tensors:
        b = np.ascontiguousarray(arr).tobytes()
        header[name] = {"dtype": codes[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [at, at + len(b)]}
        at += len(b)
        blobs.append(b)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def main():
    os.makedirs(OUT, exist_ok=True)
    save("f32_2x3.npy", (np.arange(6, dtype=np.float32) * 0.5 - 1).reshape(2, 3))
    save("f64_scalar.npy", np.array(3.25, dtype=np.float64))
    save("i32_vec.npy", np.array([1, -2, 3, 2**31 - 1], dtype=np.int32))
    save("i64_2x3x4.npy", np.arange(24, dtype=np.int64).reshape(2, 3, 4) - 5)
    save("f32_empty_0x3.npy", np.zeros((0, 3), dtype=np.float32))
    save("f32_v2.npy", np.arange(5, dtype=np.float32), version=(2, 0))
    save("f32_v3.npy", np.arange(5, dtype=np.float32), version=(3, 0))
    st_write(os.path.join(OUT, "model.safetensors"), [
        ("h.weight_ih_l0", (np.arange(12, dtype=np.float32) / 4).reshape(4, 3)),
        ("h.bias_ih_l0", np.array([1, 2, 3, 4], dtype=np.float32)),
        ("ids", np.array([[7, -8], [9, 10]], dtype=np.int64)),
        ("scale", np.array(0.125, dtype=np.float64)),
        ("count", np.array([42], dtype=np.int32)),
    ], {"format": "pt"})


if __name__ == "__main__":
    main()
