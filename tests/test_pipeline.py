"""The model grid."""
import pytest

from latentgeom.pipeline import model_name, model_table, perturbed_models


def _cfg(**base):
    spec = {"source": "x", "architecture": "a", "alphas": [0, 0.1, 0.5], "seeds": [0, 1]}
    spec.update(base)
    return {"models": {"bases": {"b": spec}}}


def test_grid_seeds_and_names():
    t = model_table(_cfg(multi_seed_max_alpha=0.1))
    assert list(t) == ["b_a0_s0", "b_a0.1_s0", "b_a0.1_s1", "b_a0.5_s0"]
    assert t["b_a0.1_s1"]["alpha"] == 0.1 and t["b_a0.1_s1"]["seed"] == 1
    assert len(model_table(_cfg())) == 5  # alpha 0 built once
    assert model_name("bert", 0.005, 2) == "bert_a0.005_s2"


def test_grid_rejects_bad_alpha():
    with pytest.raises(ValueError, match="alpha"):
        model_table(_cfg(alphas=[1.2]))


def test_nonstandard_join_the_table():
    cfg = _cfg()
    cfg["nonstandard"] = {"shuf": {"recipe": "shuffle_embeddings", "architecture": "a",
                                   "source": "x", "seed": 2}}
    t = model_table(cfg)
    assert t["shuf"]["kind"] == "nonstandard" and t["shuf"]["alpha"] is None
    cfg["nonstandard"] = {"b_a0_s0": {"recipe": "untrained", "architecture": "a", "source": "x"}}
    with pytest.raises(ValueError, match="used twice"):
        model_table(cfg)


def test_alphas_added_to_a_grid_name_the_clash_and_the_way_out():
    cfg = {"models": {"bases": {"b": {"source": "x", "architecture": "a",
                                      "grid": [{"alpha": 0.0, "seeds": [0]},
                                               {"alpha": 0.1, "seeds": [0, 1]}],
                                      "alphas": [0.0, 0.5]}}}}
    with pytest.raises(ValueError, match=r"models.bases.b: alpha \[0.0\] is in both.*grid: \[\]"):
        perturbed_models(cfg)
    cfg["models"]["bases"]["b"]["grid"] = []  # what an override file sets to replace the grid
    assert [(m["alpha"], m["seed"]) for m in perturbed_models(cfg)] == [(0.0, 0), (0.5, 0)]
    cfg["models"]["bases"]["b"]["grid"] = [{"alpha": 0.2, "seeds": [3]}]  # disjoint: both used
    assert [(m["alpha"], m["seed"]) for m in perturbed_models(cfg)] == [(0.0, 0), (0.5, 0),
                                                                        (0.2, 3)]
