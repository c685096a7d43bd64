"""Latent-space geometry measures of Section 3.3 and Appendix A (Eqs. 2-15).

Every measure is a pure function: NumPy arrays in, a float out, inputs checked at the top.
``X`` is an (n, d) matrix of points (rows); a quantization is ``codes`` (n, M) integers in
[0, K) and ``codebooks`` (M, K, d_sub), with ``kind`` ``"additive"`` (LSQ++: each codebook spans
all d dimensions, x' = sum of the M chosen codewords) or ``"product"`` (PQ: codebook m covers
columns ``m*d_sub:(m+1)*d_sub``, x' = concatenation).

Two definitions live side by side (``variant``):

- ``"paper"`` (default): the paper's equations, as printed (equation numbers in each docstring).
- ``"authors"``: what the authors' script computes (``../shared/reference/NOTES.md``), which
  produced every published number: EEE and VRM rounded to 4 decimals, VRM as entropy-power
  ratios, PP/PC_var/PC_kl from ``np.histogram`` counts per codebook, PC_kl of the normalised
  counts against a random uniform histogram, CD_var of squared distances with ``np.var``, PD_EEE
  over the full d-dimensional vectors of each cell with duplicates dropped and
  min(n_cell, d) eigenvalues. Their two random references (VRM's Gaussian sample, PC_kl's
  uniform draws) were unseeded; here they are drawn from ``np.random.default_rng(seed)``, so a
  run repeats exactly.

:func:`measure_variants` computes both variants of everything at once, sharing the expensive
parts (one covariance eigendecomposition, one sort per principal axis, one eigendecomposition
per cell where the two definitions see the same points).
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
H_NORMAL = 0.5 * np.log(2 * np.pi * np.e)  #: entropy of N(0, 1), ln sqrt(2 pi e)


def _workers(workers: int | None) -> int:
    import os

    if workers:
        return max(1, int(workers))
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, min(4, os.cpu_count() or 1))


#: rows of a float32 matrix converted to float64 at a time (a reused, cache-sized buffer)
ROW_BLOCK = 2048


def _float64_blocks(X: np.ndarray, block: int | None = None):
    """``(start, rows as float64)`` for consecutive row blocks of X. A float64 X is yielded
    whole; any other X is converted block by block into ONE reused buffer (so no float64 copy
    of the matrix is ever held; each yielded block is overwritten by the next)."""
    if X.dtype == np.float64:
        yield 0, X
        return
    block = block or ROW_BLOCK
    buf = np.empty((min(block, len(X)), X.shape[1]))
    for i in range(0, len(X), block):
        b = buf[:min(block, len(X) - i)]
        np.copyto(b, X[i:i + block])
        yield i, b


def _scatter(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column sums and the uncentred scatter ``X^T X`` of the rows of X, in float64. For a
    float32 X in row blocks of float64 (each product of two float32 values is exact in
    float64, so only the summation order differs from a float64 copy's)."""
    s = np.zeros(X.shape[1])
    S = np.zeros((X.shape[1], X.shape[1]))
    for _, b in _float64_blocks(X):
        if b is X:
            return X.sum(axis=0), X.T @ X
        s += b.sum(axis=0)
        S += b.T @ b  # one symmetric rank-k update (numpy calls BLAS syrk for b.T @ b)
    return s, S


