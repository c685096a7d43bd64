"""Latent-space geometry measures of Section 3.3 and Appendix A (Eqs. 2-15).

Every measure is a pure function: NumPy arrays in, a float out, inputs checked at the top.
``X`` is an (n, d) matrix of points (rows); a quantization is ``codes`` (n, M) integers in
[0, K) and ``codebooks`` (M, K, d_sub), with ``kind`` ``"additive"`` (LSQ++: each codebook spans
all d dimensions, x' = sum of the M chosen codewords) or ``"product"`` (PQ: codebook m covers
columns ``m*d_sub:(m+1)*d_sub``, x' = concatenation).

Where the authors' scripts differ from the paper's equations (``../shared/reference/NOTES.md``)
the function takes ``variant="authors"``; the default ``"paper"`` follows the equations. No
variant changes a Pearson r within one (n, M, K) setting except VRM, PC_kl and PD_EEE, whose
authors' forms are not affine maps of the paper's.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

VARIANTS = ("paper", "authors")
SPREAD_KEYS = ("EEE", "VRM", "IS")
QUANTIZED_KEYS = ("PP", "PC_var", "PC_kl", "RS", "RE", "RI", "CD_var", "PD_EEE")


# ----------------------------------------------------------------------------- checks
def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    return variant


def check_points(X, name: str = "X", min_rows: int = 2) -> np.ndarray:
    """A finite 2-D float array with at least ``min_rows`` rows (float32 kept, else float64)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D matrix (rows = points), got {X.ndim}-D "
                         f"shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise ValueError(f"{name}: expected a numeric matrix, got dtype {X.dtype}")
    if X.shape[0] < min_rows:
        raise ValueError(f"{name}: {X.shape[0]} rows, at least {min_rows} needed")
    if X.shape[1] < 1:
        raise ValueError(f"{name}: no columns")
    if X.dtype != np.float32:
        X = X.astype(np.float64, copy=False)
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return X


def check_quantization(X, codes, codebooks, kind: str):
    """Validate a quantization of ``X``; returns ``(X, codes as intp, codebooks float64)``."""
    codebooks = np.asarray(codebooks, dtype=np.float64)
    if codebooks.ndim != 3:
        raise ValueError(f"codebooks: expected shape (M, K, d_sub), got {codebooks.shape}")
    M, K, dsub = codebooks.shape
    X = check_points(X, "X", min_rows=K)
    n, d = X.shape
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape != (n, M):
        raise ValueError(f"codes: expected shape ({n}, {M}) (rows of X, codebooks), "
                         f"got {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes: expected integers, got dtype {codes.dtype}")
    if codes.size and (codes.min() < 0 or codes.max() >= K):
        raise ValueError(f"codes: values must be in [0, {K}), got [{codes.min()}, {codes.max()}]")
    if kind == "additive":
        if dsub != d:
            raise ValueError(f"codebooks: additive codewords must have d = {d} dims, got {dsub}")
    elif kind == "product":
        if dsub * M != d:
            raise ValueError(f"codebooks: product sub-dimensions {M} x {dsub} != d = {d}")
    else:
        raise ValueError(f"kind: expected 'additive' or 'product', got {kind!r}")
    return X, codes.astype(np.intp, copy=False), codebooks


