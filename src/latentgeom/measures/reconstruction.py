"""The reconstruction measures of Section 3.3.2 / Appendix A.3 (Eqs. 4, 5, 15): RS, RE, RI,
from the error ``||x_i - x'_i||`` of each point's reconstruction x' from its codes
(:func:`decode`). The rules here take those error norms; :mod:`latentgeom.measures.table` says
which rule each definition uses (RE and RI are the same under both)."""

from __future__ import annotations

import numpy as np

from .checks import check_codebooks, check_codes, check_decodable, check_reconstruction
from .compute import _run_threads, _workers


def _decode(codes: np.ndarray, codebooks: np.ndarray, kind: str) -> np.ndarray:
    M, _, dsub = codebooks.shape
    n = codes.shape[0]
    if kind == "additive":
        out = np.zeros((n, dsub))
        for m in range(M):
            out += codebooks[m][codes[:, m]]
        return out
    out = np.empty((n, M * dsub))
    for m in range(M):
        out[:, m * dsub:(m + 1) * dsub] = codebooks[m][codes[:, m]]
    return out


def decode(codes, codebooks, kind: str) -> np.ndarray:
    """Reconstruction x' (float64): additive = sum of the M chosen codewords, product = their
    concatenation. One (n, d_sub) gather per codebook, no (n, M, d) intermediate."""
    codebooks = check_codebooks(codebooks, kind)
    M, K, _ = codebooks.shape
    return _decode(check_codes(codes, K, M=M), codebooks, kind)


def _error_norms(X: np.ndarray, Xrec: np.ndarray) -> np.ndarray:
    out = np.empty(X.shape[0])
    step = 1 << 15
    for i in range(0, X.shape[0], step):
        diff = X[i:i + step].astype(np.float64) - Xrec[i:i + step]
        out[i:i + step] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def error_norms(X, Xrec) -> np.ndarray:
    """``||x_i - x'_i||`` per row (float64), computed in row blocks to bound memory."""
    return _error_norms(*check_reconstruction(X, Xrec))


#: rows per block of :func:`_reconstruction_norms`: at d = 384 its two float64 buffers take
#: 2 x 0.75 MB. 1,024-row blocks (6 MB) took 1.4-1.6x as long on MiniLM's 116,667 x 384
#: (``benchmarks/measures.py``); every row's value is the same whatever the block
RECONSTRUCTION_BLOCK = 256


