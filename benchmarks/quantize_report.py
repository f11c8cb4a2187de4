#!/usr/bin/python3
"""Turns bench_quantize's JSON and torch_quantize.py's JSON into the `quantize` section of
docs/results.md (called by benchmarks/run_quantize.sh)."""
import json
import statistics
import subprocess
import sys

MIB = 1024 * 1024


def load_cpp(path):
    data = json.load(open(path))
    runs = {}
    for b in data["benchmarks"]:
        if b.get("run_type", "iteration") != "iteration":
            continue
        name = b["run_name"] if "run_name" in b else b["name"]
        t = b["real_time"]
        unit = b.get("time_unit", "ns")
        ms = t * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
        runs.setdefault(name, []).append(ms)
    return {k: {"min_ms": min(v), "median_ms": statistics.median(v)} for k, v in runs.items()}, data.get("context", {})


def main():
    cpp, ctx = load_cpp(sys.argv[1])
    torch = json.load(open(sys.argv[2]))
    reps = sys.argv[3]
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"], capture_output=True, text=True).stdout.strip()
    n = 4096 * 4096
    lines = []
    lines.append("## quantize: 4096×4096 fp32 → int8 (single thread)")
    lines.append("")
    lines.append("Command: `bash benchmarks/run_quantize.sh build-bench` (part of `make bench`): "
                 "`build-bench/benchmarks/bench_quantize --benchmark_repetitions=%s` and "
                 "`OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 benchmarks/torch_quantize.py %s` "
                 "(PyTorch %s, `torch.set_num_threads(1)`), both under `flock /tmp/compress-bench.lock`. "
                 "compress is built with `-O3 -march=native`. CPU: %s. "
                 "Times are min / median over the repetitions." % (reps, reps, torch["torch_version"], cpu or "unknown"))
    load = ctx.get("load_avg", [])
    uptimes = [open(f).read().strip() for f in sys.argv[4:6]] if len(sys.argv) >= 6 else []
    if load or uptimes:
        lines.append("")
        text = "Machine load (other helpers' builds inflate absolute times; every ratio below compares two " \
               "measurements of the same run):"
        if load:
            text += " load average %s on %s CPUs when bench_quantize started" % (
                ", ".join("%.1f" % v for v in load), ctx.get("num_cpus", "?"))
        if uptimes:
            text += "; `uptime` before the C++ run: `%s`; after the PyTorch run: `%s`" % (uptimes[0], uptimes[1])
        lines.append(text + ".")
    lines.append("")
    lines.append("| operation | compress (ms) | PyTorch (ms) | speed-up (min / median) |")
    lines.append("|---|---:|---:|---:|")
    rows = [
        ("int8_symmetric_per_channel", "per-channel qint8, symmetric, incl. observer (`quantizer<int8, symmetric, per_channel<0>>::quantize` vs `PerChannelMinMaxObserver` + `quantize_per_channel`)"),
        ("uint8_affine_per_channel", "per-channel quint8, affine, incl. observer"),
        ("int8_symmetric_per_tensor", "per-tensor qint8, symmetric, incl. observer"),
        ("int8_quantize_pass", "quantize pass only, given per-channel scales"),
    ]
    for key, label in rows:
        c, t = cpp[key], torch[key]
        lines.append("| %s | %.2f / %.2f | %.1f / %.1f | **%.1f×** / %.1f× |" % (
            label, c["min_ms"], c["median_ms"], t["min_ms"], t["median_ms"],
            t["min_ms"] / c["min_ms"], t["median_ms"] / c["median_ms"]))
    lines.append("")
    rd, cp, qp, ob = cpp["bandwidth_read"], cpp["bandwidth_memcpy"], cpp["int8_quantize_pass"], cpp["int8_observer_pass"]
    gbs = lambda nbytes, ms: nbytes / (ms * 1e-3) / 1e9
    read_bw = gbs(4 * n, rd["min_ms"])
    copy_bw = gbs(8 * n, cp["min_ms"])
    ref_bw = max(read_bw, copy_bw)
    pass_bw = gbs(5 * n, qp["min_ms"])
    obs_bw = gbs(4 * n, ob["min_ms"])
    full_bw = gbs(5 * n, cpp["int8_symmetric_per_channel"]["min_ms"])
    lines.append("Memory bandwidth, measured in the same run on the same 64 MiB tensor (best of the repetitions):")
    lines.append("")
    lines.append("| pass | bytes moved | GB/s | of the machine's bandwidth |")
    lines.append("|---|---:|---:|---:|")
    lines.append("| stream read (SIMD sum) | 64 MiB | %.1f | |" % read_bw)
    lines.append("| memcpy (read + write) | 128 MiB | %.1f | |" % copy_bw)
    lines.append("| int8 quantize pass (read fp32, write int8) | 80 MiB | %.1f | **%.0f%%** |" % (pass_bw, 100 * pass_bw / ref_bw))
    lines.append("| observer pass (per-row min/max + NaN check) | 64 MiB | %.1f | %.0f%% |" % (obs_bw, 100 * obs_bw / ref_bw))
    lines.append("| whole per-channel quantize (observer fused per row) | 80 MiB | %.1f | %.0f%% |" % (full_bw, 100 * full_bw / ref_bw))
    lines.append("")
    speedup = torch["int8_symmetric_per_channel"]["min_ms"] / cpp["int8_symmetric_per_channel"]["min_ms"]
    verdict = lambda ok: "**met**" if ok else "**not met**"
    lines.append("Targets of issue 4 (min over the repetitions, both sides from this run):")
    lines.append("")
    lines.append("| target | compress | peer / reference (same run) | measured | result |")
    lines.append("|---|---:|---:|---:|---|")
    lines.append("| per-channel int8 of 4096×4096 incl. the observer pass ≥ 10× faster than PyTorch "
                 "(`PerChannelMinMaxObserver` + `torch.quantize_per_channel`, 1 thread) | %.2f ms | %.1f ms | %.1f× | %s |"
                 % (cpp["int8_symmetric_per_channel"]["min_ms"], torch["int8_symmetric_per_channel"]["min_ms"],
                    speedup, verdict(speedup >= 10.0)))
    lines.append("| quantize pass ≥ 50%% of the machine's memory bandwidth | %.1f GB/s | %.1f GB/s | %.0f%% | %s |"
                 % (pass_bw, ref_bw, 100 * pass_bw / ref_bw, verdict(pass_bw >= 0.5 * ref_bw)))
    lines.append("")
    lines.append("The machine's bandwidth is the larger of the stream-read and memcpy rates. Other formats "
                 "(same tensor, incl. observer): int4 per_group<32> fp16 scales %.1f ms, binary per channel %.1f ms (min)."
                 % (cpp["int4_per_group32_fp16"]["min_ms"], cpp["binary_per_channel"]["min_ms"]))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
