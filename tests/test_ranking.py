"""latentgeom.ranking: held-out errors against explicit refits, the ranking on synthetic models
with a known answer, and on the authors' published data (issue 21, part 3)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latentgeom import ranking as R

PUBLISHED = Path(__file__).parent / "data" / "published"


def _explicit_loo(X, y):
    out = np.empty(len(y))
    for i in range(len(y)):
        m = np.arange(len(y)) != i
        beta = np.linalg.lstsq(X[m], y[m], rcond=None)[0]
        out[i] = y[i] - X[i] @ beta
    return out


def test_loo_hat_matrix_identity_equals_refitting():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(30), rng.standard_normal((30, 2))])
    y = X @ [1.0, 2.0, -1.0] + rng.standard_normal(30)
    np.testing.assert_allclose(R.loo_residuals(X, y), _explicit_loo(X, y), rtol=1e-10)


def test_loo_of_a_lone_row_is_undefined():
    # the only model of its architecture: its dummy fits it exactly (h = 1)
    X = np.column_stack([np.ones(5), [0, 1, 2, 3, 4], [0, 0, 0, 0, 1]]).astype(float)
    e = R.loo_residuals(X, np.array([0.0, 1.1, 1.9, 3.2, 9.0]))
    assert np.isnan(e[4]) and np.isfinite(e[:4]).all()


def test_fold_residuals_equal_explicit_refits_and_loo_when_one_row_per_fold():
    rng = np.random.default_rng(1)
    X = np.column_stack([np.ones(12), rng.standard_normal(12)])
    y = 3 * X[:, 1] + rng.standard_normal(12)
    np.testing.assert_allclose(R.fold_residuals(X, y, np.arange(12)), R.loo_residuals(X, y))
    folds = np.arange(12) % 3
    expect = np.empty(12)
    for f in range(3):
        t = folds == f
        beta = np.polyfit(X[~t, 1], y[~t], 1)
        expect[t] = y[t] - np.polyval(beta, X[t, 1])
    np.testing.assert_allclose(R.fold_residuals(X, y, folds), expect, rtol=1e-10)


def test_alpha_folds_keep_seeds_of_an_alpha_together():
    alpha = [0.0, 0.1, 0.1, 0.2, 0.3, 0.3, 0.3, 0.5]
    f = R.alpha_folds(alpha, 3)
    assert list(f) == [0, 1, 1, 2, 0, 0, 0, 1]
    with pytest.raises(ValueError, match="folds"):
        R.alpha_folds(alpha, 1)


def _synthetic(n_per=40, seed=2):
    """Two architectures; GLUE = arch offset - 0.5 * good + noise; `noise` is unrelated."""
    rng = np.random.default_rng(seed)
    rows = []
    for arch, off in (("a", 0.8), ("b", 0.6)):
        alphas = np.repeat(np.linspace(0, 1, n_per // 2), 2)
        good = alphas + 0.05 * rng.standard_normal(n_per)
        for i in range(n_per):
            rows.append({"model": f"{arch}{i}", "architecture": arch, "kind": "perturbed",
                         "alpha": alphas[i], "seed": i % 2,
                         "glue_average": off - 0.5 * good[i] + 0.02 * rng.standard_normal(),
                         "x.good": good[i], "x.noise": rng.standard_normal(),
                         "x.half": good[i] + 0.3 * rng.standard_normal() if i % 4 else np.nan})
    rows.append({"model": "ns", "architecture": "a", "kind": "nonstandard", "alpha": np.nan,
                 "seed": np.nan, "glue_average": 0.1, "x.good": 5.0, "x.noise": 0.0,
                 "x.half": 0.0})
    return pd.DataFrame(rows)


def test_ranking_finds_the_informative_measure():
    df = _synthetic()
    r = R.rank_measures(df, ["x.good", "x.noise", "x.half"], reference="x.good", n_boot=300)
    assert set(r.scope) == {"a", "b", "pooled"}
    assert set(r.cv) == set(R.CV_KINDS)
    single = r[r.n_measures == 1].set_index(["scope", "cv", "measures"])
    for scope in ("a", "b", "pooled"):
        for cv in R.CV_KINDS:
            good, noise = single.loc[(scope, cv, "x.good")], single.loc[(scope, cv, "x.noise")]
            assert good["rank"] == 1 and good.q2 > 0.9 and good.q2_lo > 0.8
            assert noise.q2 < 0.05 and noise.q2_lo < 0 < noise.d_lo  # worse than the reference
            assert good.d_mse == 0 and good.n == 40 * (2 if scope == "pooled" else 1)
    assert (single.xs("x.half", level="measures").n == 30 * np.array([1, 1, 1, 1, 2, 2])).all()
    base = r[r.n_measures == 0]
    assert (base.q2 == 0).all() and (base.measures == R.NONE).all()
    pairs = r[r.n_measures == 2]
    assert set(pairs.measures) == {"x.good + x.noise", "x.good + x.half", "x.noise + x.half"}
    assert not (r.measures == "ns").any()  # non-standard models are not fitted


def test_rmse_and_its_interval_by_hand():
    df = _synthetic()
    r = R.rank_measures(df, ["x.good"], pairs=False, n_boot=200, seed=5, level=0.9)
    row = r[(r.scope == "a") & (r.cv == "loo") & (r.measures == "x.good")].iloc[0]
    sub = df[(df.kind == "perturbed") & (df.architecture == "a")].reset_index(drop=True)
    X = np.column_stack([np.ones(len(sub)), sub["x.good"]])
    y = sub["glue_average"].to_numpy()
    e = _explicit_loo(X, y)
    e0 = _explicit_loo(X[:, :1], y)
    assert row.rmse == pytest.approx(np.sqrt(np.mean(e ** 2)))
    assert row.q2 == pytest.approx(1 - np.mean(e ** 2) / np.mean(e0 ** 2))
    # the bootstrap: the same draws, resampled explicitly
    C = R.bootstrap_counts(len(sub), 200, 5)
    rng_free = [np.sqrt(np.sum(c * e ** 2) / c.sum()) for c in C]
    assert (row.rmse_lo, row.rmse_hi) == pytest.approx(tuple(np.quantile(rng_free, [.05, .95])))
    assert C.sum(axis=1).tolist() == [len(sub)] * 200
    # in-sample R^2 is numpy's
    assert row.r2_in == pytest.approx(np.corrcoef(sub["x.good"], y)[0, 1] ** 2)


def test_published_data_ranking():
    from latentgeom.published import import_published

    r = R.rank_table(import_published(PUBLISHED), n_boot=200)
    assert set(r.variant) == {"authors"}
    assert set(r.scope) == {"bert-small", "bert-base", "roberta", "pooled"}
    loo = r[(r.cv == "loo") & (r.n_measures == 1)].set_index(["scope", "measures"])
    # BERT-small, the paper's headline (Table 2: r = -0.90 for additive PP): out of sample
    # too, PP is the best single measure there, q2 close to its in-sample r^2
    pp = loo.loc[("bert-small", "additive.PP")]
    assert pp["rank"] == 1 and pp.n == 125
    assert pp.r2_in == pytest.approx(0.90 ** 2, abs=0.02)
    assert 0.7 < pp.q2 < pp.r2_in
    # docs/geometry-and-ranking.md: on RoBERTa and pooled another measure ranks first, but its
    # lead over PP is within the paired interval
    for scope, best in (("roberta", "additive.PD_EEE"), ("pooled", "product.RI")):
        row = loo.loc[(scope, best)]
        assert row["rank"] == 1 and row.d_lo < 0 < row.d_hi
    # ... and the best pair everywhere but BERT-base is EEE + IsoScore, well ahead of every single
    # measure although IsoScore alone predicts nothing (q2 about 0)
    pairs = r[(r.cv == "loo") & (r.n_measures == 2) & (r["rank"] == 1)].set_index("scope")
    for scope in ("bert-small", "roberta", "pooled"):
        assert pairs.loc[scope, "measures"] == "spread.EEE + spread.IS"
        best_single = loo.xs(scope, level="scope").q2.max()
        assert pairs.loc[scope, "q2_lo"] > best_single
        assert loo.loc[(scope, "spread.IS")].q2 < 0.15


def test_too_few_models_give_an_empty_table_with_its_columns(tmp_path):
    from latentgeom.stages import ranking_stage

    df = _synthetic(n_per=2)
    df = df[df.architecture == "a"]  # two perturbed models
    assert list(R.rank_measures(df, ["x.good"]).columns) == list(R.COLUMNS)
    df.to_csv(tmp_path / "models.csv", index=False)
    t = ranking_stage(table_path=str(tmp_path / "models.csv"),
                      out_table=str(tmp_path / "ranking.csv"),
                      out_figure=str(tmp_path / "ranking.png"), bootstrap=10)
    assert t.empty and (tmp_path / "ranking.png").stat().st_size > 1000
    assert list(pd.read_csv(tmp_path / "ranking.csv").columns) == ["variant", *R.COLUMNS]


def test_cli_ranks_the_published_data(tmp_path):
    from latentgeom.cli import main

    table = tmp_path / "models.csv"
    assert main(["import-published", str(PUBLISHED), "--out", str(table)]) == 0
    assert main(["rank", str(table), "--out", str(tmp_path / "ranking.csv"), "--figure",
                 str(tmp_path / "ranking.png"), "--bootstrap", "50", "--folds", "4",
                 "--no-pairs"]) == 0
    r = pd.read_csv(tmp_path / "ranking.csv")
    assert set(r.cv) == {"loo", "alpha_kfold"} and (r.reference == "additive.PP").all()
    assert set(r.n_measures) == {0, 1}
    assert (tmp_path / "ranking.pdf").stat().st_size > 1000
