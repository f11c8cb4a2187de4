#!/usr/bin/env bash
# Pruning benchmark: compress (bench_prune, Google Benchmark) and torch.nn.utils.prune
# (prune_torch.py, Debian's python3-torch, one thread) side by side; writes section `prune` of
# docs/results.md with the ratios.  Usage: benchmarks/run_prune.sh BUILD_DIR
set -euo pipefail
build=${1:-build-bench}
cd "$(dirname "$0")/.."
reps=${PRUNE_BENCH_REPS:-5}
tmp=$(mktemp -d)
load=$(cut -d' ' -f1-3 /proc/loadavg)
trap 'rm -rf "$tmp"' EXIT
flock /tmp/compress-bench.lock "$build/benchmarks/bench_prune" --benchmark_repetitions="$reps" \
    --benchmark_format=json --benchmark_out="$tmp/cpp.json" --benchmark_out_format=json >/dev/null
OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=1 flock /tmp/compress-bench.lock /usr/bin/python3 benchmarks/prune_torch.py "${PRUNE_TORCH_REPS:-3}" > "$tmp/torch.json"
/usr/bin/python3 - "$tmp/cpp.json" "$tmp/torch.json" "$reps" "$load" > "$tmp/section.md" <<'PY'
import json, statistics, sys
cpp = json.load(open(sys.argv[1]))
torch = json.load(open(sys.argv[2]))
reps = sys.argv[3]
load = sys.argv[4]
runs = {}
for b in cpp["benchmarks"]:
    if b.get("run_type") != "iteration":
        continue
    name = b["run_name"].split("/")[0]
    scale = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[b["time_unit"]]
    runs.setdefault(name, []).append(b["real_time"] * scale)
def row(name):
    t = runs["BM_" + name]
    return min(t), statistics.median(t)
ctx = cpp["context"]
print("## Pruning (`prune.hpp`) vs `torch.nn.utils.prune`\n")
print("4096 x 4096 float32 weight, one thread. compress: `prune<...>(w, amount)` (mask + in-place zeroing),")
print(f"min / median of {reps} Google Benchmark repetitions; PyTorch {torch['torch_version']}: the `torch.nn.utils.prune`")
print(f"call on a fresh `nn.Linear`, `torch.set_num_threads(1)`, min / median of {torch['l1_unstructured_90']['reps']} runs.")
print(f"Machine: {ctx.get('num_cpus')} CPUs at {ctx.get('mhz_per_cpu')} MHz; {ctx.get('date')}; "
      f"load average at the start {load} (other builds share the machine: both sides slow down).\n")
print("| operation | compress min / median (ms) | PyTorch min / median (ms) | speed-up (min / median) | target |")
print("|---|---:|---:|---:|---:|")
pairs = [("l1_unstructured 90% (`magnitude`, `unstructured`)", "l1_unstructured_90", "≥ 50×"),
         ("ln_structured n=2 dim=0 50% (`rows<l2>`)", "ln_structured_l2_dim0_50", "≥ 20×"),
         ("ln_structured n=1 dim=1 50% (`columns<l1>`)", "ln_structured_l1_dim1_50", "≥ 20×"),
         ("global_unstructured 90%, 4 × 2048² (`prune_global`)", "global_unstructured_90", "—")]
for label, key, target in pairs:
    cmin, cmed = row(key)
    tmin, tmed = torch[key]["min"], torch[key]["median"]
    print(f"| {label} | {cmin*1e3:.1f} / {cmed*1e3:.1f} | {tmin*1e3:.0f} / {tmed*1e3:.0f} | {tmin/cmin:.0f}× / {tmed/cmed:.0f}× | {target} |")
print("\nWithout a PyTorch equivalent (compress only):\n")
print("| operation | min / median (ms) |")
print("|---|---:|")
for label, key in [("compute_mask only, magnitude 90%", "compute_mask_l1_unstructured_90"),
                   ("n_of_m<2,4>", "n_of_m_2_4"), ("blocks<4,4> 90%", "blocks_4x4_90")]:
    cmin, cmed = row(key)
    print(f"| {label} | {cmin*1e3:.1f} / {cmed*1e3:.1f} |")
print("\nCommand: `benchmarks/run_prune.sh BUILD_DIR` (what `make bench` runs; build with "
      "`-DCMAKE_BUILD_TYPE=Release -DCOMPRESS_BUILD_BENCHMARKS=ON`, no `-march` flag).")
PY
scripts/update_results.py prune "$tmp/section.md"
cat "$tmp/section.md"
