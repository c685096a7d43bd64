"""benchmarks/engines_demo.py: the demo's Table 2 under two engines, compared."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import engines_demo  # noqa: E402

from latentgeom.analysis import pearson_ci  # noqa: E402


def results_dir(root: Path, engine: str, glue: list[float], pp: list[float]) -> Path:
    """A results directory with what the script reads: Table 2, pearson.csv, the GLUE and model
    tables, metrics.json per fine-tune and Snakemake's benchmark files."""
    (root / "analysis").mkdir(parents=True)
    (root / "tables").mkdir()
    (root / "benchmarks/glue").mkdir(parents=True)
    names = [f"m{i}" for i in range(len(glue))]
    r, p, lo, hi = pearson_ci(pp, glue)
    pd.DataFrame([{"group": "additive", "measure": "additive.PP", "n_arch": len(glue),
                   "r_arch": r, "variant": "paper"}]).to_csv(root / "analysis/table2.csv")
    pd.DataFrame([{"variant": "paper", "measure": "additive.PP", "architecture": "arch",
                   "n": len(glue), "r": r, "ci_low": lo, "ci_high": hi, "p": p}]).to_csv(
        root / "analysis/pearson.csv", index=False)
    base = pd.DataFrame({"model": names, "kind": "perturbed", "architecture": "arch",
                         "alpha": np.arange(len(glue)) / 10, "seed": 0})
    base.assign(task=glue, glue_average=glue).to_csv(root / "tables/glue.csv", index=False)
    base.assign(glue_average=glue, **{"additive.PP": pp}).to_csv(root / "tables/models.csv",
                                                                   index=False)
    for n in names:
        d = root / "glue" / n / "task"
        d.mkdir(parents=True)
        d.joinpath("metrics.json").write_text(json.dumps(
            {"model": n, "task": "task", "n_train": 10, "hyperparameters": {"engine": engine},
             "train": {"seconds": 2.0, "epochs": 3}}))
        (root / f"benchmarks/glue/{n}_task.tsv").write_text(
            "s\th:m:s\tcpu_time\n4.0\t0:00:04\t3.0\n")
    return root


def test_an_r_outside_the_other_engines_interval_is_flagged(tmp_path, capsys):
    pp = [1, 2, 3, 4, 5, 6, 7, 8]
    a = engines_demo.load(results_dir(tmp_path / "a", "fast",
                                      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8], pp))
    b = engines_demo.load(results_dir(tmp_path / "b", "run_glue",
                                      [0.5, 0.1, 0.6, 0.2, 0.3, 0.7, 0.4, 0.5], pp))
    r = engines_demo.compare_r(a, b).iloc[0]
    assert r["r_a"] == pytest.approx(1.0)
    # fast's r = 1 lies above run_glue's whole interval; run_glue's r below fast's (a point)
    assert r["r_a"] > r["ci_high_b"] and r["flag"] == "AB"
    scores, tasks = engines_demo.compare_scores(a, b)
    assert tasks == ["task", "glue_average"]
    assert scores["task_d"].tolist() == pytest.approx([0.4, -0.1, 0.3, -0.2, -0.2, 0.1, -0.3,
                                                       -0.3])
    engines_demo.print_tables(a, b)
    out = capsys.readouterr().out
    assert "1 outside the other engine's interval" in out
    assert "| fast | 8 | 32 | 24 | 16 | 15.0 |" in out  # 8 jobs x 4 s; 240 examples / 16 s


def test_agreeing_engines_flag_nothing_and_a_mixed_directory_is_refused(tmp_path):
    pp = [1, 2, 3, 4, 5, 6]
    a = engines_demo.load(results_dir(tmp_path / "a", "fast", [0.1, 0.3, 0.2, 0.5, 0.4, 0.6], pp))
    b = engines_demo.load(results_dir(tmp_path / "b", "run_glue",
                                      [0.1, 0.3, 0.25, 0.5, 0.4, 0.6], pp))
    assert engines_demo.compare_r(a, b)["flag"].tolist() == [""]
    m = tmp_path / "b/glue/m0/task/metrics.json"
    m.write_text(m.read_text().replace("run_glue", "fast"))
    with pytest.raises(SystemExit, match="several engines"):
        engines_demo.engine_of(tmp_path / "b")
