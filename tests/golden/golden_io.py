"""Golden files for io.hpp, written by NumPy and PyTorch (Debian's python3-torch 1.13).

Debian has no `safetensors` Python package, so the safetensors files are written here by
hand following the format's definition (8-byte little-endian header length, JSON header,
raw little-endian data), deliberately NOT in the order compress's own writer uses (tensors
in a shuffled order, header keys in another order, "__metadata__" last), so the C++ reader
is tested on a file its writer did not produce.

Files (tests/golden/io/):
  npy_<descr>_<C|F>.npy   shape (2, 3, 4), every dtype, both byte orders, C and Fortran
                          order; element at flat row-major index n is value(kind, n) below
  npy_special_f4.npy      -0, +-inf, nan, smallest subnormal, max float32
  npy_special_f2.npy      the same for float16 (and the largest half)
  npy_i8_extremes.npy     int64 min, max, -1, 0; npy_u8_extremes.npy uint64 max, 2^63, 1, 0
  npy_scalar.npy          a 0-d float64 array 3.5; npy_empty.npy: float32 of shape (0, 3)
  npy_v2.npy, npy_v3.npy  format versions 2.0 and 3.0 of arange(6, float32).reshape(2, 3)
  mlp.safetensors         a 3-layer MLP's weights (F32) written by hand, "__metadata__": {"format": "pt"}
  mlp_input.npy           inputs x [5, 8] float32
  mlp_logits.npy          PyTorch's logits of the MLP for x [5, 4] float32
  dtypes.safetensors      one tensor of each torch dtype (BOOL U8 I8 I16 I32 I64 F16 BF16 F32 F64)
  dtypes_as_f64.npy       the same values converted to float64 by torch (for BF16/F16 checks), stacked [10, 2, 6]
"""
import json
import pathlib
import struct

import numpy as np
import torch

SHAPE = (2, 3, 4)


def value(kind: str, size: int, n: np.ndarray) -> np.ndarray:
    """Element at flat index n; the C++ test computes the same formula."""
    if kind == "b":
        return n % 3 == 0
    if kind == "f":
        return (n - 10) * 0.25
    if kind == "i":
        return (n - 12) * 5 - (2**40 if size == 8 else 0)
    if kind == "u":
        return n * 7 + (2**40 if size == 8 else 0)
    raise ValueError(kind)


def write_safetensors(path: pathlib.Path, tensors, metadata=None, metadata_last=True):
    """tensors: list of (name, torch.Tensor) in the order their bytes are laid out."""
    names = {
        torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16",
        torch.int32: "I32", torch.int64: "I64", torch.float16: "F16", torch.bfloat16: "BF16",
        torch.float32: "F32", torch.float64: "F64",
    }
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors:
        t = t.contiguous()
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        elif t.dtype == torch.bool:
            raw = t.numpy().astype(np.uint8).tobytes()
        else:
            raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"shape": list(t.shape), "dtype": names[t.dtype],
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    # Shuffle the JSON order of the entries (reverse), keep the data order.
    entries = list(header.items())[::-1]
    doc = dict(entries)
    if metadata is not None:
        if metadata_last:
            doc["__metadata__"] = metadata
        else:
            doc = {"__metadata__": metadata, **doc}
    text = json.dumps(doc).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def generate(outdir: pathlib.Path) -> None:
    n = np.arange(24).reshape(SHAPE)
    for kind, sizes in (("b", [1]), ("i", [1, 2, 4, 8]), ("u", [1, 2, 4, 8]), ("f", [2, 4, 8])):
        for size in sizes:
            orders = ["|"] if size == 1 else ["<", ">"]
            for bo in orders:
                descr = f"{bo}{kind}{size}"
                a = value(kind, size, n).astype(np.dtype(descr))
                for order in ("C", "F"):
                    arr = np.asarray(a, order=order)
                    tag = descr.replace("<", "le_").replace(">", "be_").replace("|", "")
                    np.save(outdir / f"npy_{tag}_{order}.npy", arr)

    np.save(outdir / "npy_special_f4.npy",
            np.array([-0.0, np.inf, -np.inf, np.nan, np.finfo(np.float32).smallest_subnormal,
                      np.finfo(np.float32).max], dtype="<f4"))
    np.save(outdir / "npy_special_f2.npy",
            np.array([-0.0, np.inf, -np.inf, np.nan, np.finfo(np.float16).smallest_subnormal,
                      np.finfo(np.float16).max], dtype=">f2"))
    np.save(outdir / "npy_i8_extremes.npy",
            np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, -1, 0], dtype="<i8"))
    np.save(outdir / "npy_u8_extremes.npy",
            np.array([np.iinfo(np.uint64).max, 2**63, 1, 0], dtype=">u8"))
    np.save(outdir / "npy_scalar.npy", np.array(3.5, dtype="<f8"))
    np.save(outdir / "npy_empty.npy", np.zeros((0, 3), dtype="<f4"))
    small = np.arange(6, dtype="<f4").reshape(2, 3)
    for version in ((2, 0), (3, 0)):
        with open(outdir / f"npy_v{version[0]}.npy", "wb") as f:
            np.lib.format.write_array(f, small, version=version)

    # A small MLP: 8 -> 16 -> 12 -> 4, ReLU between, PyTorch layout [out, in].
    torch.manual_seed(1234)
    mlp = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 12),
                              torch.nn.ReLU(), torch.nn.Linear(12, 4))
    x = torch.randn(5, 8)
    with torch.no_grad():
        logits = mlp(x)
    state = mlp.state_dict()
    tensors = [(f"net.{k}", state[k]) for k in sorted(state.keys(), key=lambda s: (s.endswith("weight"), s))]
    write_safetensors(outdir / "mlp.safetensors", tensors, metadata={"format": "pt"})
    np.save(outdir / "mlp_input.npy", x.numpy().astype("<f4"))
    np.save(outdir / "mlp_logits.npy", logits.numpy().astype("<f4"))

    base = torch.tensor([[-2.5, -1.0, 0.0, 0.5, 1.0, 100.0]], dtype=torch.float64)
    dts = [("bool", torch.bool), ("u8", torch.uint8), ("i8", torch.int8), ("i16", torch.int16),
           ("i32", torch.int32), ("i64", torch.int64), ("f16", torch.float16),
           ("bf16", torch.bfloat16), ("f32", torch.float32), ("f64", torch.float64)]
    # 1/3 is not exact in F16 or BF16: the C++ test checks it rounds as torch rounds it.
    vals = torch.cat([base, torch.tensor([[1.0 / 3.0, -7.0, 3.0, 0.0, 2.0, 65.0]], dtype=torch.float64)])
    tensors = []
    as_f64 = []
    for name, dt in dts:
        src = vals.abs() if dt == torch.uint8 else vals
        t = src.to(dt)
        tensors.append((name, t))
        as_f64.append(t.to(torch.float64))
    write_safetensors(outdir / "dtypes.safetensors", tensors, metadata={"source": "torch " + torch.__version__.split("a")[0]},
                      metadata_last=False)
    np.save(outdir / "dtypes_as_f64.npy", torch.stack(as_f64).numpy().astype("<f8"))
