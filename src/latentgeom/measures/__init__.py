"""Latent-space geometry measures of Section 3.3 and Appendix A (Eqs. 2-15).

Every measure is a pure function: NumPy arrays in, a float out, inputs checked once at the
public entry point (:mod:`.checks`). ``X`` is an (n, d) matrix of points (rows); a quantization
is ``codes`` (n, M) integers in [0, K) and ``codebooks`` (M, K, d_sub), with ``kind``
``"additive"`` (LSQ++: each codebook spans all d dimensions, x' = sum of the M chosen
codewords) or ``"product"`` (PQ: codebook m covers columns ``m*d_sub:(m+1)*d_sub``, x' =
concatenation).

The package is split by measure family: :mod:`.spread` (EEE, VRM, IsoScore), :mod:`.cells`
(PP, PC_var, PC_kl), :mod:`.reconstruction` (RS, RE, RI), :mod:`.centroids` (CD_var, PD_EEE);
:mod:`.table` holds one table ``{name: rule}`` per definition, which the measures stage
(:mod:`.combined`) and the bootstrap both evaluate. Every public name is importable from
``latentgeom.measures``.

Two definitions live side by side (``variant``):

- ``"paper"`` (default): the paper's equations, as printed (equation numbers in each docstring).
- ``"authors"``: what the authors' published script computes, which produced every published
  number. It differs from the equations as follows. EEE is the area under the curve of
  cumulative explained variance minus the even-spread line by the trapezoid rule, over the
  min(n, d) principal components that sklearn's ``PCA()`` reports, rounded to 4 decimals. VRM
  compares entropy *powers* (``exp(H)``) instead of entropies, with the projection scaled to
  the total variance of a random normal sample of the same size and scipy's default entropy
  estimator, rounded to 4 decimals. PP, PC_var and PC_kl count the points of each codebook
  with ``np.histogram(codes, bins=K)``; PP pools the counts of all codebooks (mean = their sum
  over K); PC_var averages the per-codebook variance of the odds of each cell's share of all
  points; PC_kl is the KL divergence of the normalised counts (not the odds) from a
  histogram of n uniform random draws. RS is the biased skewness of the raw error norms. CD_var
  takes the squared nearest-centroid distances and the population variance (ddof 0). PD_EEE
  uses the full d-dimensional vectors of each cell for both kinds of quantizer, with duplicate
  vectors dropped, and the authors' EEE over the cell's min(n_cell, d) eigenvalues. Their two
  random references (VRM's normal sample, PC_kl's uniform draws) were unseeded; here they are
  drawn from ``np.random.default_rng(seed)``, so a run repeats exactly.

:func:`measure_variants` computes both definitions of everything at once, sharing the expensive
parts (one covariance eigendecomposition, one sort per principal axis, one eigendecomposition
per cell where the two definitions see the same points).
"""

from __future__ import annotations

from ..schema import QUANTIZED as QUANTIZED_KEYS
from ..schema import SPREAD as SPREAD_KEYS
from ..schema import VARIANTS
from .cells import (
    authors_counts,
    cell_counts,
    histogram_counts,
    odds_ratios,
    uniform_reference_histograms,
)
from .centroids import (
    AUTHORS_FLOAT32_MARGIN,
    cell_eee,
    cell_eee_values,
    nearest_centroid_distances,
    row_hashes,
)
from .checks import check_codebooks, check_codes, check_points, check_quantization, check_variant
from .combined import (
    all_measures,
    measure_variants,
    quantized_measures,
    quantized_variants,
    spread_measures,
    vrm,
)
from .compute import ROW_BLOCK, covariance_eigenvalues
from .reconstruction import (
    adjusted_skew,
    decode,
    error_magnitudes,
    error_norms,
    reconstruction_error,
    reconstruction_iqr,
    reconstruction_norms,
)
from .spread import (
    H_NORMAL,
    PROJECTION_CHUNK_BYTES,
    SpreadInputs,
    eee_authors_from_eigenvalues,
    eee_from_eigenvalues,
    isoscore,
    normal_reference_variance,
    pca_project,
    vasicek_entropy,
)
from .table import (
    AUTHORS,
    COUNTS,
    METHODS,
    PAPER,
    QuantizedInputs,
    centroid_distance_var,
    eee,
    evaluate,
    pc_kl_from_counts,
    pc_var_from_counts,
    point_count_kl,
    point_count_var,
    point_patchiness,
    pp_from_counts,
    reconstruction_skew,
)

__all__ = [
    "AUTHORS", "AUTHORS_FLOAT32_MARGIN", "COUNTS", "H_NORMAL", "METHODS", "PAPER",
    "PROJECTION_CHUNK_BYTES",
    "QUANTIZED_KEYS", "ROW_BLOCK", "SPREAD_KEYS", "VARIANTS", "QuantizedInputs", "SpreadInputs",
    "adjusted_skew", "all_measures", "authors_counts", "cell_counts", "cell_eee",
    "cell_eee_values", "centroid_distance_var", "check_codebooks", "check_codes",
    "check_points", "check_quantization", "check_variant", "covariance_eigenvalues", "decode",
    "eee", "eee_authors_from_eigenvalues", "eee_from_eigenvalues", "error_magnitudes",
    "error_norms", "evaluate", "histogram_counts", "isoscore", "measure_variants",
    "nearest_centroid_distances", "normal_reference_variance", "odds_ratios",
    "pc_kl_from_counts", "pc_var_from_counts", "pca_project", "point_count_kl",
    "point_count_var", "point_patchiness", "pp_from_counts", "quantized_measures",
    "quantized_variants", "reconstruction_error", "reconstruction_iqr", "reconstruction_norms",
    "reconstruction_skew", "row_hashes", "spread_measures", "uniform_reference_histograms",
    "vasicek_entropy", "vrm",
]
# private helpers that benchmarks/measures.py and tests/test_measures_core.py reach
from .compute import _covariance as _covariance  # noqa: E402
from .compute import _workers as _workers  # noqa: E402
