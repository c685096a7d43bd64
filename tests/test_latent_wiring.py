"""models.bases.<b>.perturbation: latent in the pipeline (docs/latent-noise.md): names, the
alpha-0 reference that gives sigma, the tables' alpha/perturbation columns, and the DAG."""
from __future__ import annotations

import pandas as pd
import pytest
import yaml

from latentgeom import defaults
from latentgeom.latentnoise import mark_perturbation, table_fields
from latentgeom.pipeline import model_table


def _cfg(**latent):
    base = {"source": "packaged:x", "architecture": "bert", "alphas": [0.0, 0.1], "seeds": [0, 1]}
    return {"embed": {"layer": -1},
            "models": {"bases": {"b": dict(base), "c": {**base, "perturbation": "latent",
                                                        **latent}}}}


def test_schema_default_is_weights():
    assert defaults.default("models.bases.*.perturbation") == "weights"
    assert defaults.node("models.bases.*.perturbation")["enum"] == ["weights", "latent"]


def test_latent_names_architecture_and_reference():
    t = model_table(_cfg())
    assert sorted(t) == ["b_a0.1_s0", "b_a0.1_s1", "b_a0_s0",
                         "c_latent_a0.1_s0", "c_latent_a0.1_s1", "c_latent_a0_s0"]
    for n in ("b_a0.1_s0", "b_a0_s0"):  # weights-kind records as before
        assert "perturbation" not in t[n] and t[n]["architecture"] == "bert"
    for n in ("c_latent_a0.1_s1", "c_latent_a0_s0"):
        assert t[n]["perturbation"] == "latent" and t[n]["architecture"] == "bert+latent"
        assert t[n]["latent_ref"] == "c_latent_a0_s0" and t[n]["kind"] == "perturbed"
    assert t["c_latent_a0.1_s1"]["alpha"] == 0.1 and t["c_latent_a0.1_s1"]["seed"] == 1


def test_latent_needs_alpha_zero_and_a_block_layer():
    with pytest.raises(ValueError, match=r"models.bases.c: .*alpha 0"):
        model_table(_cfg(alphas=[0.1]))
    cfg = _cfg()
    cfg["embed"]["layer"] = 0
    with pytest.raises(ValueError, match=r"embed.layer != 0"):
        model_table(cfg)


def test_table_fields_and_column():
    assert table_fields({"alpha": 0.1, "kind": "perturbed"}) == {}
    assert table_fields({"alpha": 0.0, "perturbation": "latent", "latent_alpha": 0.3}) == \
        {"alpha": 0.3, "perturbation": "latent"}
    assert table_fields({"alpha": 0.0, "perturbation": "latent",
                         "latent_noise": {"alpha": 0.7}})["alpha"] == 0.7
    assert table_fields({"alpha": 0.0, "perturbation": "latent"})["alpha"] == 0.0
    plain = pd.DataFrame({"model": ["a"], "seed": [0], "x.y": [1.0]})
    assert mark_perturbation(plain.copy()).equals(plain)  # weights only: no column
    mixed = pd.DataFrame([{"model": "a", "seed": 0, "x.y": 1.0},
                          {"model": "b", "seed": 0, "perturbation": "latent", "x.y": 2.0}])
    out = mark_perturbation(mixed)
    assert list(out.columns) == ["model", "seed", "perturbation", "x.y"]
    assert out.perturbation.tolist() == ["weights", "latent"]


def test_dry_run_plans_perturb_latent(tmp_path):
    from test_workflow import REPO, planned

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    base = cfg["models"]["bases"]["minilm"]
    cfg["models"]["bases"]["minilmL"] = {**base, "perturbation": "latent"}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    n = len(model_table(yaml.safe_load((REPO / "config/config.yaml").read_text())))
    jobs = planned("--directory", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"))
    n_latent = sum(1 for m in model_table(cfg).values() if m.get("perturbation") == "latent")
    assert n_latent > 1 and jobs["perturb_latent"] == n_latent
    assert jobs["perturb"] + jobs.get("nonstandard", 0) == n  # the weights models as before
    assert jobs["embed"] == n + n_latent
