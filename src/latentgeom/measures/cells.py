"""The cell measures of Section 3.3.2 / Appendix A.2 (Eqs. 3, 12-14): PP, PC_var, PC_kl, from
the number of points in each cell (the points assigned to one centroid of one codebook).

The rules here take (M, K) cell counts, which may be weighted (floats: a bootstrap resample);
:mod:`latentgeom.measures.table` says which rule each definition uses. The paper counts the
points per centroid (:func:`cell_counts`); the authors' script histograms each codebook's codes
into K equal bins between its smallest and largest code (:func:`histogram_counts`), which is
the same whenever a codebook uses its first and last centroid.
"""

from __future__ import annotations

import numpy as np

from .checks import check_codes, check_counts


def _cell_counts(codes: np.ndarray, K: int) -> np.ndarray:
    M = codes.shape[1]
    flat = codes + (np.arange(M) * K)[None, :]
    return np.bincount(flat.ravel(), minlength=M * K).reshape(M, K)


def cell_counts(codes, K: int) -> np.ndarray:
    """Points per centroid, (M, K): ``counts[m, j]`` = #rows with ``codes[:, m] == j``."""
    return _cell_counts(check_codes(codes, K), K)


def histogram_counts(counts) -> np.ndarray:
    """The authors' cell counts from the (M, K) points per centroid: per codebook
    ``np.histogram(codes[:, m], bins=K)``, i.e. the codes present, weighted by their counts,
    histogrammed into K equal bins between the smallest and the largest code present (the
    dtype of ``counts`` is kept: integer counts give integer counts)."""
    counts = check_counts(counts)
    K = counts.shape[1]
    codes = np.arange(K)
    return np.stack([np.histogram(codes[c > 0], bins=K, weights=c[c > 0])[0] for c in counts])


def authors_counts(codes, K: int) -> np.ndarray:
    """The authors' cell counts, (M, K): ``np.histogram(codes[:, m], bins=K)`` per codebook.

    Their bins span each codebook's observed [min, max] code, so they equal
    :func:`cell_counts` whenever a codebook uses its first and last centroid (every real
    quantization); otherwise the histogram's bins straddle codes, as in their script."""
    return histogram_counts(cell_counts(codes, K))


def _patchiness(c: np.ndarray, m: float) -> float:
    """Lloyd's patchiness ``(m + (V / m - 1)) / m`` of the counts ``c`` with mean ``m``."""
    return float((m + (c.var() / m - 1.0)) / m)


def pp_paper(counts) -> float:
    """PP (Eq. 3) from the (M, K) cell counts: m their mean, V their variance (ddof 0)."""
    c = np.asarray(counts, dtype=np.float64).ravel()
    return _patchiness(c, c.mean())


def pp_authors(counts, K: int) -> float:
    """The authors' PP: the counts of all codebooks pooled, m = (their sum) / K, i.e. M times
    the mean cell count, V = ``np.var`` of the pooled counts."""
    c = np.asarray(counts, dtype=np.float64).ravel()
    return _patchiness(c, c.sum() / K)


def _odds(c: np.ndarray, K: int) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return (K - 1) * np.divide(c, 1.0 - c, out=np.full_like(c, np.inf), where=c < 1.0)


def _shares_odds(counts, K: int) -> np.ndarray:
    """Eq. 12 from (M, K) counts: the odds of each cell's share of its codebook's points."""
    counts = np.asarray(counts, dtype=np.float64)
    return _odds(counts / counts.sum(axis=1, keepdims=True), K)


def odds_ratios(codes, K: int) -> np.ndarray:
    """Eq. 12: ``O_i = (k - 1) c_i / (1 - c_i)``, c_i the share of points in cell i of its
    codebook; (M, K). 1 everywhere for equal counts; +inf for a cell holding every point."""
    return _shares_odds(cell_counts(codes, K), K)


def pc_var_paper(counts, K: int) -> float:
    """PC_var (Eq. 13): ``sum_i (O_i - mean O)^2 / (M (k - 1))`` over all M x K odds ratios.
    0 for equal counts; +inf if a cell holds every point of its codebook."""
    O = _shares_odds(counts, K).ravel()
    if not np.isfinite(O).all():
        return float("inf")
    return float(np.sum((O - O.mean()) ** 2) / (np.shape(counts)[0] * (K - 1)))


def pc_var_authors(counts, n: float, K: int) -> float:
    """The authors' PC_var: the odds of each cell's share of all ``n`` points, ``np.var``
    (ddof 0, each codebook's own mean) per codebook, averaged over codebooks."""
    O = _odds(np.asarray(counts, dtype=np.float64) / n, K)
    if not np.isfinite(O).all():
        return float("inf")
    return float(np.mean(O.var(axis=1)))


def _kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) per row (``scipy.special.rel_entr``: 0 log 0 = 0)."""
    from scipy.special import rel_entr

    return rel_entr(p, q).sum(axis=-1)


def uniform_reference_histograms(n: int, M: int, K: int, seed: int = 0) -> np.ndarray:
    """The authors' PC_kl reference, (M, K): for codebook m = 0, 1, … in turn, n draws of
    ``uniform(0, K)`` from one ``np.random.default_rng(seed)``, histogrammed with
    ``np.histogram(draws, bins=K)`` and normalised (theirs were unseeded)."""
    if min(n, M, K) < 1:
        raise ValueError(f"uniform reference: need n, M, K >= 1, got {n}, {M}, {K}")
    gen = np.random.default_rng(seed)
    return np.stack([np.histogram(gen.uniform(0, K, n), bins=K)[0] / n for _ in range(M)])


def pc_kl_paper(counts, K: int) -> float:
    """PC_kl (Eq. 14): KL divergence of the odds-ratio distribution from the uniform one,
    averaged over the M codebooks.

    Within each codebook, ``p_i = O_i / sum_j O_j`` is the observed distribution over the k cells
    and ``q_i = 1/k`` the reference (all odds ratios equal, the exact uniform case); the KL
    terms over all M x K cells are summed and divided by M. 0 for equal counts; a cell holding
    every point gives p concentrated on it, KL = ln k."""
    O = _shares_odds(counts, K)
    p = np.where(np.isinf(O), 1.0, np.where(np.isinf(O).any(axis=1, keepdims=True), 0.0, O))
    p = p / p.sum(axis=1, keepdims=True)
    q = np.full_like(p, 1.0 / K)
    return float(_kl_rows(p, q).sum() / np.shape(counts)[0])


def pc_kl_authors(counts, n: int, K: int, seed: int = 0) -> float:
    """The authors' PC_kl: per codebook ``sum(scipy.special.kl_div(p, u))`` with p the counts
    over ``n`` (not the odds) and u a random uniform histogram of n draws
    (:func:`uniform_reference_histograms`, seeded by ``seed``), averaged over codebooks; +inf
    if some u_i = 0 where p_i > 0."""
    from scipy.special import kl_div

    counts = np.asarray(counts, dtype=np.float64)
    u = uniform_reference_histograms(int(n), counts.shape[0], K, seed)
    return float(np.mean(kl_div(counts / n, u).sum(axis=1)))