# ----------------------------------------------------------------------------- spread
def _covariance(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and sample covariance of the rows of X, float64, from X^T X (no centred
    copy of X)."""
    mu = X.mean(axis=0, dtype=np.float64)
    X64 = X.astype(np.float64, copy=False)
    return mu, (X64.T @ X64 - X.shape[0] * np.outer(mu, mu)) / (X.shape[0] - 1)


def _covariance_eigenvalues(X: np.ndarray) -> np.ndarray:
    """Eigenvalues (descending, >= 0) of the covariance of the rows of X, in float64."""
    if X.shape[0] < X.shape[1]:  # Gram trick: same non-zero spectrum, smaller matrix
        Xc = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
        lam = np.linalg.eigvalsh(Xc @ Xc.T) / (X.shape[0] - 1)
        lam = np.concatenate([lam, np.zeros(X.shape[1] - X.shape[0])])
    else:
        lam = np.linalg.eigvalsh(_covariance(X)[1])
    return np.clip(lam[::-1], 0.0, None)


def eee_from_eigenvalues(lam: np.ndarray) -> np.ndarray:
    """Eq. 2 from covariance eigenvalues; works on stacks (..., d). NaN where total variance is 0.

    ``X_EEE`` is the cumulative sum of the descending eigenvalues at k = 1..d, ``Y_ref = k v / d``
    the line of an evenly spread distribution, the AUC their summed difference (unit steps), and
    the denominator ``d v / 2`` as printed: an even spread gives 0, all variance on one direction
    gives (d - 1) / d.
    """
    lam = -np.sort(-np.asarray(lam, dtype=np.float64), axis=-1)
    d = lam.shape[-1]
    v = lam.sum(axis=-1)
    cum = np.cumsum(lam, axis=-1)
    ref = v[..., None] * np.arange(1, d + 1) / d
    auc = (cum - ref).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(v > 0, auc / (0.5 * d * v), np.nan)


def eee(X) -> float:
    """Eigenvalue Early Enrichment (Eq. 2; Marbut et al. 2023).

    Area between the cumulative explained-variance curve of X's principal components and the
    straight line of an evenly spread distribution, over ``d v / 2`` (v: total variance).
    0 for perfectly even spread (isotropic data), (d - 1)/d for rank-one data; lower = more even.
    NaN when X has no variance at all (every row identical).
    """
    X = check_points(X)
    return float(eee_from_eigenvalues(_covariance_eigenvalues(X)))


def pca_project(X) -> np.ndarray:
    """X centred and rotated onto its principal axes (descending variance), float64."""
    X = check_points(X)
    mu, C = _covariance(X)
    _, vecs = np.linalg.eigh(C)
    return (X.astype(np.float64) - mu) @ vecs[:, ::-1]


def vasicek_entropy(Z: np.ndarray, m: int | None = None) -> np.ndarray:
    """Vasicek's spacing estimate of differential entropy per column of Z (Eq. 8).

    ``H = 1/n sum_i log(n / (2m) (z_(i+m) - z_(i-m)))`` with order statistics clamped at the
    ends (``z_(j) = z_(1)`` for j < 1, ``z_(n)`` for j > n), as ``scipy.stats.
    differential_entropy(method="vasicek")``; ``m`` defaults to ``floor(sqrt(n) + 0.5)``.
    Zero spacings (ties) are floored at 1e-12 times the column's range (or at 1e-300 for a
    constant column), so constant and tied columns give a finite, very low entropy.
    """
    Z = np.sort(np.asarray(Z, dtype=np.float64), axis=0)
    n = Z.shape[0]
    if m is None:
        m = int(np.floor(np.sqrt(n) + 0.5))
    if not 1 <= m < n:
        raise ValueError(f"m: window must be in [1, {n - 1}], got {m}")
    idx = np.arange(n)
    upper = Z[np.minimum(idx + m, n - 1)]
    lower = Z[np.maximum(idx - m, 0)]
    spread = Z[-1] - Z[0]
    floor = np.where(spread > 0, 1e-12 * spread, 1e-300)
    gaps = np.maximum(upper - lower, floor)
    return np.mean(np.log(n / (2.0 * m) * gaps), axis=0)


def vrm(X, m: int | None = None, variant: str = "paper", seed: int = 0) -> float:
    """Vasicek Ratio Mean squared error (Eqs. 8-9; Marbut et al. 2023).

    X is rotated onto its principal axes and scaled so that its total variance is d, the total
    variance of N(0, I_d); each axis' Vasicek entropy ``H_vas`` (Eq. 8) is compared with the
    entropy of the unit normal, ``ln(sqrt(2 pi e))``, and VRM is the mean over axes of
    ``(1 - H_vas / H_ref)^2`` (Eq. 9). 0 for isotropic Gaussian data; larger = less even.
    ``variant="authors"`` scales to the total variance of a random N(0, I_d) sample of X's shape
    (seeded) instead of exactly d. A matrix without variance gives a very large finite value.
    """
    _check_variant(variant)
    return _vrm_of_projection(pca_project(X), m, variant, seed)


def _vrm_of_projection(P: np.ndarray, m: int | None, variant: str, seed: int) -> float:
    """Eq. 9 on data already rotated onto its principal axes (scaled in place)."""
    n, d = P.shape
    total = float(P.var(axis=0, ddof=1).sum())
    target = float(d)
    if variant == "authors":
        ref = np.random.default_rng(seed).standard_normal((n, d))
        target = float(ref.var(axis=0, ddof=1).sum())
    if total > 0:
        P *= np.sqrt(target / total)
    h = vasicek_entropy(P, m)
    h_ref = 0.5 * np.log(2 * np.pi * np.e)
    return float(np.mean((1.0 - h / h_ref) ** 2))


def isoscore(X) -> float:
    """IsoScore (Eqs. 10-11; Rudman et al. 2021): the fraction of dimensions used isotropically.

    Steps: rotate X onto its principal axes; take the variance vector ``Sigma_D``; normalise it
    to norm sqrt(d); isotropy defect ``delta = ||Sigma_hat - 1|| / sqrt(2 (d - sqrt d))``
    (Eq. 10); ``k = (d - delta^2 (d - sqrt d))^2 / d^2``; ``IS = (d k - 1) / (d - 1)`` (Eq. 11,
    as in the authors' reference implementation, the ``isoscore`` package). 1 for isotropic
    data, 0 when one direction holds all variance. NaN when X has no variance.
    """
    X = check_points(X)
    return _isoscore_of_variances(_covariance_eigenvalues(X))


def _isoscore_of_variances(var: np.ndarray) -> float:
    """Eqs. 10-11 from the variances along the principal axes."""
    d = len(var)
    if d == 1:
        return 1.0
    norm = np.linalg.norm(var)
    if norm == 0:
        return float("nan")
    sig = np.sqrt(d) * var / norm
    delta = np.linalg.norm(sig - 1.0) / np.sqrt(2 * (d - np.sqrt(d)))
    k = (d - delta ** 2 * (d - np.sqrt(d))) ** 2 / d ** 2
    return float((d * k - 1.0) / (d - 1.0))


def spread_measures(X, variant: str = "paper", seed: int = 0) -> dict[str, float]:
    """``{"EEE", "VRM", "IS"}`` of X (Section 3.3.1, Appendix A.1), from one covariance and one
    eigendecomposition shared by the three."""
    _check_variant(variant)
    X = check_points(X)
    mu, C = _covariance(X)
    lam, vecs = np.linalg.eigh(C)
    lam = np.clip(lam[::-1], 0.0, None)
    P = (X.astype(np.float64) - mu) @ vecs[:, ::-1]
    return {"EEE": float(eee_from_eigenvalues(lam)),
            "VRM": _vrm_of_projection(P, None, variant, seed),
            "IS": _isoscore_of_variances(lam)}


# ----------------------------------------------------------------------------- cells
def cell_counts(codes, K: int) -> np.ndarray:
    """Points per centroid, (M, K): ``counts[m, j]`` = #rows with ``codes[:, m] == j``."""
    codes = np.asarray(codes, dtype=np.intp)
    n, M = codes.shape
    flat = codes + (np.arange(M) * K)[None, :]
    return np.bincount(flat.ravel(), minlength=M * K).reshape(M, K)


def point_patchiness(codes, K: int, variant: str = "paper") -> float:
    """Point Patchiness (Eq. 3; Lloyd's patchiness index, Wade et al. 2018).

    ``PP = (m + (V/m - 1)) / m`` with m the mean and V the (population, ddof = 0) variance of the
    cell densities, i.e. the counts of points in each of the M x K cells. Equal counts give
    ``1 - 1/m``; clumped counts give more. ``variant="authors"``: m = (sum of all M x K counts)
    / K, i.e. M times the mean cell density (their pooling of the codebooks).
    """
    _check_variant(variant)
    c = cell_counts(codes, K).ravel().astype(np.float64)
    V = c.var()
    m = c.sum() / K if variant == "authors" else c.mean()
    return float((m + (V / m - 1.0)) / m)


def odds_ratios(codes, K: int) -> np.ndarray:
    """Eq. 12: ``O_i = (k - 1) c_i / (1 - c_i)``, c_i the share of points in cell i of its
    codebook; (M, K). 1 everywhere for equal counts; +inf for a cell holding every point."""
    counts = cell_counts(codes, K).astype(np.float64)
    n = counts.sum(axis=1, keepdims=True)
    c = counts / n
    with np.errstate(divide="ignore"):
        return (K - 1) * np.divide(c, 1.0 - c, out=np.full_like(c, np.inf), where=c < 1.0)


def point_count_var(codes, K: int) -> float:
    """PC_var (Eq. 13): ``sum_i (O_i - mean O)^2 / (M (k - 1))`` over all M x K odds ratios.
    0 for equal counts; +inf if a cell holds every point of its codebook."""
    O = odds_ratios(codes, K).ravel()
    if not np.isfinite(O).all():
        return float("inf")
    M = np.asarray(codes).shape[1]
    return float(np.sum((O - O.mean()) ** 2) / (M * (K - 1)))


def _kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) per row, 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    return terms.sum(axis=-1)