def _covariance(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and sample covariance of the rows of X, float64, from X^T X (no centred
    copy of X, no float64 copy of a float32 X)."""
    s, S = _scatter(X)
    mu = s / X.shape[0]
    return mu, (S - X.shape[0] * np.outer(mu, mu)) / (X.shape[0] - 1)


def _covariance_eigenvalues(X: np.ndarray, pad: bool = True) -> np.ndarray:
    """Eigenvalues (descending, >= 0) of the covariance of the rows of X, in float64.

    With fewer rows than columns they come from the n x n Gram matrix (same non-zero
    spectrum): ``pad=True`` appends d - n zeros (d values, Eq. 2), ``pad=False`` keeps the
    n values sklearn's ``PCA()`` reports (min(n, d) components, the authors' EEE)."""
    if X.shape[0] < X.shape[1]:  # Gram trick: same non-zero spectrum, smaller matrix
        Xc = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
        lam = np.linalg.eigvalsh(Xc @ Xc.T) / (X.shape[0] - 1)
        if pad:
            lam = np.concatenate([np.zeros(X.shape[1] - X.shape[0]), lam])
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


def eee_authors_from_eigenvalues(lam: np.ndarray) -> np.ndarray:
    """The authors' EEE from the ``num_pc`` eigenvalues sklearn's ``PCA()`` reports; stacks
    (..., num_pc). Rounded to 4 decimals, as their script rounds it.

    ``diff_k = cumsum_k - k total / num_pc`` (k = 1..num_pc), area by the trapezoid rule over
    x = 0..num_pc-1 (``sklearn.metrics.auc(range(num_pc), diff)``), divided by
    ``total num_pc / 2``. Differs from Eq. 2 by the trapezoid's half end-weights and by using
    only min(n, d) eigenvalues (no zero padding when n < d). NaN where total variance is 0.
    """
    lam = -np.sort(-np.asarray(lam, dtype=np.float64), axis=-1)
    p = lam.shape[-1]
    total = lam.sum(axis=-1)
    diff = np.cumsum(lam, axis=-1) - total[..., None] * np.arange(1, p + 1) / p
    area = diff.sum(axis=-1) - 0.5 * (diff[..., 0] + diff[..., -1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.round(np.where(total > 0, area / (total * p / 2), np.nan), 4)


def eee(X, variant: str = "paper") -> float:
    """Eigenvalue Early Enrichment (Eq. 2; Marbut et al. 2023).

    Area between the cumulative explained-variance curve of X's principal components and the
    straight line of an evenly spread distribution, over ``d v / 2`` (v: total variance).
    0 for perfectly even spread (isotropic data), (d - 1)/d for rank-one data; lower = more even.
    NaN when X has no variance at all (every row identical). ``variant="authors"``:
    :func:`eee_authors_from_eigenvalues` (trapezoid, min(n, d) eigenvalues, 4 decimals).
    """
    _check_variant(variant)
    X = check_points(X)
    if variant == "authors":
        return float(eee_authors_from_eigenvalues(_covariance_eigenvalues(X, pad=False)))
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
    Z = np.ascontiguousarray(np.asarray(Z, dtype=np.float64).T)
    return _sorted_entropies(Z, m, 1)[0]


def _window(n: int, m: int | None) -> int:
    if m is None:
        m = int(np.floor(np.sqrt(n) + 0.5))
    if not 1 <= m < n:
        raise ValueError(f"m: window must be in [1, {n - 1}], got {m}")
    return m


def _sorted_entropies(Zt: np.ndarray, m: int | None, workers: int | None):
    """Sort each ROW of Zt (p, n) in place and return per row ``(H_floored, H_raw, range)``:
    the Vasicek entropy with zero spacings floored (the paper variant, see
    :func:`vasicek_entropy`) and without (scipy's, -inf when two order statistics m apart tie).
    Rows are processed in chunks on ``workers`` threads (NumPy's sort and ufuncs release the
    GIL); one sort per axis serves both variants. Temporaries: two (8, n) buffers per thread."""
    from concurrent.futures import ThreadPoolExecutor

    p, n = Zt.shape
    m = _window(n, m)
    h_floor, h_raw, spread = np.empty(p), np.empty(p), np.empty(p)
    const = np.log(n / (2.0 * m))
    idx = np.arange(n)
    up_idx, lo_idx = np.minimum(idx + m, n - 1), np.maximum(idx - m, 0)

    def chunk(r0: int, r1: int) -> None:
        Zt[r0:r1].sort(axis=1)
        rows = 8
        gaps, lg = np.empty((rows, n)), np.empty((rows, n))
        for a in range(r0, r1, rows):
            Z = Zt[a:min(a + rows, r1)]
            k = len(Z)
            g, lk = gaps[:k], lg[:k]
            if 2 * m <= n:
                np.subtract(Z[:, m:2 * m], Z[:, :1], out=g[:, :m])
                np.subtract(Z[:, 2 * m:], Z[:, :n - 2 * m], out=g[:, m:n - m])
                np.subtract(Z[:, n - 1:], Z[:, n - 2 * m:n - m], out=g[:, n - m:])
            else:
                np.subtract(Z[:, up_idx], Z[:, lo_idx], out=g)
            rng_ = Z[:, -1] - Z[:, 0]
            floor = np.where(rng_ > 0, 1e-12 * rng_, 1e-300)
            low = g.min(axis=1)
            with np.errstate(divide="ignore"):
                np.maximum(g, floor[:, None], out=lk)
                np.log(lk, out=lk)
                hf = lk.mean(axis=1)
                hr = hf.copy()
                for i in np.flatnonzero(low < floor):  # rare: ties or near-ties
                    hr[i] = np.log(g[i]).mean()
            h_floor[a:a + k], h_raw[a:a + k], spread[a:a + k] = hf + const, hr + const, rng_

    step = max(1, min(32, -(-p // _workers(workers))))
    bounds = [(i, min(i + step, p)) for i in range(0, p, step)]
    if len(bounds) == 1 or _workers(workers) == 1:
        for b in bounds:
            chunk(*b)
    else:
        with ThreadPoolExecutor(_workers(workers)) as ex:
            list(ex.map(lambda b: chunk(*b), bounds))
    return h_floor, h_raw, spread


#: bytes of float64 projections (axes x rows) held at a time per thread by the spread measures
PROJECTION_CHUNK_BYTES = 64 << 20


def _projected_entropies(X: np.ndarray, mu: np.ndarray, vecs: np.ndarray, m: int | None,
                         workers: int | None, keep: bool = False):
    """:func:`_sorted_entropies` of the projections ``(X - mu) @ vecs`` (one row per column of
    ``vecs``), plus the sorted projections (p, n) when ``keep``.

    With ``keep``, or when one chunk takes every axis (one worker, a projection within
    :data:`PROJECTION_CHUNK_BYTES`), it is made at once; otherwise the axes are taken in
    chunks of at most that size, one per worker thread at a time (BLAS on one thread each):
    the chunk's projection is built from row blocks of X in float64 (:func:`_float64_blocks`),
    sorted, reduced to its entropies and dropped, so at most ``workers`` chunks are held (no
    (p, n) array, no float64 copy of X).
    """
    from concurrent.futures import ThreadPoolExecutor

    n = X.shape[0]
    p = vecs.shape[1]
    shift = vecs.T @ mu

    nw = _workers(workers)
    chunk = max(1, min(-(-p // nw), PROJECTION_CHUNK_BYTES // (8 * n)))
    if keep or chunk >= p:
        Zt = _project_rows(X, vecs.T, shift)
        return (*_sorted_entropies(Zt, m, workers), Zt if keep else None)
    h_floor, h_raw, spread = np.empty(p), np.empty(p), np.empty(p)

    def work(a: int, b: int) -> None:
        Z = _project_rows(X, np.ascontiguousarray(vecs[:, a:b].T), shift[a:b])
        h_floor[a:b], h_raw[a:b], spread[a:b] = _sorted_entropies(Z, m, 1)

    bounds = [(a, min(a + chunk, p)) for a in range(0, p, chunk)]
    if nw == 1:
        for b in bounds:
            work(*b)
    else:
        with _blas_threads(1), ThreadPoolExecutor(nw) as ex:
            for f in [ex.submit(work, *b) for b in bounds]:
                f.result()
    return h_floor, h_raw, spread, None


def _project_rows(X: np.ndarray, Vt: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """``Vt @ X.T - shift[:, None]`` (axes as rows, C-contiguous, float64), built from row
    blocks of a float32 X without a float64 copy of it."""
    if X.dtype == np.float64:
        Z = Vt @ X.T
    else:
        Z = np.empty((Vt.shape[0], X.shape[0]))
        for i, b in _float64_blocks(X):
            Z[:, i:i + len(b)] = Vt @ b.T
    Z -= shift[:, None]
    return Z


def _blas_threads(k: int):
    """A context pinning BLAS to ``k`` threads (threadpoolctl; a no-op without it)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=k, user_api="blas")


