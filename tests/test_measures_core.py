"""Measures (Eqs. 2-15) against closed forms, hand computations and independent references."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from latentgeom import measures as M

RNG = np.random.default_rng(0)


# ----------------------------------------------------------------------------- spread
def test_eee_isotropic_and_rank_one():
    X = RNG.standard_normal((50000, 20))
    assert M.eee(X) == pytest.approx(0.0, abs=0.02)
    R = np.outer(RNG.standard_normal(300), RNG.standard_normal(16))
    assert M.eee(R) == pytest.approx(15 / 16, abs=1e-9)  # (d - 1)/d, Eq. 2's d v / 2


def test_eee_by_hand():
    # eigenvalues 3, 1 (d = 2, v = 4): cumsum 3, 4; ref 2, 4; AUC 1; EEE = 1 / (0.5*2*4) = 0.25
    assert M.eee_from_eigenvalues(np.array([1.0, 3.0])) == pytest.approx(0.25)
    X = np.array([[np.sqrt(3), 0], [-np.sqrt(3), 0], [0, 1], [0, -1]]) * np.sqrt(3 / 4)
    assert M.eee(X) == pytest.approx(0.25)


def test_isoscore_matches_package():
    torch = pytest.importorskip("torch")  # noqa: F841  (the package needs torch)
    from IsoScore.IsoScore import IsoScore

    cases = [RNG.standard_normal((3000, 8)),
             RNG.standard_normal((2000, 12)) * np.linspace(4, 0.1, 12),
             RNG.standard_normal((500, 6)) @ RNG.standard_normal((6, 6)),
             np.c_[RNG.standard_normal((400, 3)), np.zeros((400, 2))]]
    for X in cases:
        assert M.isoscore(X) == pytest.approx(float(IsoScore(X)), abs=1e-6)
    assert M.isoscore(RNG.standard_normal((40000, 5))) == pytest.approx(1.0, abs=0.01)


def test_vasicek_matches_scipy_and_vrm_closed_forms():
    Z = RNG.standard_normal((1500, 4)) * [1, 2, 3, 4]
    np.testing.assert_allclose(M.vasicek_entropy(Z),
                               stats.differential_entropy(Z, axis=0, method="vasicek"))
    assert M.vrm(RNG.standard_normal((20000, 10))) < 0.002
    uneven = RNG.standard_normal((20000, 10)) * np.geomspace(10, 0.01, 10)
    assert M.vrm(uneven) > 50 * M.vrm(RNG.standard_normal((20000, 10)))
    assert np.isfinite(M.vrm(np.c_[RNG.standard_normal((300, 3)), np.zeros((300, 1))]))
    assert M.vrm(uneven, variant="authors", seed=1) != M.vrm(uneven)


# ----------------------------------------------------------------------------- cells
def test_cell_counts_and_pp_by_hand():
    codes = np.array([[0, 1], [0, 1], [0, 0], [1, 1]])  # K = 2, M = 2
    np.testing.assert_array_equal(M.cell_counts(codes, 2), [[3, 1], [1, 3]])
    # counts 3,1,1,3: m = 2, V = 1 -> PP = (2 + (1/2 - 1)) / 2 = 0.75
    assert M.point_patchiness(codes, 2) == pytest.approx(0.75)
    # authors: m = 8 / 2 = 4 -> (4 + 1/4 - 1) / 4
    assert M.point_patchiness(codes, 2, "authors") == pytest.approx(3.25 / 4)
    even = np.repeat(np.arange(4), 5)[:, None]  # 20 points, 5 per cell
    assert M.point_patchiness(even, 4) == pytest.approx(1 - 1 / 5)


def test_odds_ratio_measures_by_hand():
    # One codebook, K = 4, counts 2, 1, 1, 0 of n = 4: c = .5, .25, .25, 0
    codes = np.array([0, 0, 1, 2])[:, None]
    O = M.odds_ratios(codes, 4).ravel()
    np.testing.assert_allclose(O, [3.0, 1.0, 1.0, 0.0])
    # mean O = 1.25; squares 3.0625 + .0625 + .0625 + 1.5625 = 4.75; / (1 * 3)
    assert M.point_count_var(codes, 4) == pytest.approx(4.75 / 3)
    p = O / O.sum()
    assert M.point_count_kl(codes, 4) == pytest.approx(np.sum(p[p > 0] * np.log(p[p > 0] * 4)))
    even = np.repeat(np.arange(4), 3)[:, None]
    assert M.point_count_var(even, 4) == 0 and M.point_count_kl(even, 4) == pytest.approx(0)
    lump = np.zeros((10, 1), dtype=int)
    assert M.point_count_var(lump, 4) == np.inf
    assert M.point_count_kl(lump, 4) == pytest.approx(np.log(4))


def _pq(X, M_=4, nbits=5, seed=0):
    from latentgeom.quantize import quantize

    r = quantize(X.astype(np.float32), "pq", M_, nbits, seed=seed, use_gpu=False)
    return r["codes"], r["codebooks"]


def test_clustered_mixture_has_higher_pp_than_isotropic_cloud():
    # Tight clusters hold most points: k-means gains little by splitting them, so their cells
    # stay crowded, unlike the near-equal cells of an isotropic cloud.
    iso = RNG.standard_normal((6000, 16))
    centres = RNG.standard_normal((5, 16)) * 2
    lab = RNG.choice(5, 4000, p=[0.4, 0.3, 0.15, 0.1, 0.05])
    mix = np.r_[centres[lab] + 0.01 * RNG.standard_normal((4000, 16)),
                RNG.standard_normal((2000, 16))]
    pp_iso = M.point_patchiness(_pq(iso)[0], 32)
    pp_mix = M.point_patchiness(_pq(mix)[0], 32)
    assert pp_mix > pp_iso


# ----------------------------------------------------------------------------- reconstruction
def test_reconstruction_measures():
    cb = RNG.standard_normal((2, 8, 3))
    codes = RNG.integers(0, 8, size=(200, 2))
    X = M.decode(codes, cb, "product")
    q = M.quantized_measures(X, codes, cb, "product")
    assert q["RE"] == 0 and q["RS"] == 0 and q["RI"] == 0  # every point is a centroid
    Xn = X + 0.1 * RNG.standard_normal(X.shape)
    e = np.linalg.norm(Xn - X, axis=1)
    em = e / e.max()
    np.testing.assert_allclose(M.error_magnitudes(Xn, X), em)
    assert M.reconstruction_skew(Xn, X) == pytest.approx(stats.skew(em, bias=False))
    assert M.reconstruction_skew(Xn, X, "authors") == pytest.approx(stats.skew(e))
    assert M.reconstruction_iqr(Xn, X) == pytest.approx(np.subtract(*np.percentile(em, [75, 25])))
    assert M.reconstruction_error(Xn, X) == pytest.approx(np.sum((Xn - X) ** 2) / np.sum(Xn ** 2))
    # Eq. 5 by hand on 1, 2, 6: mean 3, s = sqrt(7); z = -2, -1, 3 over sqrt 7
    z = np.array([-2.0, -1.0, 3.0]) / np.sqrt(7)
    assert M.adjusted_skew(np.array([1.0, 2.0, 6.0])) == pytest.approx(3 * np.sum(z ** 3) / 2)


def test_decode_by_hand():
    cb = np.arange(12, dtype=float).reshape(2, 3, 2)
    codes = np.array([[0, 2], [1, 0]])
    np.testing.assert_array_equal(M.decode(codes, cb, "product"), [[0, 1, 10, 11], [2, 3, 6, 7]])
    np.testing.assert_array_equal(M.decode(codes, cb, "additive"), [[10, 12], [8, 10]])


# ----------------------------------------------------------------------------- centroids
def test_centroid_distance_var_by_hand():
    # One codebook, centroids on a line at 0, 1, 3, 7: nearest distances 1, 1, 2, 4.
    cb = np.array([[[0.0], [1.0], [3.0], [7.0]]])
    np.testing.assert_allclose(M.nearest_centroid_distances(cb), [[1, 1, 2, 4]])
    rho = np.array([1, 1, 2, 4]) / 4
    assert M.centroid_distance_var(cb) == pytest.approx(rho.var(ddof=1))
    rho2 = np.array([1, 1, 4, 16]) / 16
    assert M.centroid_distance_var(cb, "authors") == pytest.approx(rho2.var(ddof=0))
    assert M.centroid_distance_var(np.zeros((2, 4, 3))) == 0


def test_cell_eee_by_hand():
    # Cell 0: rank-one points (EEE = 1/2 for d = 2); cell 1: a square (EEE 0); cell 2: 1 point.
    X = np.array([[0, 0], [1, 1], [2, 2], [5, 0], [6, 0], [5, 1], [6, 1], [9, 9]], float)
    codes = np.array([0, 0, 0, 1, 1, 1, 1, 2])[:, None]
    vals = M.cell_eee_values(X, codes, "additive")
    np.testing.assert_allclose(vals[0, :2], [0.5, 0.0], atol=1e-12)
    assert np.isnan(vals[0, 2])
    assert M.cell_eee(X, codes, "additive") == pytest.approx(0.25)
    # Duplicates: the authors' variant drops them; a cell of one repeated point is skipped.
    Xd = np.r_[X[:3], X[:3], [[4, 4]] * 3]
    cd = np.array([0] * 6 + [1] * 3)[:, None]
    assert M.cell_eee(Xd, cd, "additive") == pytest.approx(0.5)
    # authors: eigenvalues (v, 0): diff (v/2, 0), trapezoid v/4, over v * 2 / 2 -> 0.25
    assert M.cell_eee(Xd, cd, "additive", variant="authors") == pytest.approx(0.25)


def test_cell_eee_matches_per_cell_loop_product():
    X = RNG.standard_normal((3000, 8)) * [3, 1, 1, 1, 2, 2, 0.5, 0.5]
    codes, _ = _pq(X, 2, 4)
    vals = M.cell_eee_values(X, codes, "product")
    for m in range(2):
        for j in range(16):
            pts = X[codes[:, m] == j][:, 4 * m:4 * m + 4]
            if len(pts) >= 2:
                assert vals[m, j] == pytest.approx(M.eee(pts), abs=1e-9)


# ----------------------------------------------------------------------------- input checks
def test_bad_input_named():
    cb = np.zeros((2, 4, 3))
    X = RNG.standard_normal((20, 6))
    codes = RNG.integers(0, 4, (20, 2))
    with pytest.raises(ValueError, match="2-D"):
        M.eee(np.zeros(5))
    with pytest.raises(ValueError, match="NaN or Inf"):
        M.eee(np.array([[1.0, np.nan], [0, 1]]))
    with pytest.raises(ValueError, match="rows"):
        M.quantized_measures(X[:3], codes[:3], cb, "product")
    with pytest.raises(ValueError, match="codes"):
        M.quantized_measures(X, codes[:, :1], cb, "product")
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        M.quantized_measures(X, codes + 4, cb, "product")
    with pytest.raises(ValueError, match="codebooks"):
        M.quantized_measures(X, codes, cb, "additive")
    with pytest.raises(ValueError, match="kind"):
        M.quantized_measures(X, codes, cb, "residual")
    with pytest.raises(ValueError, match="variant"):
        M.point_patchiness(codes, 4, "mine")


def test_degenerate_inputs_defined():
    same = np.ones((50, 4))
    assert np.isnan(M.eee(same)) and np.isnan(M.isoscore(same))
    assert np.isfinite(M.vrm(same))
    dup = np.repeat(RNG.standard_normal((10, 4)), 5, axis=0)
    assert 0 <= M.eee(dup) < 1
    zero_dim = np.c_[RNG.standard_normal((100, 3)), np.zeros(100)]
    assert 0 < M.eee(zero_dim) < 1
    cb = RNG.standard_normal((2, 8, 2))
    codes = np.zeros((40, 2), dtype=int)  # every point in one cell: empty cells elsewhere
    Xc = M.decode(codes, cb, "product") + 0.01 * RNG.standard_normal((40, 4))
    q = M.quantized_measures(Xc, codes, cb, "product")
    assert q["PC_var"] == np.inf and q["PC_kl"] == pytest.approx(np.log(8))
    assert all(np.isfinite(q[k]) for k in ("PP", "RS", "RE", "RI", "CD_var", "PD_EEE"))


def test_all_measures_keys():
    X = RNG.standard_normal((600, 8)).astype(np.float32)
    codes, cb = _pq(X, 2, 4)
    out = M.all_measures(X, {"product": (codes, cb, "product")})
    assert set(out) == {"spread", "product"}
    assert set(out["spread"]) == {"EEE", "VRM", "IS"}
    assert set(out["product"]) == set(M.QUANTIZED_KEYS)


def test_quantized_measures_equal_the_single_functions():
    X = RNG.standard_normal((700, 8))
    codes, cb = _pq(X, 2, 4)
    q = M.quantized_measures(X, codes, cb, "product")
    rec = M.decode(codes, cb, "product")
    assert q["RS"] == pytest.approx(M.reconstruction_skew(X, rec))
    assert q["RE"] == pytest.approx(M.reconstruction_error(X, rec))
    assert q["RI"] == pytest.approx(M.reconstruction_iqr(X, rec))
    qa = M.quantized_measures(X, codes, cb, "product", variant="authors")
    assert qa["RS"] == pytest.approx(M.reconstruction_skew(X, rec, "authors"))
    np.testing.assert_allclose(M.reconstruction_norms(X, codes, cb, "product", block=64),
                               np.linalg.norm(X - rec, axis=1))


def test_spread_measures_equal_the_single_functions():
    for X in (RNG.standard_normal((2000, 12)) * np.linspace(3, 0.1, 12),
              RNG.standard_normal((10, 30))):
        s = M.spread_measures(X)
        assert s["EEE"] == pytest.approx(M.eee(X), abs=1e-12)
        assert s["VRM"] == pytest.approx(M.vrm(X), abs=1e-12)
        assert s["IS"] == pytest.approx(M.isoscore(X), abs=1e-12)


# ----------------------------------------------------------------------------- authors' variant
# Issue 9's table: each row checked against an independent, loop-based computation of the
# rules in ../shared/reference/NOTES.md (sklearn PCA, scipy's differential_entropy and kl_div),
# on a small fixed matrix and fixed codes, with the same seeded random references.
def _fixed_data():
    g = np.random.default_rng(20240901)
    X = g.standard_normal((240, 6)) @ g.standard_normal((6, 6)) + g.standard_normal(6)
    X[10:14] = X[3]  # duplicates inside a cell
    codes = g.integers(0, 5, size=(240, 2))
    codes[:, 1] = np.minimum(codes[:, 1], 3)  # codebook 1 never uses its last centroid
    codes[200:, 0] = 4  # a big cell
    one = np.flatnonzero(codes[:, 1] == 0)
    codes[one[1:], 1] = 1  # a cell with a single point
    codes[:20, 1] = 3
    codes[20:24, 1] = 2
    return X, codes


def _eee_by_hand(points):
    from sklearn.decomposition import PCA
    from sklearn.metrics import auc

    ev = PCA().fit(points).explained_variance_
    num_pc, total = len(ev), sum(ev)
    cum = np.cumsum(ev)
    even = np.array([total * (k + 1) / num_pc for k in range(num_pc)])
    return round(auc(range(num_pc), cum - even) / (total * num_pc / 2), 4)


def _pd_eee_by_hand(X, codes):
    values = []
    for m in range(codes.shape[1]):
        cells = {}
        for i in range(len(X)):
            cells.setdefault(codes[i, m], []).append(X[i])  # the FULL d-dim vector
        for pts in cells.values():
            pts = np.unique(np.array(pts), axis=0)
            if len(pts) <= 1:
                continue
            values.append(_eee_by_hand(pts))
    return sum(values) / len(values)


def test_authors_pd_eee_additive_by_hand():
    X, codes = _fixed_data()
    assert M.cell_eee(X, codes, "additive", "authors") == pytest.approx(
        _pd_eee_by_hand(X, codes), abs=1e-12)
    cb = RNG.standard_normal((2, 5, 6))
    q = M.quantized_measures(X, codes, cb, "additive", variant="authors")
    assert q["PD_EEE"] == pytest.approx(_pd_eee_by_hand(X, codes), abs=1e-12)


def test_authors_pd_eee_product_uses_full_vectors_by_hand():
    X, codes = _fixed_data()
    cb = RNG.standard_normal((2, 5, 3))
    q = M.quantized_measures(X, codes, cb, "product", variant="authors")
    assert q["PD_EEE"] == pytest.approx(_pd_eee_by_hand(X, codes), abs=1e-12)
    # the paper's variant uses the sub-vectors of each codebook's subspace instead
    sub = [M.eee(X[codes[:, m] == j][:, 3 * m:3 * m + 3]) for m in range(2) for j in range(5)
           if (codes[:, m] == j).sum() >= 2]
    assert M.quantized_measures(X, codes, cb, "product")["PD_EEE"] == pytest.approx(np.mean(sub))


def test_authors_cell_eee_min_n_d_eigenvalues_without_padding():
    # 3 distinct points in 6 dimensions: sklearn reports 3 components (the last ~0), no padding
    pts = np.random.default_rng(3).standard_normal((3, 6))
    X = np.r_[pts, pts[:1]]
    codes = np.zeros((4, 1), dtype=int)
    assert M.cell_eee(X, codes, "additive", "authors") == pytest.approx(_eee_by_hand(pts))
    assert M.eee(pts, "authors") == pytest.approx(_eee_by_hand(pts))


def _vrm_by_hand(X, ref_var):
    """Their VRM with the reference's total variance given: in their script it is
    ``np.sum(np.var(ref, axis=0))`` of an unseeded N(0, I_d) sample, i.e. a random draw by
    definition; ours draws it from its exact distribution (checked separately below), so the
    by-hand computation is given the same draw and checks everything else."""
    from scipy.stats import differential_entropy
    from sklearn.decomposition import PCA

    P = PCA().fit_transform(X)
    P = P * np.sqrt(ref_var / np.sum(np.var(P, axis=0)))
    h_ref = np.log(np.sqrt(2 * np.pi * np.e))
    ratios = [np.exp(differential_entropy(P[:, i])) / np.exp(h_ref) for i in range(P.shape[1])]
    return round(sum((1 - r) ** 2 for r in ratios) / len(ratios), 4)


@pytest.mark.parametrize("n", [1500, 300])  # scipy's default: Vasicek above 1000, else Ebrahimi
def test_authors_vrm_by_hand(n):
    g = np.random.default_rng(n)
    X = (g.standard_normal((n, 5)) ** 3) @ g.standard_normal((5, 5))
    for seed in (0, 7):
        ref_var = M.normal_reference_variance(n, 5, seed)
        assert M.vrm(X, variant="authors", seed=seed) == pytest.approx(
            _vrm_by_hand(X, ref_var), abs=1e-12)
    assert M.spread_measures(X, "authors", seed=7)["VRM"] == M.vrm(X, variant="authors", seed=7)
    # Eq. 9 as printed (ratio of entropies) is another number
    assert M.vrm(X) != M.vrm(X, variant="authors")


def test_normal_reference_variance_has_the_samples_distribution():
    # The authors' reference total variance, sum(np.var(ref, axis=0)) of an unseeded (n, d)
    # N(0, I) sample, is a random value; ours is drawn from its exact law, chi2(d (n-1)) / n.
    # Against 3,000 real samples' total variances (independent: drawn as their script does),
    # the two-sample KS test cannot tell them apart, and the moments match the closed form.
    n, d, reps = 12, 3, 3000
    g = np.random.default_rng(11)
    sampled = np.array([np.sum(np.var(g.standard_normal((n, d)), axis=0)) for _ in range(reps)])
    ours = np.array([M.normal_reference_variance(n, d, seed) for seed in range(reps)])
    assert stats.ks_2samp(sampled, ours).pvalue > 0.01
    assert ours.mean() == pytest.approx(d * (n - 1) / n, rel=0.02)
    assert ours.var() == pytest.approx(2 * d * (n - 1) / n ** 2, rel=0.1)
    assert stats.kstest(ours * n, stats.chi2(d * (n - 1)).cdf).pvalue > 0.01
    # seeded: the same seed gives the same value; at the sizes of a real sample it is close
    # to d (relative spread sqrt(2 / (d n)))
    assert M.normal_reference_variance(116_667, 384, 5) == M.normal_reference_variance(
        116_667, 384, 5)
    assert M.normal_reference_variance(116_667, 384, 5) == pytest.approx(384, rel=5e-3)


def _counts_by_hand(codes, K):
    return [np.histogram(codes[:, m], bins=K)[0] for m in range(codes.shape[1])]


def test_authors_pc_kl_by_hand():
    from scipy.special import kl_div

    X, codes = _fixed_data()
    n, K = len(codes), 5
    for seed in (0, 3):
        gen = np.random.default_rng(seed)
        kls = []
        for h in _counts_by_hand(codes, K):
            u = np.histogram(gen.uniform(0, K, n), bins=K)[0] / n
            kls.append(np.sum(kl_div(h / n, u)))
        assert M.point_count_kl(codes, K, "authors", seed) == pytest.approx(np.mean(kls),
                                                                            abs=1e-12)
    cb = RNG.standard_normal((2, K, 6))
    q = M.quantized_measures(X, codes, cb, "additive", "authors", seed=3)
    assert q["PC_kl"] == M.point_count_kl(codes, K, "authors", 3)


def test_authors_pc_var_and_pp_by_hand():
    _, codes = _fixed_data()
    n, K = len(codes), 5
    variances, pooled = [], []
    for h in _counts_by_hand(codes, K):
        odds = [(K - 1) * (c / n) / (1 - c / n) for c in h]
        variances.append(np.var(odds))
        pooled += list(h)
    assert M.point_count_var(codes, K, "authors") == pytest.approx(np.mean(variances), abs=1e-12)
    mean = sum(pooled) / K
    pp = (mean + np.var(pooled) / mean - 1) / mean
    assert M.point_patchiness(codes, K, "authors") == pytest.approx(pp, abs=1e-12)


def test_both_variants_at_once_equal_each_alone():
    X = RNG.standard_normal((1200, 8)).astype(np.float32) * np.linspace(2, 0.2, 8).astype(
        np.float32)
    X[5:9] = X[0]
    codes, cb = _pq(X, 2, 4)
    q = {"product": (codes, cb, "product"), "additive": (codes, cb.sum(axis=0, keepdims=True)
                                                        .repeat(2, 0).reshape(2, 16, 4)
                                                        .repeat(2, 2), "additive")}
    both = M.measure_variants(X, q, seed=4, workers=2)
    for v in M.VARIANTS:
        alone = M.all_measures(X, q, variant=v, seed=4)
        for group in alone:
            for k, val in alone[group].items():
                assert both[v][group][k] == pytest.approx(val, rel=1e-12, abs=1e-15), (v, group, k)


def test_float32_matrix_in_blocks_and_axis_chunks_equals_one_float64_pass(monkeypatch):
    # The spread measures never hold a float64 copy of a float32 matrix: covariance from
    # float64 row blocks, projections in axis chunks on threads. Same values as one pass over
    # the float64 copy (products of float32 values are exact in float64; only summation order
    # differs).
    g = np.random.default_rng(8)
    X = ((g.standard_normal((3000, 12)) ** 3) @ g.standard_normal((12, 12))).astype(np.float32)
    X64 = X.astype(np.float64)
    whole = M.measure_variants(X64, {}, seed=2)
    monkeypatch.setattr(M, "ROW_BLOCK", 257)
    monkeypatch.setattr(M, "PROJECTION_CHUNK_BYTES", 5 * 8 * 3000)  # 5 axes a chunk
    mu32, C32 = M._covariance(X)
    mu64, C64 = M._covariance(X64)
    np.testing.assert_allclose(C32, C64, rtol=1e-12, atol=1e-12 * np.abs(C64).max())
    np.testing.assert_allclose(mu32, mu64, rtol=1e-12, atol=1e-12)
    for workers in (1, 2):
        chunked = M.measure_variants(X, {}, seed=2, workers=workers)
        for v in M.VARIANTS:
            for k, val in whole[v]["spread"].items():
                assert chunked[v]["spread"][k] == pytest.approx(val, rel=1e-9, abs=1e-12), (v, k)


def _token_like(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Float32 vectors shaped like a model's token vectors (a large common offset, a steep
    spectrum, clusters, repeated tokens) and two codebooks' cell assignments with cells both
    smaller and larger than d (so both the Gram and the scatter path are taken)."""
    g = np.random.default_rng(seed)
    lab = g.choice(24, n, p=g.dirichlet(np.ones(24) * 0.3))
    X = (g.standard_normal((24, d)) * 2)[lab] + g.standard_normal((n, d)) * np.geomspace(
        3, 0.01, d) + 5 * g.standard_normal(d)
    X = X.astype(np.float32)
    X[1::97] = X[::97][:len(X[1::97])]  # repeated tokens: duplicate rows
    codes = np.c_[lab % 12, g.integers(0, 12, n) * (g.random(n) < 0.9)]
    return X, codes


