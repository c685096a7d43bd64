"""Other geometry of a latent space (issue 21, "beyond the paper"): intrinsic dimension,
topology, spectrum and anisotropy of a token matrix, as candidates beside the paper's measures.

Every function takes a matrix ``X`` (tokens x hidden, float32 or float64; a memory-mapped
``.npy`` is fine) and returns plain floats. Estimators that a maintained library provides are
called, not re-written: intrinsic dimension from ``scikit-dimension`` (``skdim``), persistent
homology from ``ripser``. Those two are super-linear in the number of points, so they run on a
seeded subsample whose size is a setting; the spectral measures and anisotropy see every token
(the covariance is accumulated in row blocks, so memory stays at a few hidden x hidden arrays).

=================  ==========================================================================
column             what
=================  ==========================================================================
``TwoNN``          intrinsic dimension, two-nearest-neighbour estimator (Facco et al. 2017)
``MLE``            intrinsic dimension, maximum likelihood on k neighbours (Levina & Bickel 2005)
``H0_total``       total persistence of the 0-dim. diagram (finite bars) of a subsample
``H1_total``       total persistence of the 1-dim. diagram of the same subsample
``H1_long``        number of long-lived 1-dim. features (persistence >= ``long_lived`` x diameter)
``RankMe``         effective rank of the spectrum (Garrido et al. 2023)
``alpha_ReQ``      power-law decay coefficient of the covariance eigenspectrum (Agrawal et al. 2022)
``anisotropy``     mean cosine similarity of random token pairs (Ethayarajh 2019)
=================  ==========================================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: the columns of :func:`geometry_measures`, in table order (group ``geometry``)
GEOMETRY_MEASURES = ("TwoNN", "MLE", "H0_total", "H1_total", "H1_long", "RankMe", "alpha_ReQ",
                     "anisotropy")
#: defaults of the settings (the config's ``geometry`` block; the schema repeats them and
#: tests/test_geometry.py checks that the two agree)
DEFAULTS = {"subsample": 5000, "mle_neighbors": 20, "topology_subsample": 1000,
            "long_lived": 0.1, "anisotropy_pairs": 100_000, "seed": 0}
_BLOCK = 8192  # rows per block of the covariance accumulation


def _check(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X) if not isinstance(X, np.ndarray) else X
    if X.ndim != 2 or X.shape[0] < 2 or X.shape[1] < 1:
        raise ValueError(f"{name}: expected a 2-d matrix with at least 2 rows, got shape "
                         f"{X.shape}")
    if X.dtype.kind != "f":
        raise ValueError(f"{name}: expected a float matrix, got dtype {X.dtype}")
    return X


def subsample(X, n: int | None, seed: int) -> np.ndarray:
    """``n`` distinct rows of ``X`` drawn without replacement by ``np.random.default_rng(seed)``
    (in their original order), as float64; all rows when ``n`` is None or >= len(X)."""
    X = _check(X)
    if n is None or n >= len(X):
        return np.asarray(X, dtype=np.float64)
    if n < 2:
        raise ValueError(f"subsample: expected at least 2 rows, got {n}")
    idx = np.sort(np.random.default_rng(seed).choice(len(X), size=int(n), replace=False))
    return np.asarray(X[idx], dtype=np.float64)


def _unique_rows(X: np.ndarray) -> np.ndarray:
    # nearest-neighbour ratios are undefined at distance 0 (repeated tokens, collapsed models)
    return np.unique(X, axis=0)


# ----------------------------------------------------------------------------- intrinsic dim.
def twonn_dimension(X, discard_fraction: float = 0.1) -> float:
    """Intrinsic dimension by TwoNN (Facco, d'Errico, Rodriguez & Laio 2017, *Sci. Rep.* 7:12140):
    the ratio mu = r2/r1 of each point's second- to first-neighbour distance is Pareto(d)
    distributed; d is the slope of -log(1 - F(mu)) against log(mu), fitted through the origin
    after discarding the largest ``discard_fraction`` of the ratios. Computed by
    ``skdim.id.TwoNN``. Repeated rows are dropped first (a zero distance has no ratio); NaN with
    fewer than 10 distinct rows."""
    import skdim

    U = _unique_rows(_check(X))
    if len(U) < 10:
        return float("nan")
    return float(skdim.id.TwoNN(discard_fraction=discard_fraction).fit(U).dimension_)


def mle_dimension(X, k: int = 20) -> float:
    """Intrinsic dimension by maximum likelihood on the ``k`` nearest neighbours (Levina &
    Bickel 2005, *NIPS* 17): per point, m(x) = [(1/(k-1)) sum_j log(T_k(x)/T_j(x))]^-1; the local
    estimates are combined as ``skdim.id.MLE`` does by default (``comb='mle'``: the inverse of
    the mean of the inverses, MacKay & Ghahramani's correction). Repeated rows are dropped
    first; NaN with fewer than k + 2 distinct rows."""
    import skdim

    if k < 2:
        raise ValueError(f"mle_neighbors: expected at least 2, got {k}")
    U = _unique_rows(_check(X))
    if len(U) < k + 2:
        return float("nan")
    return float(skdim.id.MLE().fit(U, n_neighbors=int(k)).dimension_)


# ----------------------------------------------------------------------------- topology
def persistence_summary(X, long_lived: float = 0.1) -> dict[str, float]:
    """Vietoris-Rips persistent homology of the points ``X`` (``ripser``, Z/2 coefficients,
    Bauer 2021, *J. Appl. Comput. Topol.* 5:391) summarised as three numbers:

    - ``H0_total``: sum of (death - birth) over the finite bars of the 0-dim. diagram (the
      one infinite bar dropped): the total edge length of a minimum spanning tree;
    - ``H1_total``: the same sum over the 1-dim. diagram (loops);
    - ``H1_long``: the number of 1-dim. bars with persistence >= ``long_lived`` x the diameter
      of ``X`` (its largest pairwise distance), a scale-free threshold: a loop that lives for
      a tenth of the cloud's extent (the default) is not noise.

    The totals are in the units of ``X`` (like the paper's reconstruction error)."""
    from ripser import ripser
    from scipy.spatial.distance import pdist

    X = _check(X)
    if not 0 < long_lived <= 1:
        raise ValueError(f"long_lived: expected a fraction in (0, 1], got {long_lived}")
    D = pdist(np.asarray(X, dtype=np.float64))
    diameter = float(D.max()) if D.size else 0.0
    dgms = ripser(np.asarray(X, dtype=np.float64), maxdim=1)["dgms"]
    h0, h1 = dgms[0], dgms[1]
    h0 = h0[np.isfinite(h0[:, 1])]
    p1 = h1[:, 1] - h1[:, 0] if len(h1) else np.zeros(0)
    return {"H0_total": float(np.sum(h0[:, 1] - h0[:, 0])), "H1_total": float(np.sum(p1)),
            "H1_long": float(np.sum(p1 >= long_lived * diameter)) if diameter > 0 else 0.0}


# ----------------------------------------------------------------------------- spectrum
def covariance_eigenvalues(X) -> np.ndarray:
    """Eigenvalues of the sample covariance of the rows of ``X`` (divisor n - 1), descending,
    clipped at 0. Accumulated in blocks of rows in float64 (a memory-mapped matrix is read
    once, never copied whole)."""
    X = _check(X)
    n, d = X.shape
    s = np.zeros(d)
    G = np.zeros((d, d))
    for i in range(0, n, _BLOCK):
        B = np.asarray(X[i:i + _BLOCK], dtype=np.float64)
        s += B.sum(axis=0)
        G += B.T @ B
    mu = s / n
    C = (G - n * np.outer(mu, mu)) / (n - 1)
    ev = np.linalg.eigvalsh((C + C.T) / 2)[::-1]
    return np.clip(ev, 0, None)


def rankme(eigenvalues, eps: float = 1e-7) -> float:
    """RankMe (Garrido, Balestriero, Najman & LeCun 2023, *ICML*, Eq. 1): the effective rank
    exp(-sum_k p_k log p_k) with p_k = sigma_k / ||sigma||_1 + eps, sigma_k the singular values
    of the (here: centred) token matrix. ``eigenvalues`` are the covariance's (sigma_k is
    proportional to their square roots, and p does not see the factor). An isotropic cloud in d
    dimensions has RankMe d; a rank-k matrix with equal singular values has k.

    Centring (Garrido et al. use the raw embeddings) makes RankMe a property of the covariance
    spectrum, as in issue 21; the mean direction is measured on its own by :func:`anisotropy`."""
    lam = np.clip(np.asarray(eigenvalues, dtype=np.float64), 0, None)
    sigma = np.sqrt(lam)
    if sigma.sum() == 0:
        return float("nan")
    p = sigma / sigma.sum() + eps
    p = p[p > 0]  # 0 log 0 = 0 (eps = 0)
    return float(np.exp(-np.sum(p * np.log(p))))


def alpha_req(eigenvalues, rel_floor: float = 1e-10) -> float:
    """alpha-ReQ (Agrawal, Mondal, Ghosh & Richards 2022, *NeurIPS*): the decay coefficient alpha
    of the covariance eigenspectrum lambda_i ~ i^(-alpha), the negated least-squares slope of
    log lambda_i against log i over the ranks i = 1..d with lambda_i > ``rel_floor`` x
    lambda_1 (numerically zero eigenvalues of a rank-deficient matrix left out). NaN with fewer
    than 3 such eigenvalues."""
    lam = np.sort(np.asarray(eigenvalues, dtype=np.float64))[::-1]
    if lam.size == 0 or lam[0] <= 0:
        return float("nan")
    keep = lam > rel_floor * lam[0]
    if keep.sum() < 3:
        return float("nan")
    ranks = np.arange(1, lam.size + 1)[keep]
    slope = np.polyfit(np.log(ranks), np.log(lam[keep]), 1)[0]
    return float(-slope)


# ----------------------------------------------------------------------------- anisotropy
def anisotropy(X, n_pairs: int = 100_000, seed: int = 0) -> float:
    """Mean cosine similarity of ``n_pairs`` random pairs of distinct tokens (Ethayarajh 2019,
    *EMNLP*, Sec. 3.3's baseline; "anisotropy"), pairs (i, j), i != j, drawn uniformly by
    ``np.random.default_rng(seed)``. Near 0 for a cloud centred at the origin, near 1 for one
    that lies in a narrow cone. Zero vectors are left out (their cosine is undefined)."""
    X = _check(X)
    if n_pairs < 1:
        raise ValueError(f"anisotropy_pairs: expected at least 1, got {n_pairs}")
    rng = np.random.default_rng(seed)
    n = len(X)
    i = rng.integers(0, n, size=n_pairs)
    j = (i + rng.integers(1, n, size=n_pairs)) % n  # uniform over j != i
    cos = []
    for k in range(0, n_pairs, _BLOCK):  # blocks of pairs: a few MB at a time
        a = np.asarray(X[i[k:k + _BLOCK]], dtype=np.float64)
        b = np.asarray(X[j[k:k + _BLOCK]], dtype=np.float64)
        na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        ok = (na > 0) & (nb > 0)
        cos.append(np.sum(a[ok] * b[ok], axis=1) / (na[ok] * nb[ok]))
    cos = np.concatenate(cos)
    return float(np.mean(cos)) if cos.size else float("nan")


# ----------------------------------------------------------------------------- all of them
def geometry_measures(X, *, subsample: int | None = DEFAULTS["subsample"],
                      mle_neighbors: int = DEFAULTS["mle_neighbors"],
                      topology_subsample: int | None = DEFAULTS["topology_subsample"],
                      long_lived: float = DEFAULTS["long_lived"],
                      anisotropy_pairs: int = DEFAULTS["anisotropy_pairs"],
                      seed: int = DEFAULTS["seed"]) -> dict[str, float]:
    """Every measure of :data:`GEOMETRY_MEASURES` of one token matrix: the intrinsic dimensions
    on a seeded subsample of ``subsample`` rows, the persistence on ``topology_subsample`` rows
    (a different draw of the same seed), the spectrum and anisotropy on every row."""
    return geometry_measures_timed(X, subsample=subsample, mle_neighbors=mle_neighbors,
                                   topology_subsample=topology_subsample, long_lived=long_lived,
                                   anisotropy_pairs=anisotropy_pairs, seed=seed)[0]


def geometry_measures_timed(X, **settings: Any) -> tuple[dict[str, float], dict[str, float]]:
    """:func:`geometry_measures` and the seconds each family took (``intrinsic_dimension``,
    ``topology``, ``spectrum``, ``anisotropy``)."""
    import time

    s = {**DEFAULTS, **settings}
    X = _check(X)
    out, secs = {}, {}
    t = time.perf_counter()
    S = _subsample(X, s["subsample"], s["seed"])
    out["TwoNN"] = twonn_dimension(S)
    out["MLE"] = mle_dimension(S, s["mle_neighbors"])
    del S
    secs["intrinsic_dimension"] = time.perf_counter() - t
    t = time.perf_counter()
    out.update(persistence_summary(_subsample(X, s["topology_subsample"], s["seed"] + 1),
                                   s["long_lived"]))
    secs["topology"] = time.perf_counter() - t
    t = time.perf_counter()
    ev = covariance_eigenvalues(X)
    out["RankMe"] = rankme(ev)
    out["alpha_ReQ"] = alpha_req(ev)
    secs["spectrum"] = time.perf_counter() - t
    t = time.perf_counter()
    out["anisotropy"] = anisotropy(X, s["anisotropy_pairs"], s["seed"])
    secs["anisotropy"] = time.perf_counter() - t
    return {k: out[k] for k in GEOMETRY_MEASURES}, secs


_subsample = subsample  # the keyword `subsample` shadows the function inside the two above
