#!/usr/bin/python3
"""PyTorch side of the pruning benchmark: torch.nn.utils.prune on a 4096 x 4096 float weight,
one thread. Prints JSON {name: {"min": s, "median": s, "reps": n}} on stdout.

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 benchmarks/prune_torch.py [REPS]
"""
import json
import statistics
import sys
import time

import torch
import torch.nn.utils.prune as prune

torch.set_num_threads(1)


def main() -> int:
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4096, 4096, generator=g) * 0.02

    def timed(fn):
        ts = []
        for _ in range(reps):
            m = torch.nn.Linear(4096, 4096, bias=False)
            with torch.no_grad():
                m.weight.copy_(w)
            t0 = time.perf_counter()
            fn(m)
            ts.append(time.perf_counter() - t0)
        return {"min": min(ts), "median": statistics.median(ts), "reps": reps}

    def global_90(_m):
        parts = [torch.nn.Linear(2048, 2048, bias=False) for _ in range(4)]
        with torch.no_grad():
            for i, p in enumerate(parts):
                p.weight.copy_(w.view(-1)[i * 2048 * 2048:(i + 1) * 2048 * 2048].view(2048, 2048))
        t0 = time.perf_counter()
        prune.global_unstructured([(p, "weight") for p in parts], pruning_method=prune.L1Unstructured, amount=0.9)
        return time.perf_counter() - t0

    out = {
        "l1_unstructured_90": timed(lambda m: prune.l1_unstructured(m, "weight", amount=0.9)),
        "ln_structured_l2_dim0_50": timed(lambda m: prune.ln_structured(m, "weight", amount=0.5, n=2, dim=0)),
        "ln_structured_l1_dim1_50": timed(lambda m: prune.ln_structured(m, "weight", amount=0.5, n=1, dim=1)),
    }
    ts = [global_90(None) for _ in range(reps)]
    out["global_unstructured_90"] = {"min": min(ts), "median": statistics.median(ts), "reps": reps}
    out["torch_version"] = torch.__version__
    json.dump(out, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