def test_authors_cell_eee_from_float32_spectra_equals_float64_bit_for_bit(monkeypatch):
    # The authors' per-cell EEE comes from the float32 spectrum where that value is farther
    # than AUTHORS_FLOAT32_MARGIN from a 4-decimal rounding boundary, else from float64: the
    # same bits as the float64 path everywhere (margin = inf forces float64 on every cell).
    from latentgeom.measures import centroids

    X, codes = _token_like(6000, 96, 1)
    cases = [(X, "product", ("authors",)), (X, "additive", ("authors",)),
             (X, "product", ("paper", "authors")), (X.astype(np.float64), "product", ("authors",))]
    for Xc, kind, variants in cases:
        fast = centroids._cell_eee_variants(Xc, codes, kind, 12, variants, workers=2)
        monkeypatch.setattr(M, "AUTHORS_FLOAT32_MARGIN", np.inf)
        slow = centroids._cell_eee_variants(Xc, codes, kind, 12, variants, workers=2)
        assert np.isfinite(slow["authors"]).sum() == 24
        assert np.array_equal(fast["authors"], slow["authors"], equal_nan=True), (kind, variants)
        monkeypatch.setattr(M, "AUTHORS_FLOAT32_MARGIN", 2e-5)  # about 40% of cells recomputed
        mixed = centroids._cell_eee_variants(Xc, codes, kind, 12, variants, workers=2)
        assert np.array_equal(mixed["authors"], slow["authors"], equal_nan=True)
        monkeypatch.undo()
    # the margin is ample: the float32 and float64 values of every cell differ far less
    raw = []
    for m in range(2):
        for j in range(12):
            P = np.unique(X[codes[:, m] == j], axis=0)
            C = P - np.ones(len(P), np.float32) @ P / np.float32(len(P))
            G32 = C @ C.T if len(P) < P.shape[1] else C.T @ C
            w = np.linalg.eigvalsh(G32).astype(np.float64)[::-1]
            lam32 = np.clip(w / (len(P) - 1), 0, None)
            lam64 = centroids._cell_spectrum(P.astype(np.float64))
            raw.append(abs(M.spread._eee_authors_unrounded(lam32)
                           - M.spread._eee_authors_unrounded(lam64)))
    assert max(raw) < M.AUTHORS_FLOAT32_MARGIN / 20
    # a value near a rounding boundary is recomputed, one safely away is kept
    assert not centroids._rounds_like_float64(0.12345, 1e-6)
    assert not centroids._rounds_like_float64(0.1234504, 1e-6)
    assert centroids._rounds_like_float64(0.1234515, 1e-6)
    assert centroids._rounds_like_float64(0.1234, 1e-6)
    assert not centroids._rounds_like_float64(5e-7, 1e-6)
    assert not centroids._rounds_like_float64(float("nan"), 1e-6)