def normal_reference_variance(n: int, d: int, seed: int = 0, block: int = 8192) -> float:
    """Total variance (``sum(np.var(ref, axis=0))``, ddof 0) of the authors' VRM reference,
    an (n, d) sample of N(0, I_d), drawn from its exact distribution with
    ``np.random.default_rng(seed)``.

    Each column's sum of squares about its own mean is chi-square with n - 1 degrees of
    freedom, independently across the d columns, so the total variance is
    ``chi2(d (n - 1)) / n``: one draw gives it exactly in distribution, without drawing the
    n x d sample. The authors drew their sample unseeded, so their reference was one random
    value of this distribution and any seeded draw of it is as faithful; it is not the value
    a seeded ``standard_normal((n, d))`` sample would give. ``block`` is accepted for
    compatibility and unused.
    """
    if n < 1 or d < 1:
        raise ValueError(f"normal reference: need n >= 1 and d >= 1, got {n}, {d}")
    if n == 1:
        return 0.0
    return float(np.random.default_rng(seed).chisquare(d * (n - 1)) / n)


def vrm(X, m: int | None = None, variant: str = "paper", seed: int = 0) -> float:
    """Vasicek Ratio Mean squared error (Eqs. 8-9; Marbut et al. 2023).

    Paper (Eq. 9): X is rotated onto its principal axes and scaled so that its total variance
    is d, the total variance of N(0, I_d); each axis' Vasicek entropy ``H_vas`` (Eq. 8) is
    compared with the entropy of the unit normal, ``H_ref = ln(sqrt(2 pi e))``, and VRM is the
    mean over axes of ``(1 - H_vas / H_ref)^2``. 0 for isotropic Gaussian data; larger = less
    even. A matrix without variance gives a very large finite value.

    ``variant="authors"`` (their script, NOTES.md): the projection onto the min(n, d) principal
    axes is scaled to the total variance (ddof 0) of a random N(0, I_d) sample of the same n
    (:func:`normal_reference_variance`, seeded by ``seed``; theirs was unseeded); per axis
    scipy's ``differential_entropy`` with its default method (Vasicek for n > 1000) and window;
    the **entropy-power** ratio ``r_i = exp(H_i) / exp(H_ref)``; VRM = ``mean((1 - r_i)^2)``,
    rounded to 4 decimals. NaN for a matrix without variance.
    """
    _check_variant(variant)
    return _spread_variants(check_points(X), (variant,), seed, m=m)[variant]["VRM"]


