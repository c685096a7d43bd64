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


# ----------------------------------------------------------------------------- models_table
def _geometry_run(tmp_path, models=("m0", "m1")):
    """Per model an embeddings.npy, its embeddings.json (SHA-256, as embed writes it) and a
    geometry JSON recording that SHA-256 (as geometry_stage does)."""
    import json

    from latentgeom.integrity import sha256_file

    geo, metas = [], []
    for i, m in enumerate(models):
        d = tmp_path / "latent" / m
        d.mkdir(parents=True)
        np.save(d / "embeddings.npy", np.full((4, 3), float(i), np.float32))
        digest = sha256_file(d / "embeddings.npy")
        (d / "embeddings.json").write_text(json.dumps({"model": m, "embeddings_sha256": digest}))
        g = tmp_path / "geometry" / f"{m}.json"
        g.parent.mkdir(exist_ok=True)
        g.write_text(json.dumps({"model": m, "geometry": {k: float(i) for k in
                                                          G.GEOMETRY_MEASURES},
                                 "provenance": {"embeddings_sha256": digest}}))
        geo.append(str(g))
        metas.append(str(d / "embeddings.json"))
    return geo, metas


def test_models_table_verifies_the_geometry_fingerprints(tmp_path):
    """models_table joins a geometry file only when the embeddings SHA-256 it records is the
    one its model's embeddings.json records; otherwise an error naming the file."""
    import json

    import pandas as pd

    from latentgeom.integrity import FingerprintError
    from latentgeom.stages import add_geometry_columns

    geo, metas = _geometry_run(tmp_path)
    df = pd.DataFrame({"model": ["m0", "m1"], "glue_average": [0.5, 0.6]})
    out = add_geometry_columns(df, geo, metas)
    assert out.set_index("model").loc["m1", "geometry.RankMe"] == 1.0
    # the model's matrix was re-made (another digest) after its geometry was computed
    meta = json.loads(Path(metas[1]).read_text())
    Path(metas[1]).write_text(json.dumps({**meta, "embeddings_sha256": "0" * 64}))
    with pytest.raises(FingerprintError, match=r"geometry/m1\.json.*latent/m1/embeddings\.npy"):
        add_geometry_columns(df, geo, metas)
    # a geometry file without a recorded digest cannot be checked: refused too
    Path(metas[1]).write_text(json.dumps(meta))
    d = json.loads(Path(geo[0]).read_text())
    Path(geo[0]).write_text(json.dumps({**d, "provenance": {}}))
    with pytest.raises(FingerprintError, match=r"m0\.json records no embeddings digest"):
        add_geometry_columns(df, geo, metas)
    with pytest.raises(ValueError, match="no embeddings.json of model 'm1'"):
        add_geometry_columns(df, geo[1:], metas[:1])


def test_models_table_stage_refuses_a_stale_geometry_file(tmp_path):
    """The stage (rule models_table) with the meta files: a mismatch stops it before it writes
    tables/models.csv."""
    import json

    from latentgeom.integrity import FingerprintError
    from latentgeom.stages import models_table_stage

    geo, metas = _geometry_run(tmp_path, models=("tiny_a0_s0",))
    (tmp_path / "measures.csv").write_text(
        "model,architecture,kind,alpha,seed,spread.EEE\ntiny_a0_s0,tiny,perturbed,0.0,0,0.5\n")
    (tmp_path / "glue.csv").write_text("model,polarity,glue_average\ntiny_a0_s0,0.7,0.7\n")
    out = tmp_path / "models.csv"
    models_table_stage(measures_path=str(tmp_path / "measures.csv"),
                       glue_path=str(tmp_path / "glue.csv"), out_path=str(out),
                       geometry_paths=geo, geometry_meta_paths=metas)
    assert "geometry.TwoNN" in out.read_text()
    out.unlink()
    Path(metas[0]).write_text(json.dumps({"model": "tiny_a0_s0", "embeddings_sha256": "f" * 64}))
    with pytest.raises(FingerprintError, match="tiny_a0_s0"):
        models_table_stage(measures_path=str(tmp_path / "measures.csv"),
                           glue_path=str(tmp_path / "glue.csv"), out_path=str(out),
                           geometry_paths=geo, geometry_meta_paths=metas)
    assert not out.exists()


# ----------------------------------------------------------------------------- job sizes
def test_geometry_softpp_and_ranking_memory_from_their_sizes():
    """The geometry, softpp and ranking rules ask for memory computed from the matrix (or the
    model table), like measures_mem: growing with the sample and the subsamples, times the
    attempt; the rules use these functions, not a literal."""
    import re

    from latentgeom import jobsize

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    rows = jobsize.embedding_rows(cfg)
    scale = cfg["resources"]["headroom"]
    hand = (1500 + rows * 1024 * 4 / 2**20 + 3 * 5000 * 1024 * 8 / 2**20
            + 6 * 1000**2 * 8 / 2**20) * scale
    assert jobsize.geometry_mem(cfg) == int(np.ceil(hand))
    big = yaml.safe_load((REPO / "config/config.yaml").read_text())
    big["sample"]["n"] *= 10
    big["geometry"] = {"topology_subsample": 3000}
    assert jobsize.geometry_mem(big) > jobsize.geometry_mem(cfg) + 10 * rows * 4096 / 2**20 * 0.8
    assert jobsize.geometry_mem(cfg, attempt=2) >= 2 * jobsize.geometry_mem(cfg) - 1
    assert jobsize.softpp_mem(big) > jobsize.softpp_mem(cfg) > 1500 * scale
    assert jobsize.softpp_mem(cfg, attempt=2) >= 2 * jobsize.softpp_mem(cfg) - 1
    r = jobsize.ranking_mem(cfg, 15, 19, 2)
    assert jobsize.ranking_mem(cfg, 150, 27, 4) > r > 1000 * scale
    assert jobsize.ranking_mem({**cfg, "ranking": {"pairs": False}}, 15, 19, 2) < r
    assert jobsize.ranking_mem(cfg, 15, 19, 2, attempt=2) >= 2 * r - 1
    text = (REPO / "workflow/rules/geometry.smk").read_text()
    for rule, fn in (("geometry", "geometry_mem"), ("ranking", "ranking_mem"),
                     ("softpp", "softpp_mem")):
        body = re.search(rf"^rule {rule}:\n(.*?)(?=^rule |\Z)", text, re.M | re.S).group(1)
        assert f"_size.{fn}(" in body and not re.search(r"mem_mb=\d", body), rule