def test_spread_measures_do_not_depend_on_the_blas_thread_count():
    """LayerNorm outputs have a null direction, whose covariance eigenvector LAPACK resolves
    only up to rounding: with threaded BLAS the eigenvectors (and so the paper's VRM, which
    reads that axis' entropy) changed with the thread count. The eigenproblems run on one
    BLAS thread, so a 2-core workstation and a 4-core node give the same bits."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(3)
    Z = rng.standard_normal((3000, 48)) @ rng.standard_normal((48, 384))
    Z += 0.3 * rng.standard_normal(Z.shape)
    X = Z - Z.mean(axis=1, keepdims=True)  # every row sums to 0, as after a LayerNorm
    X = (X / X.std(axis=1, keepdims=True)).astype(np.float32)
    seen = []
    for k in (1, 2, 4):
        with threadpool_limits(k, "blas"):
            both = M.measure_variants(X, {}, ("paper", "authors"), 0)
            seen.append((both, M.spread_measures(X), M.eee(X, "authors"), M.isoscore(X),
                         M.pca_project(X[:500])))
    for other in seen[1:]:
        assert other[:4] == seen[0][:4]
        np.testing.assert_array_equal(other[4], seen[0][4])


@pytest.mark.parametrize("K", [2, 256, 257, 65536, 70000])
def test_cell_order_is_the_stable_argsort(K):
    """Each codebook's rows by cell via a radix sort of narrow codes: the same permutation as
    a stable argsort of the codes as given."""
    from latentgeom.measures import centroids

    codes = np.random.default_rng(K).integers(0, K, 5000).astype(np.intp)
    np.testing.assert_array_equal(centroids._cell_order(codes, K),
                                  np.argsort(codes, kind="stable"))
    h = np.random.default_rng(1).integers(0, 2**63, 50, dtype=np.uint64)
    assert not centroids._has_duplicate_hashes(h)
    assert centroids._has_duplicate_hashes(np.concatenate([h, h[7:8]]))
