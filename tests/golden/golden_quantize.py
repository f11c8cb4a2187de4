"""Golden files for quantize.hpp, written by PyTorch 1.13 (Debian's python3-torch).

Run through the driver:  OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tests/golden/make_golden.py quantize

Text format, one record per case; each line is `key value value ...`; floats are written as
the hex of their IEEE-754 bits (exact), a record ends with `end`:
  case <name>
  dtype qint8|quint8            scheme symmetric|affine      axis -1 (per tensor) | channel axis
  shape d0 d1 ...
  input <float bits>            (moving average: input0, input1, ... and `batches k`)
  scale <float bits>            zero_point <ints>
  codes <ints>                  dequant <float bits>
"""
import pathlib
import struct

import torch
from torch.ao.quantization.observer import (
    MinMaxObserver,
    MovingAverageMinMaxObserver,
    MovingAveragePerChannelMinMaxObserver,
    PerChannelMinMaxObserver,
)


def fbits(t):
    t = t.detach().contiguous().reshape(-1).to(torch.float32)
    return " ".join("%08x" % struct.unpack("<I", struct.pack("<f", float(v)))[0] for v in t.tolist())


def ints(t):
    return " ".join(str(int(v)) for v in t.reshape(-1).tolist())


def inputs():
    g = torch.Generator().manual_seed(20240601)
    cases = []
    for shape in [(16, 33), (7, 5), (3, 64)]:
        cases.append(("randn%dx%d" % shape, torch.randn(*shape, generator=g)))
    cases.append(("scaled_randn", torch.randn(12, 40, generator=g) * 0.037))
    cases.append(("uniform_pos", torch.rand(9, 31, generator=g) * 3.0 + 0.5))
    cases.append(("uniform_neg", -torch.rand(9, 31, generator=g) * 0.2 - 0.01))
    x = torch.randn(10, 50, generator=g)
    x[3, 7] = 40.0
    x[8, 1] = -25.0
    cases.append(("outliers", x))
    # exact ties: multiples of amax/255 and of amax/127.5 with halves
    cases.append(("ties255", (torch.arange(-300, 300, dtype=torch.float32) * 0.5 / 255.0).reshape(20, 30)))
    cases.append(("ties127", (torch.arange(-255, 257, dtype=torch.float32) * 0.5 / 127.5 * 3.0).reshape(16, 32)))
    cases.append(("linspace", torch.linspace(-1.3, 0.7, 1021).reshape(1, 1021)))
    cases.append(("tiny", torch.randn(6, 20, generator=g) * 1e-9))
    cases.append(("constant", torch.full((4, 9), 0.625)))
    cases.append(("zeros", torch.zeros(5, 8)))
    cases.append(("row_zero", torch.cat([torch.zeros(1, 16), torch.randn(3, 16, generator=g)])))
    cases.append(("conv4d", torch.randn(6, 3, 3, 3, generator=g) * 0.2))
    cases.append(("vec", torch.randn(37, generator=g)))
    cases.append(("big", torch.randn(8, 40, generator=g) * 1e4))
    return cases


def write_minmax(path):
    lines = []
    for name, x in inputs():
        for dtype in (torch.qint8, torch.quint8):
            for scheme in ("symmetric", "affine"):
                axes = [-1] + ([0, 1] if x.dim() >= 2 else [])
                for axis in axes:
                    if axis == -1:
                        qs = torch.per_tensor_symmetric if scheme == "symmetric" else torch.per_tensor_affine
                        obs = MinMaxObserver(dtype=dtype, qscheme=qs)
                        obs(x)
                        scale, zp = obs.calculate_qparams()
                        q = torch.quantize_per_tensor(x, float(scale), int(zp), dtype)
                    else:
                        qs = torch.per_channel_symmetric if scheme == "symmetric" else torch.per_channel_affine
                        obs = PerChannelMinMaxObserver(ch_axis=axis, dtype=dtype, qscheme=qs)
                        obs(x)
                        scale, zp = obs.calculate_qparams()
                        q = torch.quantize_per_channel(x, scale, zp, axis, dtype)
                    lines.append("case %s" % name)
                    lines.append("dtype %s" % ("qint8" if dtype == torch.qint8 else "quint8"))
                    lines.append("scheme %s" % scheme)
                    lines.append("axis %d" % axis)
                    lines.append("shape " + " ".join(str(d) for d in x.shape))
                    lines.append("input " + fbits(x))
                    lines.append("scale " + fbits(scale))
                    lines.append("zero_point " + ints(zp))
                    lines.append("codes " + ints(q.int_repr()))
                    lines.append("dequant " + fbits(q.dequantize()))
                    lines.append("end")
    path.write_text("\n".join(lines) + "\n")


