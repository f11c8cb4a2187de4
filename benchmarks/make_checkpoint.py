#!/usr/bin/env python3
"""Writes a synthetic safetensors checkpoint of N bf16 tensors of ROWS x COLS (normal
weights, seeded), tensor by tensor, without holding the model in memory.

    make_checkpoint.py OUT N ROWS COLS
"""
import json
import struct
import sys

import numpy as np


def main() -> int:
    out, n, rows, cols = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    nbytes = rows * cols * 2
    header = {"__metadata__": {"format": "pt", "source": "benchmarks/make_checkpoint.py"}}
    for i in range(n):
        header[f"layers.{i}.weight"] = {"dtype": "BF16", "shape": [rows, cols],
                                        "data_offsets": [i * nbytes, (i + 1) * nbytes]}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    rng = np.random.default_rng(0)
    with open(out, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for i in range(n):
            w = rng.standard_normal((rows, cols), dtype=np.float32) * np.float32(0.02)
            # bf16 = the upper half of the float32 bits, rounded to nearest even
            u = w.view(np.uint32)
            u = (u + np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1))) >> np.uint32(16)
            f.write(u.astype("<u2").tobytes())
            del w, u
    return 0


if __name__ == "__main__":
    sys.exit(main())
