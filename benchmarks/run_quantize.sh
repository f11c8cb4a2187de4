#!/usr/bin/env bash
# Quantization benchmark: bench_quantize (Google Benchmark) and the PyTorch side-by-side
# script, both single-threaded, then the `quantize` section of docs/results.md.
#   bash benchmarks/run_quantize.sh BUILD_DIR      (BUILD_DIR configured with -DCOMPRESS_BUILD_BENCHMARKS=ON)
set -euo pipefail
build=${1:-build-bench}
cd "$(dirname "$0")/.."
reps=${QUANTIZE_BENCH_REPS:-7}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# `uptime` is taken inside the lock, right before the C++ run and right after the PyTorch run.
flock /tmp/compress-bench.lock sh -c 'uptime > "$1/uptime_before"; shift; exec "$@"' sh "$out" \
    "$build/benchmarks/bench_quantize" --benchmark_repetitions="$reps" \
    --benchmark_out="$out/cpp.json" --benchmark_out_format=json >/dev/null
flock /tmp/compress-bench.lock sh -c 'env OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 benchmarks/torch_quantize.py "$2" > "$1/torch.json"; uptime > "$1/uptime_after"' \
    sh "$out" "$reps"
/usr/bin/python3 benchmarks/quantize_report.py "$out/cpp.json" "$out/torch.json" "$reps" \
    "$out/uptime_before" "$out/uptime_after" > "$out/section.md"
python3 scripts/update_results.py quantize "$out/section.md"
cat "$out/section.md"