def point_count_kl(codes, K: int, variant: str = "paper", seed: int = 0) -> float:
    """PC_kl (Eq. 14): KL divergence of the odds-ratio distribution from the uniform one,
    averaged over the M codebooks.

    Within each codebook, ``p_i = O_i / sum_j O_j`` is the observed distribution over the k cells
    and ``q_i = 1/k`` the reference (all odds ratios equal, the exact uniform case); the KL
    terms over all M x K cells are summed and divided by M. 0 for equal counts; a cell holding
    every point gives p concentrated on it, KL = ln k. ``variant="authors"``: q from the odds
    ratios of the counts of a random uniform assignment of the same n points (seeded).
    """
    _check_variant(variant)
    codes = np.asarray(codes)
    n, M = codes.shape
    O = odds_ratios(codes, K)
    p = np.where(np.isinf(O), 1.0, np.where(np.isinf(O).any(axis=1, keepdims=True), 0.0, O))
    p = p / p.sum(axis=1, keepdims=True)
    if variant == "authors":
        ref = np.random.default_rng(seed).integers(0, K, size=(n, M))
        q = odds_ratios(ref, K)
        q = q / q.sum(axis=1, keepdims=True)
    else:
        q = np.full_like(p, 1.0 / K)
    return float(_kl_rows(p, q).sum() / M)


