#!/usr/bin/python3
"""Writes the seed corpora of the safetensors, .npy and IDX fuzz targets, independently of
the library (NumPy's own np.save, safetensors laid out by hand, gzip from the standard
library). Small files only: the corpora are committed. Usage: make_seeds.py FUZZ_DIR"""
import gzip
import io
import json
import os
import struct
import sys

import numpy as np


def st_file(tensors, metadata=None, pad=True):
    header, blobs, off = {}, [], 0
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def write(d, name, data):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors_seeds(d):
    rng = np.random.default_rng(0)
    f32 = rng.standard_normal((2, 3)).astype("<f4")
    write(d, "f32", st_file({"w": ("F32", f32.shape, f32.tobytes())}, {"format": "pt"}))
    write(d, "empty", st_file({}))
    write(d, "meta_only", st_file({}, {"a": "b", "unicode": "\u00e9\u4e2d"}))
    mixed = {
        "b": ("BOOL", (4,), bytes([0, 1, 1, 0])),
        "u8": ("U8", (3,), bytes([1, 2, 255])),
        "i8": ("I8", (2,), struct.pack("<bb", -1, 7)),
        "i16": ("I16", (2,), struct.pack("<hh", -300, 300)),
        "u16": ("U16", (1,), struct.pack("<H", 65535)),
        "i32": ("I32", (2,), struct.pack("<ii", -5, 5)),
        "u32": ("U32", (1,), struct.pack("<I", 7)),
        "i64": ("I64", (1,), struct.pack("<q", -(2 ** 40))),
        "u64": ("U64", (1,), struct.pack("<Q", 2 ** 63)),
        "f16": ("F16", (2,), np.array([1.5, -np.inf], "<f2").tobytes()),
        "bf16": ("BF16", (2,), bytes([0x80, 0x3f, 0xc0, 0x7f])),
        "f64": ("F64", (1,), struct.pack("<d", 3.25)),
        "e4m3": ("F8_E4M3", (3,), bytes([0x38, 0x7f, 0xff])),
        "e5m2": ("F8_E5M2", (2,), bytes([0x3c, 0x7c])),
        "scalar": ("F32", (), struct.pack("<f", 2.0)),
        "zero": ("F32", (0, 5), b""),
    }
    write(d, "mixed", st_file(mixed))
    r3 = rng.standard_normal((2, 2, 2)).astype("<f4")
    write(d, "rank3_unpadded", st_file({"x": ("F32", r3.shape, r3.tobytes())}, pad=False))
    write(d, "escapes", st_file({"a\"b\\c\u0001\ud83d\ude00": ("U8", (1,), b"\x05")}))


def npy_seeds(d):
    rng = np.random.default_rng(1)
    arrays = {
        "f32_c": rng.standard_normal((3, 4)).astype("<f4"),
        "f64_be": rng.standard_normal((2, 3)).astype(">f8"),
        "f16": rng.standard_normal(5).astype("<f2"),
        "i64": np.arange(-3, 3, dtype="<i8"),
        "u16_be": np.arange(4, dtype=">u2").reshape(2, 2),
        "bool": np.array([True, False, True]),
        "i8": np.array([-128, 0, 127], dtype="i1"),
        "scalar": np.array(2.5, dtype="<f4"),
        "empty": np.zeros((0, 3), dtype="<i4"),
        "rank4": np.arange(16, dtype="<u4").reshape(2, 2, 2, 2),
    }
    for name, a in arrays.items():
        b = io.BytesIO()
        np.save(b, a)
        write(d, name, b.getvalue())
    b = io.BytesIO()
    np.save(b, np.asfortranarray(rng.standard_normal((3, 2)).astype("<f4")))
    write(d, "fortran", b.getvalue())
    for version in [(2, 0), (3, 0)]:
        b = io.BytesIO()
        a = np.arange(6, dtype="<i2").reshape(3, 2)
        np.lib.format.write_array(b, a, version=version)
        write(d, "v%d" % version[0], b.getvalue())


def idx(dims, values):
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + bytes(values)


def idx_seeds(d):
    write(d, "labels", idx([5], [0, 9, 3, 3, 1]))
    write(d, "images", idx([1, 4, 4], range(16)))
    write(d, "labels_gz", gzip.compress(idx([3], [7, 8, 9]), mtime=0))
    write(d, "images_gz", gzip.compress(idx([2, 28, 28], [(i * 13) % 256 for i in range(2 * 28 * 28)]), mtime=0))
    write(d, "empty_dim", idx([0, 3], []))


if __name__ == "__main__":
    root = sys.argv[1]
    safetensors_seeds(os.path.join(root, "corpus", "safetensors"))
    npy_seeds(os.path.join(root, "corpus", "npy"))
    idx_seeds(os.path.join(root, "corpus", "idx"))
