#!/usr/bin/env bash
# `make test`, after both configurations are configured: build and run the release and the
# ASan+UBSan configurations side by side, each with JOBS jobs, each line of output prefixed with
# its configuration. Exit status: 0 only if both built and passed.
#   usage: scripts/run-tests.sh BUILD_DIR ASAN_DIR JOBS
set -uo pipefail
# Called from make: without this the two inner builds print make's "Entering directory" lines.
unset MAKEFLAGS MFLAGS MAKELEVEL
build=${1:?release build directory}
asan=${2:?sanitizer build directory}
jobs=${3:-2}

run_release() {
    cmake --build "$build" -j "$jobs" && ctest --test-dir "$build" --output-on-failure -j "$jobs"
}
run_asan() {
    cmake --build "$asan" -j "$jobs" &&
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            ctest --test-dir "$asan" --output-on-failure -j "$jobs"
}

start=$(date +%s)
run_release 2>&1 | sed -u 's/^/[release] /' &
release_pid=$!
run_asan 2>&1 | sed -u 's/^/[asan] /' &
asan_pid=$!
wait "$release_pid"; release_status=$?
wait "$asan_pid"; asan_status=$?
elapsed=$(( $(date +%s) - start ))
echo "make test: release $([ $release_status -eq 0 ] && echo passed || echo FAILED)," \
     "asan+ubsan $([ $asan_status -eq 0 ] && echo passed || echo FAILED), $((elapsed / 60)) min $((elapsed % 60)) s"
[ "$release_status" -eq 0 ] && [ "$asan_status" -eq 0 ]
