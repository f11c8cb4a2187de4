#!/usr/bin/env bash
# Big-checkpoint benchmark (issue 10): a synthetic checkpoint of TENSORS bf16 tensors of
# ROWS x COLS (default 64 x 4096 x 16384 x 2 bytes = 8 GiB, largest tensor 128 MiB) in a
# temporary directory (removed after),
# compressed by the `compress` tool (tensor by tensor, mapped input, streamed output, two
# threads) with int8 and int4 quantization and 2:4 pruning, next to `cp` of the same file.
# Reports wall time, GB/s (input bytes / wall time) and peak RSS (/usr/bin/time) against
# the bound 1.5 x the largest tensor + a small constant. Writes the `reliability` section of
# docs/results.md. Takes several minutes and ~3x the checkpoint size of free disk: it is
# `make bench-big`, not part of `make bench`.
# Usage: benchmarks/run_reliability.sh BUILD_DIR   (env: TENSORS ROWS COLS BIG_DIR)
set -euo pipefail
build=${1:?usage: run_reliability.sh BUILD_DIR}
cd "$(dirname "$0")/.."
tool=$build/tools/compress
[ -x "$tool" ] || { echo "run_reliability: $tool not built" >&2; exit 1; }
tensors=${TENSORS:-64}
note=""
[ "$tensors" = 64 ] || note="TENSORS=$tensors given: scaled down from the 64-tensor (8 GiB) checkpoint by the caller. "
rows=${ROWS:-4096}
cols=${COLS:-16384}
base=${BIG_DIR:-${TMPDIR:-/tmp}}
tensor_bytes=$((rows * cols * 2))
need=$((tensor_bytes * tensors * 3))  # input + cp copy or the 2:4 output (float values: 2x) + margin
avail=$(( $(df --output=avail -B1 "$base" | tail -1) ))
if [ "$avail" -lt "$need" ]; then
  fit=$(( avail / (tensor_bytes * 3) ))
  [ "$fit" -ge 1 ] || { echo "run_reliability: not enough free disk in $base" >&2; exit 1; }
  note="${note}Scaled down from $tensors to $fit tensors: $(numfmt --to=iec "$avail") free in $base, $(numfmt --to=iec "$need") needed."
  tensors=$fit
  echo "$note"
fi
dir=$(mktemp -d "$base/compress-big-XXXXXX")
trap 'rm -rf "$dir"' EXIT
in=$dir/model.safetensors
echo "generating $tensors x [$rows, $cols] bf16 in $dir"
/usr/bin/python3 benchmarks/make_checkpoint.py "$in" "$tensors" "$rows" "$cols"
size=$(stat -c %s "$in")
cat "$in" > /dev/null  # warm the page cache, as for every run below

measure() {  # name, then the command; prints "name seconds rss_kib"
  local name=$1; shift
  local t0 t1 rss
  t0=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$dir/rss" "$@" > "$dir/out.log" 2>&1 || { cat "$dir/out.log" >&2; exit 1; }
  t1=$(date +%s.%N)
  rss=$(tail -1 "$dir/rss")
  echo "$name $(echo "$t1 - $t0" | bc -l) $rss"
}
results=$dir/results.txt
: > "$results"
load0=$(cut -d' ' -f1-3 /proc/loadavg)
up0=$(uptime)
# cp + sync: the machine's copy speed of the same file, flushed to disk like the tool's output (fsync)
measure "cp" sh -c "cp '$in' '$dir/copy.safetensors' && sync -f '$dir/copy.safetensors'" | tee -a "$results"
rm -f "$dir/copy.safetensors"
measure "quantize int8 (int8-sym-channel)" "$tool" --no-progress quantize "$in" "$dir/q8.safetensors" --scheme int8-sym-channel | tee -a "$results"
"$tool" inspect "$dir/q8.safetensors" > "$dir/q8.txt"  # (not piped into head: SIGPIPE under pipefail)
rm -f "$dir/q8.safetensors"
measure "quantize int4 (int4-sym-g32)" "$tool" --no-progress quantize "$in" "$dir/q4.safetensors" --scheme int4-sym-g32 | tee -a "$results"
rm -f "$dir/q4.safetensors"
measure "prune 2:4 (magnitude)" "$tool" --no-progress prune "$in" "$dir/p24.safetensors" --grouping 2:4 | tee -a "$results"
rm -f "$dir/p24.safetensors"
load1=$(cut -d' ' -f1-3 /proc/loadavg)
up1=$(uptime)
bound=$((tensor_bytes * 3 / 2 + 64 * 1024 * 1024))  # 1.5 x largest tensor + a 64 MiB constant

report=$build/reliability-results.md
{
  echo "## Reliability: big checkpoints (\`make bench-big\`)"
  echo
  echo "Synthetic checkpoint: $tensors tensors of [$rows, $cols] bf16, $(numfmt --to=iec "$size") ($size bytes);"
  echo "largest tensor $(numfmt --to=iec $tensor_bytes); memory bound 1.5 x largest = $(numfmt --to=iec $((tensor_bytes * 3 / 2))) + a small constant."
  [ -z "$note" ] || echo "$note"
  echo "Command: \`bash benchmarks/run_reliability.sh $build\` (\`make bench-big\`); $(nproc) cores; load average $load0 before, $load1 after."
  echo "\`uptime\` before: \`$up0\`; after: \`$up1\`."
  echo "GB/s = input bytes / wall time (10^9 bytes); every output is fsync'ed before the rename, cp is followed by sync."
  echo "Memory bound checked: peak RSS <= 1.5 x largest tensor + 64 MiB = $(numfmt --to=iec $bound)."
  echo
  echo "| run | wall s | GB/s | peak RSS | RSS / largest tensor | within bound |"
  echo "|---|---|---|---|---|---|"
  while read -r line; do
    name=${line% * *}
    rest=${line#"$name "}
    secs=${rest% *}
    rss=${rest#* }
    ok=yes
    [ $((rss * 1024)) -le "$bound" ] || ok=NO
    printf '| %s | %.1f | %.2f | %s | %.2f | %s |\n' "$name" "$secs" "$(echo "$size / $secs / 1000000000" | bc -l)" \
      "$(numfmt --to=iec $((rss * 1024)))" "$(echo "$rss * 1024 / $tensor_bytes" | bc -l)" "$ok"
  done < "$results"
} > "$report"
cat "$report"
/usr/bin/python3 scripts/update_results.py reliability "$report"
