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
flock /tmp/compress-bench.lock "$build/benchmarks/bench_quantize" --benchmark_repetitions="$reps" \
    --benchmark_out="$out/cpp.json" --benchmark_out_format=json >/dev/null
flock /tmp/compress-bench.lock env OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 benchmarks/torch_quantize.py "$reps" \
    > "$out/torch.json"
/usr/bin/python3 benchmarks/quantize_report.py "$out/cpp.json" "$out/torch.json" "$reps" > "$out/section.md"
python3 scripts/update_results.py quantize "$out/section.md"
cat "$out/section.md"