# ----------------------------------------------------------------------------- reconstruction
def decode(codes, codebooks, kind: str) -> np.ndarray:
    """Reconstruction x' (float64): additive = sum of the M chosen codewords, product = their
    concatenation. One (n, d_sub) gather per codebook, no (n, M, d) intermediate."""
    codes = np.asarray(codes, dtype=np.intp)
    codebooks = np.asarray(codebooks)
    M, _, dsub = codebooks.shape
    n = codes.shape[0]
    if kind == "additive":
        out = np.zeros((n, dsub))
        for m in range(M):
            out += codebooks[m][codes[:, m]]
        return out
    if kind == "product":
        out = np.empty((n, M * dsub))
        for m in range(M):
            out[:, m * dsub:(m + 1) * dsub] = codebooks[m][codes[:, m]]
        return out
    raise ValueError(f"kind: expected 'additive' or 'product', got {kind!r}")


def error_norms(X, Xrec) -> np.ndarray:
    """``||x_i - x'_i||`` per row (float64), computed in row blocks to bound memory."""
    X = np.asarray(X)
    out = np.empty(X.shape[0])
    step = 1 << 15
    for i in range(0, X.shape[0], step):
        diff = X[i:i + step].astype(np.float64) - Xrec[i:i + step]
        out[i:i + step] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def reconstruction_norms(X, codes, codebooks, kind: str, block: int = 8192) -> np.ndarray:
    """``||x_i - x'_i||`` per row straight from the codes, in row blocks: the (n, d)
    reconstruction is never held in memory."""
    X = np.asarray(X)
    codes = np.asarray(codes, dtype=np.intp)
    out = np.empty(X.shape[0])
    for i in range(0, X.shape[0], block):
        diff = X[i:i + block].astype(np.float64) - decode(codes[i:i + block], codebooks, kind)
        out[i:i + block] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def _magnitudes(e: np.ndarray) -> np.ndarray:
    mx = e.max() if e.size else 0.0
    return e / mx if mx > 0 else np.zeros_like(e)


def _biased_skew(e: np.ndarray) -> float:
    m2 = np.mean((e - e.mean()) ** 2)
    return 0.0 if m2 == 0 else float(np.mean((e - e.mean()) ** 3) / m2 ** 1.5)


