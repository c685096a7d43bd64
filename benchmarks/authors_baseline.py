"""The authors' measure mechanism, re-implemented from ``../shared/reference/NOTES.md``.

This is the yardstick of ``benchmarks/measures.py``: the same rules as the authors' script
(``VM_transfer/sample_build_and_metrics.py``, as NOTES.md describes it), computed the way that
script computes them — an sklearn ``PCA()`` per matrix and per cell, per-cell Python lists filled
point by point, loops over codebooks and axes, a FAISS ``IndexFlatL2`` per codebook, the VRM
reference drawn as a whole N(0, I_d) sample. It is written from the rules, not copied.

Differences from their script, all deliberate: the random references (VRM's Gaussian sample,
PC_kl's uniform draws) come from ``numpy.random.default_rng(seed)`` so that runs repeat (theirs
were unseeded), in the same order as ``latentgeom.measures`` draws them; the vectors are filed
under ``codes`` rather than ``codes - 1`` (a relabelling that changes nothing); the
reconstruction is decoded from the codes with NumPy instead of FAISS's ``decode``.
"""
from __future__ import annotations

import numpy as np


def eee(X) -> float:
    """EEE of the rows of X: sklearn PCA eigenvalues, trapezoid area over ``range(num_pc)``."""
    from sklearn.decomposition import PCA
    from sklearn.metrics import auc

    pca = PCA()
    pca.fit(X)
    ev = pca.explained_variance_
    num_pc = len(ev)
    total = np.sum(ev)
    cum = np.cumsum(ev)
    even = np.array([total * (k + 1) / num_pc for k in range(num_pc)])
    area = auc(range(num_pc), cum - even)
    return round(float(area / (total * num_pc / 2)), 4)


def vrm(X, seed: int = 0) -> float:
    """VRM: PCA projection rescaled to the total variance of a N(0, I_d) sample of the same n;
    entropy-power ratio per axis; mean squared distance from 1."""
    from scipy.stats import differential_entropy
    from sklearn.decomposition import PCA

    proj = PCA().fit_transform(X)
    ref = np.random.default_rng(seed).standard_normal((X.shape[0], X.shape[1]))
    proj = proj * np.sqrt(np.sum(np.var(ref, axis=0)) / np.sum(np.var(proj, axis=0)))
    h_ref = np.log(np.sqrt(2 * np.pi * np.e))
    ratios = []
    for i in range(proj.shape[1]):
        h = differential_entropy(proj[:, i])
        ratios.append(np.exp(h) / np.exp(h_ref))
    return round(float(sum((1 - r) ** 2 for r in ratios) / len(ratios)), 4)


def spread(X, seed: int = 0) -> dict[str, float]:
    return {"EEE": eee(X), "VRM": vrm(X, seed)}


def quantizer(X, codes, codebooks, kind: str, seed: int = 0) -> dict[str, float]:
    """PP, PC_var, PC_kl, RS, RE, RI, CD_var, PD_EEE of one quantizer, the authors' way."""
    import faiss
    from scipy.special import kl_div
    from scipy.stats import skew

    n, M = codes.shape
    K = codebooks.shape[1]
    rng = np.random.default_rng(seed)
    pooled, count_vars, count_kls = [], [], []
    for m in range(M):
        h, _ = np.histogram(codes[:, m], bins=K)
        pooled.extend(h)
        p = h / n
        odds = (K - 1) * p / (1 - p)
        count_vars.append(np.var(odds))
        u, _ = np.histogram(rng.uniform(0, K, n), bins=K)
        count_kls.append(np.sum(kl_div(p, u / n)))
    pooled = np.array(pooled)
    mean = np.sum(pooled) / K
    pp = (mean + np.var(pooled) / mean - 1) / mean

    if kind == "additive":
        rec = sum(codebooks[m][codes[:, m]] for m in range(M))
    else:
        rec = np.concatenate([codebooks[m][codes[:, m]] for m in range(M)], axis=1)
    diff = X - rec
    errors = np.linalg.norm(diff, axis=1)
    re = np.sum(diff ** 2) / np.sum(np.asarray(X, dtype=np.float64) ** 2)
    mags = errors / np.max(errors)
    ri = np.percentile(mags, 75) - np.percentile(mags, 25)
    rs = skew(errors)

    nearest = []
    for m in range(M):
        cb = np.ascontiguousarray(codebooks[m], dtype=np.float32)
        index = faiss.IndexFlatL2(cb.shape[1])
        index.add(cb)
        D, _ = index.search(cb, 2)
        nearest.extend(D[:, 1])
    nearest = np.array(nearest, dtype=np.float64)
    cd_var = np.var(nearest / np.max(nearest))

    cells = [[[] for _ in range(K)] for _ in range(M)]
    for i in range(n):
        for m in range(M):
            cells[m][codes[i, m]].append(X[i])
    cell_eees = []
    for m in range(M):
        for points in cells[m]:
            if len(points) <= 1:
                continue
            points = np.unique(np.array(points), axis=0)
            if len(points) <= 1:
                continue
            cell_eees.append(eee(points))
    return {"PP": float(pp), "PC_var": float(np.mean(count_vars)),
            "PC_kl": float(np.mean(count_kls)), "RS": float(rs), "RE": float(re),
            "RI": float(ri), "CD_var": float(cd_var),
            "PD_EEE": float(np.mean(cell_eees)) if cell_eees else float("nan")}


def all_measures(X, quantized: dict, seed: int = 0) -> dict[str, dict[str, float]]:
    """``{"spread": {EEE, VRM}, <name>: {PP, …, PD_EEE}}``; ``quantized`` maps a name to
    ``(codes, codebooks, kind)``. (IsoScore is the ``isoscore`` package in their script and
    is left out here: it is not part of what this baseline measures.)"""
    out = {"spread": spread(X, seed)}
    for name, (codes, codebooks, kind) in quantized.items():
        out[name] = quantizer(X, codes, codebooks, kind, seed)
    return out
