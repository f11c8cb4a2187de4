#!/usr/bin/env bash
# Runs the two examples of the `families` area for several seeds and writes their numbers,
# with the commands, into section `families` of docs/results.md.
#
#   examples/families/run.sh BUILD_DIR [SEEDS...]          run, then write the section
#   examples/families/run.sh --from-logs LOG_DIR [SEEDS...]  only write the section from the
#                                                             logs of an earlier run
#
# Logs go to LOG_DIR = BUILD_DIR/families-logs (distill_<seed>.log, deep_<seed>.log). The
# Deep Compression settings are DC_ARGS below (after the seed); the distillation settings
# DISTILL_ARGS (after the labelled-image count and the seed are given first).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
DISTILL_LABELED=${DISTILL_LABELED:-1000}
DC_ARGS=${DC_ARGS:-"20 0.93 0.91 0.74 5 4 8 8"}
mode=run
if [[ ${1:-} == --from-logs ]]; then
  mode=logs
  shift
  logs=${1:?usage: examples/families/run.sh --from-logs LOG_DIR [SEEDS...]}
  build="BUILD_DIR"
else
  build=${1:?usage: examples/families/run.sh BUILD_DIR [SEEDS...]}
  logs="$build/families-logs"
fi
shift
seeds=("$@")
[[ ${#seeds[@]} -gt 0 ]] || seeds=(0 1 2)
mkdir -p "$logs"

if [[ $mode == run ]]; then
  for s in "${seeds[@]}"; do
    "$build/examples/families_distill_lenet" "$DISTILL_LABELED" "$s" > "$logs/distill_$s.log"
    # shellcheck disable=SC2086
    "$build/examples/families_deep_compression" "$s" $DC_ARGS > "$logs/deep_$s.log"
  done
fi

pct() { sed -n "$2" "$1" | head -1; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
{
  echo "## Distillation and Deep Compression (area \`families\`)"
  echo
  echo "From \`examples/families/run.sh\` (examples \`families_distill_lenet\` and \`families_deep_compression\`,"
  echo "single thread, seeds ${seeds[*]}). Every run trains from scratch on the 60000 Fashion-MNIST training"
  echo "images and reports accuracy on the 10000 test images."
  echo
  echo "### Distillation: LeNet-300-100 -> 784-32-10 (\`examples/families/distill_lenet.cpp\`)"
  echo
  echo "Commands: \`$build/examples/families_distill_lenet $DISTILL_LABELED SEED\` for SEED in ${seeds[*]}."
  echo
  echo "| seed | teacher | all labels: alone | all labels: distilled | $DISTILL_LABELED labels: alone | $DISTILL_LABELED labels + soft targets | $DISTILL_LABELED labels + hard targets |"
  echo "|---|---|---|---|---|---|---|"
  for s in "${seeds[@]}"; do
    f="$logs/distill_$s.log"
    t=$(pct "$f" 's/^teacher LeNet-300-100: test accuracy \([0-9.]*\)%.*/\1/p')
    aa=$(pct "$f" 's/^all labels: student alone \([0-9.]*\)%.*/\1/p')
    ka=$(pct "$f" 's/^all labels: .*distilled \([0-9.]*\)%.*/\1/p')
    af=$(pct "$f" 's/^[0-9]* labels: student alone \([0-9.]*\)%.*/\1/p')
    kf=$(pct "$f" 's/^[0-9]* labels: .*distilled (soft) \([0-9.]*\)%.*/\1/p')
    hf=$(pct "$f" 's/^[0-9]* labels: .*hard targets \([0-9.]*\)%.*/\1/p')
    echo "| $s | $t% | $aa% | $ka% ($(awk "BEGIN{printf \"%+.2f\", $ka-$aa}")) | $af% | $kf% ($(awk "BEGIN{printf \"%+.2f\", $kf-$af}")) | $hf% ($(awk "BEGIN{printf \"%+.2f\", $hf-$af}")) |"
  done
  echo
  echo "Detail of seed ${seeds[0]}:"
  echo
  sed -n '/^MARKDOWN$/,$p' "$logs/distill_${seeds[0]}.log" | tail -n +2
  echo
  echo "### Deep Compression pipeline (\`examples/families/deep_compression.cpp\`)"
  echo
  echo "Commands: \`$build/examples/families_deep_compression SEED $DC_ARGS\` for SEED in ${seeds[*]}"
  echo "(arguments: seed, dense epochs, sparsity of fc1 fc2 fc3, bits, pruning stages, retraining epochs per"
  echo "stage, codebook fine-tuning epochs). Target of the issue: >= 40x at <= 0.5 points lost vs dense."
  echo
  echo "| seed | dense fp32 | pruned + retrained | shared + fine-tuned | final (decoded from the bytes) | lost vs dense | bytes | ratio vs dense fp32 | target met |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for s in "${seeds[@]}"; do
    f="$logs/deep_$s.log"
    d=$(pct "$f" 's/^1\. dense: \([0-9.]*\)%.*/\1/p')
    p=$(pct "$f" 's/^2\. pruned + retrained: \([0-9.]*\)%.*/\1/p')
    c=$(pct "$f" 's/^3\. .*after codebook fine-tuning \([0-9.]*\)%.*/\1/p')
    b=$(pct "$f" 's/^4-5\. relative index + Huffman: \([0-9]*\) bytes.*/\1/p')
    r=$(pct "$f" 's/^4-5\. .* bytes (\([0-9.]*\)x).*/\1/p')
    a=$(pct "$f" 's/^4-5\. .*decoded model \([0-9.]*\)%.*/\1/p')
    lost=$(awk "BEGIN{printf \"%.2f\", $d-$a}")
    met=$(awk "BEGIN{print ($r >= 40 && $d-$a <= 0.5) ? \"yes\" : \"**no**\"}")
    echo "| $s | $d% | $p% | $c% | $a% | $lost | $b | ${r}x | $met |"
  done
  echo
  echo "Detail of seed ${seeds[0]}:"
  echo
  sed -n '/^MARKDOWN$/,$p' "$logs/deep_${seeds[0]}.log" | tail -n +2
} > "$out"
cat "$out"
if [[ -n ${FAMILIES_NOTES:-} ]]; then
  { echo; cat "$FAMILIES_NOTES"; } >> "$out"
fi
/usr/bin/python3 "$root/scripts/update_results.py" families "$out"
