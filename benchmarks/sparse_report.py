#!/usr/bin/env python3
"""Turns bench_sparse's Google Benchmark JSON into section `sparse` of docs/results.md, the
speed-up plot docs/sparse_speedup.svg and the cost-model calibration table.

    sparse_report.py BENCH.json DOCS_DIR [--table OUT.inc] [--header include/compress/kernels/cost_table.hpp]

--header replaces the calibration block of the cost model (between `// BEGIN calibration` and
`// END calibration`) with this run's table: recalibration on another machine.

Times are the benchmark thread's CPU time, min / median over the repetitions (the machine is
shared; CPU time is what a quiet machine shows as wall time for single-threaded code).
"""
import json
import os
import math
import pathlib
import re
import statistics
import sys

SIZES = [1024, 4096]
BATCHES = [1, 8, 64]
SPARSITIES = [50, 70, 80, 90, 95]


def load(path):
    data = json.load(open(path))
    runs = {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        scale = {"ms": 1e-3, "us": 1e-6, "ns": 1e-9, "s": 1.0}[b["time_unit"]]
        runs.setdefault(b["run_name"], []).append(b["cpu_time"] * scale)
    return data["context"], {k: (min(v), statistics.median(v), len(v)) for k, v in runs.items()}


def cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def fmt_t(t):
    return f"{t * 1e3:.3f}" if t < 0.1 else f"{t * 1e3:.1f}"


def main():
    args = sys.argv[1:]
    table_out = header = None
    if "--header" in args:
        i = args.index("--header")
        header = pathlib.Path(args[i + 1])
        del args[i:i + 2]
    if "--table" in args:
        i = args.index("--table")
        table_out = args[i + 1]
        del args[i:i + 2]
    ctx, runs = load(args[0])
    docs = pathlib.Path(args[1])

    def t(name, which=0):
        r = runs.get(name)
        return None if r is None else r[which]

    def sh(n, b):
        return f"{n}x{n}/b{b}"

    out = []
    p = out.append
    reps = max(r[2] for r in runs.values())
    p("## Dense GEMM and sparse `linear` (`kernels/gemm.hpp`, `sparse.hpp`, `linear.hpp`)\n")
    p(f"CPU: **{cpu_name()}** ({ctx.get('num_cpus')} logical CPUs), one thread. {ctx.get('date')}; "
      f"load average at start {', '.join(f'{x:.1f}' for x in ctx.get('load_avg', []))}"
      + (f", at the end {os.environ['SPARSE_LOAD_END']}" if os.environ.get("SPARSE_LOAD_END") else "")
      + " (other builds share the 2 cores: CPU time of the benchmark thread is reported, but caches and memory "
      "bandwidth are shared, so both sides are slowed).")
    p(f"Times: CPU time of the benchmark thread, min / median of {reps} Google Benchmark repetitions; ratios from the mins.")
    p("Peers in the same executable: OpenBLAS 0.3.21 (Debian) `cblas_sgemm` / `cblas_sgemv` with "
      "`OPENBLAS_CORETYPE=SkylakeX OPENBLAS_NUM_THREADS=1`; Eigen 3.4 `SparseMatrix<float, RowMajor>` × dense "
      "(activations given to Eigen pre-transposed as a row-major [in, batch] matrix, its best layout; compress "
      "times the whole `linear(x, W)` call). Everything compiled with `-O3 -march=native` (AVX-512).")
    p("Weights: seeded uniform values; unstructured sparsity drops each weight independently, blocks drop whole "
      "4×4 / 1×8 blocks, 2:4 keeps 2 random positions of every 4. The benchmark loops over one layer, so a "
      "sparse weight that fits in the L3 cache (≤ 32 MB) stays there while a dense 4096² weight (64 MB) streams "
      "from memory — this favours batch-1 sparse kernels over OpenBLAS `sgemv` at 4096².\n")
    p(f"Command: `bash benchmarks/run_sparse.sh BUILD_DIR` (what `make bench` runs), i.e. `OPENBLAS_CORETYPE=SkylakeX "
      f"OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 flock /tmp/compress-bench.lock BUILD_DIR/benchmarks/bench_sparse "
      f"--benchmark_repetitions={reps} --benchmark_min_time=0.1`, built with `-DCMAKE_BUILD_TYPE=Release "
      f"-DCOMPRESS_BUILD_BENCHMARKS=ON`.\n")

    # ---------------------------------------------------------------- dense
    p("### Dense: own sgemm vs OpenBLAS\n")
    p("| problem | compress min / median (ms) | OpenBLAS min / median (ms) | compress / OpenBLAS speed |")
    p("|---|---:|---:|---:|")
    rows = [("C = A·B, 1024³", "gemm/own/1024", "gemm/openblas/1024")]
    for n in SIZES:
        for b in BATCHES:
            peer = "sgemv" if b == 1 else "sgemm"
            rows.append((f"linear, x [{b}, {n}] · W [{n}, {n}]ᵀ (OpenBLAS {peer})", f"dense/own/{sh(n, b)}",
                         f"dense/openblas/{sh(n, b)}"))
    for label, a, o in rows:
        if t(a) is None or t(o) is None:
            continue
        p(f"| {label} | {fmt_t(t(a))} / {fmt_t(t(a, 1))} | {fmt_t(t(o))} / {fmt_t(t(o, 1))} | {t(o) / t(a):.2f} |")
    p("")

    # ---------------------------------------------------------------- sparse tables
    fmts = [("csr", "csr", "unstructured"), ("bsr4x4", "bsr<4,4>", "4×4 blocks"), ("bsr1x8", "bsr<1,8>", "1×8 blocks")]
    for n in SIZES:
        p(f"### Sparse {n}×{n}: speed-up over OpenBLAS dense (× ; time in ms)\n")
        p("Each cell: speed-up over OpenBLAS dense of the same batch (sgemv at batch 1), and in parentheses over "
          "compress's own dense `linear`. Eigen: the same unstructured weights.\n")
        p("| batch | format | " + " | ".join(f"{s}%" for s in SPARSITIES) + " |")
        p("|---|---|" + "---:|" * len(SPARSITIES))
        for b in BATCHES:
            ob, od = t(f"dense/openblas/{sh(n, b)}"), t(f"dense/own/{sh(n, b)}")
            for key, label, _ in fmts + [("csr_eigen", "Eigen sparse", "")]:
                cells = []
                for s in SPARSITIES:
                    name = f"csr/eigen/{sh(n, b)}/s{s}" if key == "csr_eigen" else f"{key}/own/{sh(n, b)}/s{s}"
                    v = t(name)
                    cells.append("—" if v is None or ob is None else f"{ob / v:.2f} ({od / v:.2f}); {fmt_t(v)}")
                p(f"| {b} | {label} | " + " | ".join(cells) + " |")
            for key, label in [("nm2:4/own", "n_of_m<2,4> (50%)"), ("nm2:4/eigen", "Eigen, 2:4 weights")]:
                v = t(f"{key}/{sh(n, b)}/s50")
                if v is not None:
                    p(f"| {b} | {label} | {ob / v:.2f} ({od / v:.2f}); {fmt_t(v)} |" + " |" * (len(SPARSITIES) - 1))
        p("")

    # ---------------------------------------------------------------- targets
    def speed(a, b):
        ta, tb = t(a), t(b)
        return None if ta is None or tb is None else tb / ta

    def breakeven(n, b, impl):
        """Sparsity (%) where the sparse kernel matches OpenBLAS dense, by log-linear interpolation."""
        ob = t(f"dense/openblas/{sh(n, b)}")
        pts = []
        for s in SPARSITIES:
            v = t(f"csr/{impl}/{sh(n, b)}/s{s}")
            if v is not None and ob is not None:
                pts.append((s, math.log(ob / v)))
        if not pts:
            return None
        if pts[0][1] >= 0:
            return f"≤ {pts[0][0]}%"
        for (s0, l0), (s1, l1) in zip(pts, pts[1:]):
            if l0 < 0 <= l1:
                return f"{s0 + (s1 - s0) * (-l0) / (l1 - l0):.0f}%"
        return f"> {pts[-1][0]}%"

    p("### Targets of the issue, each next to its peer from this run\n")
    p("| target | compress min (ms) | peer min (ms) | measured | met |")
    p("|---|---:|---:|---:|:---:|")

    def row(label, own, peer, goal):
        to, tp = t(own), t(peer)
        if to is None or tp is None:
            p(f"| {label} | — | — | not measured | — |")
            return
        v = tp / to
        p(f"| {label} | {fmt_t(to)} | {fmt_t(tp)} | {v:.2f}× | {'yes' if v >= goal else '**no**'} |")

    row("own dense ≥ 0.80 × OpenBLAS sgemm, 1024³", "gemm/own/1024", "gemm/openblas/1024", 0.8)
    row("own dense ≥ 0.80 × OpenBLAS sgemm, batch 64 × 4096²", f"dense/own/{sh(4096, 64)}",
        f"dense/openblas/{sh(4096, 64)}", 0.8)
    for n in SIZES:
        row(f"CSR 90% ≥ 4× OpenBLAS sgemm, batch 64, {n}²", f"csr/own/{sh(n, 64)}/s90", f"dense/openblas/{sh(n, 64)}", 4)
        row(f"CSR 90% ≥ 2× Eigen sparse, batch 64, {n}²", f"csr/own/{sh(n, 64)}/s90", f"csr/eigen/{sh(n, 64)}/s90", 2)
        row(f"CSR 90% ≥ 3× OpenBLAS sgemv, batch 1, {n}²", f"csr/own/{sh(n, 1)}/s90", f"dense/openblas/{sh(n, 1)}", 3)
    for n in SIZES:
        for b in BATCHES:
            row(f"2:4 ≥ 1.6× own dense, batch {b}, {n}²", f"nm2:4/own/{sh(n, b)}/s50", f"dense/own/{sh(n, b)}", 1.6)
    for n in SIZES:
        for b in BATCHES:
            row(f"BSR 4×4 90% ≥ CSR 90% (peer: own CSR), batch {b}, {n}²", f"bsr4x4/own/{sh(n, b)}/s90",
                f"csr/own/{sh(n, b)}/s90", 1.0)
    p("")
    p("Break-even sparsity of CSR with OpenBLAS dense (target: ≤ 70%; log-linear interpolation between "
      "the measured sparsities), next to Eigen's from the same run:\n")
    p("| shape | batch | compress csr | Eigen sparse | met |")
    p("|---|---:|---:|---:|:---:|")
    for n in SIZES:
        for b in BATCHES:
            be, bee = breakeven(n, b, "own"), breakeven(n, b, "eigen")
            ok = be is not None and (be.startswith("≤") or (be[0].isdigit() and float(be.rstrip("%")) <= 70))
            p(f"| {n}² | {b} | {be} | {bee} | {'yes' if ok else '**no**'} |")
    p("")

    # ---------------------------------------------------------------- why targets are missed
    notes = []
    def ratio(a, b):
        ta, tb = t(a), t(b)
        return None if ta is None or tb is None else tb / ta
    r = ratio(f"csr/own/{sh(1024, 1)}/s90", f"dense/openblas/{sh(1024, 1)}")
    if r is not None and r < 3:
        notes.append("**CSR 90% vs OpenBLAS sgemv at batch 1, 1024²**: the dense 1024² weight (4 MB) stays in "
                     "the cache between calls, so `sgemv` runs at cache speed with one vector FMA per 16 weights, "
                     "while CSR pays an index load and a scalar gather per kept weight (AVX-512 gathers measured "
                     "no faster). At 4096², where the dense weight streams from memory, the 3× target holds.")
    low = [b for b in BATCHES for n in SIZES
           if (v := ratio(f"nm2:4/own/{sh(n, b)}/s50", f"dense/own/{sh(n, b)}")) is not None and v < 1.6]
    if low:
        notes.append("**2:4 ≥ 1.6× own dense at batch " + ", ".join(str(b) for b in sorted(set(low))) + "**: "
                     "2:4 removes half of the FMAs but keeps 53% of the weight bytes (2 bits of position per "
                     "kept value) and adds a decode per value; at small batches both kernels are bound by the "
                     "weight stream, which caps the gain near 1/0.53 = 1.9× before decode costs. At batch 64, "
                     "where the FMAs dominate, the target holds.")
    be = breakeven(1024, 1, "own")
    if be and not be.startswith("≤") and be[0].isdigit() and float(be.rstrip("%")) > 70:
        notes.append("**CSR break-even ≤ 70% at batch 1, 1024²**: the same cache effect as above makes "
                     f"OpenBLAS `sgemv` hard to beat on an in-cache weight (break-even {be}; Eigen {breakeven(1024, 1, 'eigen')}).")
    if notes:
        p("Targets not met, and why:\n")
        for n_ in notes:
            p(f"- {n_}")
        p("")

    # ---------------------------------------------------------------- plot
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), sharey=True)
        n = 4096
        for ax, b in zip(axes, BATCHES):
            ob = t(f"dense/openblas/{sh(n, b)}")
            for key, label, style in [("csr/own", "compress csr", "o-"), ("csr/eigen", "Eigen sparse (RowMajor)", "s--"),
                                      ("bsr4x4/own", "compress bsr<4,4>", "^-"), ("bsr1x8/own", "compress bsr<1,8>", "v-")]:
                xs, ys = [], []
                for s in SPARSITIES:
                    v = t(f"{key}/{sh(n, b)}/s{s}")
                    if v is not None and ob is not None:
                        xs.append(s)
                        ys.append(ob / v)
                ax.plot(xs, ys, style, label=label)
            v = t(f"nm2:4/own/{sh(n, b)}/s50")
            if v is not None and ob is not None:
                ax.plot([50], [ob / v], "D", color="black", label="compress n_of_m<2,4>")
            od = t(f"dense/own/{sh(n, b)}")
            if od is not None and ob is not None:
                ax.axhline(ob / od, color="gray", linestyle=":", label="compress dense")
            ax.axhline(1.0, color="red", linewidth=0.8, label="OpenBLAS dense")
            ax.set_yscale("log")
            ax.set_title(f"{n}×{n}, batch {b}")
            ax.set_xlabel("sparsity (%)")
            ax.grid(True, which="both", alpha=0.3)
        axes[0].set_ylabel("speed-up over OpenBLAS dense (log)")
        axes[0].legend(fontsize=8)
        fig.suptitle(f"compress sparse linear vs OpenBLAS / Eigen, one thread, {cpu_name()}")
        fig.tight_layout()
        fig.savefig(docs / "sparse_speedup.svg")
        p("![speed-up vs sparsity](sparse_speedup.svg)\n")
    except Exception as e:  # matplotlib missing: the tables still stand
        p(f"(plot not produced: {e})\n")

    # ---------------------------------------------------------------- cost-model table
    lines = ["// Generated by benchmarks/sparse_report.py from bench_sparse (CPU time, min of the repetitions) on",
             f"// {cpu_name()}, {ctx.get('date')}: speed-up of linear() with the format over linear() with",
             "// the dense weight, by [size 1024/4096][batch 1/8/64][sparsity 50/70/80/90/95]."]
    for key, cname in [("csr/own", "csr"), ("bsr4x4/own", "bsr4x4"), ("bsr1x8/own", "bsr1x8")]:
        lines.append(f"inline constexpr double cost_{cname}[2][3][5] = {{")
        for n in SIZES:
            rows_ = []
            for b in BATCHES:
                od = t(f"dense/own/{sh(n, b)}")
                vals = [od / t(f"{key}/{sh(n, b)}/s{s}") for s in SPARSITIES]
                rows_.append("{" + ", ".join(f"{v:.3g}" for v in vals) + "}")
            lines.append("    {" + ", ".join(rows_) + "},")
        lines.append("};")
    lines.append("inline constexpr double cost_nm24[2][3] = {")
    for n in SIZES:
        vals = [t(f"dense/own/{sh(n, b)}") / t(f"nm2:4/own/{sh(n, b)}/s50") for b in BATCHES]
        lines.append("    {" + ", ".join(f"{v:.3g}" for v in vals) + "},")
    lines.append("};")
    table = "\n".join(lines) + "\n"
    if table_out:
        pathlib.Path(table_out).write_text(table)
    if header:
        text = header.read_text()
        begin = text.index("// BEGIN calibration")
        begin = text.index("\n", begin) + 1
        end = text.index("// END calibration")
        header.write_text(text[:begin] + table + text[end:])
    p("<details><summary>Cost-model calibration table from this run (compress::expected_speedup)</summary>\n")
    p("```cpp\n" + table + "```\n</details>")
    print("\n".join(out))


if __name__ == "__main__":
    main()
