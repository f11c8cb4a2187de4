#!/usr/bin/env bash
# Runs every fuzz target of build-fuzz/ for FUZZ_SECONDS (default 60) each, starting from the
# committed seeds (fuzz/corpus/<target>) plus the regressions (fuzz/regressions/<target>).
# New coverage-increasing inputs go to BUILD/corpus-work/<target> (not committed), findings to
# BUILD/artifacts/<target>/. Prints one summary line per target and exits non-zero on a finding.
# Usage: fuzz/run_fuzz.sh BUILD_DIR [target...]   (FUZZ_SECONDS, FUZZ_JOBS, FUZZ_MAX_LEN)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:?usage: run_fuzz.sh BUILD_DIR [target...]}
shift
seconds=${FUZZ_SECONDS:-60}
max_len=${FUZZ_MAX_LEN:-16384}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for t in "$here"/fuzz_*.cpp; do t=$(basename "$t" .cpp); targets+=("${t#fuzz_}"); done
fi
status=0
summary="$build/fuzz-summary.txt"
: > "$summary"
for t in "${targets[@]}"; do
  exe="$build/fuzz_$t"
  [ -x "$exe" ] || { echo "run_fuzz: $exe not built" >&2; status=1; continue; }
  work="$build/corpus-work/$t"
  art="$build/artifacts/$t"
  mkdir -p "$work" "$art" "$here/regressions/$t"
  dict=""
  case "$t" in
    safetensors|compressed) dict="-dict=$here/dict/json.dict" ;;
    npy) dict="-dict=$here/dict/npy.dict" ;;
    idx) dict="-dict=$here/dict/idx.dict" ;;
    cli_args) dict="-dict=$here/dict/cli.dict" ;;
  esac
  log="$build/fuzz-$t.log"
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0 UBSAN_OPTIONS=print_stacktrace=1 \
    "$exe" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -malloc_limit_mb=1024 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$art/" $dict \
      "$work" "$here/corpus/$t" "$here/regressions/$t" > "$log" 2>&1
  rc=$?
  runs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
  cov=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 | sed -E 's/.*cov: ([0-9]+).*/\1/')
  found=$(ls "$art" | wc -l)
  line="$t: ${runs:-?} executions in ${seconds}s, coverage ${cov:-?} edges, exit $rc, $found artifact(s)"
  echo "$line" | tee -a "$summary"
  [ "$rc" -eq 0 ] || { status=1; grep -E 'ERROR|invariant|SUMMARY|terminate' "$log" | head -5; }
done
exit $status
