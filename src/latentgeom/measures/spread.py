"""The spread measures of Section 3.3.1 / Appendix A.1 (Eqs. 2, 8-11): EEE, VRM, IsoScore.

Each comes in two definitions (``variant``, see :mod:`latentgeom.measures`): the rules here
are the pieces; :mod:`latentgeom.measures.table` says which pieces each definition uses.
:func:`spread_inputs` computes, once for both definitions, what they read: one covariance, one
eigendecomposition, one projection and one sort per principal axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .checks import check_points
from .compute import (
    _blas_threads,
    _covariance,
    _covariance_eigenvalues,
    _float64_blocks,
    _symmetric_eigen,
    _workers,
    tunable,
)

H_NORMAL = 0.5 * np.log(2 * np.pi * np.e)  #: entropy of N(0, 1), ln sqrt(2 pi e)


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
    return np.round(_eee_authors_unrounded(lam), 4)


def _eee_authors_unrounded(lam: np.ndarray) -> np.ndarray:
    """:func:`eee_authors_from_eigenvalues` before its rounding to 4 decimals."""
    lam = -np.sort(-np.asarray(lam, dtype=np.float64), axis=-1)
    p = lam.shape[-1]
    total = lam.sum(axis=-1)
    diff = np.cumsum(lam, axis=-1) - total[..., None] * np.arange(1, p + 1) / p
    area = diff.sum(axis=-1) - 0.5 * (diff[..., 0] + diff[..., -1])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, area / (total * p / 2), np.nan)


def pca_project(X) -> np.ndarray:
    """X centred and rotated onto its principal axes (descending variance), float64."""
    X = check_points(X)
    mu, C = _covariance(X)
    _, vecs = _symmetric_eigen(C, vectors=True)
    return (X.astype(np.float64) - mu) @ vecs[:, ::-1]


def vasicek_entropy(Z: np.ndarray, m: int | None = None) -> np.ndarray:
    """Vasicek's spacing estimate of differential entropy per column of Z (Eq. 8).

    ``H = 1/n sum_i log(n / (2m) (z_(i+m) - z_(i-m)))`` with order statistics clamped at the
    ends (``z_(j) = z_(1)`` for j < 1, ``z_(n)`` for j > n), as ``scipy.stats.
    differential_entropy(method="vasicek")``; ``m`` defaults to ``floor(sqrt(n) + 0.5)``.
    Zero spacings (ties) are floored at 1e-12 times the column's range (or at 1e-300 for a
    constant column), so constant and tied columns give a finite, very low entropy.
    """
    Z = np.ascontiguousarray(check_points(Z, "Z").astype(np.float64, copy=False).T)
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
    GIL); one sort per axis serves both variants. Temporary: one (2, n) buffer per thread (rows
    of 8 in two buffers took 1.1x as long on 116,667 x 384: they overflow a core's L2)."""
    from concurrent.futures import ThreadPoolExecutor

    p, n = Zt.shape
    m = _window(n, m)
    h_floor, h_raw, spread = np.empty(p), np.empty(p), np.empty(p)
    const = np.log(n / (2.0 * m))
    idx = np.arange(n)
    up_idx, lo_idx = np.minimum(idx + m, n - 1), np.maximum(idx - m, 0)

    def chunk(r0: int, r1: int) -> None:
        Zt[r0:r1].sort(axis=1)
        rows = 2
        gaps = np.empty((rows, n))
        for a in range(r0, r1, rows):
            Z = Zt[a:min(a + rows, r1)]
            k = len(Z)
            g = gaps[:k]
            if 2 * m <= n:
                np.subtract(Z[:, m:2 * m], Z[:, :1], out=g[:, :m])
                np.subtract(Z[:, 2 * m:], Z[:, :n - 2 * m], out=g[:, m:n - m])
                np.subtract(Z[:, n - 1:], Z[:, n - 2 * m:n - m], out=g[:, n - m:])
            else:
                np.subtract(Z[:, up_idx], Z[:, lo_idx], out=g)
            rng_ = Z[:, -1] - Z[:, 0]
            floor = np.where(rng_ > 0, 1e-12 * rng_, 1e-300)
            low = g.min(axis=1)
            rare = np.flatnonzero(low < floor)  # ties or near-ties: keep their raw gaps
            with np.errstate(divide="ignore"):
                raw_rare = [np.log(g[i]).mean() for i in rare]  # before the floor
                np.maximum(g, floor[:, None], out=g)
                np.log(g, out=g)
                hf = g.mean(axis=1)
            hr = hf.copy()
            hr[rare] = raw_rare
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
#: (``measure_variants`` runs them on one thread beside the cells: one chunk, 128 axes of
#: 116,667 rows; a 128-axis projection product ran at 72 GFLOP/s on one core, a 64-axis one
#: at 62, and each chunk converts X to float64 once more)
PROJECTION_CHUNK_BYTES = 128 << 20


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
    chunk = max(1, min(-(-p // nw), tunable("PROJECTION_CHUNK_BYTES") // (8 * n)))
    rounds = -(-p // (chunk * nw))  # equal chunks, a multiple of the workers: no idle tail
    chunk = -(-p // (rounds * nw))
    if keep or chunk >= p:
        Zt = _project_rows(X, vecs.T, shift)
        return (*_sorted_entropies(Zt, m, workers), Zt if keep else None)
    h_floor, h_raw, spread = np.empty(p), np.empty(p), np.empty(p)

    def work(a: int, b: int) -> None:
        Z = _project_rows(X, np.ascontiguousarray(vecs[:, a:b].T), shift[a:b])
        h_floor[a:b], h_raw[a:b], spread[a:b] = _sorted_entropies(Z, m, 1)

    bounds = [(a, min(a + chunk, p)) for a in range(0, p, chunk)]
    if nw == 1:
        with _blas_threads(1):
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


def vrm_paper(h_floor, spread, total: float, d: int) -> float:
    """VRM as the paper defines it (Eq. 9) from the Vasicek entropies ``h_floor`` (Eq. 8, ties
    floored) of the principal-axis projections, their ranges ``spread`` and the total variance
    ``total`` of the d axes: the axes are scaled so that the total variance is d (that of
    N(0, I_d)), each entropy is compared with the unit normal's ``H_ref = ln sqrt(2 pi e)``, and
    VRM is the mean over axes of ``(1 - H / H_ref)^2``. 0 for isotropic Gaussian data; larger =
    less even; a matrix without variance gives a very large finite value."""
    shift = 0.5 * np.log(d / total) if total > 0 else 0.0
    h = np.where(spread > 0, h_floor + shift, h_floor)
    return float(np.mean((1.0 - h / H_NORMAL) ** 2))


def vrm_authors(Zt_sorted, h_raw, total0: float, ref_var: float, n: int) -> float:
    """VRM as the authors' script computes it: the projections onto the min(n, d) principal
    axes (``Zt_sorted``, rows sorted; needed for n <= 1000 only) are scaled from their total
    variance ``total0`` (ddof 0) to ``ref_var``, that of a random N(0, I_d) sample of the same n
    (:func:`normal_reference_variance`); each axis' entropy is scipy's ``differential_entropy``
    with its default method and window (Vasicek's for n > 1000: ``h_raw`` shifted, ties not
    floored); the ratio is of entropy powers, ``r = exp(H) / exp(H_ref)``, and VRM =
    ``mean((1 - r)^2)`` rounded to 4 decimals. NaN for a matrix without variance."""
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
    return isoscore_of_variances(_covariance_eigenvalues(X))


def isoscore_of_variances(var: np.ndarray) -> float:
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


@dataclass(frozen=True)
class SpreadInputs:
    """What the spread measures of one matrix read (see :data:`latentgeom.measures.table`).

    ``lam``: the covariance's d eigenvalues, descending (Eq. 2's spectrum); ``lam_sklearn``:
    the min(n, d) that sklearn's ``PCA()`` reports (the authors' spectrum; ``lam`` itself when
    n >= d); ``h_floor``, ``h_raw``, ``ranges``: per principal axis the Vasicek entropy with
    ties floored and without, and the range of the projection; ``Zt``: the sorted projections
    (axes as rows), kept only where the authors' VRM needs them (n <= 1000); ``seed``: the
    authors' random reference. A field a caller does not need may be left ``None``.
    """

    n: float
    d: int
    lam: np.ndarray
    lam_sklearn: np.ndarray | None = None
    h_floor: np.ndarray | None = None
    h_raw: np.ndarray | None = None
    ranges: np.ndarray | None = None
    Zt: np.ndarray | None = None
    seed: int = 0


def spread_inputs(X: np.ndarray, variants, seed: int, m: int | None = None,
                  workers: int | None = None) -> SpreadInputs:
    """:class:`SpreadInputs` of checked X for the definitions in ``variants``: one covariance,
    one eigendecomposition, one projection and one sort per principal axis shared by all."""
    n, d = X.shape
    mu, C = _covariance(X)
    lam, vecs = _symmetric_eigen(C, vectors=True)
    lam, vecs = np.clip(lam[::-1], 0.0, None), vecs[:, ::-1]
    # Projection, axes as rows (p, n), C-contiguous so that each axis sorts in place; in axis
    # chunks when large. The sorted projection is kept only where the authors' VRM needs it
    # (n <= 1000: scipy's default estimator is not Vasicek's there).
    keep = "authors" in variants and n <= 1000
    h_floor, h_raw, ranges, Zt = _projected_entropies(X, mu, vecs, m, workers, keep)
    lam_sklearn = None
    if "authors" in variants:
        lam_sklearn = _covariance_eigenvalues(X, pad=False) if n < d else lam
    return SpreadInputs(n=n, d=d, lam=lam, lam_sklearn=lam_sklearn, h_floor=h_floor,
                        h_raw=h_raw, ranges=ranges, Zt=Zt, seed=seed)
