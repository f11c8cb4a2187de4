#!/usr/bin/env bash
# `make bench`: runs every benchmarks/run_<area>.sh with the benchmark build directory.
# Each one runs its Google Benchmark program(s) and side-by-side peer scripts and updates
# its own section of docs/results.md (scripts/update_results.py).
set -euo pipefail
build=${1:-build-bench}
cd "$(dirname "$0")/.."
for s in benchmarks/run_*.sh; do
  [ -e "$s" ] || continue
  # the 8 GiB big-checkpoint run needs minutes and ~24 GiB of disk: `make bench-big`
  [ "$s" = benchmarks/run_reliability.sh ] && continue
  echo "== $s"
  bash "$s" "$build"
done
