#!/usr/bin/python3
"""PyTorch's quantized Linear (oneDNN engine), single thread, on the shapes of bench_lowbit.

Run with Debian's interpreter and OMP_WAIT_POLICY=PASSIVE:

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 benchmarks/lowbit_torch.py [--json out.json]

Two variants, both int8 weights with per-channel scales and int32 accumulation:
  static  : torch.ao.nn.quantized.Linear on an input already quantized to quint8 (the
            fastest oneDNN path: no activation quantization in the timed call);
  dynamic : torch.ao.nn.quantized.dynamic.Linear (activations quantized per call, fp32 in/out),
            the same work as compress's linear(x, q).
Times are the minimum and median over repetitions of the mean of a timed loop, in microseconds.
"""
import argparse
import json
import statistics
import time

import torch

SHAPES = [(1, 4096, 4096), (8, 4096, 4096), (64, 4096, 4096), (1024, 1024, 1024)]


def time_call(fn, min_time=0.3, reps=5):
    fn()  # warm-up (oneDNN builds its primitive and reorders the weights here)
    fn()
    results = []
    for _ in range(reps):
        n = 0
        t0 = time.perf_counter()
        while True:
            fn()
            n += 1
            dt = time.perf_counter() - t0
            if dt >= min_time:
                break
        results.append(dt / n * 1e6)
    return min(results), statistics.median(results)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    torch.backends.quantized.engine = "onednn"
    torch.manual_seed(0)
    out = []
    for m, n, k in SHAPES:
        w = torch.randn(n, k) * 0.05
        b = torch.randn(n)
        x = torch.randn(m, k)
        scales = w.abs().amax(dim=1) / 127.0
        qw = torch.quantize_per_channel(w, scales, torch.zeros(n, dtype=torch.long), 0, torch.qint8)

        lin = torch.ao.nn.quantized.Linear(k, n)
        lin.set_weight_bias(qw, b)
        lin.scale, lin.zero_point = 0.05, 128
        qx = torch.quantize_per_tensor(x, float(x.abs().max() / 127.0), 128, torch.quint8)
        with torch.no_grad():
            s_min, s_med = time_call(lambda: lin(qx), reps=args.reps)

        dyn = torch.ao.nn.quantized.dynamic.Linear(k, n)
        dyn.set_weight_bias(qw, b)
        with torch.no_grad():
            d_min, d_med = time_call(lambda: dyn(x), reps=args.reps)

        row = {"M": m, "N": n, "K": k, "static_min_us": s_min, "static_median_us": s_med,
               "dynamic_min_us": d_min, "dynamic_median_us": d_med}
        print(f"torch onednn {m}x{n}x{k}: static {s_min:.1f} us (median {s_med:.1f}), "
              f"dynamic {d_min:.1f} us (median {d_med:.1f})", flush=True)
        out.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"engine": torch.backends.quantized.engine, "torch": torch.__version__,
                       "threads": torch.get_num_threads(), "results": out}, f, indent=1)


if __name__ == "__main__":
    main()
