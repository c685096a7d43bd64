"""Measures: the package's vectorised implementation vs. a straightforward per-point loop.

    python benchmarks/measures.py [--n 100000] [--d 384] [--loop-n 20000]

Data: an n x d float32 Gaussian mixture; codes and codebooks from FAISS PQ and LSQ++ (M = 4,
K = 256) trained on a 10,000-row subsample, every row encoded. The loop version implements the
same equations point by point in plain Python (dict counts, one norm per row, one distance per
centroid pair, per-cell point lists); it is timed on the first ``--loop-n`` rows and scaled
linearly to n (each loop is linear in n), and agreement is checked on those rows.
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from latentgeom import measures as M
from latentgeom.quantize import quantize


# ----------------------------------------------------------------------------- loop versions
def loop_eee(points: list[np.ndarray]) -> float:
    d = len(points[0])
    mu = [sum(p[j] for p in points) / len(points) for j in range(d)]
    C = np.zeros((d, d))
    for p in points:
        c = np.asarray(p) - mu
        C += np.outer(c, c)
    lam = sorted(np.linalg.eigvalsh(C / (len(points) - 1)), reverse=True)
    v = sum(lam)
    cum, auc = 0.0, 0.0
    for k, l in enumerate(lam, 1):
        cum += l
        auc += cum - k * v / d
    return auc / (0.5 * d * v) if v > 0 else math.nan


def loop_quantized(X, codes, codebooks, kind):
    n, Mq = codes.shape
    K = codebooks.shape[1]
    dsub = codebooks.shape[2]
    counts = [[0] * K for _ in range(Mq)]
    for i in range(n):
        for m in range(Mq):
            counts[m][codes[i, m]] += 1
    flat = [c for row in counts for c in row]
    mean = sum(flat) / len(flat)
    var = sum((c - mean) ** 2 for c in flat) / len(flat)
    pp = (mean + (var / mean - 1)) / mean
    O = [(K - 1) * (c / n) / (1 - c / n) for c in flat]
    Om = sum(O) / len(O)
    pc_var = sum((o - Om) ** 2 for o in O) / (Mq * (K - 1))
    kl = 0.0
    for m in range(Mq):
        tot = sum(O[m * K:(m + 1) * K])
        for o in O[m * K:(m + 1) * K]:
            p = o / tot
            if p > 0:
                kl += p * math.log(p * K)
    pc_kl = kl / Mq
    errs, sq_err, sq_x = [], 0.0, 0.0
    for i in range(n):
        parts = [codebooks[m, codes[i, m]] for m in range(Mq)]
        rec = np.sum(parts, axis=0) if kind == "additive" else np.concatenate(parts)
        diff = X[i].astype(np.float64) - rec
        e2 = float(diff @ diff)
        errs.append(math.sqrt(e2))
        sq_err += e2
        sq_x += float(X[i].astype(np.float64) @ X[i].astype(np.float64))
    mx = max(errs)
    em = [e / mx for e in errs]
    emm = sum(em) / n
    s = math.sqrt(sum((e - emm) ** 2 for e in em) / (n - 1))
    rs = n * sum(((e - emm) / s) ** 3 for e in em) / ((n - 1) * (n - 2))
    srt = sorted(em)
    ri = float(np.percentile(srt, 75) - np.percentile(srt, 25))
    nn = []
    for m in range(Mq):
        for a in range(K):
            best = math.inf
            for b in range(K):
                if a != b:
                    best = min(best, float(np.linalg.norm(codebooks[m, a] - codebooks[m, b])))
            nn.append(best)
    top = max(nn)
    rho = [x / top for x in nn]
    rm = sum(rho) / len(rho)
    cd = sum((r - rm) ** 2 for r in rho) / (len(rho) - 1)
    cells = {}
    for i in range(n):
        for m in range(Mq):
            vec = X[i, m * dsub:(m + 1) * dsub] if kind == "product" else X[i]
            cells.setdefault((m, codes[i, m]), []).append(vec)
    vals = [loop_eee(pts) for pts in cells.values() if len(pts) >= 2]
    vals = [v for v in vals if not math.isnan(v)]
    pd = sum(vals) / len(vals)
    return {"PP": pp, "PC_var": pc_var, "PC_kl": pc_kl, "RS": rs, "RE": sq_err / sq_x, "RI": ri,
            "CD_var": cd, "PD_EEE": pd}


def mixture(n, d, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, d)) * 2
    lab = rng.choice(50, n, p=rng.dirichlet(np.ones(50)))
    scale = rng.uniform(0.2, 1.5, 50)[lab, None]
    return (centres[lab] + scale * rng.standard_normal((n, d))).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--d", type=int, default=384)
    ap.add_argument("--loop-n", type=int, default=20_000)
    a = ap.parse_args()
    X = mixture(a.n, a.d)
    print(f"# {a.n} x {a.d} float32 mixture; loop version timed on {a.loop_n} rows, scaled x"
          f"{a.n / a.loop_n:.0f}")
    print("| quantizer | vectorised s | loop s (scaled) | speed-up | max rel. diff |")
    print("|---|---:|---:|---:|---:|")
    tot_v = tot_l = 0.0
    for name, method in (("product", "pq"), ("additive", "lsq")):
        q = quantize(X, method, 4, 8, seed=0, train_size=10_000, use_gpu=False)
        codes, cb, kind = q["codes"], q["codebooks"], q["kind"]
        t = time.perf_counter()
        M.quantized_measures(X, codes, cb, kind)
        tv = time.perf_counter() - t
        sub = slice(0, a.loop_n)
        t = time.perf_counter()
        lo = loop_quantized(X[sub], codes[sub], cb.astype(np.float64), kind)
        tl = (time.perf_counter() - t) * a.n / a.loop_n
        ve = M.quantized_measures(X[sub], codes[sub], cb, kind)
        diff = max(abs(ve[k] - lo[k]) / max(abs(lo[k]), 1e-12) for k in lo)
        tot_v += tv
        tot_l += tl
        print(f"| {name} | {tv:.1f} | {tl:.0f} | {tl / tv:.0f}x | {diff:.1e} |", flush=True)
    t = time.perf_counter()
    M.spread_measures(X)
    ts = time.perf_counter() - t
    print(f"| spread (EEE, VRM, IS) | {ts:.1f} | n/a (already O(n d^2) BLAS) | | |")
    print(f"| **quantized total** | {tot_v:.1f} | {tot_l:.0f} | {tot_l / tot_v:.0f}x | |")


if __name__ == "__main__":
    main()
