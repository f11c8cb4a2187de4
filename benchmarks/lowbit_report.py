#!/usr/bin/env python3
"""Turns bench_lowbit's Google Benchmark JSON and lowbit_torch.py's JSON into the `lowbit`
section of docs/results.md (markdown on stdout).

    lowbit_report.py BENCH_JSON TORCH_JSON "COMMAND" ["UPTIME AFTER THE RUN"] > section.md

Times: minimum (and median) over the repetitions of each benchmark, wall clock. The target
table also gives the ratios of the minimum CPU times (the benchmark's per-thread CPU time),
which a loaded machine distorts far less than wall-clock times (time slices lost to other
processes count in wall time only).
"""
import json
import statistics
import sys


def load_bench(path):
    runs = {}
    with open(path) as f:
        data = json.load(f)
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["run_name"] if "run_name" in b else b["name"]
        parts = name.split("/")
        key = (parts[0], int(parts[1]), int(parts[2]), int(parts[3]))
        unit = b.get("time_unit", "us")
        k = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}[unit]
        r = runs.setdefault(key, {"times": [], "cpu": [], "label": b.get("label", "")})
        r["times"].append(b["real_time"] * k)
        r["cpu"].append(b["cpu_time"] * k)
    return data.get("context", {}), runs


def fmt(t):
    return "—" if t is None else (f"{t:,.0f}" if t >= 100 else f"{t:.1f}")