def _iqr(v: np.ndarray) -> float:
    q75, q25 = np.percentile(v, [75, 25])
    return float(q75 - q25)


def _sum_squares(X) -> float:
    X = np.asarray(X)
    return float(sum(np.einsum("ij,ij->", b, b) for b in
                     (X[i:i + 8192].astype(np.float64) for i in range(0, len(X), 8192))))


def error_magnitudes(X, Xrec) -> np.ndarray:
    """Eq. 4: ``EM(x_i) = ||x_i - x'_i|| / max_j ||x_j - x'_j||``; all 0 if every point is
    reconstructed exactly."""
    return _magnitudes(error_norms(X, Xrec))


def adjusted_skew(v: np.ndarray) -> float:
    """Eq. 5: ``n / ((n-1)(n-2)) sum ((v - mean) / s)^3`` with s the sample (ddof = 1) standard
    deviation: the adjusted Fisher-Pearson G1 (scipy.stats.skew(bias=False)). 0 when v is
    constant (a point mass has no skew)."""
    v = np.asarray(v, dtype=np.float64)
    n = v.size
    if n < 3:
        raise ValueError(f"skew needs at least 3 values, got {n}")
    s = v.std(ddof=1)
    if s == 0 or not np.isfinite(s):
        return 0.0
    z = (v - v.mean()) / s
    return float(n * np.sum(z ** 3) / ((n - 1) * (n - 2)))


def reconstruction_skew(X, Xrec, variant: str = "paper") -> float:
    """RS (Eqs. 4-5): skew of the normalised error magnitudes. ``variant="authors"``: biased
    sample skewness (scipy's default) of the raw error norms."""
    _check_variant(variant)
    if variant == "authors":
        return _biased_skew(error_norms(X, Xrec))
    return adjusted_skew(error_magnitudes(X, Xrec))


def reconstruction_error(X, Xrec) -> float:
    """RE (Eq. 15): ``sum (x - x')^2 / sum x^2`` over all elements. 0 if the reconstruction is
    exact (also for an all-zero X)."""
    num = float(np.sum(error_norms(X, Xrec) ** 2))
    return 0.0 if num == 0 else num / _sum_squares(X)


def reconstruction_iqr(X, Xrec) -> float:
    """RI: inter-quartile range (75th - 25th percentile, linear interpolation) of Eq. 4."""
    return _iqr(error_magnitudes(X, Xrec))


# ----------------------------------------------------------------------------- centroids
def nearest_centroid_distances(codebooks) -> np.ndarray:
    """(M, K): L2 distance from each centroid to the nearest *other* centroid of its codebook
    (exact; K x K distances per codebook)."""
    C = np.asarray(codebooks, dtype=np.float64)
    sq = np.einsum("mkd,mkd->mk", C, C)
    D2 = sq[:, :, None] + sq[:, None, :] - 2.0 * np.einsum("mkd,mld->mkl", C, C)
    K = C.shape[1]
    D2[:, np.arange(K), np.arange(K)] = np.inf
    return np.sqrt(np.clip(D2.min(axis=2), 0.0, None))


def centroid_distance_var(codebooks, variant: str = "paper") -> float:
    """CD_var (Eq. 6): sample variance (ddof = 1, the ``mk - 1`` of Eq. 6) of the normalised
    nearest-centroid distances ``rho_i`` over all M x K centroids. Paper: ``rho_i`` = L2
    distance / the largest such distance (so rho in [0, 1]). ``variant="authors"``: squared L2
    distances over their maximum. 0 if all centroids coincide."""
    _check_variant(variant)
    r = nearest_centroid_distances(codebooks).ravel()
    if variant == "authors":
        r = r ** 2
    mx = r.max()
    rho = r / mx if mx > 0 else np.zeros_like(r)
    return float(rho.var(ddof=1))


