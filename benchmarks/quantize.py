"""Quantizer training time vs. number of rows: FAISS LSQ++ (additive) and PQ, M=4, K=256.

    python benchmarks/quantize.py [--rows 5000 20000 50000] [--dim 384] [--gpu auto]

Rows are drawn from a Gaussian mixture (latent spaces are clustered); prints a table of
train+encode seconds and reconstruction MSE per method and size.
"""
from __future__ import annotations

import argparse
import os
import time

import faiss
import numpy as np

from latentgeom.quantize import quantize


def data(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((64, d)) * 3
    lab = rng.integers(0, 64, n)
    return (centers[lab] + rng.standard_normal((n, d))).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[5000, 20000, 50000])
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--gpu", default="auto", choices=["auto", "yes", "no"])
    ap.add_argument("--methods", nargs="+", default=["pq", "lsq"])
    a = ap.parse_args()
    gpu = {"auto": "auto", "yes": True, "no": False}[a.gpu]
    print(f"# d={a.dim}, M=4, K=256, faiss {faiss.__version__}, {os.cpu_count()} cores, "
          f"GPUs seen by FAISS: {faiss.get_num_gpus() if hasattr(faiss, 'get_num_gpus') else 0}")
    print("| method | rows | seconds | ms / row | MSE / row | device |")
    print("|---|---:|---:|---:|---:|---|")
    for method in a.methods:
        for n in a.rows:
            X = data(n, a.dim)
            t = time.perf_counter()
            r = quantize(X, method, 4, 8, seed=0, use_gpu=gpu)
            dt = time.perf_counter() - t
            print(f"| {method} | {n:,} | {dt:.1f} | {1000 * dt / n:.3f} | {r['mse']:.1f} | "
                  f"{'GPU' if r['gpu'] else 'CPU'} |", flush=True)


if __name__ == "__main__":
    main()