def _reconstruction_norms(X: np.ndarray, codes: np.ndarray, codebooks: np.ndarray, kind: str,
                          block: int | None = None, workers: int | None = None) -> np.ndarray:
    """``||x_i - x'_i||`` per row, float64: per row block (:data:`RECONSTRUCTION_BLOCK` rows
    by default, so that a block's two float64 buffers stay in a core's L2 cache) the
    decoded rows (:func:`_decode`'s operations, in per-thread buffers), minus the rows, their
    squared norms; each row's value is the same whatever the blocks and threads."""
    import threading

    M, _, dsub = codebooks.shape
    block = block or RECONSTRUCTION_BLOCK
    out = np.empty(X.shape[0])
    codebooks = np.asarray(codebooks, dtype=np.float64)
    local = threading.local()

    def job(b: int) -> None:
        i = b * block
        c = codes[i:i + block]
        k = len(c)
        if not hasattr(local, "rec"):
            local.rec = np.empty((block, X.shape[1]))
            local.tmp = np.empty((block, dsub))
        rec = local.rec[:k]
        if kind == "additive":  # 0 + a + b + ..., as _decode: the first term exactly a
            np.take(codebooks[0], c[:, 0], axis=0, out=rec)
            for m in range(1, M):
                np.add(rec, np.take(codebooks[m], c[:, m], axis=0, out=local.tmp[:k]), out=rec)
        else:
            for m in range(M):
                rec[:, m * dsub:(m + 1) * dsub] = np.take(codebooks[m], c[:, m], axis=0,
                                                          out=local.tmp[:k])
        np.subtract(X[i:i + block], rec, out=rec, dtype=np.float64)
        out[i:i + block] = np.sqrt(np.einsum("ij,ij->i", rec, rec))

    _run_threads(-(-X.shape[0] // block), job, _workers(workers))
    return out


def reconstruction_norms(X, codes, codebooks, kind: str, block: int | None = None
                         ) -> np.ndarray:
    """``||x_i - x'_i||`` per row straight from the codes, in row blocks (on the CPUs'
    threads; each row's norm is the same whatever the split): the (n, d) reconstruction is
    never held in memory."""
    return _reconstruction_norms(*check_decodable(X, codes, codebooks, kind), kind, block)


def magnitudes(e: np.ndarray) -> np.ndarray:
    """Eq. 4 from the error norms: ``e / max(e)``; all 0 if every error is 0."""
    mx = e.max() if e.size else 0.0
    return e / mx if mx > 0 else np.zeros_like(e)


def biased_skew(e: np.ndarray) -> float:
    """The authors' RS: the biased sample skewness (``scipy.stats.skew``'s default) of the raw
    error norms; 0 when ``e`` is constant."""
    from scipy import stats

    e = np.asarray(e, dtype=np.float64)
    return 0.0 if np.ptp(e) == 0 else float(stats.skew(e))


def iqr(v: np.ndarray) -> float:
    """RI: interquartile range (75th - 25th percentile, linear interpolation, ``scipy.stats.iqr``)
    of Eq. 4's magnitudes."""
    from scipy import stats

    return float(stats.iqr(v))


def _sum_squares(X, workers: int | None = None) -> float:
    """``sum x^2`` over all entries of X in float64: per 8,192-row block on ``workers``
    threads, the block sums added in row order (the same value whatever the threads)."""
    X = np.asarray(X)
    step = 8192
    parts = np.empty(-(-len(X) // step))

    def job(b: int) -> None:
        blk = X[b * step:(b + 1) * step].astype(np.float64)
        parts[b] = np.einsum("ij,ij->", blk, blk)

    _run_threads(len(parts), job, _workers(workers))
    return float(sum(parts.tolist()))


def relative_error(error_ss: float, sum_squares: float) -> float:
    """RE (Eq. 15) from ``sum (x - x')^2`` and ``sum x^2``: their ratio, 0 if the
    reconstruction is exact (also for an all-zero X)."""
    return 0.0 if error_ss == 0 else error_ss / sum_squares


def error_magnitudes(X, Xrec) -> np.ndarray:
    """Eq. 4: ``EM(x_i) = ||x_i - x'_i|| / max_j ||x_j - x'_j||``; all 0 if every point is
    reconstructed exactly."""
    return magnitudes(error_norms(X, Xrec))


def adjusted_skew(v: np.ndarray) -> float:
    """RS (Eq. 5): ``n / ((n-1)(n-2)) sum ((v - mean) / s)^3`` with s the sample (ddof = 1)
    standard deviation: the adjusted Fisher-Pearson G1 (scipy.stats.skew(bias=False)), of
    Eq. 4's magnitudes. 0 when v is constant (a point mass has no skew)."""
    from scipy import stats

    v = np.asarray(v, dtype=np.float64)
    if v.size < 3:
        raise ValueError(f"skew needs at least 3 values, got {v.size}")
    if not np.isfinite(v).all() or np.ptp(v) == 0:  # no finite spread: no skew
        return 0.0
    return float(stats.skew(v, bias=False))


def reconstruction_error(X, Xrec) -> float:
    """RE (Eq. 15): ``sum (x - x')^2 / sum x^2`` over all elements. 0 if the reconstruction is
    exact (also for an all-zero X)."""
    X, Xrec = check_reconstruction(X, Xrec)
    num = float(np.sum(_error_norms(X, Xrec) ** 2))
    return relative_error(num, _sum_squares(X) if num else 0.0)


def reconstruction_iqr(X, Xrec) -> float:
    """RI: inter-quartile range (75th - 25th percentile, linear interpolation) of Eq. 4."""
    return iqr(error_magnitudes(X, Xrec))