def cell_eee_values(X, codes, kind: str, variant: str = "paper",
                    dims_per_codebook: int | None = None) -> np.ndarray:
    """EEE (Eq. 2) of the points assigned to each centroid, (M, K), NaN for skipped cells.

    Product quantizer: the sub-vectors of codebook m's subspace; additive: the full vectors.
    Cells with fewer than 2 points, or with no variance (identical points), are skipped (NaN):
    Eq. 2 is undefined there. ``variant="authors"``: duplicate vectors are dropped inside each
    cell first. Per cell, the covariance's eigenvalues come from a d x d scatter matrix (or the
    smaller Gram matrix when the cell has fewer points than dimensions), decomposed in stacks.
    """
    X = np.asarray(X)
    codes = np.asarray(codes, dtype=np.intp)
    n, M = codes.shape
    d = X.shape[1]
    dsub = d // M if kind == "product" else d
    K = int(codes.max()) + 1 if dims_per_codebook is None else dims_per_codebook
    out = np.full((M, K), np.nan)
    for m in range(M):
        cols = slice(m * dsub, (m + 1) * dsub) if kind == "product" else slice(None)
        order = np.argsort(codes[:, m], kind="stable")
        Xs = np.ascontiguousarray(X[order, cols], dtype=np.float64)
        counts = np.bincount(codes[:, m], minlength=K)
        starts = np.concatenate([[0], np.cumsum(counts)])
        covs, cells = [], []
        for j in np.flatnonzero(counts >= 2):
            P = Xs[starts[j]:starts[j + 1]]
            if variant == "authors":
                P = np.unique(P, axis=0)
                if len(P) < 2:
                    continue
            P = P - P.mean(axis=0)
            covs.append(P @ P.T if len(P) < dsub else P.T @ P)
            cells.append(j)
        # Group matrices of equal size and decompose each group as one stack.
        by_size: dict[int, list[int]] = {}
        for i, C in enumerate(covs):
            by_size.setdefault(C.shape[0], []).append(i)
        for size, idx in by_size.items():
            lam = np.linalg.eigvalsh(np.stack([covs[i] for i in idx]))
            lam = np.clip(lam, 0.0, None)
            if size < dsub:
                lam = np.concatenate([lam, np.zeros((len(idx), dsub - size))], axis=1)
            vals = eee_from_eigenvalues(lam)
            for i, v in zip(idx, vals):
                out[m, cells[i]] = v
    return out


def cell_eee(X, codes, kind: str, variant: str = "paper", K: int | None = None) -> float:
    """PD_EEE (Eq. 7): mean EEE of the points in each cell over all M x K cells that have one
    (see :func:`cell_eee_values`); NaN if no cell qualifies."""
    _check_variant(variant)
    vals = cell_eee_values(X, codes, kind, variant, K)
    ok = vals[np.isfinite(vals)]
    return float(ok.mean()) if ok.size else float("nan")


# ----------------------------------------------------------------------------- all together
def quantized_measures(X, codes, codebooks, kind: str, variant: str = "paper",
                       seed: int = 0) -> dict[str, float]:
    """Every quantization measure of Section 3.3.2 / Appendix A.2-A.3 for one quantizer."""
    _check_variant(variant)
    X, codes, codebooks = check_quantization(X, codes, codebooks, kind)
    K = codebooks.shape[1]
    e = reconstruction_norms(X, codes, codebooks, kind)  # Eq. 4's numerators, once
    em = _magnitudes(e)
    sq = float(np.sum(e ** 2))
    return {
        "PP": point_patchiness(codes, K, variant),
        "PC_var": point_count_var(codes, K),
        "PC_kl": point_count_kl(codes, K, variant, seed),
        "RS": _biased_skew(e) if variant == "authors" else adjusted_skew(em),
        "RE": 0.0 if sq == 0 else sq / _sum_squares(X),
        "RI": _iqr(em),
        "CD_var": centroid_distance_var(codebooks, variant),
        "PD_EEE": cell_eee(X, codes, kind, variant, K),
    }


def all_measures(X, quantized: Mapping[str, tuple], variant: str = "paper",
                 seed: int = 0) -> dict[str, dict[str, float]]:
    """``{"spread": {EEE, VRM, IS}, <name>: {PP, …, PD_EEE} for each quantizer}``.

    ``quantized`` maps a name (``additive``, ``product``) to ``(codes, codebooks, kind)``.
    """
    X = check_points(X)
    out = {"spread": spread_measures(X, variant, seed)}
    for name, (codes, codebooks, kind) in quantized.items():
        out[name] = quantized_measures(X, codes, codebooks, kind, variant, seed)
    return out
