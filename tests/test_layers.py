"""Layer-wise geometry (latentgeom.layers): layer choice, one forward pass, r per layer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentgeom import layers as ly
from latentgeom.stages import embed_layers_stage, layers_table_stage


def test_resolve_layers():
    assert ly.resolve_layers([-1], 6) == []  # the main (last) layer only: off
    assert ly.resolve_layers([0, 3, -1], 6) == [0, 3]
    assert ly.resolve_layers("all", 6) == [0, 1, 2, 3, 4, 5]
    assert ly.resolve_layers("all", 6, main=2) == [0, 1, 3, 4, 5, 6]
    assert ly.resolve_layers([0, 2], None) == [0, 2]
    with pytest.raises(ValueError, match="depth is unknown"):
        ly.resolve_layers([-2], None)
    with pytest.raises(ValueError, match="outside 0..6"):
        ly.resolve_layers([7], 6)
    with pytest.raises(ValueError, match="'all' needs"):
        ly.resolve_layers("all", None)


def test_config_layers_default_off(tiny_bert):
    from latentgeom.pipeline import model_table

    cfg = {"models": {"bases": {"t": {"source": f"path:{tiny_bert}", "architecture": "t",
                                      "alphas": [0.0]}}},
           "embed": {"layer": -1, "layers": [-1]}}
    assert ly.config_layers(cfg, model_table(cfg)) == ([], None)
    cfg["embed"]["layers"] = "all"
    assert ly.config_layers(cfg, model_table(cfg)) == ([0, 1], 2)  # tiny BERT: 2 layers


def test_one_forward_pass_equals_single_layer_embedding(tmp_path, tiny_bert):
    from latentgeom import embed, models
    from latentgeom.integrity import check_embeddings
    from latentgeom.io import read_json
    from latentgeom.stages import load_matrix, perturb_stage

    perturb_stage(name="t", manifest_path=str(tmp_path / "m.json"), base=tiny_bert, alpha=0.1,
                  seed=0)
    seqs = ["alpha beta gamma", "delta epsilon zeta eta theta", "iota kappa", "mu nu xi o pi"]
    (tmp_path / "s.txt").write_text("\n".join(seqs) + "\n")
    outs = [str(tmp_path / f"L{i}" / "embeddings.npy") for i in (0, 1)]
    embed_layers_stage(manifest_path=str(tmp_path / "m.json"),
                          sequences_path=str(tmp_path / "s.txt"), out_paths=outs, layers=[0, 1],
                          batch_size=3, device="cpu")
    model, tok = models.load_from_manifest(read_json(tmp_path / "m.json"))
    for path, layer in zip(outs, (0, 1)):
        check_embeddings(path)  # the recorded fingerprint matches
        X = load_matrix(path)
        ref, lengths = embed.embed_sequences(model, tok, seqs, layer=layer, batch_size=1,
                                             device="cpu", progress=False)
        assert X.dtype == np.float32 and X.shape == ref.shape
        assert np.allclose(X, ref, atol=1e-5)
        meta = read_json(path.replace(".npy", ".json"))
        assert meta["layer"] == layer and meta["lengths"] == lengths.tolist()
    assert not np.allclose(load_matrix(outs[0]), load_matrix(outs[1]))


def _tables():
    models = pd.DataFrame({"model": [f"m{i}" for i in range(5)] + ["ns"],
                           "architecture": "a", "kind": ["perturbed"] * 5 + ["nonstandard"],
                           "glue_average": [0.9, 0.8, 0.6, 0.5, 0.3, 0.4]})
    rng = np.random.default_rng(0)
    rows = []
    for layer in (0, 1, 2):
        for m in models.model:
            rows.append({"model": m, "layer": layer, "spread.EEE": rng.random(),
                         "additive.PP": rng.random(), "authors:spread.EEE": rng.random()})
    return pd.DataFrame(rows), models


def test_layer_pearson_shape_and_values():
    table, models = _tables()
    pear = ly.layer_pearson(table, models)
    assert len(pear) == 3 * 3  # layers x measure columns (one architecture)
    assert list(pear.columns) == ["layer", "variant", "measure", "architecture", "n", "r",
                                  "ci_low", "ci_high"]
    assert (pear.n == 5).all() and (pear.ci_low <= pear.r).all() and (pear.r <= pear.ci_high).all()
    sel = table[(table.layer == 1) & (table.model != "ns")]
    got = pear[(pear.layer == 1) & (pear.measure == "spread.EEE") & (pear.variant == "paper")]
    assert got.r.item() == pytest.approx(np.corrcoef(sel["spread.EEE"],
                                                     [0.9, 0.8, 0.6, 0.5, 0.3])[0, 1])


def test_layers_figure(tmp_path):
    from matplotlib.image import imread

    from latentgeom.plots import figure_layers

    table, models = _tables()
    paths = figure_layers(ly.layer_pearson(table, models), tmp_path / "layers")
    img = imread(paths[0])
    assert img.shape[0] > 200 and img.std() > 0


def test_layers_figure_without_any_r(tmp_path):
    from latentgeom.plots import figure_layers

    table, models = _tables()
    keep = ["m0", "m1"]
    pear = ly.layer_pearson(table[table.model.isin(keep)], models[models.model.isin(keep)])
    assert pear.r.isna().all()
    assert figure_layers(pear, tmp_path / "l")[0].stat().st_size > 1000


def test_layers_table_long_format(tmp_path):
    from latentgeom.io import write_json

    main = pd.DataFrame({"model": ["a", "b"], "architecture": "x", "kind": "perturbed",
                         "alpha": [0.0, 0.5], "seed": 0, "spread.EEE": [0.1, 0.2],
                         "ci_lo:spread.EEE": [0.0, 0.1]})
    main.to_csv(tmp_path / "measures.csv", index=False)
    paths = []
    for m in ("a", "b"):
        write_json(tmp_path / f"{m}.json", {"spread": {"EEE": 0.5}, "provenance": {}})
        paths.append(str(tmp_path / f"{m}.json"))
    for main_layer, label in ((2, 2), (None, -1)):
        df = layers_table_stage(measure_paths=paths, models=["a", "b"], layers=[0, 0],
                                   main_table=str(tmp_path / "measures.csv"),
                                   main_layer=main_layer, out_path=str(tmp_path / "l.csv"))
        assert list(df.columns) == ["model", "architecture", "kind", "alpha", "seed", "layer",
                                    "spread.EEE"]
        assert sorted(df.layer.unique()) == sorted([0, label]) and len(df) == 4
        assert df[df.layer == 0]["alpha"].tolist() == [0.0, 0.5]
