"""The geometry families of issue 21 (``latentgeom.geometry``) on a paper-size matrix: time and
peak memory per family, and of all of them together (what one ``geometry`` job computes).

    python benchmarks/geometry.py [--rows 116667] [--dim 384] [--matrix PATH.npy] [--threads 2]

The matrix is ``--matrix`` (a float32 ``.npy``, memory-mapped as the pipeline reads it) or a
seeded standard-normal float32 matrix of ``--rows`` x ``--dim`` (116,667 x 384: the size of
the paper's 5,000 sequences through MiniLM), written to a temporary ``.npy`` and memory-mapped.
Each family runs in its own child process (BLAS, OpenMP and numba limited to ``--threads``),
then all of them in one (``baseline``: the imports and one pass over the matrix, no
measure); the child reports its wall seconds and its peak resident set
(``VmHWM``: the interpreter, the imports, the pages of the matrix it touched, the family's
working memory). Settings: the config's defaults (``latentgeom.geometry.DEFAULTS``).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

FAMILIES = ("baseline", "intrinsic_dimension", "topology", "spectrum", "anisotropy", "all")

CHILD = r"""
import json, sys, time
import numpy as np
from latentgeom import geometry as G

path, family = sys.argv[1], sys.argv[2]
s = G.DEFAULTS
import skdim, ripser  # imports outside the timing (the job imports them once)
X = np.load(path, mmap_mode="r")
t = time.perf_counter()
if family == "baseline":  # imports and every page of the matrix, no measure
    out = {"sum": float(X.sum(dtype=np.float64))}
elif family == "intrinsic_dimension":
    S = G.subsample(X, s["subsample"], s["seed"])
    out = {"TwoNN": G.twonn_dimension(S), "MLE": G.mle_dimension(S, s["mle_neighbors"])}
elif family == "topology":
    out = G.persistence_summary(G.subsample(X, s["topology_subsample"], s["seed"] + 1),
                                s["long_lived"])
elif family == "spectrum":
    ev = G.covariance_eigenvalues(X)
    out = {"RankMe": G.rankme(ev), "alpha_ReQ": G.alpha_req(ev)}
elif family == "anisotropy":
    out = {"anisotropy": G.anisotropy(X, s["anisotropy_pairs"], s["seed"])}
else:
    out = G.geometry_measures(X, **s)
dt = time.perf_counter() - t
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"seconds": dt, "peak_mb": hwm / 1024, "values": out}))
"""


def run_child(path: str, family: str, threads: int) -> dict:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "NUMBA_NUM_THREADS": str(threads)}
    out = subprocess.run([sys.executable, "-c", CHILD, path, family], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=116_667)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--matrix", help="a float32 .npy (default: a seeded Gaussian matrix)")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    from latentgeom.geometry import DEFAULTS

    with tempfile.TemporaryDirectory() as tmp:
        path = args.matrix
        if path is None:
            path = str(Path(tmp) / "x.npy")
            rng = np.random.default_rng(0)
            np.save(path, rng.standard_normal((args.rows, args.dim), dtype=np.float32))
        shape = np.load(path, mmap_mode="r").shape
        print(f"matrix {shape[0]} x {shape[1]} ({args.matrix or 'seeded Gaussian'}), "
              f"{args.threads} threads, load average {os.getloadavg()[0]:.1f}; settings "
              f"{DEFAULTS}")
        print("| family | measures | seconds | peak RSS (MB) |")
        print("|---|---|---:|---:|")
        for fam in FAMILIES:
            r = run_child(path, fam, args.threads)
            vals = ", ".join(f"{k} {v:.3g}" for k, v in r["values"].items())
            print(f"| {fam} | {vals} | {r['seconds']:.1f} | {r['peak_mb']:.0f} |", flush=True)
        print(f"(load average at the end {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
