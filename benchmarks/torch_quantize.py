#!/usr/bin/python3
"""PyTorch side of the quantization benchmark (single thread): per-channel int8 quantization
of a 4096x4096 fp32 tensor including the observer pass, as compress's
`quantizer<int8, symmetric, per_channel<0>>::quantize` does.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 benchmarks/torch_quantize.py [repetitions] > torch.json
"""
import json
import sys
import time

import torch
from torch.ao.quantization.observer import MinMaxObserver, PerChannelMinMaxObserver


def timeit(fn, reps):
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return {"min_ms": times[0] * 1e3, "median_ms": times[len(times) // 2] * 1e3}


def main():
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    torch.set_num_threads(1)
    torch.manual_seed(1)
    w = torch.randn(4096, 4096)

    def per_channel(dtype, qscheme):
        def run():
            obs = PerChannelMinMaxObserver(ch_axis=0, dtype=dtype, qscheme=qscheme)
            obs(w)
            scale, zp = obs.calculate_qparams()
            return torch.quantize_per_channel(w, scale, zp, 0, dtype)
        return run

    def per_tensor():
        obs = MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
        obs(w)
        scale, zp = obs.calculate_qparams()
        return torch.quantize_per_tensor(w, float(scale), int(zp), torch.qint8)

    scale = torch.ones(4096)
    zp = torch.zeros(4096, dtype=torch.int64)
    out = {
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "int8_symmetric_per_channel": timeit(per_channel(torch.qint8, torch.per_channel_symmetric), reps),
        "uint8_affine_per_channel": timeit(per_channel(torch.quint8, torch.per_channel_affine), reps),
        "int8_symmetric_per_tensor": timeit(per_tensor, reps),
        "int8_quantize_pass": timeit(lambda: torch.quantize_per_channel(w, scale, zp, 0, torch.qint8), reps),
    }
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
