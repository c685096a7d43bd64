"""rehearsal/check.py (the last step of `make rehearsal`): passes on a complete run's table and
fails, naming what is wrong, when a measure of a group is missing or not finite for a model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from latentgeom.pipeline import model_table
from latentgeom.prefetch import read_configs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "rehearsal"))
import check  # noqa: E402

CONFIGS = [ROOT / "config/paper.yaml", ROOT / "rehearsal/sizes.yaml"]


@pytest.fixture
def run(tmp_path):
    """A complete rehearsal's outputs (the engine check left out: no compare_engines)."""
    results = tmp_path / "results"
    over = tmp_path / "over.yaml"
    over.write_text(yaml.safe_dump({"results": str(results), "glue": {"compare_engines": []}}))
    config = read_configs([*CONFIGS, over])
    models = model_table(config)
    rows = [{"model": n, "architecture": m["architecture"], "kind": m["kind"],
             **{f"glue.{t}": 0.5 for t in config["glue"]["tasks"]}, "glue_average": 0.5,
             **{c: 0.25 for c in check.measure_columns(config)}} for n, m in models.items()]
    (results / "tables").mkdir(parents=True)
    pd.DataFrame(rows).to_csv(results / "tables/models.csv", index=False)
    for f in ["analysis/table1.csv", "analysis/table2.csv", "analysis/predictions.csv",
              *[f"figures/figure{i}.{e}" for i in range(1, 12) for e in ("png", "pdf")]]:
        (results / f).parent.mkdir(parents=True, exist_ok=True)
        (results / f).write_text("x")
    return config, results / "tables/models.csv", [str(c) for c in CONFIGS] + [str(over)]


def test_every_measure_of_every_group_in_both_definitions():
    config = read_configs(CONFIGS)
    cols = check.measure_columns(config)
    assert len(cols) == 2 * (3 + 8 * len(config["quantize"]["quantizers"]))
    assert {"spread.IS", "authors:spread.VRM", "additive.PD_EEE", "authors:product.RE"} <= set(cols)


def test_a_complete_run_passes(run, capsys):
    config, _, files = run
    assert check.problems(config) == []
    assert check.main(["--configfile", *files]) == 0
    assert "rehearsal check: OK" in capsys.readouterr().out


def test_a_group_with_only_some_of_its_measures_fails(run, capsys):
    config, table, files = run
    pd.read_csv(table).drop(columns=["product.RE"]).to_csv(table, index=False)
    found = check.problems(config)
    assert found == [f"columns missing from {table}: ['product.RE']"]
    assert check.main(["--configfile", *files]) == 1
    assert "product.RE" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [np.nan, np.inf, "n/a"])
def test_a_measure_not_finite_for_one_model_fails(run, bad):
    config, table, _ = run
    df = pd.read_csv(table).astype({"authors:spread.IS": object})
    model = df["model"].iloc[3]
    df.loc[3, "authors:spread.IS"] = bad
    df.to_csv(table, index=False)
    assert check.problems(config) == [
        f"authors:spread.IS: no finite value for model(s) ['{model}']"]