def _vrm_paper(h_floor, spread, total: float, d: int) -> float:
    shift = 0.5 * np.log(d / total) if total > 0 else 0.0
    h = np.where(spread > 0, h_floor + shift, h_floor)
    return float(np.mean((1.0 - h / H_NORMAL) ** 2))


def _vrm_authors(Zt_sorted, h_raw, total0: float, ref_var: float, n: int) -> float:
    if not total0 > 0:
        return float("nan")
    log_scale = 0.5 * np.log(ref_var / total0)
    if n > 1000:  # scipy's default method is Vasicek here
        h = h_raw + log_scale
    else:  # van Es / Ebrahimi below: let scipy decide, as their script did
        from scipy.stats import differential_entropy

        h = differential_entropy(Zt_sorted * np.exp(log_scale), axis=1)
    r = np.exp(h) / np.exp(H_NORMAL)
    return float(np.round(np.mean((1.0 - r) ** 2), 4))


def isoscore(X) -> float:
    """IsoScore (Eqs. 10-11; Rudman et al. 2021): the fraction of dimensions used isotropically.

    Steps: rotate X onto its principal axes; take the variance vector ``Sigma_D``; normalise it
    to norm sqrt(d); isotropy defect ``delta = ||Sigma_hat - 1|| / sqrt(2 (d - sqrt d))``
    (Eq. 10); ``k = (d - delta^2 (d - sqrt d))^2 / d^2``; ``IS = (d k - 1) / (d - 1)`` (Eq. 11,
    as in the authors' reference implementation, the ``isoscore`` package, which their script
    calls: both variants). 1 for isotropic data, 0 when one direction holds all variance. NaN
    when X has no variance.
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


def _spread_variants(X: np.ndarray, variants, seed: int, m: int | None = None,
                     workers: int | None = None) -> dict[str, dict[str, float]]:
    """EEE, VRM, IS of checked X for each variant: one covariance, one eigendecomposition, one
    projection and one sort per principal axis shared by all."""
    n, d = X.shape
    mu, C = _covariance(X)
    lam, vecs = np.linalg.eigh(C)
    lam, vecs = np.clip(lam[::-1], 0.0, None), vecs[:, ::-1]
    # Projection, axes as rows (p, n), C-contiguous so that each axis sorts in place; in axis
    # chunks when large. The sorted projection is kept only where the authors' VRM needs it
    # (n <= 1000: scipy's default estimator is not Vasicek's there).
    keep = "authors" in variants and n <= 1000
    h_floor, h_raw, spread, Zt = _projected_entropies(X, mu, vecs, m, workers, keep)
    out = {}
    for variant in variants:
        if variant == "paper":
            out[variant] = {"EEE": float(eee_from_eigenvalues(lam)),
                            "VRM": _vrm_paper(h_floor, spread, float(lam.sum()), d),
                            "IS": _isoscore_of_variances(lam)}
        else:
            p = min(n, d)
            lam_p = _covariance_eigenvalues(X, pad=False) if n < d else lam
            total0 = float(lam_p[:p].sum()) * (n - 1) / n
            ref_var = normal_reference_variance(n, d, seed)
            out[variant] = {"EEE": float(eee_authors_from_eigenvalues(lam_p)),
                            "VRM": _vrm_authors(None if Zt is None else Zt[:p], h_raw[:p],
                                                total0, ref_var, n),
                            "IS": _isoscore_of_variances(lam)}
    return out


def spread_measures(X, variant: str = "paper", seed: int = 0) -> dict[str, float]:
    """``{"EEE", "VRM", "IS"}`` of X (Section 3.3.1, Appendix A.1), from one covariance and one
    eigendecomposition shared by the three."""
    _check_variant(variant)
    return _spread_variants(check_points(X), (variant,), seed)[variant]


# ----------------------------------------------------------------------------- cells
def cell_counts(codes, K: int) -> np.ndarray:
    """Points per centroid, (M, K): ``counts[m, j]`` = #rows with ``codes[:, m] == j``."""
    codes = np.asarray(codes, dtype=np.intp)
    M = codes.shape[1]
    flat = codes + (np.arange(M) * K)[None, :]
    return np.bincount(flat.ravel(), minlength=M * K).reshape(M, K)


