#!/usr/bin/env bash
# Low-bit kernels: bench_lowbit (compress, OpenBLAS fp32, gemmlowp) and PyTorch's oneDNN
# quantized Linear side by side, single thread; writes the `lowbit` section of docs/results.md.
#   bash benchmarks/run_lowbit.sh BUILD_DIR [extra Google Benchmark flags]
set -euo pipefail
build=${1:-build-bench}
shift || true
cd "$(dirname "$0")/.."
bin="$build/benchmarks/bench_lowbit"
[ -x "$bin" ] || { echo "run_lowbit: $bin not built (needs OpenBLAS and gemmlowp headers)"; exit 0; }
out=$(mktemp -d)
reps=${LOWBIT_REPS:-5}
cmd="OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 $bin --benchmark_repetitions=$reps --benchmark_min_time=0.2"
flock /tmp/compress-bench.lock env OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
    "$bin" --benchmark_repetitions="$reps" --benchmark_min_time=0.2 \
    --benchmark_out="$out/bench.json" --benchmark_out_format=json "$@"
flock /tmp/compress-bench.lock env OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 benchmarks/lowbit_torch.py \
    --reps "$reps" --json "$out/torch.json"
python3 benchmarks/lowbit_report.py "$out/bench.json" "$out/torch.json" \
    "$cmd; OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 benchmarks/lowbit_torch.py (bash benchmarks/run_lowbit.sh $build)" \
    "$(uptime)" > "$out/section.md"
cat "$out/section.md"
python3 scripts/update_results.py lowbit "$out/section.md"
cp "$out/bench.json" "$out/torch.json" "$build/" 2>/dev/null || true
rm -rf "$out"
