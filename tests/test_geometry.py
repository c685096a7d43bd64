"""latentgeom.geometry against closed forms and independent computations (issue 21, part 2)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from latentgeom import geometry as G

pytest.importorskip("skdim")
pytest.importorskip("ripser")

REPO = Path(__file__).resolve().parents[1]


def _linear_subspace(n=2000, k=3, d=20, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, k)) @ rng.standard_normal((k, d))


@pytest.mark.parametrize("estimator", [G.twonn_dimension, G.mle_dimension])
def test_intrinsic_dimension_of_a_3d_subspace_in_20d(estimator):
    assert estimator(_linear_subspace()) == pytest.approx(3, abs=0.3)


def test_intrinsic_dimension_ignores_repeated_rows_and_needs_enough_points():
    X = _linear_subspace(n=1000)
    assert G.twonn_dimension(np.vstack([X, X[:200]])) == pytest.approx(G.twonn_dimension(X))
    assert np.isnan(G.twonn_dimension(np.ones((50, 4))))  # a collapsed model: one point
    assert np.isnan(G.mle_dimension(X[:10], k=20))


def _circle(n=100, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, 2 * np.pi, n)
    return np.c_[np.cos(t), np.sin(t)] + noise * rng.standard_normal((n, 2))


def test_ripser_on_a_circle_has_one_long_lived_loop():
    P = G.persistence_summary(_circle())
    assert P["H1_long"] == 1
    assert P["H1_total"] >= np.sqrt(3) - 0.3  # the loop dies at the inscribed triangle's side


def test_h0_total_is_the_minimum_spanning_tree_length():
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import pdist, squareform

    X = np.random.default_rng(1).standard_normal((60, 5))
    mst = minimum_spanning_tree(squareform(pdist(X))).sum()
    assert G.persistence_summary(X)["H0_total"] == pytest.approx(mst, rel=1e-5)


def test_two_circles_have_two_long_lived_loops_and_a_blob_none():
    two = np.vstack([_circle(seed=2), _circle(seed=3) + [4.0, 0.0]])
    assert G.persistence_summary(two, long_lived=0.1)["H1_long"] == 2
    blob = np.random.default_rng(4).standard_normal((200, 3))
    assert G.persistence_summary(blob)["H1_long"] == 0


def test_covariance_eigenvalues_match_numpy_in_blocks():
    X = np.random.default_rng(5).standard_normal((20000, 7)).astype(np.float32) + 3
    expect = np.sort(np.linalg.eigvalsh(np.cov(X.astype(np.float64), rowvar=False)))[::-1]
    np.testing.assert_allclose(G.covariance_eigenvalues(X), expect, rtol=1e-8)


def test_rankme_closed_forms():
    d, k = 32, 5
    rng = np.random.default_rng(6)
    iso = rng.standard_normal((50000, d))
    assert G.rankme(G.covariance_eigenvalues(iso)) == pytest.approx(d, rel=0.01)
    low = rng.standard_normal((50000, k)) @ np.linalg.qr(rng.standard_normal((d, k)))[0].T
    assert G.rankme(G.covariance_eigenvalues(low)) == pytest.approx(k, rel=0.01)
    # exact: k equal singular values (eps aside) give exp(log k) = k
    assert G.rankme([1.0] * k + [0.0] * (d - k), eps=0) == pytest.approx(k)


def _matrix_with_spectrum(lam, n=4000, seed=7):
    """A matrix whose sample covariance has exactly the eigenvalues ``lam``."""
    rng = np.random.default_rng(seed)
    d = len(lam)
    Z = rng.standard_normal((n, d))
    Q = np.linalg.qr(Z - Z.mean(axis=0))[0]  # centred, orthonormal columns
    R = np.linalg.qr(rng.standard_normal((d, d)))[0]
    return (Q * np.sqrt(np.asarray(lam) * (n - 1))) @ R.T


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0])
def test_alpha_req_recovers_a_power_law(alpha):
    lam = np.arange(1, 65, dtype=float) ** -alpha
    assert G.alpha_req(lam) == pytest.approx(alpha, abs=1e-9)
    X = _matrix_with_spectrum(lam)
    np.testing.assert_allclose(G.covariance_eigenvalues(X), lam, rtol=1e-6)
    assert G.alpha_req(G.covariance_eigenvalues(X)) == pytest.approx(alpha, abs=1e-6)


def test_alpha_req_leaves_out_zero_eigenvalues():
    lam = np.r_[np.arange(1, 11, dtype=float) ** -1.5, np.zeros(20)]
    assert G.alpha_req(lam) == pytest.approx(1.5, abs=1e-9)


def test_anisotropy_of_isotropic_and_shifted_clouds():
    rng = np.random.default_rng(8)
    d = 400
    assert G.anisotropy(rng.standard_normal((4000, d)), n_pairs=20000) == pytest.approx(
        0, abs=0.01)
    # X = mu + eps, eps ~ N(0, I_d): cos(x_i, x_j) -> |mu|^2 / (|mu|^2 + d) as d grows
    mu = np.full(d, 1.0)
    shifted = mu + rng.standard_normal((4000, d))
    closed = d / (d + d)
    assert G.anisotropy(shifted, n_pairs=20000) == pytest.approx(closed, abs=0.01)


def test_anisotropy_estimates_the_all_pairs_mean():
    rng = np.random.default_rng(9)
    X = rng.standard_normal((300, 10)) + rng.standard_normal(10)
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    C = U @ U.T
    exact = (C.sum() - np.trace(C)) / (len(X) * (len(X) - 1))
    assert G.anisotropy(X, n_pairs=400_000, seed=1) == pytest.approx(exact, abs=0.005)
    assert G.anisotropy(X, seed=3) == G.anisotropy(X, seed=3)  # seeded


def test_geometry_measures_on_a_memory_map(tmp_path):
    X = _linear_subspace(n=3000, k=4, d=30).astype(np.float32)
    np.save(tmp_path / "x.npy", X)
    M = np.load(tmp_path / "x.npy", mmap_mode="r")
    out = G.geometry_measures(M, subsample=1500, topology_subsample=200, seed=1)
    assert list(out) == list(G.GEOMETRY_MEASURES)
    assert out == G.geometry_measures(X, subsample=1500, topology_subsample=200, seed=1)
    assert out["TwoNN"] == pytest.approx(4, abs=0.5)
    assert out["RankMe"] < 4.5  # rank 4


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="2-d matrix"):
        G.anisotropy(np.zeros(5))
    with pytest.raises(ValueError, match="float matrix"):
        G.covariance_eigenvalues(np.zeros((5, 2), dtype=int))
    with pytest.raises(ValueError, match="long_lived"):
        G.persistence_summary(_circle(), long_lived=0)


def test_schema_defaults_are_the_modules():
    schema = yaml.safe_load((REPO / "workflow/schemas/config.schema.yaml").read_text())
    props = schema["properties"]["geometry"]["properties"]
    assert {k: props[k]["default"] for k in G.DEFAULTS} == G.DEFAULTS
    assert props["enabled"]["default"] is False


def test_cli_geometry_writes_the_json(tmp_path):
    import json

    from latentgeom.cli import main

    np.save(tmp_path / "x.npy", _linear_subspace(n=600, k=3, d=16).astype(np.float32))
    assert main(["geometry", str(tmp_path / "x.npy"), "--out", str(tmp_path / "g.json"),
                 "--subsample", "500", "--topology-subsample", "100"]) == 0
    out = json.loads((tmp_path / "g.json").read_text())
    assert list(out["geometry"]) == list(G.GEOMETRY_MEASURES)
    assert out["geometry"]["TwoNN"] == pytest.approx(3, abs=0.4)
    assert out["provenance"]["config"]["subsample"] == 500 and out["seconds"]["topology"] >= 0