def authors_counts(codes, K: int) -> np.ndarray:
    """The authors' cell counts, (M, K): ``np.histogram(codes[:, m], bins=K)`` per codebook.

    Their bins span each codebook's observed [min, max] code, so they equal
    :func:`cell_counts` whenever a codebook uses its first and last centroid (every real
    quantization); otherwise the histogram's bins straddle codes, as in their script."""
    codes = np.asarray(codes)
    return np.stack([np.histogram(codes[:, m], bins=K)[0] for m in range(codes.shape[1])])


def point_patchiness(codes, K: int, variant: str = "paper") -> float:
    """Point Patchiness (Eq. 3; Lloyd's patchiness index, Wade et al. 2018).

    ``PP = (m + (V/m - 1)) / m`` with m the mean and V the (population, ddof = 0) variance of the
    cell densities, i.e. the counts of points in each of the M x K cells. Equal counts give
    ``1 - 1/m``; clumped counts give more. ``variant="authors"``: the counts of all codebooks
    (:func:`authors_counts`) pooled, m = (sum of all M x K counts) / K, i.e. M times the mean
    cell density, V = ``np.var`` of the pooled counts.
    """
    _check_variant(variant)
    counts = authors_counts(codes, K) if variant == "authors" else cell_counts(codes, K)
    return pp_from_counts(counts, K, variant)


def pp_from_counts(counts, K: int, variant: str = "paper") -> float:
    """:func:`point_patchiness` from the (M, K) cell counts (:func:`cell_counts`, or
    :func:`authors_counts` for ``variant="authors"``); counts may be weighted (floats)."""
    c = np.asarray(counts, dtype=np.float64).ravel()
    m = c.sum() / K if variant == "authors" else c.mean()
    V = c.var()
    return float((m + (V / m - 1.0)) / m)


def _odds(c: np.ndarray, K: int) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return (K - 1) * np.divide(c, 1.0 - c, out=np.full_like(c, np.inf), where=c < 1.0)


def odds_ratios(codes, K: int) -> np.ndarray:
    """Eq. 12: ``O_i = (k - 1) c_i / (1 - c_i)``, c_i the share of points in cell i of its
    codebook; (M, K). 1 everywhere for equal counts; +inf for a cell holding every point."""
    counts = cell_counts(codes, K).astype(np.float64)
    return _odds(counts / counts.sum(axis=1, keepdims=True), K)


def point_count_var(codes, K: int, variant: str = "paper") -> float:
    """PC_var (Eq. 13): ``sum_i (O_i - mean O)^2 / (M (k - 1))`` over all M x K odds ratios.
    0 for equal counts; +inf if a cell holds every point of its codebook.
    ``variant="authors"``: the mean over codebooks of ``np.var`` (ddof 0, each codebook's own
    mean) of its odds ratios, from :func:`authors_counts`."""
    _check_variant(variant)
    codes = np.asarray(codes)
    counts = authors_counts(codes, K) if variant == "authors" else cell_counts(codes, K)
    return pc_var_from_counts(counts, codes.shape[0], K, variant)


def pc_var_from_counts(counts, n: float, K: int, variant: str = "paper") -> float:
    """:func:`point_count_var` from the (M, K) cell counts of ``n`` points (see
    :func:`pp_from_counts`)."""
    counts = np.asarray(counts, dtype=np.float64)
    if variant == "authors":
        O = _odds(counts / n, K)
        if not np.isfinite(O).all():
            return float("inf")
        return float(np.mean(O.var(axis=1)))
    O = _odds(counts / counts.sum(axis=1, keepdims=True), K).ravel()
    if not np.isfinite(O).all():
        return float("inf")
    return float(np.sum((O - O.mean()) ** 2) / (counts.shape[0] * (K - 1)))


