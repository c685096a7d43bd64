"""Every measure at once, under one or both definitions, sharing the expensive parts: one
covariance eigendecomposition and one sort per principal axis for the spread measures, one
eigendecomposition per cell where the two definitions see the same points. What the measures
stage (and the bootstrap's recomputed replicates) call."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from ..schema import QUANTIZED, SPREAD, SPREAD_GROUP, VARIANTS
from .centroids import row_hashes
from .checks import check_points, check_quantization, check_variant
from .compute import _blas_threads, _workers
from .lapack import available as lapack_available
from .reconstruction import _sum_squares
from .spread import spread_inputs
from .table import evaluate, quantized_inputs


def _spread_variants(X, variants, seed: int, m: int | None = None,
                     workers: int | None = None) -> dict[str, dict[str, float]]:
    """EEE, VRM, IS of checked X for each variant (one :func:`spread_inputs` for all)."""
    s = spread_inputs(X, variants, seed, m, workers)
    return {v: evaluate(v, SPREAD, s) for v in variants}


def vrm(X, m: int | None = None, variant: str = "paper", seed: int = 0) -> float:
    """Vasicek Ratio Mean squared error (Eqs. 8-9; Marbut et al. 2023): how far the entropy of
    X's principal-axis projections (Vasicek's spacing estimate with window ``m``) is from that
    of a normal distribution of the same total variance; 0 for isotropic Gaussian data, larger
    = less even. The paper's definition: :func:`~latentgeom.measures.spread.vrm_paper`;
    ``variant="authors"``: :func:`~latentgeom.measures.spread.vrm_authors` (entropy-power
    ratios against a random normal reference seeded by ``seed``, 4 decimals)."""
    check_variant(variant)
    return _spread_variants(check_points(X), (variant,), seed, m=m)[variant]["VRM"]


def spread_measures(X, variant: str = "paper", seed: int = 0) -> dict[str, float]:
    """``{"EEE", "VRM", "IS"}`` of X (Section 3.3.1, Appendix A.1), from one covariance and one
    eigendecomposition shared by the three."""
    check_variant(variant)
    return _spread_variants(check_points(X), (variant,), seed)[variant]


def _quantized_variants(X, codes, codebooks, kind: str, variants, seed: int = 0, hashes=None,
                        workers: int | None = None, sum_squares=None
                        ) -> dict[str, dict[str, float]]:
    q = quantized_inputs(X, codes, codebooks, kind, variants, seed, hashes, workers,
                         sum_squares)
    return {v: evaluate(v, QUANTIZED, q) for v in variants}


def quantized_variants(X, codes, codebooks, kind: str, variants=VARIANTS, seed: int = 0,
                       workers: int | None = None) -> dict[str, dict[str, float]]:
    """The eight quantized measures of one quantizer under each definition in ``variants``:
    ``{variant: {PP, …, PD_EEE}}`` (one eigendecomposition per cell serves both where they
    see the same points); ``workers`` threads share the cells."""
    variants = tuple(dict.fromkeys(check_variant(v) for v in variants))
    X, codes, codebooks = check_quantization(X, codes, codebooks, kind)
    return _quantized_variants(X, codes, codebooks, kind, variants, seed, workers=workers)


def quantized_measures(X, codes, codebooks, kind: str, variant: str = "paper",
                       seed: int = 0) -> dict[str, float]:
    """Every quantization measure of Section 3.3.2 / Appendix A.2-A.3 for one quantizer."""
    check_variant(variant)
    return quantized_variants(X, codes, codebooks, kind, (variant,), seed)[variant]


def measure_variants(X, quantized: Mapping[str, tuple], variants=VARIANTS, seed: int = 0,
                     workers: int | None = None) -> dict[str, dict[str, dict[str, float]]]:
    """Every measure under each definition in ``variants``, sharing the expensive parts:
    ``{variant: {"spread": {EEE, VRM, IS}, <name>: {PP, …, PD_EEE}}}``.

    ``quantized`` maps a name (``additive``, ``product``) to ``(codes, codebooks, kind)``;
    ``seed`` seeds the authors' random references; ``workers`` threads share the row blocks
    and the per-cell eigendecompositions (default: the CPUs this process may use, at most 4);
    with more than one, the spread measures (one sort per principal axis) run on one more
    thread beside them. BLAS runs on one thread per thread throughout, so the values do not
    depend on the machine's core count.
    """
    variants = tuple(dict.fromkeys(check_variant(v) for v in variants))
    X = check_points(X)
    checked = {name: check_quantization(X, codes, codebooks, kind)[1:] + (kind,)
               for name, (codes, codebooks, kind) in quantized.items()}
    from concurrent.futures import ThreadPoolExecutor

    lapack_available()  # SciPy's LAPACK loaded before BLAS is pinned (see lapack.available)
    with _blas_threads(1), ThreadPoolExecutor(1) as ex:
        # with more than one worker, the spread measures run on a thread of their own beside
        # the quantizers' workers: their one-thread parts (covariance, eigendecomposition)
        # then overlap the cells' work; with one worker, first, on this thread
        spread = ex.submit(_spread_variants, X, variants, seed, workers=1)
        if _workers(workers) == 1:
            spread.result()
        hashes = row_hashes(X, workers=workers) if "authors" in variants and checked else None
        sum_squares = functools.cache(lambda: _sum_squares(X, workers))  # once, for all
        quantized = {name: _quantized_variants(X, codes, codebooks, kind, variants, seed,
                                               hashes, workers, sum_squares)
                     for name, (codes, codebooks, kind) in checked.items()}
        spread = spread.result()
    out = {v: {SPREAD_GROUP: spread[v]} for v in variants}
    for name, q in quantized.items():
        for v in variants:
            out[v][name] = q[v]
    return out


def all_measures(X, quantized: Mapping[str, tuple], variant: str = "paper",
                 seed: int = 0) -> dict[str, dict[str, float]]:
    """``{"spread": {EEE, VRM, IS}, <name>: {PP, …, PD_EEE} for each quantizer}`` under one
    definition (see :func:`measure_variants` for both at once).

    ``quantized`` maps a name (``additive``, ``product``) to ``(codes, codebooks, kind)``.
    """
    check_variant(variant)
    return measure_variants(X, quantized, (variant,), seed)[variant]
