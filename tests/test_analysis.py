"""Statistics: hand-made tables with known answers; the paper's Table 2 from the authors' data."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from latentgeom import analysis as A
from latentgeom.published import import_published

DATA = Path(__file__).resolve().parent / "data" / "published"  # the authors' files, unchanged

# The paper's Table 2 as printed: (BERT-small r, RoBERTa r, LM MSE) per measure.
PAPER_TABLE2 = {
    "additive.PP": (0.902, 0.640, 0.089), "additive.PC_var": (0.901, 0.652, 0.082),
    "additive.PC_kl": (0.890, 0.228, 0.058), "additive.RS": (0.461, -0.574, 0.039),
    "additive.RE": (0.334, 0.227, 0.023), "additive.RI": (0.695, -0.051, 0.116),
    "additive.CD_var": (0.537, -0.292, 0.053), "additive.PD_EEE": (-0.429, -0.764, 0.017),
    "product.PP": (0.326, -0.418, 0.029), "product.PC_var": (0.327, -0.415, 0.029),
    "product.PC_kl": (0.260, 0.496, 0.032), "product.RS": (-0.123, -0.184, 0.034),
    "product.RE": (0.420, 0.001, 0.024), "product.RI": (0.808, 0.514, 0.082),
    "product.CD_var": (0.342, -0.422, 0.037), "product.PD_EEE": (-0.456, -0.705, 0.026),
    "spread.EEE": (-0.557, -0.535, 0.054), "spread.VRM": (-0.573, -0.534, 0.016),
    "spread.IS": (-0.078, -0.398, 0.035),
}
# Table 1 as printed: the same numbers for its five rows.
PAPER_TABLE1 = {"additive.PP": (0.902, 0.640, 0.089), "additive.RS": (0.461, -0.574, 0.039),
                "additive.CD_var": (0.537, -0.292, 0.053),
                "additive.PD_EEE": (-0.429, -0.764, 0.017), "spread.EEE": (-0.557, -0.535, 0.054)}
# Cells where the print disagrees with the authors' own data (listed in the README).
PRINT_NOT_DATA = {("additive.RS", "r_roberta"): 0.574, ("product.PC_kl", "r_roberta"): -0.496,
                  ("spread.EEE", "lm_mse"): 0.023}
COLUMNS = ("r_bert-small", "r_roberta", "lm_mse")


def printed_as(value: float, printed: float) -> bool:
    """The paper prints 3 decimals, sometimes rounded (0.9018 -> 0.902), sometimes truncated
    (0.4618 -> 0.461): ``printed`` must be one of the two."""
    return any(abs(printed - v) < 1e-9 for v in (round(value, 3), math.trunc(value * 1e3) / 1e3))


@pytest.fixture(scope="module")
def published_analysis():
    df = import_published(DATA)
    return df, A.analyze_all(df)


def test_published_data_reproduce_every_cell_of_table2(published_analysis):
    df, res = published_analysis
    counts = df.groupby(["architecture", "kind"]).size().to_dict()
    assert counts == {("bert-small", "perturbed"): 128, ("bert-base", "perturbed"): 7,
                      ("roberta", "perturbed"): 36, ("bert-small", "nonstandard"): 1,
                      ("bert-base", "nonstandard"): 5, ("roberta", "nonstandard"): 7}
    assert res["primary"] == "authors" and list(res["variants"]) == ["authors"]
    t2 = res["variants"]["authors"]["table2"].set_index("measure")
    assert list(t2.index) == list(PAPER_TABLE2)
    for m, printed in PAPER_TABLE2.items():
        assert t2.loc[m, "n_bert-small"] == 125, m  # the caption's n (3 rows lack measures)
        # RoBERTa: n = 36, except RS and RI, which roberta-base_4.5_1 lacks
        assert t2.loc[m, "n_roberta"] == (35 if m.split(".")[1] in ("RS", "RI") else 36), m
        assert t2.loc[m, "n_nonstandard"] == 13, m
        for col, p in zip(COLUMNS, printed):
            value = t2.loc[m, col]
            if (m, col) in PRINT_NOT_DATA:
                assert not printed_as(value, p), (m, col, value, p)
                assert round(value, 3) == PRINT_NOT_DATA[(m, col)], (m, col, value)
            else:
                assert printed_as(value, p), (m, col, value, p)


def test_published_data_reproduce_table1(published_analysis):
    _, res = published_analysis
    t1 = res["variants"]["authors"]["table1"].set_index("measure")
    assert list(t1.index) == list(A.TABLE1) == list(PAPER_TABLE1)
    for m, printed in PAPER_TABLE1.items():
        for col, p in zip(COLUMNS, printed):
            if (m, col) not in PRINT_NOT_DATA:
                assert printed_as(t1.loc[m, col], p), (m, col)
    preds = res["variants"]["authors"]["predictions"]
    assert len(set(preds.model)) == 13


def test_published_dropped_rows_are_named(published_analysis):
    _, res = published_analysis
    pear = res["variants"]["authors"]["pearson"].set_index(["measure", "architecture"])
    assert pear.loc[("additive.RS", "roberta"), "dropped"] == \
        "roberta-base_4.5_1 (additive.RS NaN)"
    assert "bert-small_9_3 (spread.EEE NaN)" in pear.loc[("spread.EEE", "bert-small"), "dropped"]
    assert pear.loc[("additive.PP", "roberta"), "dropped"] == ""


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
    pert = df[df.kind == "perturbed"]
    r = np.corrcoef(pert["additive.PP"], pert.glue_average)[0, 1]
    assert row["r2"] == pytest.approx(r**2)


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
    # no wall clock in an artifact: statsmodels' Date/Time values are blanked, the rest kept
    ols = (tmp_path / "ols_summaries.txt").read_text()
    clock = [ln for ln in ols.splitlines() if ln.startswith(("Date:", "Time:"))]
    assert clock and not any(ch.isdigit() for ln in clock for ch in ln.split("   ")[0])
    assert "Log-Likelihood:" in ols and "No. Observations:" in ols


def test_cli_import_and_analyze(tmp_path, capsys):
    from latentgeom.cli import main

    assert main(["import-published", str(DATA), "--out", str(tmp_path / "t.csv")]) == 0
    assert main(["analyze", str(tmp_path / "t.csv"), "--out", str(tmp_path / "a")]) == 0
    assert (tmp_path / "a" / "table1.csv").is_file()
    assert (tmp_path / "a" / "table2_authors.csv").is_file()  # the only definition present
    assert not (tmp_path / "a" / "table2_paper.csv").exists()
    assert main(["analyze", str(tmp_path / "t.csv"), "--out", str(tmp_path / "b"),
                 "--variant", "paper"]) == 2
    assert "no such measure columns" in capsys.readouterr().err


def test_duplicate_model_names_are_an_error():
    df = _toy()
    with pytest.raises(ValueError, match=r"more than once: small_3"):
        A.analyze(pd.concat([df, df.iloc[[3]]], ignore_index=True))
    with pytest.raises(ValueError, match=r"small_3"):
        A.analyze_all(pd.concat([df, df.iloc[[3]]], ignore_index=True))


def test_dropped_rows_reported_per_measure(caplog, tmp_path):
    df = _toy()
    df.loc[df.model == "small_2", "glue_average"] = np.nan
    df.loc[df.model == "base_5", "additive.PP"] = np.inf
    df.loc[df.model == "ns1", "additive.PP"] = np.nan
    with caplog.at_level("WARNING", logger="latentgeom.analysis"):
        res = A.analyze(df)
    pear = res["pearson"].set_index(["measure", "architecture"])
    assert pear.loc[("additive.PP", "small"), "dropped"] == "small_2 (glue_average NaN)"
    assert pear.loc[("additive.PP", "small"), "n"] == 7
    assert pear.loc[("additive.PP", "base"), "dropped"] == "base_5 (additive.PP +inf)"
    assert pear.loc[("spread.EEE", "base"), "dropped"] == ""
    text = caplog.text
    assert "additive.PP, small: 1 of 8 perturbed models left out: small_2 (glue_average NaN)" \
        in text
    assert "additive.PP, base: 1 of 8 perturbed models left out: base_5 (additive.PP +inf)" \
        in text
    assert "ns1 (additive.PP NaN)" in text and "ns3 (architecture 'other'" in text
    A.write_results(res, tmp_path)
    assert "dropped" in pd.read_csv(tmp_path / "pearson.csv").columns


def _two_variants():
    df = _toy()
    rng = np.random.default_rng(1)
    df["authors:additive.PP"] = -df["additive.PP"] + 0.01 * rng.standard_normal(len(df))
    df["authors:spread.EEE"] = df["spread.EEE"]
    return df


def test_both_variants_analysed_and_primary_selected(tmp_path):
    df = _two_variants()
    assert A.variants_present(df) == ["paper", "authors"]
    assert A.measure_columns(df) == ["additive.PP", "spread.EEE"]
    assert A.measure_columns(df, "authors") == ["authors:additive.PP", "authors:spread.EEE"]
    res = A.analyze_all(df, primary="authors")
    paper = res["variants"]["paper"]["table2"].set_index("measure")
    authors = res["variants"]["authors"]["table2"].set_index("measure")
    assert paper.loc["additive.PP", "r_small"] == pytest.approx(1.0)
    assert authors.loc["additive.PP", "r_small"] < -0.99
    assert set(authors.variant) == {"authors"}
    A.write_results(res, tmp_path)
    main = pd.read_csv(tmp_path / "table2.csv")
    assert set(main.variant) == {"authors"}
    assert set(pd.read_csv(tmp_path / "table2_paper.csv").variant) == {"paper"}
    assert (tmp_path / "table1_authors.md").is_file()
    assert set(pd.read_csv(tmp_path / "pearson.csv").variant) == {"paper", "authors"}
    with pytest.raises(ValueError, match="no such measure columns"):
        A.analyze_all(df.drop(columns=["authors:additive.PP", "authors:spread.EEE"]),
                      primary="authors")
    joined = A.join_tables(df.drop(columns=["glue_average"]), df[["model", "glue_average"]])
    assert joined.columns[-4:].tolist() == ["additive.PP", "spread.EEE", "authors:additive.PP",
                                            "authors:spread.EEE"]


def test_measures_json_flattens_to_both_column_sets():
    from latentgeom.stages import flatten_measures

    m = {"spread": {"EEE": 0.5}, "additive": {"PP": 1.1},
         "authors": {"spread": {"EEE": 0.4}, "additive": {"PP": 1.0}}, "provenance": {"x": 1}}
    flat = flatten_measures(m)
    assert flat == {"spread.EEE": 0.5, "additive.PP": 1.1, "authors:spread.EEE": 0.4,
                    "authors:additive.PP": 1.0}
    assert A.variants_present(pd.DataFrame([flat])) == ["paper", "authors"]
