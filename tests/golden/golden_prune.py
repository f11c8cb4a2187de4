"""Golden masks from torch.nn.utils.prune for tests/test_prune_golden.cpp.

Writes tests/golden/prune/: weight tensors (<name>.npy, float32), masks (uint8, 1 = kept) and
cases.txt, one case per line:

    l1_unstructured     <tensor> <f|c> <amount> <mask>
    ln_structured       <tensor> <n: 1|2|inf> <dim> <f|c> <amount> <mask>
    global_unstructured <t1,t2,...> <f|c> <amount> <m1,m2,...>

(f = fraction, c = absolute count). Tensors are redrawn (fixed seeds) until no case has a tie,
or a near-tie, at its threshold, so the masks do not depend on how torch.topk breaks ties or on
the last bits of a float32 norm.
"""
import pathlib

import numpy as np
import torch
import torch.nn.utils.prune as prune

REL_GAP = 1e-3  # minimum relative gap between the last pruned and the first kept score


def _count(kind, amount, size):
    return amount if kind == "c" else round(amount * size)


def _gap_ok(scores, k):
    """True when the k-th and (k+1)-th smallest scores are well separated."""
    s = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    if k == 0 or k == len(s):
        return True
    lo, hi = s[k - 1], s[k]
    return hi - lo > REL_GAP * max(abs(hi), 1e-12)


def _norms(w, n, dim):
    dims = [d for d in range(w.ndim) if d != dim]
    a = np.abs(w.astype(np.float64))
    if n == "inf":
        return a.max(axis=tuple(dims))
    p = float(n)
    return (a ** p).sum(axis=tuple(dims)) ** (1.0 / p)


def _draw(shape, seed, ok):
    g = torch.Generator().manual_seed(seed)
    for _ in range(1000):
        w = torch.randn(*shape, generator=g)
        if ok(w.numpy()):
            return w
    raise RuntimeError(f"no tie-free tensor of shape {shape}")


class _Holder(torch.nn.Module):
    def __init__(self, w):
        super().__init__()
        self.weight = torch.nn.Parameter(w.clone())


def _save(outdir, name, array):
    np.save(outdir / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)


def generate(outdir: pathlib.Path) -> None:
    torch.manual_seed(0)
    for old in outdir.glob("*.npy"):
        old.unlink()
    lines = []

    # ---- l1_unstructured
    l1_cases = {
        "lin": ((16, 24), [("f", 0.3), ("f", 0.9), ("f", 0.0), ("f", 1.0), ("c", 50)]),
        "half": ((4, 6), [("f", 0.1875), ("f", 0.3125)]),  # 4.5 -> 4 and 7.5 -> 8: round half to even
        "conv": ((8, 4, 3, 3), [("f", 0.5), ("f", 0.77)]),
    }
    for seed, (tname, (shape, amounts)) in enumerate(sorted(l1_cases.items()), start=1):
        def ok(w, amounts=amounts):
            return all(_gap_ok(np.abs(w), _count(k, a, w.size)) for k, a in amounts)
        w = _draw(shape, 100 + seed, ok)
        _save(outdir, f"l1_{tname}", w.numpy())
        for j, (kind, a) in enumerate(amounts):
            m = _Holder(w)
            prune.l1_unstructured(m, "weight", amount=a)
            mname = f"l1_{tname}_mask{j}"
            _save(outdir, mname, m.weight_mask.detach().numpy().astype(np.uint8))
            lines.append(f"l1_unstructured l1_{tname} {kind} {a!r} {mname}")

    # ---- ln_structured: n = 1, 2, inf; dim 0 and 1; linear and conv weights
    ln_cases = {
        "lin": ((12, 20), [("f", 0.5), ("f", 0.25), ("c", 3)]),
        "conv": ((10, 6, 3, 3), [("f", 0.4), ("f", 0.5)]),
    }
    for seed, (tname, (shape, amounts)) in enumerate(sorted(ln_cases.items()), start=1):
        def ok(w, amounts=amounts):
            for n in ("1", "2", "inf"):
                for dim in (0, 1):
                    sc = _norms(w, n, dim)
                    if not all(_gap_ok(sc, _count(k, a, w.shape[dim])) for k, a in amounts if _count(k, a, w.shape[dim]) <= w.shape[dim]):
                        return False
            return True
        w = _draw(shape, 200 + seed, ok)
        _save(outdir, f"ln_{tname}", w.numpy())
        for n in ("1", "2", "inf"):
            for dim in (0, 1):
                for j, (kind, a) in enumerate(amounts):
                    if _count(kind, a, w.shape[dim]) > w.shape[dim]:
                        continue
                    m = _Holder(w)
                    prune.ln_structured(m, "weight", amount=a, n=float(n), dim=dim)
                    mname = f"ln_{tname}_n{n}_d{dim}_{j}"
                    _save(outdir, mname, m.weight_mask.detach().numpy().astype(np.uint8))
                    lines.append(f"ln_structured ln_{tname} {n} {dim} {kind} {a!r} {mname}")

    # ---- global_unstructured over three tensors (linear, linear, conv)
    shapes = [(16, 24), (8, 16), (6, 4, 3, 3)]
    amounts = [("f", 0.6), ("f", 0.35), ("c", 200)]
    g = torch.Generator().manual_seed(300)
    for _ in range(1000):
        # different scales per tensor, so the global threshold prunes them unevenly
        ws = [torch.randn(*s, generator=g) * scale for s, scale in zip(shapes, (1.0, 0.5, 2.0))]
        allw = np.concatenate([np.abs(w.numpy()).ravel() for w in ws])
        if all(_gap_ok(allw, _count(k, a, allw.size)) for k, a in amounts):
            break
    else:
        raise RuntimeError("no tie-free global case")
    names = []
    for i, w in enumerate(ws):
        _save(outdir, f"glob_{i}", w.numpy())
        names.append(f"glob_{i}")
    for j, (kind, a) in enumerate(amounts):
        mods = [_Holder(w) for w in ws]
        prune.global_unstructured([(m, "weight") for m in mods], pruning_method=prune.L1Unstructured, amount=a)
        mnames = []
        for i, m in enumerate(mods):
            mname = f"glob_mask{j}_{i}"
            _save(outdir, mname, m.weight_mask.detach().numpy().astype(np.uint8))
            mnames.append(mname)
        lines.append(f"global_unstructured {','.join(names)} {kind} {a!r} {','.join(mnames)}")

    (outdir / "cases.txt").write_text("\n".join(lines) + "\n")
