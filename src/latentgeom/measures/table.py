"""The two definitions of every measure as tables ``{name: rule}``, one per variant (as
``scipy.stats.differential_entropy`` keeps its estimators in a ``methods`` table).

A rule reads what the measure needs from the inputs of its kind: :class:`SpreadInputs` (one
matrix: its covariance spectrum, the entropies of its principal axes) for the names in
:data:`~latentgeom.schema.SPREAD`, :class:`QuantizedInputs` (one quantizer: cell counts,
reconstruction errors, centroid distances, per-cell EEE) for those in
:data:`~latentgeom.schema.QUANTIZED`. The measures stage builds the inputs from the codes
(:func:`quantized_inputs`, :func:`~latentgeom.measures.spread.spread_inputs`), the bootstrap
from a resample's weights; both evaluate the same :data:`METHODS`. The functions below that
take a ``variant`` compute one measure through the same tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from .cells import (
    _cell_counts,
    histogram_counts,
    pc_kl_authors,
    pc_kl_paper,
    pc_var_authors,
    pc_var_paper,
    pp_authors,
    pp_paper,
)
from .centroids import (
    _cell_eee_variants,
    cd_var_authors,
    cd_var_paper,
    mean_finite,
    nearest_centroid_distances,
)
from .checks import check_codes, check_counts, check_points, check_reconstruction, check_variant
from .compute import _covariance_eigenvalues
from .reconstruction import (
    _error_norms,
    _reconstruction_norms,
    _sum_squares,
    adjusted_skew,
    biased_skew,
    iqr,
    magnitudes,
    relative_error,
)
from .spread import (
    SpreadInputs,
    eee_authors_from_eigenvalues,
    eee_from_eigenvalues,
    isoscore_of_variances,
    normal_reference_variance,
    vrm_authors,
    vrm_paper,
)


@dataclass(frozen=True)
class QuantizedInputs:
    """What the quantized measures of one quantizer read.

    ``counts``: per variant the (M, K) cell counts under its counting rule (:data:`COUNTS`;
    weighted sums in a resample); ``K``: centroids per codebook; ``n``: points; ``errors``:
    ``||x_i - x'_i||`` per point; ``error_ss``: their summed squares and ``sum_squares`` that
    of X (0 when ``error_ss`` is 0); ``nearest``: (M, K) distance of each centroid to its
    nearest other one; ``cell_eee``: per variant the (M, K) EEE of each cell; ``seed``: the
    authors' random reference. A field a caller does not need may be left out.
    """

    counts: Mapping[str, np.ndarray] = field(default_factory=dict)
    K: int = 0
    n: float = 0
    errors: np.ndarray | None = None
    error_ss: float | None = None
    sum_squares: float | None = None
    nearest: np.ndarray | None = None
    cell_eee: Mapping[str, np.ndarray] | None = None
    seed: int = 0

    @cached_property
    def magnitudes(self) -> np.ndarray:
        """Eq. 4: the errors over their maximum."""
        return magnitudes(self.errors)

    @cached_property
    def magnitudes_iqr(self) -> float:
        """RI of both definitions: the interquartile range of Eq. 4 (computed once)."""
        return iqr(self.magnitudes)


#: each variant's cell counts from the points per centroid: the paper's as they are, the
#: authors' histogram (:func:`~latentgeom.measures.cells.histogram_counts`)
COUNTS = {"paper": lambda counts: counts, "authors": histogram_counts}


def _vrm_authors(s: SpreadInputs) -> float:
    p = min(s.n, s.d)
    total0 = float(s.lam_sklearn[:p].sum()) * (s.n - 1) / s.n
    return vrm_authors(None if s.Zt is None else s.Zt[:p], s.h_raw[:p], total0,
                       normal_reference_variance(s.n, s.d, s.seed), s.n)


#: the paper's definitions: its equations as printed
PAPER = {
    "EEE": lambda s: float(eee_from_eigenvalues(s.lam)),
    "VRM": lambda s: vrm_paper(s.h_floor, s.ranges, float(s.lam.sum()), s.d),
    "IS": lambda s: isoscore_of_variances(s.lam),
    "PP": lambda q: pp_paper(q.counts["paper"]),
    "PC_var": lambda q: pc_var_paper(q.counts["paper"], q.K),
    "PC_kl": lambda q: pc_kl_paper(q.counts["paper"], q.K),
    "RS": lambda q: adjusted_skew(q.magnitudes),
    "RE": lambda q: relative_error(q.error_ss, q.sum_squares),
    "RI": lambda q: q.magnitudes_iqr,
    "CD_var": lambda q: cd_var_paper(q.nearest),
    "PD_EEE": lambda q: mean_finite(q.cell_eee["paper"]),
}
#: the authors' definitions: what their script computes (see :mod:`latentgeom.measures`)
AUTHORS = {
    "EEE": lambda s: float(eee_authors_from_eigenvalues(s.lam_sklearn)),
    "VRM": _vrm_authors,
    "IS": lambda s: isoscore_of_variances(s.lam),
    "PP": lambda q: pp_authors(q.counts["authors"], q.K),
    "PC_var": lambda q: pc_var_authors(q.counts["authors"], q.n, q.K),
    "PC_kl": lambda q: pc_kl_authors(q.counts["authors"], int(q.n), q.K, q.seed),
    "RS": lambda q: biased_skew(q.errors),
    "RE": lambda q: relative_error(q.error_ss, q.sum_squares),
    "RI": lambda q: q.magnitudes_iqr,
    "CD_var": lambda q: cd_var_authors(q.nearest),
    "PD_EEE": lambda q: mean_finite(q.cell_eee["authors"]),
}
METHODS = {"paper": PAPER, "authors": AUTHORS}  #: ``{variant: {name: rule}}``


def evaluate(variant: str, names, inputs, skip=()) -> dict[str, float]:
    """``{name: METHODS[variant][name](inputs)}`` in the order of ``names``; NaN for the names
    in ``skip`` (not computed)."""
    rules = METHODS[check_variant(variant)]
    return {k: float("nan") if k in skip else rules[k](inputs) for k in names}


def quantized_inputs(X, codes, codebooks, kind: str, variants, seed: int = 0, hashes=None,
                     workers: int | None = None, sum_squares=None) -> QuantizedInputs:
    """:class:`QuantizedInputs` of a checked quantization for the definitions in
    ``variants`` (the per-cell EEE of both from one pass over the cells). ``hashes`` (the
    rows' :func:`row_hashes`) and ``sum_squares`` (a callable returning X's sum of squares)
    let several quantizers of one X share those."""
    K = codebooks.shape[1]
    e = _reconstruction_norms(X, codes, codebooks, kind, workers=workers)  # Eq. 4's, once
    sq = float(np.sum(e ** 2))
    cells = _cell_counts(codes, K)
    total = sum_squares or (lambda: _sum_squares(X, workers))
    return QuantizedInputs(
        counts={v: COUNTS[v](cells) for v in variants}, K=K, n=codes.shape[0], errors=e,
        error_ss=sq, sum_squares=total() if sq else 0.0,
        nearest=nearest_centroid_distances(codebooks),
        cell_eee=_cell_eee_variants(X, codes, kind, K, variants, hashes, workers), seed=seed)


# ----------------------------------------------------------------------------- one measure
#: the covariance spectrum each variant's EEE reads alone: Eq. 2's d eigenvalues (zeros
#: appended when n < d), or the min(n, d) that sklearn's ``PCA()`` reports
_PADDED = {"paper": True, "authors": False}


def eee(X, variant: str = "paper") -> float:
    """Eigenvalue Early Enrichment (Eq. 2; Marbut et al. 2023).

    Area between the cumulative explained-variance curve of X's principal components and the
    straight line of an evenly spread distribution, over ``d v / 2`` (v: total variance).
    0 for perfectly even spread (isotropic data), (d - 1)/d for rank-one data; lower = more even.
    NaN when X has no variance at all (every row identical). ``variant="authors"``:
    :func:`~latentgeom.measures.spread.eee_authors_from_eigenvalues` (trapezoid, min(n, d)
    eigenvalues, 4 decimals).
    """
    X = check_points(X)
    lam = _covariance_eigenvalues(X, pad=_PADDED[check_variant(variant)])
    return METHODS[variant]["EEE"](SpreadInputs(n=X.shape[0], d=X.shape[1], lam=lam,
                                                lam_sklearn=lam))


def _one(variant: str, name: str, **inputs) -> float:
    return METHODS[check_variant(variant)][name](QuantizedInputs(**inputs))


def pp_from_counts(counts, K: int, variant: str = "paper") -> float:
    """:func:`point_patchiness` from the (M, K) cell counts (:func:`cell_counts`, or
    :func:`authors_counts` for ``variant="authors"``); counts may be weighted (floats)."""
    return _one(variant, "PP", counts={variant: check_counts(counts, K)}, K=K)


def point_patchiness(codes, K: int, variant: str = "paper") -> float:
    """Point Patchiness (Eq. 3; Lloyd's patchiness index, Wade et al. 2018).

    ``PP = (m + (V/m - 1)) / m`` with m the mean and V the (population, ddof = 0) variance of the
    cell densities, i.e. the counts of points in each of the M x K cells. Equal counts give
    ``1 - 1/m``; clumped counts give more. ``variant="authors"``: the counts of all codebooks
    (:func:`authors_counts`) pooled, m = (sum of all M x K counts) / K, i.e. M times the mean
    cell density, V = ``np.var`` of the pooled counts.
    """
    check_variant(variant)
    return pp_from_counts(COUNTS[variant](_cell_counts(check_codes(codes, K), K)), K, variant)


def pc_var_from_counts(counts, n: float, K: int, variant: str = "paper") -> float:
    """:func:`point_count_var` from the (M, K) cell counts of ``n`` points (see
    :func:`pp_from_counts`)."""
    return _one(variant, "PC_var", counts={variant: check_counts(counts, K)}, n=n, K=K)


def point_count_var(codes, K: int, variant: str = "paper") -> float:
    """PC_var (Eq. 13): ``sum_i (O_i - mean O)^2 / (M (k - 1))`` over all M x K odds ratios.
    0 for equal counts; +inf if a cell holds every point of its codebook.
    ``variant="authors"``: the mean over codebooks of ``np.var`` (ddof 0, each codebook's own
    mean) of its odds ratios, from :func:`authors_counts`."""
    check_variant(variant)
    codes = check_codes(codes, K)
    return pc_var_from_counts(COUNTS[variant](_cell_counts(codes, K)), codes.shape[0], K,
                              variant)


def pc_kl_from_counts(counts, n: int, K: int, variant: str = "paper", seed: int = 0) -> float:
    """:func:`point_count_kl` from the (M, K) cell counts of ``n`` points (see
    :func:`pp_from_counts`)."""
    return _one(variant, "PC_kl", counts={variant: check_counts(counts, K)}, n=n, K=K, seed=seed)


def point_count_kl(codes, K: int, variant: str = "paper", seed: int = 0) -> float:
    """PC_kl (Eq. 14): KL divergence of the odds-ratio distribution from the uniform one,
    averaged over the M codebooks (:func:`~latentgeom.measures.cells.pc_kl_paper`); 0 for
    equal counts, ln k when a cell holds every point. ``variant="authors"``: the KL of the
    normalised counts (:func:`authors_counts`, not the odds) from a random uniform histogram
    seeded by ``seed`` (:func:`~latentgeom.measures.cells.pc_kl_authors`)."""
    check_variant(variant)
    codes = check_codes(codes, K)
    return pc_kl_from_counts(COUNTS[variant](_cell_counts(codes, K)), codes.shape[0], K,
                             variant, seed)


def reconstruction_skew(X, Xrec, variant: str = "paper") -> float:
    """RS (Eqs. 4-5): skew of the normalised error magnitudes. ``variant="authors"``: biased
    sample skewness (scipy's default) of the raw error norms."""
    check_variant(variant)
    return _one(variant, "RS", errors=_error_norms(*check_reconstruction(X, Xrec)))


def centroid_distance_var(codebooks, variant: str = "paper") -> float:
    """CD_var (Eq. 6): sample variance (ddof = 1, the ``mk - 1`` of Eq. 6) of the normalised
    nearest-centroid distances ``rho_i`` over all M x K centroids, ``rho_i`` = L2 distance / the
    largest such distance (so rho in [0, 1]). ``variant="authors"``: **squared** L2 distances
    (FAISS ``IndexFlatL2``'s) pooled over codebooks, over their maximum, ``np.var`` (ddof 0).
    0 if all centroids coincide."""
    check_variant(variant)
    return _one(variant, "CD_var", nearest=nearest_centroid_distances(codebooks))
