#!/usr/bin/env bash
# Dense GEMM and sparse linear benchmark (bench_sparse: compress vs OpenBLAS and Eigen in one
# executable, one thread). Writes section `sparse` of docs/results.md, the plot
# docs/sparse_speedup.svg; the raw JSON is kept as BUILD_DIR/sparse_bench.json. To recalibrate the
# cost model from it:
#   benchmarks/sparse_report.py BUILD_DIR/sparse_bench.json docs --header include/compress/kernels/cost_table.hpp
# Usage: bash benchmarks/run_sparse.sh BUILD_DIR   (takes the benchmark lock itself: do not wrap it in flock)
set -euo pipefail
build=${1:-build-bench}
cd "$(dirname "$0")/.."
bin="$build/benchmarks/bench_sparse"
[ -x "$bin" ] || { echo "run_sparse: $bin not built (needs OpenBLAS and Eigen3)"; exit 0; }
reps=${SPARSE_BENCH_REPS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
  flock /tmp/compress-bench.lock "$bin" --benchmark_repetitions="$reps" \
    --benchmark_min_time="${SPARSE_BENCH_MIN_TIME:-0.1}" \
    --benchmark_format=json --benchmark_out="$tmp/sparse.json" --benchmark_out_format=json >/dev/null
export SPARSE_LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 benchmarks/sparse_report.py "$tmp/sparse.json" docs --table "$tmp/cost_table.inc" > "$tmp/section.md"
cp "$tmp/sparse.json" "$build/sparse_bench.json"
scripts/update_results.py sparse "$tmp/section.md"
cat "$tmp/section.md"
