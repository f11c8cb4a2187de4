#!/usr/bin/env bash
# Training substrate vs PyTorch on Fashion-MNIST: LeNet-300-100 (10 epochs, SGD lr 0.05,
# momentum 0.9, batch 128) over several seeds, and a LeNet-5-style CNN, each in C++
# (bench_nn_lenet = examples/nn/lenet.cpp with OpenMP) and in PyTorch (examples/nn/lenet_pytorch.py),
# both on 2 threads with OMP_WAIT_POLICY=PASSIVE. Writes section `nn` of docs/results.md.
#   Usage: benchmarks/run_nn.sh BUILD_DIR    (NN_SEEDS="0 1 2", NN_EPOCHS=10, NN_CNN_EPOCHS=10)
set -euo pipefail
build=${1:-build-bench}
cd "$(dirname "$0")/.."
seeds=${NN_SEEDS:-"0 1 2"}
epochs=${NN_EPOCHS:-10}
cnn_epochs=${NN_CNN_EPOCHS:-10}
threads=2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
load=$(cut -d' ' -f1-3 /proc/loadavg)
export OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=$threads
run() {  # impl model epochs seed
  local log="$tmp/$1-$2-$4.log"
  if [ "$1" = compress ]; then
    flock /tmp/compress-bench.lock "$build/benchmarks/bench_nn_lenet" "$2" "$3" "$4" > "$log"
  else
    flock /tmp/compress-bench.lock /usr/bin/python3 examples/nn/lenet_pytorch.py "$2" "$3" "$4" "$threads" > "$log"
  fi
  grep '^epoch\|^RESULT' "$log" | sed "s/^/[$1 $2 seed $4] /" >&2
}
for s in $seeds; do
  run compress lenet300 "$epochs" "$s"
  run pytorch lenet300 "$epochs" "$s"
done
first_seed=${seeds%% *}
run compress lenet5 "$cnn_epochs" "$first_seed"
run pytorch lenet5 "$cnn_epochs" "$first_seed"
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
/usr/bin/python3 - "$tmp" "$load" "$epochs" "$cnn_epochs" "$seeds" "$load_end" > "$tmp/section.md" <<'PY'
import glob, os, re, statistics, sys
tmp, load, epochs, cnn_epochs, seeds, load_end = sys.argv[1:7]
runs = {}
for path in sorted(glob.glob(os.path.join(tmp, "*.log"))):
    text = open(path).read()
    m = re.search(r"^RESULT (.*)$", text, re.M)
    r = dict(kv.split("=") for kv in m.group(1).split())
    times = [float(t) for t in re.findall(r"^epoch .* ([0-9.]+) s$", text, re.M)]
    runs.setdefault((r["impl"], r["model"]), []).append((float(r["test_acc"]), times, r))
head = re.search(r"torch ([0-9.a-z]+)", open(glob.glob(os.path.join(tmp, "pytorch-lenet300-*.log"))[0]).read())
print("## Training substrate (`nn/`) vs PyTorch on Fashion-MNIST\n")
print(f"SGD lr 0.05, momentum 0.9, batch 128, reshuffled every epoch; PyTorch default initialisation on both")
print(f"sides (Kaiming-uniform a=√5). Both on 2 threads (`OMP_NUM_THREADS=2`, `OMP_WAIT_POLICY=PASSIVE`;")
print(f"compress built with `-march=native` and OpenMP, PyTorch {head.group(1) if head else ''} with `torch.set_num_threads(2)`).")
print("Epoch time = the training loop of one epoch (batching, forward, backward, step), no evaluation.")
print(f"Load average (1, 5, 15 min) at the start: {load}, at the end: {load_end} (other helpers' builds share the")
print("2 cores: times are noisy; the minimum over epochs is the least disturbed figure).\n")
print("| model | implementation | seeds | test accuracy after the last epoch (each seed) | mean | epoch time min / median (s) |")
print("|---|---|---|---|---:|---:|")
med = {}
for model, ep in (("lenet300", epochs), ("lenet5", cnn_epochs)):
    for impl in ("compress", "pytorch"):
        rs = runs.get((impl, model), [])
        if not rs:
            continue
        accs = [a for a, _, _ in rs]
        times = [t for _, ts, _ in rs for t in ts]
        med[(impl, model)] = (min(times), statistics.median(times))
        label = "LeNet-300-100, %s epochs" % ep if model == "lenet300" else "LeNet-5-style CNN, %s epochs" % ep
        print(f"| {label} | {impl} | {' '.join(r['seed'] for _, _, r in rs)} | {', '.join('%.4f' % a for a in accs)} | "
              f"{statistics.mean(accs):.4f} | {min(times):.2f} / {statistics.median(times):.2f} |")
print()
for model, label in (("lenet300", "LeNet-300-100"), ("lenet5", "LeNet-5-style CNN")):
    if ("compress", model) in med and ("pytorch", model) in med:
        c, p = med[("compress", model)], med[("pytorch", model)]
        print(f"- {label}: epoch time compress / PyTorch = {c[0]/p[0]:.2f} (min), {c[1]/p[1]:.2f} (median).")
for model, label in (("lenet300", "LeNet-300-100"), ("lenet5", "LeNet-5-style CNN")):
    c = [a for a, _, _ in runs.get(("compress", model), [])]
    p = [a for a, _, _ in runs.get(("pytorch", model), [])]
    if c and p:
        sd = statistics.stdev(p) if len(p) > 1 else 0.0
        inside = sum(min(p) <= a <= max(p) for a in c)
        print(f"- {label} test accuracy: compress {min(c):.4f}..{max(c):.4f} (mean {statistics.mean(c):.4f}), PyTorch "
              f"{min(p):.4f}..{max(p):.4f} (mean {statistics.mean(p):.4f}, sd {sd:.4f}); {inside} of {len(c)} compress "
              f"run(s) inside PyTorch's range.")
print(f"\nCommand: `benchmarks/run_nn.sh BUILD_DIR` (what `make bench` runs; `NN_SEEDS=\"{seeds}\" NN_EPOCHS={epochs} "
      f"NN_CNN_EPOCHS={cnn_epochs}`). By hand: `OMP_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE BUILD/benchmarks/bench_nn_lenet "
      f"lenet300 10 0` and `OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 examples/nn/lenet_pytorch.py lenet300 10 0 2`.")
PY
scripts/update_results.py nn "$tmp/section.md"
cat "$tmp/section.md"