def _kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) per row (``scipy.special.rel_entr``: 0 log 0 = 0)."""
    from scipy.special import rel_entr

    return rel_entr(p, q).sum(axis=-1)


def uniform_reference_histograms(n: int, M: int, K: int, seed: int = 0) -> np.ndarray:
    """The authors' PC_kl reference, (M, K): for codebook m = 0, 1, … in turn, n draws of
    ``uniform(0, K)`` from one ``np.random.default_rng(seed)``, histogrammed with
    ``np.histogram(draws, bins=K)`` and normalised (theirs were unseeded)."""
    gen = np.random.default_rng(seed)
    return np.stack([np.histogram(gen.uniform(0, K, n), bins=K)[0] / n for _ in range(M)])


def point_count_kl(codes, K: int, variant: str = "paper", seed: int = 0) -> float:
    """PC_kl (Eq. 14): KL divergence of the odds-ratio distribution from the uniform one,
    averaged over the M codebooks.

    Within each codebook, ``p_i = O_i / sum_j O_j`` is the observed distribution over the k cells
    and ``q_i = 1/k`` the reference (all odds ratios equal, the exact uniform case); the KL
    terms over all M x K cells are summed and divided by M. 0 for equal counts; a cell holding
    every point gives p concentrated on it, KL = ln k.

    ``variant="authors"``: per codebook ``sum(scipy.special.kl_div(p, u))`` with p the
    normalised **counts** (:func:`authors_counts` / n, not the odds) and u a random uniform
    histogram of n draws (:func:`uniform_reference_histograms`, seeded by ``seed``), averaged
    over codebooks; +inf if some u_i = 0 where p_i > 0.
    """
    _check_variant(variant)
    codes = np.asarray(codes)
    counts = authors_counts(codes, K) if variant == "authors" else cell_counts(codes, K)
    return pc_kl_from_counts(counts, codes.shape[0], K, variant, seed)


def pc_kl_from_counts(counts, n: int, K: int, variant: str = "paper", seed: int = 0) -> float:
    """:func:`point_count_kl` from the (M, K) cell counts of ``n`` points (see
    :func:`pp_from_counts`)."""
    counts = np.asarray(counts, dtype=np.float64)
    M = counts.shape[0]
    if variant == "authors":
        from scipy.special import kl_div

        p = counts / n
        u = uniform_reference_histograms(int(n), M, K, seed)
        return float(np.mean(kl_div(p, u).sum(axis=1)))
    O = _odds(counts / counts.sum(axis=1, keepdims=True), K)
    p = np.where(np.isinf(O), 1.0, np.where(np.isinf(O).any(axis=1, keepdims=True), 0.0, O))
    p = p / p.sum(axis=1, keepdims=True)
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
    """Biased sample skewness (``scipy.stats.skew``'s default, the authors' RS); 0 when ``e``
    is constant."""
    from scipy import stats

    e = np.asarray(e, dtype=np.float64)
    return 0.0 if np.ptp(e) == 0 else float(stats.skew(e))


def _iqr(v: np.ndarray) -> float:
    """Interquartile range, linear interpolation (``scipy.stats.iqr``)."""
    from scipy import stats

    return float(stats.iqr(v))


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
    from scipy import stats

    v = np.asarray(v, dtype=np.float64)
    if v.size < 3:
        raise ValueError(f"skew needs at least 3 values, got {v.size}")
    if not np.isfinite(v).all() or np.ptp(v) == 0:  # no finite spread: no skew
        return 0.0
    return float(stats.skew(v, bias=False))


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
    nearest-centroid distances ``rho_i`` over all M x K centroids, ``rho_i`` = L2 distance / the
    largest such distance (so rho in [0, 1]). ``variant="authors"``: **squared** L2 distances
    (FAISS ``IndexFlatL2``'s) pooled over codebooks, over their maximum, ``np.var`` (ddof 0).
    0 if all centroids coincide."""
    _check_variant(variant)
    r = nearest_centroid_distances(codebooks).ravel()
    if variant == "authors":
        r = r ** 2
    mx = r.max()
    rho = r / mx if mx > 0 else np.zeros_like(r)
    return float(rho.var(ddof=0 if variant == "authors" else 1))


def row_hashes(X, block: int = 16384) -> np.ndarray:
    """A 64-bit hash of each row's exact bit pattern (-0.0 read as 0.0): equal rows always get
    equal hashes, so a cell whose hashes are all distinct has no duplicate rows."""
    X = np.asarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    utype = np.uint32 if X.dtype == np.float32 else np.uint64
    mult = np.random.default_rng(0x5EED).integers(1, 2 ** 62, X.shape[1], dtype=np.uint64) | 1
    out = np.empty(X.shape[0], dtype=np.uint64)
    for i in range(0, X.shape[0], block):
        bits = (np.ascontiguousarray(X[i:i + block]) + X.dtype.type(0)).view(utype)
        with np.errstate(over="ignore"):
            out[i:i + block] = (bits.astype(np.uint64) * mult).sum(axis=1, dtype=np.uint64)
    return out


