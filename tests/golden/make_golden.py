#!/usr/bin/python3
"""Writes the golden files the tests compare with, using Debian's python3-torch.

Run with Debian's interpreter (the first python3 on PATH may have no torch):

    OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 tests/golden/make_golden.py

Each area keeps its generator in tests/golden/golden_<area>.py with a function
`generate(outdir: pathlib.Path)` writing into tests/golden/<area>/; this script runs them
all (or the ones named on the command line). The output is deterministic (fixed seeds), so
rerunning it rewrites the same bytes and `git status` stays clean.
"""
import importlib
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent


def main() -> int:
    sys.path.insert(0, str(HERE))
    names = sys.argv[1:] or sorted(p.stem[len("golden_"):] for p in HERE.glob("golden_*.py"))
    for name in names:
        module = importlib.import_module(f"golden_{name}")
        out = HERE / name
        out.mkdir(exist_ok=True)
        module.generate(out)
        print(f"golden: {name} -> {out.relative_to(HERE.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
