"""The model grid."""
import pytest

from latentgeom.pipeline import model_name, model_table


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