def _cell_spectrum(P: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Covariance eigenvalues (descending, >= 0) of the rows of P: min(k, q) values, from the
    k x k Gram matrix or the q x q scatter matrix, whichever is smaller. ``overwrite``: centre
    P in place (P must then be a float64 array the caller no longer needs)."""
    mean = P.mean(axis=0)
    if overwrite:
        P -= mean
    else:
        P = P - mean
    G = P @ P.T if P.shape[0] < P.shape[1] else P.T @ P
    return np.clip(np.linalg.eigvalsh(G)[::-1] / (P.shape[0] - 1), 0.0, None)


def _duplicate_cells(codes_m: np.ndarray, hashes: np.ndarray, K: int) -> np.ndarray:
    """(K,) bool: cells of one codebook holding two rows with equal hashes (possibly equal
    rows: those cells get the exact ``np.unique``); one sort by (cell, hash) for all cells."""
    o = np.lexsort((hashes, codes_m))
    c, h = codes_m[o], hashes[o]
    same = (c[1:] == c[:-1]) & (h[1:] == h[:-1])
    out = np.zeros(K, dtype=bool)
    out[c[1:][same]] = True
    return out


def _run_threads(n_tasks: int, job, workers: int) -> None:
    """``job(i)`` for i = 0 .. n_tasks - 1 in that order of start, on ``workers`` threads that
    each take the next task when done (BLAS pinned to one thread each)."""
    import itertools
    import threading

    if workers == 1 or n_tasks <= 1:
        for i in range(n_tasks):
            job(i)
        return
    counter = itertools.count()
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            for i in iter(counter.__next__, None):
                if i >= n_tasks or errors:
                    return
                job(i)
        except BaseException as e:  # noqa: BLE001 (re-raised in the caller's thread)
            errors.append(e)

    with _blas_threads(1):
        threads = [threading.Thread(target=loop) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]


def _cell_eee_variants(X, codes, kind: str, K: int, variants, hashes=None,
                       workers: int | None = None) -> dict[str, np.ndarray]:
    """EEE of each cell, (M, K) per variant, NaN for skipped cells.

    paper: the cell's points (PQ: the sub-vectors of codebook m's subspace; LSQ++: the full
    vectors), cells with < 2 points or no variance skipped, Eq. 2 over d_sub eigenvalues (zeros
    appended when the cell has fewer points than dimensions). authors: the full d-dimensional
    vectors for both kinds, duplicates dropped (``np.unique(axis=0)``), cells with <= 1 point
    skipped, :func:`eee_authors_from_eigenvalues` over the cell's min(n_cell, d) eigenvalues.
    Where both variants see the same points (LSQ++, no duplicates) one eigendecomposition
    serves both. Cells run on ``workers`` threads, biggest first, with BLAS pinned to one
    thread each; each thread gathers its cells' rows into its own reused float64 buffer (no
    allocation per cell beyond the small Gram/scatter matrix).
    """
    import threading

    X = np.asarray(X)
    codes = np.asarray(codes, dtype=np.intp)
    M = codes.shape[1]
    d = X.shape[1]
    dsub = d // M if kind == "product" else d
    out = {v: np.full((M, K), np.nan) for v in variants}
    paper, authors = "paper" in variants, "authors" in variants
    if authors and hashes is None:
        hashes = row_hashes(X)

    tasks = []
    for m in range(M):
        order = np.argsort(codes[:, m], kind="stable")
        counts = np.bincount(codes[:, m], minlength=K)
        starts = np.concatenate([[0], np.cumsum(counts)])
        dup = _duplicate_cells(codes[:, m], hashes, K) if authors else np.zeros(K, bool)
        for j in np.flatnonzero(counts >= 2):
            tasks.append((m, j, order[starts[j]:starts[j + 1]], bool(dup[j])))
    if not tasks:
        return out
    tasks.sort(key=lambda t: -len(t[2]))  # big cells first: better balance across threads
    biggest = len(tasks[0][2])
    local = threading.local()

    def rows(idx: np.ndarray) -> np.ndarray:
        """The cell's rows as float64, in this thread's buffer (overwritten by its next cell)."""
        if not hasattr(local, "buf"):
            local.buf = np.empty((biggest, d))
            local.raw = None if X.dtype == np.float64 else np.empty((biggest, d), X.dtype)
        k = len(idx)
        if local.raw is None:
            return np.take(X, idx, axis=0, out=local.buf[:k])
        np.copyto(local.buf[:k], np.take(X, idx, axis=0, out=local.raw[:k]))
        return local.buf[:k]

    def job(i: int) -> None:
        m, j, idx, dup = tasks[i]
        full = rows(idx)
        unique = np.unique(full, axis=0) if authors and dup else None  # before any centring
        lam_full = None
        if paper:
            if kind == "additive":
                lam = _cell_spectrum(full, overwrite=True)
                if unique is None:
                    lam_full = lam
            else:
                lam = _cell_spectrum(full[:, m * dsub:(m + 1) * dsub])
            if len(lam) < dsub:
                lam = np.concatenate([lam, np.zeros(dsub - len(lam))])
            out["paper"][m, j] = eee_from_eigenvalues(lam)
        if authors:
            pts = full if unique is None else unique
            if len(pts) <= 1:
                return
            if lam_full is None:
                lam_full = _cell_spectrum(pts, overwrite=True)
            out["authors"][m, j] = eee_authors_from_eigenvalues(lam_full)

    _run_threads(len(tasks), job, _workers(workers))
    return out


def cell_eee_values(X, codes, kind: str, variant: str = "paper",
                    K: int | None = None) -> np.ndarray:
    """EEE (Eq. 2) of the points assigned to each centroid, (M, K), NaN for skipped cells.

    Product quantizer: the sub-vectors of codebook m's subspace; additive: the full vectors.
    Cells with fewer than 2 points, or with no variance (identical points), are skipped (NaN):
    Eq. 2 is undefined there. ``variant="authors"``: the full vectors for both kinds,
    duplicate vectors dropped inside each cell first, the authors' EEE over min(n_cell, d)
    eigenvalues (see :func:`_cell_eee_variants`). Per cell, the covariance's eigenvalues come
    from a d x d scatter matrix or the smaller Gram matrix when the cell has fewer points than
    dimensions. ``K`` is the number of centroids per codebook (default: max code + 1).
    """
    _check_variant(variant)
    codes = np.asarray(codes, dtype=np.intp)
    K = int(codes.max()) + 1 if K is None else int(K)
    return _cell_eee_variants(X, codes, kind, K, (variant,))[variant]


def _mean_finite(vals: np.ndarray) -> float:
    ok = vals[np.isfinite(vals)]
    return float(ok.mean()) if ok.size else float("nan")


def cell_eee(X, codes, kind: str, variant: str = "paper", K: int | None = None) -> float:
    """PD_EEE (Eq. 7): mean EEE of the points in each cell over all M x K cells that have one
    (see :func:`cell_eee_values`); NaN if no cell qualifies. ``variant="authors"``: the mean over
    all kept cells of all codebooks of their (rounded) per-cell EEE."""
    return _mean_finite(cell_eee_values(X, codes, kind, variant, K))


# ----------------------------------------------------------------------------- all together
def _quantized_variants(X, codes, codebooks, kind: str, variants, seed: int = 0, hashes=None,
                        workers: int | None = None) -> dict[str, dict[str, float]]:
    K = codebooks.shape[1]
    e = reconstruction_norms(X, codes, codebooks, kind)  # Eq. 4's numerators, once
    em = _magnitudes(e)
    sq = float(np.sum(e ** 2))
    re = 0.0 if sq == 0 else sq / _sum_squares(X)
    ri = _iqr(em)
    cells = _cell_eee_variants(X, codes, kind, K, variants, hashes, workers)
    return {v: {"PP": point_patchiness(codes, K, v),
                "PC_var": point_count_var(codes, K, v),
                "PC_kl": point_count_kl(codes, K, v, seed),
                "RS": _biased_skew(e) if v == "authors" else adjusted_skew(em),
                "RE": re,
                "RI": ri,
                "CD_var": centroid_distance_var(codebooks, v),
                "PD_EEE": _mean_finite(cells[v])} for v in variants}


def quantized_measures(X, codes, codebooks, kind: str, variant: str = "paper",
                       seed: int = 0) -> dict[str, float]:
    """Every quantization measure of Section 3.3.2 / Appendix A.2-A.3 for one quantizer."""
    _check_variant(variant)
    X, codes, codebooks = check_quantization(X, codes, codebooks, kind)
    return _quantized_variants(X, codes, codebooks, kind, (variant,), seed)[variant]


def measure_variants(X, quantized: Mapping[str, tuple], variants=VARIANTS, seed: int = 0,
                     workers: int | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """Every measure under each definition in ``variants``, sharing the expensive parts:
    ``{variant: {"spread": {EEE, VRM, IS}, <name>: {PP, …, PD_EEE}}}``.

    ``quantized`` maps a name (``additive``, ``product``) to ``(codes, codebooks, kind)``;
    ``seed`` seeds the authors' random references; ``workers`` threads share the per-axis sorts
    and the per-cell eigendecompositions (default: the CPUs this process may use, at most 4).
    """
    variants = tuple(dict.fromkeys(_check_variant(v) for v in variants))
    X = check_points(X)
    checked = {name: check_quantization(X, codes, codebooks, kind)[1:] + (kind,)
               for name, (codes, codebooks, kind) in quantized.items()}
    spread = _spread_variants(X, variants, seed, workers=workers)
    out = {v: {"spread": spread[v]} for v in variants}
    hashes = row_hashes(X) if "authors" in variants and checked else None
    for name, (codes, codebooks, kind) in checked.items():
        q = _quantized_variants(X, codes, codebooks, kind, variants, seed, hashes, workers)
        for v in variants:
            out[v][name] = q[v]
    return out


def all_measures(X, quantized: Mapping[str, tuple], variant: str = "paper",
                 seed: int = 0) -> dict[str, dict[str, float]]:
    """``{"spread": {EEE, VRM, IS}, <name>: {PP, …, PD_EEE} for each quantizer}`` under one
    definition (see :func:`measure_variants` for both at once).

    ``quantized`` maps a name (``additive``, ``product``) to ``(codes, codebooks, kind)``.
    """
    _check_variant(variant)
    return measure_variants(X, quantized, (variant,), seed)[variant]