def write_moving_average(path):
    g = torch.Generator().manual_seed(77)
    lines = []
    batches = [torch.randn(8, 24, generator=g) * (1.0 + 0.3 * i) + 0.1 * i for i in range(6)]
    for const in (0.01, 0.25):
        for dtype in (torch.qint8, torch.quint8):
            for scheme in ("symmetric", "affine"):
                for axis in (-1, 0, 1):
                    if axis == -1:
                        qs = torch.per_tensor_symmetric if scheme == "symmetric" else torch.per_tensor_affine
                        obs = MovingAverageMinMaxObserver(averaging_constant=const, dtype=dtype, qscheme=qs)
                    else:
                        qs = torch.per_channel_symmetric if scheme == "symmetric" else torch.per_channel_affine
                        obs = MovingAveragePerChannelMinMaxObserver(
                            averaging_constant=const, ch_axis=axis, dtype=dtype, qscheme=qs)
                    for b in batches:
                        obs(b)
                    scale, zp = obs.calculate_qparams()
                    lines.append("case moving_average_%g" % const)
                    lines.append("constant %s" % fbits(torch.tensor([const])))
                    lines.append("dtype %s" % ("qint8" if dtype == torch.qint8 else "quint8"))
                    lines.append("scheme %s" % scheme)
                    lines.append("axis %d" % axis)
                    lines.append("shape " + " ".join(str(d) for d in batches[0].shape))
                    lines.append("batches %d" % len(batches))
                    for i, b in enumerate(batches):
                        lines.append("input%d %s" % (i, fbits(b)))
                    lines.append("scale " + fbits(scale))
                    lines.append("zero_point " + ints(zp))
                    lines.append("end")
    path.write_text("\n".join(lines) + "\n")


def write_fake_quantize(path):
    """torch.fake_quantize_per_{tensor,channel}_affine forward values and input gradients
    (straight-through estimator) with the parameters of a MinMaxObserver on a calibration
    tensor, applied to a wider tensor so that some values are clamped."""
    g = torch.Generator().manual_seed(5)
    lines = []
    calib = torch.randn(6, 20, generator=g)
    x = torch.randn(6, 20, generator=g) * 1.6
    for dtype, qmin, qmax in ((torch.qint8, -128, 127), (torch.quint8, 0, 255)):
        for scheme in ("symmetric", "affine"):
            for axis in (-1, 0):
                if axis == -1:
                    qs = torch.per_tensor_symmetric if scheme == "symmetric" else torch.per_tensor_affine
                    obs = MinMaxObserver(dtype=dtype, qscheme=qs)
                else:
                    qs = torch.per_channel_symmetric if scheme == "symmetric" else torch.per_channel_affine
                    obs = PerChannelMinMaxObserver(ch_axis=0, dtype=dtype, qscheme=qs)
                obs(calib)
                scale, zp = obs.calculate_qparams()
                xi = x.clone().requires_grad_(True)
                if axis == -1:
                    y = torch.fake_quantize_per_tensor_affine(xi, float(scale), int(zp), qmin, qmax)
                else:
                    y = torch.fake_quantize_per_channel_affine(xi, scale, zp.to(torch.int32), 0, qmin, qmax)
                y.backward(torch.ones_like(y))
                lines.append("case fake_quantize")
                lines.append("dtype %s" % ("qint8" if dtype == torch.qint8 else "quint8"))
                lines.append("scheme %s" % scheme)
                lines.append("axis %d" % axis)
                lines.append("shape " + " ".join(str(d) for d in x.shape))
                lines.append("calib " + fbits(calib))
                lines.append("input " + fbits(x))
                lines.append("scale " + fbits(scale))
                lines.append("zero_point " + ints(zp))
                lines.append("output " + fbits(y))
                lines.append("grad " + fbits(xi.grad))
                lines.append("end")
    path.write_text("\n".join(lines) + "\n")


def write_half(path):
    """float -> fp16 / bf16 -> float round trips by PyTorch (.half(), .bfloat16())."""
    g = torch.Generator().manual_seed(11)
    bits = torch.randint(0, 2**31 - 1, (4000,), generator=g, dtype=torch.int64)
    signs = torch.randint(0, 2, (4000,), generator=g, dtype=torch.int64) << 31
    raw = (bits | signs).to(torch.int64)
    vals = [struct.unpack("<f", struct.pack("<I", int(b) & 0xFFFFFFFF))[0] for b in raw.tolist()]
    x = torch.tensor(vals, dtype=torch.float32)
    x = x[torch.isfinite(x)]
    y = torch.cat([torch.randn(4000, generator=g) * s for s in (1e-6, 1e-3, 1.0, 1e3, 6e4)])
    x = torch.cat([x, y, torch.tensor([65504.0, 65519.0, 65520.0, 1e5, -7e4, 2.0**-24, 2.0**-25, 3 * 2.0**-26])])
    lines = ["case half", "input " + fbits(x), "fp16 " + fbits(x.half().float()),
             "bf16 " + fbits(x.bfloat16().float()), "end"]
    path.write_text("\n".join(lines) + "\n")


def generate(outdir: pathlib.Path):
    torch.set_num_threads(1)
    write_minmax(outdir / "torch_minmax.txt")
    write_moving_average(outdir / "torch_moving_average.txt")
    write_fake_quantize(outdir / "torch_fake_quantize.txt")
    write_half(outdir / "torch_half.txt")
