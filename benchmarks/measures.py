"""Measures: ours (both variants) against the authors' mechanism (``authors_baseline.py``).

    python benchmarks/measures.py [--n 100000] [--d 384] [--train 5000] [--blas-threads 1]

Data: an n x d float32 matrix with structure — 40 clusters in a 48-dimensional latent space,
mapped to d dimensions with decaying scales, plus isotropic noise (rank-48 signal + noise, as
transformer token vectors are dominated by a few directions). Codes and codebooks from FAISS PQ
and LSQ++ (M = 4, K = 256) trained on a ``--train``-row subsample, every row encoded.

In one process, on the same matrix and codes: the baseline (the authors' mechanism, re-built
from NOTES.md: an sklearn PCA per cell, per-cell Python lists, per-codebook and per-axis
loops, the IsoScore package, a whole N(0, I_d) reference sample), then ours with the paper's
definitions, the authors' definitions, and both at once (what the pipeline's ``measures`` job
runs). BLAS is pinned to ``--blas-threads`` threads for everything; ours spreads the per-axis
sorts and per-cell eigendecompositions over ``--workers`` threads (default: the CPUs).
Prints the timing table and, per measure, the baseline's value against ours (authors).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import authors_baseline as baseline

from latentgeom import measures as M
from latentgeom.quantize import quantize


def structured(n: int, d: int, rank: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, rank)) * 3
    lab = rng.choice(40, n, p=rng.dirichlet(np.ones(40)))
    Z = centres[lab] + rng.standard_normal((n, rank)) * rng.uniform(0.3, 1.5, 40)[lab, None]
    W = rng.standard_normal((rank, d)) * np.geomspace(1, 0.05, rank)[:, None]
    return (Z @ W + 0.3 * rng.standard_normal((n, d)) + rng.standard_normal(d)).astype(np.float32)


def baseline_all(X, quantized, seed):
    from IsoScore.IsoScore import IsoScore

    out = baseline.all_measures(X, quantized, seed)
    out["spread"]["IS"] = float(IsoScore(X))
    return out


def timed(f, *a, **k):
    t = time.perf_counter()
    r = f(*a, **k)
    return time.perf_counter() - t, r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--train", type=int, default=5_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--blas-threads", type=int, default=1)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--cache", help="npz of X and codes to reuse (written if absent)")
    a = ap.parse_args()
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=a.blas_threads, user_api="blas")

    if a.cache and Path(a.cache).is_file():
        z = np.load(a.cache)
        X = z["X"]
        quantized = {name: (z[f"{name}_codes"], z[f"{name}_cb"], name)
                     for name in ("additive", "product")}
    else:
        X = structured(a.n, a.d)
        quantized = {}
        for name, method in (("additive", "lsq"), ("product", "pq")):
            t, q = timed(quantize, X, method, 4, 8, seed=0, train_size=a.train, use_gpu=False)
            print(f"# {method} trained on {a.train} rows, {a.n} encoded: {t:.0f}s", flush=True)
            quantized[name] = (q["codes"], q["codebooks"], q["kind"])
        if a.cache:
            np.savez(a.cache, X=X, **{f"{k}_codes": v[0] for k, v in quantized.items()},
                     **{f"{k}_cb": v[1] for k, v in quantized.items()})
    print(f"# {X.shape[0]} x {X.shape[1]} float32 (rank-48 clusters + noise); LSQ++ and PQ, "
          f"M = 4, K = 256; BLAS threads {a.blas_threads}, our workers "
          f"{M._workers(a.workers)}", flush=True)

    tb, base = timed(baseline_all, X, quantized, a.seed)
    print(f"# baseline: {tb:.1f}s", flush=True)
    rows = [("authors' mechanism (baseline)", tb, None)]
    ours = {}
    for label, variants in (("ours, paper variant", ("paper",)),
                            ("ours, authors variant", ("authors",)),
                            ("ours, both variants (the pipeline's job)", M.VARIANTS)):
        t, res = timed(M.measure_variants, X, quantized, variants, a.seed, a.workers)
        ours[variants] = res
        diff = None
        if "authors" in variants:
            diff = max(abs(res["authors"][g][k] - v) for g in base for k, v in base[g].items())
        rows.append((label, t, diff))
        print(f"# {label}: {t:.1f}s", flush=True)

    print("\n| implementation | seconds | speed-up | max abs diff vs baseline |")
    print("|---|---:|---:|---:|")
    for label, t, diff in rows:
        print(f"| {label} | {t:.1f} | {tb / t:.1f}x | "
              f"{'' if diff is None else f'{diff:.1e}'} |")
    both = ours[M.VARIANTS]
    print("\n| measure | baseline | ours (authors) | abs diff | ours (paper) |")
    print("|---|---:|---:|---:|---:|")
    for g in base:
        for k, v in base[g].items():
            o = both["authors"][g][k]
            print(f"| {g}.{k} | {v:.6g} | {o:.6g} | {abs(o - v):.1e} | "
                  f"{both['paper'][g][k]:.6g} |")


if __name__ == "__main__":
    main()
