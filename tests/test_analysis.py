"""Statistics: hand-made tables with known answers, and the paper's Table 2 from the authors' data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentgeom import analysis as A

PAPER_BERT_SMALL = {  # Table 2, BERT-SMALL column
    "additive.PP": 0.902, "additive.PC_var": 0.901, "additive.PC_kl": 0.890,
    "additive.RS": 0.461, "additive.RE": 0.334, "additive.RI": 0.695,
    "additive.CD_var": 0.537, "additive.PD_EEE": -0.429,
    "product.PP": 0.326, "product.PC_var": 0.327, "product.PC_kl": 0.260,
    "product.RS": -0.123, "product.RE": 0.420, "product.RI": 0.808,
    "product.CD_var": 0.342, "product.PD_EEE": -0.456,
    "spread.EEE": -0.557, "spread.VRM": -0.573, "spread.IS": -0.078,
}


def test_published_table2_bert_small_column(published):
    df = A.import_published(published)
    assert (df.kind == "perturbed").sum() == 135 and (df.kind == "nonstandard").sum() == 13
    res = A.analyze(df)
    t2 = res["table2"].set_index("measure")
    assert set(PAPER_BERT_SMALL) <= set(t2.index)
    for m, r in PAPER_BERT_SMALL.items():
        assert t2.loc[m, "n_bert-small"] == 125
        assert t2.loc[m, "r_bert-small"] == pytest.approx(r, abs=1e-3), m
    assert list(res["table1"].measure) == list(A.TABLE1)
    preds = res["predictions"]
    assert set(preds.model) == set(df[df.kind == "nonstandard"].model)


def _toy(noise=0.0):
    """glue = 2 * x + offset(arch), two architectures, plus non-standard rows."""
    rng = np.random.default_rng(0)
    rows = []
    for arch, off in (("small", 0.1), ("base", 0.3)):
        for i, x in enumerate(np.linspace(0, 1, 8)):
            rows.append({"model": f"{arch}_{i}", "architecture": arch, "kind": "perturbed",
                         "alpha": x, "seed": 0, "additive.PP": x,
                         "spread.EEE": x ** 2 + 0.01 * i,
                         "glue_average": 2 * x + off + noise * rng.standard_normal()})
    rows.append({"model": "ns1", "architecture": "small", "kind": "nonstandard",
                 "additive.PP": 0.5, "spread.EEE": 0.3, "glue_average": 1.2})
    rows.append({"model": "ns2", "architecture": "base", "kind": "nonstandard",
                 "additive.PP": 0.25, "spread.EEE": 0.1, "glue_average": 0.8})
    rows.append({"model": "ns3", "architecture": "other", "kind": "nonstandard",
                 "additive.PP": 0.25, "spread.EEE": 0.1, "glue_average": 0.8})
    return pd.DataFrame(rows)


def test_exact_linear_relation_with_architecture_offsets():
    df = _toy()
    fit = A.fit_ols(df, "additive.PP", True)
    assert fit.rsquared == pytest.approx(1.0)
    assert fit.params['Q("additive.PP")'] == pytest.approx(2.0)
    res = A.analyze(df, outliers=["ns2"])
    row = res["table2"].set_index("measure").loc["additive.PP"]
    assert row["r_small"] == pytest.approx(1.0) and row["r_base"] == pytest.approx(1.0)
    assert row["n_small"] == 8 and row["r2_arch"] == pytest.approx(1.0)
    # + architecture: ns1 predicted 2*0.5+0.1 = 1.1 (obs 1.2), ns2 2*0.25+0.3 = 0.8 (exact);
    # ns3's architecture is unknown to the fit: no prediction, left out of the MSE.
    assert row["lm_mse"] == pytest.approx((0.1 ** 2 + 0.0) / 2)
    assert row["lm_mse_filtered"] == pytest.approx(0.1 ** 2)
    p = res["predictions"].set_index(["model", "measure"])
    assert p.loc[("ns2", "additive.PP"), "predicted"] == pytest.approx(0.8)
    assert np.isnan(p.loc[("ns3", "additive.PP"), "predicted"])
    # Without architecture: glue = 2x + 0.2, all three predicted.
    no_arch = A.fit_ols(df, "additive.PP", False)
    assert no_arch.params['Q("additive.PP")'] == pytest.approx(2.0)
    expected = np.mean([(1.2 - 1.2) ** 2, (0.8 - 0.7) ** 2, (0.8 - 0.7) ** 2])
    assert row["lm_mse_no_arch"] == pytest.approx(expected)
    assert row["r2"] == pytest.approx(np.corrcoef(df[df.kind == "perturbed"]["additive.PP"],
                                                  df[df.kind == "perturbed"].glue_average)[0, 1] ** 2)


def test_pearson_and_fisher_interval():
    df = _toy(noise=0.3)
    pear = A.pearson_by_architecture(df, ["additive.PP"]).set_index("architecture")
    g = df[(df.kind == "perturbed") & (df.architecture == "small")]
    r = np.corrcoef(g["additive.PP"], g.glue_average)[0, 1]
    assert pear.loc["small", "r"] == pytest.approx(r)
    z, se = np.arctanh(r), 1 / np.sqrt(8 - 3)
    assert pear.loc["small", "ci_low"] == pytest.approx(np.tanh(z - 1.959963984540054 * se))
    assert pear.loc["small", "ci_high"] == pytest.approx(np.tanh(z + 1.959963984540054 * se))


def test_join_and_errors():
    m = pd.DataFrame({"model": ["a", "b"], "architecture": ["x", "x"], "kind": ["perturbed"] * 2,
                      "alpha": [0, 1], "seed": [0, 0], "spread.EEE": [0.1, 0.2]})
    g = pd.DataFrame({"model": ["b", "a"], "glue.cola": [0.1, 0.5], "glue_average": [0.3, 0.6]})
    j = A.join_tables(m, g)
    assert list(j.columns) == ["model", "architecture", "kind", "alpha", "seed", "glue.cola",
                               "glue_average", "spread.EEE"]
    assert j.set_index("model").loc["a", "glue_average"] == 0.6
    with pytest.raises(ValueError, match="only in GLUE"):
        A.join_tables(m, pd.concat([g, g.assign(model="c")]))
    with pytest.raises(ValueError, match="missing columns"):
        A.analyze(m)


def test_writers_and_markdown(tmp_path):
    res = A.analyze(_toy())
    paths = A.write_results(res, tmp_path)
    assert all(p.stat().st_size > 0 for p in paths)
    md = (tmp_path / "table2.md").read_text()
    assert md.startswith("| group | measure |") and "additive.PP" in md
    t2 = pd.read_csv(tmp_path / "table2.csv")
    assert {"measure", "n_small", "r_small", "r_base", "lm_mse", "lm_mse_no_arch",
            "lm_mse_filtered", "r2", "r2_arch"} <= set(t2.columns)


def test_cli_import_and_analyze(published, tmp_path):
    from latentgeom.cli import main

    assert main(["import-published", str(published), "--out", str(tmp_path / "t.csv")]) == 0
    assert main(["analyze", str(tmp_path / "t.csv"), "--out", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "table1.csv").is_file()
