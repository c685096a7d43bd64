"""Quantizer sensitivity (latentgeom.sensitivity): the grid, its checks, r per setting, figure."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentgeom import sensitivity as sv
from latentgeom.analysis import QUANTIZED


def _config(**sens):
    return {"quantize": {"quantizers": {"additive": {"method": "lsq", "M": 4, "nbits": 8},
                                        "product": {"method": "pq", "M": 4, "nbits": 8}},
                         "train_size": None, "sensitivity": sens}}


def test_grid_names_and_specs():
    grid = sv.sensitivity_quantizers(_config(methods=["pq", "lsq"], M=[8, 2, 4, 16],
                                             nbits=[4, 6, 8]))
    assert len(grid) == 2 * 4 * 3
    assert grid["pq_M8_K64"] == {"method": "pq", "M": 8, "nbits": 6}
    assert grid["lsq_M2_K16"] == {"method": "lsq", "M": 2, "nbits": 4}
    assert {"pq_M4_K256", "lsq_M4_K256"} <= set(grid)  # the paper's point is one of them
    assert sv.parse_setting("lsq_M16_K256") == {"method": "lsq", "M": 16, "K": 256, "nbits": 8}
    with pytest.raises(ValueError):
        sv.parse_setting("pq_M4_K100")


def test_grid_off_by_default_and_name_clash():
    assert sv.sensitivity_quantizers(_config()) == {}
    assert sv.sensitivity_quantizers(_config(methods=[], M=[2])) == {}
    cfg = _config(methods=["pq"], M=[2], nbits=[4])
    cfg["quantize"]["quantizers"]["pq_M2_K16"] = {"method": "pq"}
    with pytest.raises(ValueError, match="taken"):
        sv.sensitivity_quantizers(cfg)


def test_preflight_checks_the_grid(tiny_bert):
    from latentgeom.pipeline import model_table
    from latentgeom.preflight import ConfigError, check_config

    cfg = _config(methods=["pq"], M=[2, 3], nbits=[4])
    cfg["models"] = {"bases": {"t": {"source": f"path:{tiny_bert}", "architecture": "t",
                                     "alphas": [0.0]}}}
    cfg["quantize"]["quantizers"]["product"]["M"] = 2
    cfg["quantize"]["quantizers"]["additive"]["M"] = 2
    with pytest.raises(ConfigError, match=r"sensitivity.M \(pq_M3_K16\) = 3 does not divide"):
        check_config(cfg, model_table(cfg))
    cfg["quantize"]["sensitivity"]["M"] = [2, 4]
    check_config(cfg, model_table(cfg))  # 32 is divisible by 2 and 4
    cfg["quantize"]["train_size"] = 100
    for q in cfg["quantize"]["quantizers"].values():
        q["nbits"] = 4
    cfg["quantize"]["sensitivity"]["nbits"] = [4, 7]
    with pytest.raises(ConfigError, match="K = 128 centroids but quantize.train_size = 100"):
        check_config(cfg, model_table(cfg))


def _tables(settings=("pq_M2_K16", "pq_M4_K16", "lsq_M2_K16", "pq_M2_K64")):
    rng = np.random.default_rng(0)
    models = pd.DataFrame({"model": [f"m{i}" for i in range(5)] + ["ns"],
                           "architecture": ["a"] * 3 + ["b"] * 2 + ["a"],
                           "kind": ["perturbed"] * 5 + ["nonstandard"],
                           "glue_average": [0.9, 0.7, 0.5, 0.8, 0.6, 0.4]})
    rows = []
    for m in models.model:
        for s in settings:
            p = sv.parse_setting(s)
            row = {"model": m, "setting": s, "method": p["method"], "M": p["M"], "K": p["K"]}
            row.update({k: rng.random() for k in QUANTIZED})
            row.update({"authors:" + k: rng.random() for k in QUANTIZED})
            rows.append(row)
    return models, pd.DataFrame(rows)


def test_r_per_setting_table_shape():
    models, table = _tables()
    pear = sv.sensitivity_pearson(models, table)
    # settings x architectures x definitions x measures; non-standard models left out
    assert len(pear) == 4 * 2 * 2 * len(QUANTIZED)
    assert list(pear.columns) == ["setting", "method", "M", "K", "variant", "measure",
                                  "architecture", "n", "r"]
    a = pear[pear.architecture == "a"]
    assert (a.n == 3).all() and a.r.between(-1, 1).all()
    assert pear[pear.architecture == "b"].r.isna().all()  # two models: no r
    # r is the plain Pearson r of the setting's measure with the GLUE average
    sel = table[(table.setting == "pq_M4_K16") & table.model.isin(["m0", "m1", "m2"])]
    expect = np.corrcoef(sel["PP"], [0.9, 0.7, 0.5])[0, 1]
    got = pear[(pear.setting == "pq_M4_K16") & (pear.architecture == "a")
               & (pear.variant == "paper") & (pear.measure == "PP")].r.item()
    assert got == pytest.approx(expect)
    with pytest.raises(ValueError, match="not in models.csv"):
        sv.sensitivity_pearson(models[models.model != "m0"], table)


def test_sensitivity_figure(tmp_path):
    from matplotlib.image import imread

    from latentgeom.plots import figure_sensitivity

    models, table = _tables()
    paths = figure_sensitivity(sv.sensitivity_pearson(models, table), tmp_path / "s")
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    img = imread(paths[0])
    assert img.shape[0] > 500 and img.shape[1] > 300 and img.std() > 0


def test_sensitivity_figure_without_any_r(tmp_path):
    """Two perturbed models give no r at all: the figure still draws (empty panels)."""
    from latentgeom.plots import figure_sensitivity

    models, table = _tables(("pq_M2_K16", "pq_M4_K16"))
    pear = sv.sensitivity_pearson(models[models.architecture == "b"],
                                  table[table.model.isin(["m3", "m4"])])
    assert pear.r.isna().all()
    assert figure_sensitivity(pear, tmp_path / "s")[0].stat().st_size > 1000