def main():
    bench_json, torch_json, command = sys.argv[1], sys.argv[2], sys.argv[3]
    uptime_after = sys.argv[4] if len(sys.argv) > 4 else None
    ctx, runs = load_bench(bench_json)
    with open(torch_json) as f:
        tj = json.load(f)
    torch_rows = {(r["M"], r["N"], r["K"]): r for r in tj["results"]}

    def best(name, shape):
        r = runs.get((name,) + shape)
        if not r:
            return None, None
        return min(r["times"]), statistics.median(r["times"])

    def best_cpu(name, shape):
        r = runs.get((name,) + shape)
        return min(r["cpu"]) if r else None

    shapes = [(1, 4096, 4096), (8, 4096, 4096), (64, 4096, 4096), (1024, 1024, 1024)]
    cols = [
        ("OpenBLAS fp32", "BM_openblas_fp32"),
        ("gemmlowp u8", "BM_gemmlowp_u8"),
        ("W8A8 (VNNI)", "BM_compress_w8a8"),
        ("W8A8 (no VNNI)", "BM_compress_w8a8_novnni"),
        ("weight-only int8", "BM_compress_wo_int8_perchannel"),
        ("weight-only int4-g32", "BM_compress_wo_int4_g32_fp16"),
        ("binary", "BM_compress_binary"),
        ("ternary", "BM_compress_ternary"),
    ]
    out = []
    out.append("## Low-bit kernels (`lowbit`)\n")
    out.append(f"Command: `{command}`  ")
    out.append(f"Machine: {ctx.get('num_cpus', '?')} CPUs at {ctx.get('mhz_per_cpu', '?')} MHz (AMD EPYC, AVX-512 VNNI "
               f"+ VPOPCNTDQ + BF16), one thread everywhere (OpenBLAS `OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1`, "
               f"gemmlowp `set_max_num_threads(1)` with `GEMMLOWP_ENABLE_AVX2`, PyTorch {tj['torch']} "
               f"`torch.set_num_threads(1)`, engine `{tj['engine']}`).  ")
    load = ctx.get("load_avg")
    if load and max(load) > 1.5:
        out.append(f"**Load average during this run: {', '.join(f'{v:.1f}' for v in load)} on "
                   f"{ctx.get('num_cpus', '?')} CPUs** (other builds were running): absolute times are inflated and "
                   f"the ratios are noisy; `make bench` on a quiet machine gives the reference numbers.  ")
    if uptime_after:
        out.append(f"`uptime` right after the run: `{uptime_after.strip()}`.  ")
    out.append("Times in µs, minimum over the repetitions (median in parentheses), wall clock. Every compress "
               "variant includes its per-call activation work (int8 quantization, binarization, permutation). "
               "Batch 1 rows: OpenBLAS runs `sgemv`.\n")
    header = "| M×N×K | " + " | ".join(c[0] for c in cols) + " | torch oneDNN static | torch oneDNN dynamic |"
    out.append(header)
    out.append("|" + "---|" * (len(cols) + 3))
    for s in shapes:
        cells = []
        for _, name in cols:
            mn, md = best(name, s)
            cells.append("—" if mn is None else f"{fmt(mn)} ({fmt(md)})")
        t = torch_rows.get(s)
        if t:
            cells.append(f"{fmt(t['static_min_us'])} ({fmt(t['static_median_us'])})")
            cells.append(f"{fmt(t['dynamic_min_us'])} ({fmt(t['dynamic_median_us'])})")
        else:
            cells += ["—", "—"]
        out.append(f"| {s[0]}×{s[1]}×{s[2]} | " + " | ".join(cells) + " |")

    # sparse GEMV (informative)
    sp = []
    for label, name in [("int8 codes", "BM_compress_sparse10_int8"), ("4-bit codebook", "BM_compress_sparse10_codebook4")]:
        mn, md = best(name, (1, 4096, 4096))
        if mn is not None:
            sp.append(f"{label} {fmt(mn)} µs ({fmt(md)})")
    if sp:
        ob, _ = best("BM_openblas_fp32", (1, 4096, 4096))
        out.append(f"\nLow-bit × sparse GEMV (Deep Compression style, 10% density, 4096×4096, uint16 column indices): "
                   + ", ".join(sp) + f"; dense OpenBLAS sgemv {fmt(ob)} µs.\n")

    # targets
    def ratio(a, b):
        return None if a is None or b is None else a / b

    s64 = (64, 4096, 4096)
    s1 = (1, 4096, 4096)
    ob64 = best("BM_openblas_fp32", s64)[0]
    gl64 = best("BM_gemmlowp_u8", s64)[0]
    w64 = best("BM_compress_w8a8", s64)[0]
    t64 = torch_rows.get(s64)
    tbest = min(t64["static_min_us"], t64["dynamic_min_us"]) if t64 else None
    ob1 = best("BM_openblas_fp32", s1)[0]
    i4 = best("BM_compress_wo_int4_g32_fp16", s1)[0]
    i8 = best("BM_compress_wo_int8_perchannel", s1)[0]
    b64 = best("BM_compress_binary", s64)[0]
    c = best_cpu
    targets = [
        ("W8A8 VNNI, 64×4096×4096: speed-up over OpenBLAS fp32", ratio(ob64, w64),
         ratio(c("BM_openblas_fp32", s64), c("BM_compress_w8a8", s64)), 4.0),
        ("W8A8 VNNI, 64×4096×4096: speed-up over gemmlowp", ratio(gl64, w64),
         ratio(c("BM_gemmlowp_u8", s64), c("BM_compress_w8a8", s64)), 5.0),
        ("W8A8 VNNI, 64×4096×4096: fraction of PyTorch/oneDNN speed (faster of static/dynamic)",
         ratio(tbest, w64), None, 0.8),
        ("int4-g32 weight-only GEMV 4096×4096: speed-up over OpenBLAS sgemv", ratio(ob1, i4),
         ratio(c("BM_openblas_fp32", s1), c("BM_compress_wo_int4_g32_fp16", s1)), 5.0),
        ("int8 weight-only GEMV 4096×4096: speed-up over OpenBLAS sgemv", ratio(ob1, i8),
         ratio(c("BM_openblas_fp32", s1), c("BM_compress_wo_int8_perchannel", s1)), 3.0),
        ("binary 64×4096×4096 (binarization included): speed-up over OpenBLAS fp32", ratio(ob64, b64),
         ratio(c("BM_openblas_fp32", s64), c("BM_compress_binary", s64)), 20.0),
    ]
    out.append("\n| target | measured (wall clock, min/min) | by CPU time (min/min) | wanted | met (wall clock) |")
    out.append("|---|---|---|---|---|")
    for label, r, rc, want in targets:
        rcs = "—" if rc is None else f"{rc:.2f}×"
        if r is None:
            out.append(f"| {label} | — | {rcs} | ≥ {want}× | not measured |")
        else:
            out.append(f"| {label} | {r:.2f}× | {rcs} | ≥ {want}× | {'yes' if r >= want else '**no**'} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
