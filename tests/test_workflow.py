"""The Snakemake DAG: dry-runs of both configs, a tiny end-to-end run, selective re-runs."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import dry_run_jobs

REPO = Path(__file__).resolve().parents[1]


def smk(*args, cwd=REPO, check=True, timeout=900):
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args]
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{p.stdout[-4000:]}\n{p.stderr[-6000:]}")
    return p


def planned(*args, cwd=REPO) -> dict[str, int]:
    """Jobs per rule that `snakemake -n` plans."""
    p = smk("-n", "--quiet", "rules", *args, cwd=cwd)
    text = p.stdout + p.stderr
    counts = {}
    for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", text, flags=re.M):
        if m.group(1) != "total":
            counts[m.group(1)] = int(m.group(2))
    return counts


def test_dryrun_default_config(tmp_path):
    jobs = planned("--directory", str(tmp_path), "--configfile", str(REPO / "config/config.yaml"))
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    from latentgeom.pipeline import model_table

    n = len(model_table(cfg))
    assert jobs["perturb"] + jobs.get("nonstandard", 0) == n
    assert jobs["embed"] == n and jobs["measures"] == n
    assert jobs.get("nonstandard", 0) == len(cfg.get("nonstandard") or {})
    assert jobs["quantize"] == n * len(cfg["quantize"]["quantizers"])
    assert jobs["sample"] == 1


def test_dryrun_paper_config(tmp_path):
    jobs = planned("--directory", str(tmp_path), "--configfile", str(REPO / "config/paper.yaml"))
    # The paper's grid: BERT-small + BERT-base (8) + RoBERTa (38), and 11 non-standard models.
    assert jobs["perturb"] >= 8 + 38 + 120
    assert jobs["nonstandard"] == 11
    assert jobs["quantize"] == 2 * (jobs["perturb"] + jobs["nonstandard"])


def test_bad_config_fails_fast(tmp_path):
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["models"]["bases"]["minilm"].pop("grid")  # the default's grid, replaced
    cfg["models"]["bases"]["minilm"]["alphas"] = [0.0, 1.5]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    p = smk("-n", "--directory", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"),
            check=False)
    assert p.returncode != 0
    assert "1.5" in p.stderr + p.stdout and "alphas" in p.stderr + p.stdout
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["embed"]["batchsize"] = 3
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    p = smk("-n", "--directory", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"),
            check=False)
    assert p.returncode != 0 and "batchsize" in p.stderr + p.stdout


def tiny_config(tmp_path: Path, tiny_bert: str) -> Path:
    """A tiny configuration: a 2-layer BERT, 80 sequences, 16-centroid quantizers."""
    text = tmp_path / "corpus.txt"
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split()
    lines = [" ".join(words[(i * k) % 12] for k in range(3, 3 + 4 + i % 9)) + f" n{i}"
             for i in range(200)]
    text.write_text("\n".join(lines) + "\n")
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["models"]["bases"] = {"tiny": {"source": f"path:{tiny_bert}", "architecture": "tiny",
                                       "alphas": [0.0, 0.5], "seeds": [0]}}
    cfg["nonstandard"] = {"tiny-shuffle": {"recipe": "shuffle_embeddings", "architecture": "tiny",
                                           "source": f"path:{tiny_bert}", "seed": 0}}
    cfg["sample"] = {"source": {"kind": "files", "paths": [str(text)]}, "n": 80, "seed": 0,
                     "representativeness_samples": 2}
    cfg["embed"]["batch_size"] = 16
    cfg["quantize"]["train_size"] = None
    for q in cfg["quantize"]["quantizers"].values():
        q.update(M=2, nbits=4)
    cfg["glue"].update(tasks=["polarity", "shuffled"], epochs=1, checkpoint_every=0,
                       scratch=str(tmp_path / "scratch"))
    cfg["glue"]["minibench"]["sizes"] = {"polarity": [24, 16], "shuffled": [24, 16]}
    extra = tmp_path / "tiny_overrides.yaml"
    if extra.exists():
        cfg.update(yaml.safe_load(extra.read_text()))
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.slow
def test_tiny_end_to_end_and_selective_rerun(tmp_path, tiny_bert):
    import pandas as pd

    cfg = tiny_config(tmp_path, tiny_bert)
    smk("--cores", "2", "--directory", str(tmp_path), "--configfile", str(cfg))
    table = pd.read_csv(tmp_path / "results/tables/measures.csv")
    assert sorted(table.model) == ["tiny-shuffle", "tiny_a0.5_s0", "tiny_a0_s0"]
    assert table.set_index("model").loc["tiny-shuffle", "kind"] == "nonstandard"
    for col in ("spread.EEE", "spread.VRM", "spread.IS", "additive.PP", "product.PD_EEE"):
        assert col in table.columns and table[col].notna().all(), col
    assert (tmp_path / "results/sample/representativeness.csv").stat().st_size > 0
    assert (tmp_path / "results/logs/embed/tiny_a0_s0.log").read_text().strip()
    models = pd.read_csv(tmp_path / "results/tables/models.csv")
    assert {"glue.polarity", "glue.shuffled", "glue_average", "additive.PP"} <= set(models)
    assert models.glue_average.between(-1, 1).all()
    t2 = pd.read_csv(tmp_path / "results/analysis/table2.csv")
    assert "r_tiny" in t2.columns and len(t2) == 19
    for i in range(1, 12):
        assert (tmp_path / f"results/figures/figure{i}.png").stat().st_size > 1000
    # Nothing left to do.
    assert planned("--directory", str(tmp_path), "--configfile", str(cfg)) == {}
    # Both measure definitions are always computed: the primary one re-runs the analysis only.
    assert {"authors:spread.VRM", "authors:product.PD_EEE"} <= set(table.columns)
    c = yaml.safe_load(cfg.read_text())
    c["measures"]["variant"] = "authors"
    cfg.write_text(yaml.safe_dump(c))
    jobs = planned("--directory", str(tmp_path), "--configfile", str(cfg))
    assert set(jobs) == {"analyze", "figures", "all"}
    # An analysis setting re-runs the analysis only.
    c2 = yaml.safe_load(cfg.read_text())
    c2["measures"]["variant"] = "paper"
    c2["analysis"] = {"outliers": ["tiny-shuffle"]}
    cfg.write_text(yaml.safe_dump(c2))
    planned_now = planned("--directory", str(tmp_path), "--configfile", str(cfg))
    assert set(planned_now) == {"analyze", "all"}
    # A fine-tuning setting re-runs fine-tuning (and what follows), no geometry.
    c2["glue"]["learning_rate"] = 1e-4
    cfg.write_text(yaml.safe_dump(c2))
    jobs = planned("--directory", str(tmp_path), "--configfile", str(cfg))
    assert jobs.get("glue_finetune") == 6
    assert not {"perturb", "nonstandard", "sample", "embed", "quantize", "measures"} & set(jobs)
    c["glue"]["learning_rate"] = c2["glue"]["learning_rate"]
    # A quantizer setting re-runs quantize and measures only.
    c["quantize"]["quantizers"]["product"]["M"] = 4
    cfg.write_text(yaml.safe_dump(c))
    jobs = planned("--directory", str(tmp_path), "--configfile", str(cfg))
    assert jobs.get("quantize") == 3 and jobs.get("measures") == 3
    assert not {"perturb", "nonstandard", "sample", "embed"} & set(jobs)
    # Beyond the paper (README): switched on over the finished run, they only add jobs.
    beyond_the_paper(tmp_path, tiny_config(tmp_path, tiny_bert))


def beyond_the_paper(tmp_path: Path, cfg: Path) -> None:
    """The measures' bootstrap, two quantizer settings and three layers on a finished tiny
    run: new jobs, the tables after them, nothing else."""
    import pandas as pd

    c = yaml.safe_load(cfg.read_text())
    c["measures"]["bootstrap"] = {"n": 12, "seed": 0, "level": 0.9, "heavy": 3}
    c["quantize"]["sensitivity"] = {"methods": ["pq"], "M": [2, 4], "nbits": [4]}
    c["embed"]["layers"] = [0, 1, -1]  # the tiny BERT's hidden states 0, 1 and 2 (the main)
    cfg.write_text(yaml.safe_dump(c))
    jobs = planned("--directory", str(tmp_path), "--configfile", str(cfg))
    assert jobs.pop("measures_bootstrap") == 3
    assert jobs.pop("quantize") == 3 * 2 and jobs.pop("measures_sensitivity") == 3 * 2
    assert jobs.pop("embed_layers") == 3 and jobs.pop("quantize_layer") == 3 * 2 * 2
    assert jobs.pop("measures_layer") == 3 * 2
    assert not {"perturb", "nonstandard", "sample", "embed", "measures",
                "glue_finetune"} & set(jobs), jobs
    smk("--cores", "2", "--directory", str(tmp_path), "--configfile", str(cfg))
    res = tmp_path / "results"
    models = pd.read_csv(res / "tables/models.csv")
    for col in ("spread.EEE", "additive.PP", "authors:product.RE"):
        lo, hi = models[f"ci_lo:{col}"], models[f"ci_hi:{col}"]
        assert (lo <= hi).all() and lo.notna().all(), col
    unc = pd.read_csv(res / "analysis/table2_uncertainty.csv")
    assert {"measure", "architecture", "r", "r_lo", "r_hi", "survives"} <= set(unc.columns)
    assert len(unc) == 2 * 19 and set(unc.variant) == {"paper", "authors"}
    # two perturbed models: no r (n < 3), so nothing survives (tests/test_bootstrap.py: r's
    # interval on more models)
    assert (unc.n == 2).all() and unc.r.isna().all() and not unc.survives.any()
    boot = yaml.safe_load((res / "measures/tiny_a0_s0.bootstrap.json").read_text())
    assert boot["n"] == 12 and boot["n_finite"]["spread.EEE"] == 12
    assert boot["n_finite"]["spread.VRM"] == 3 and boot["n_finite"]["additive.PD_EEE"] == 3
    prov = boot["provenance"]  # the inputs' fingerprints, as the measures job records them
    meas = yaml.safe_load((res / "measures/tiny_a0_s0.json").read_text())["provenance"]
    for key in ("embeddings_sha256", "quantized_sha256", "manifest_checksum"):
        assert prov[key] == meas[key] and prov[key], key
    assert (res / "figures/figure9.png").stat().st_size > 1000
    sens = pd.read_csv(res / "analysis/sensitivity.csv")
    assert set(sens.setting) == {"pq_M2_K16", "pq_M4_K16"} and len(sens) == 2 * 2 * 8
    st = pd.read_csv(res / "tables/sensitivity.csv")
    assert len(st) == 3 * 2 and st[["PP", "authors:PD_EEE"]].notna().all().all()
    # the grid's pq_M2_K16 is the tiny config's product quantizer: same seed, same values
    both = models.set_index("model")["product.PP"]
    same = st[st.setting == "pq_M2_K16"].set_index("model")["PP"]
    assert np.allclose(same.loc[both.index], both)
    assert (res / "figures/sensitivity.png").stat().st_size > 1000
    lt = pd.read_csv(res / "tables/layers.csv")
    assert len(lt) == 3 * 3 and sorted(set(lt.layer)) == [0, 1, 2]
    main = lt[lt.layer == 2].set_index("model")["spread.EEE"]
    assert np.allclose(main, models.set_index("model").loc[main.index, "spread.EEE"])
    assert lt[lt.layer == 0]["spread.EEE"].ne(main.values).all()  # another layer's space
    la = pd.read_csv(res / "analysis/layers.csv")
    assert sorted(set(la.layer)) == [0, 1, 2] and len(la) == 3 * 2 * 19
    assert (res / "figures/layers.png").stat().st_size > 1000
    assert planned("--directory", str(tmp_path), "--configfile", str(cfg)) == {}
    geometry_and_ranking(tmp_path, cfg)


def geometry_and_ranking(tmp_path: Path, cfg: Path) -> None:
    """Issue 21's other geometry, ranking and soft PP, switched on over the finished run: a
    geometry and a softpp job per model, the joined table and what reads it, nothing
    upstream."""
    import json

    import pandas as pd

    from latentgeom.geometry import GEOMETRY_MEASURES

    c = yaml.safe_load(cfg.read_text())
    c["geometry"] = {"enabled": True, "topology_subsample": 200}
    c["ranking"] = {"enabled": True, "bootstrap": 50}
    c["softpp"] = {"enabled": True, "factors": [1e-6, 1.0]}
    cfg.write_text(yaml.safe_dump(c))
    jobs = planned("--directory", str(tmp_path), "--configfile", str(cfg))
    assert jobs.pop("geometry") == 3 and jobs.pop("models_table") == 1
    assert jobs.pop("ranking") == 1
    assert jobs.pop("softpp") == 3 and jobs.pop("analyze_softpp") == 1
    assert not {"perturb", "nonstandard", "sample", "embed", "quantize", "measures",
                "measures_bootstrap", "glue_finetune"} & set(jobs), jobs
    smk("--cores", "2", "--directory", str(tmp_path), "--configfile", str(cfg))
    res = tmp_path / "results"
    models = pd.read_csv(res / "tables/models.csv")
    cols = [f"geometry.{m}" for m in GEOMETRY_MEASURES]
    assert set(cols) <= set(models.columns)
    assert models[["geometry.RankMe", "geometry.alpha_ReQ", "geometry.anisotropy",
                   "geometry.H0_total"]].notna().all().all()
    g = yaml.safe_load((res / "measures/geometry/tiny_a0_s0.json").read_text())
    assert g["geometry"]["RankMe"] == models.set_index("model").loc["tiny_a0_s0",
                                                                     "geometry.RankMe"]
    t2 = pd.read_csv(res / "analysis/table2.csv")  # analysed like the paper's measures
    assert set(cols) <= set(t2.measure)
    rank = pd.read_csv(res / "analysis/ranking.csv")
    assert "q2" in rank.columns  # two perturbed models: too few to rank (tests/test_ranking.py)
    assert (res / "figures/ranking.png").stat().st_size > 1000
    # soft PP (part 4): at 1e-6 tau0 the hard PP of the limit codes; with the table's hard PP
    soft = pd.read_csv(res / "analysis/softpp.csv")
    assert set(soft.quantizer) == set(c["quantize"]["quantizers"])
    assert set(soft.measure) == {"hard_PP", "soft_PP@1e-06tau0", "soft_PP@1tau0"}
    s = json.loads((res / "measures/softpp/tiny_a0_s0.json").read_text())["softpp"]
    for q in ("additive", "product"):
        v = s[q]["paper"]
        assert v["hard_PP"] == pytest.approx(
            models.set_index("model").loc["tiny_a0_s0", f"{q}.PP"], rel=1e-9)
        assert v["soft_PP@1e-06tau0"] == pytest.approx(v["hard_PP_limit"], rel=1e-5)
    assert s["product"]["icm_fixed"] > 0.9  # FAISS's PQ codes: the argmin (float32 ties aside)
    assert (res / "figures/softpp.png").stat().st_size > 1000
    assert planned("--directory", str(tmp_path), "--configfile", str(cfg)) == {}


#: Rules that only join small files already made (a benchmark of them measures start-up only).
JOINS = {"all", "glue_scores", "glue_table", "measures_table", "models_table",
         "sensitivity_table", "layers_table"}


def _rule_blocks():
    for f in [REPO / "Snakefile", *sorted((REPO / "workflow/rules").glob("*.smk"))]:
        text = f.read_text()
        starts = list(re.finditer(r"^(?:local)?rule (\w+):", text, flags=re.M))
        for i, m in enumerate(starts):
            end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
            yield f.name, m.group(1), text[m.start():end]


def test_every_rule_that_computes_has_a_benchmark():
    blocks = list(_rule_blocks())
    assert len(blocks) > 20
    missing = [f"{f}: {name}" for f, name, body in blocks
               if name not in JOINS and "\n    benchmark:" not in body]
    assert missing == []
    unknown = JOINS - {name for _, name, _ in blocks}
    assert unknown == set()  # the list of joins names real rules


def _rules_defined() -> set[str]:
    """Every rule the workflow files define, `use rule ... as NAME` included."""
    names = set()
    for f in [REPO / "Snakefile", *(REPO / "workflow/rules").glob("*.smk")]:
        text = f.read_text()
        names |= set(re.findall(r"^(?:local)?rule (\w+):", text, flags=re.M))
        names |= set(re.findall(r"^use rule \w+ as (\w+)", text, flags=re.M))
    return names


def test_every_rule_logs_under_results_logs_rule(tmp_path):
    """README: "Logs are in results/logs/<rule>/": every job of every rule, with each opt-in
    experiment (workflow/rules/experiments.smk) and predict turned on, logs there."""
    over = {"embed": {"layers": [3, -1]}, "measures": {"bootstrap": {"n": 4, "heavy": 1}},
            "quantize": {"sensitivity": {"methods": ["pq"], "M": [2], "nbits": [4]}},
            "glue": {"compare_engines": ["minilm_a0_s0"]},
            "predict": {"models": {"other": {"source": "hub:org/model"}}},
            "geometry": {"enabled": True}, "ranking": {"enabled": True},
            "softpp": {"enabled": True}}
    base = yaml.safe_load((REPO / "config/config.yaml").read_text())["models"]["bases"]["minilm"]
    over["models"] = {"bases": {"minilmL": {**base, "perturbation": "latent"}}}  # latent noise
    (tmp_path / "over.yaml").write_text(yaml.safe_dump(over))
    p = smk("-n", "--directory", str(tmp_path / "run"), "--configfile",
            str(REPO / "config/config.yaml"), str(tmp_path / "over.yaml"))
    jobs = dry_run_jobs(p.stdout)
    assert {rule for rule, _ in jobs} == _rules_defined(), "a rule this config does not reach"
    for rule, fields in jobs:
        if rule == "all":
            continue
        logs = fields.get("log", "").split(", ")
        assert logs and all(f.startswith(f"results/logs/{rule}/") for f in logs), (rule, logs)


def test_dryrun_beyond_overlay(tmp_path):
    """config/beyond.yaml over the default (make demo-beyond): the latent-noise models and the
    geometry, soft PP and ranking jobs, and every job of the default demo as well."""
    default = planned("--directory", str(tmp_path), "--configfile",
                      str(REPO / "config/config.yaml"))
    jobs = planned("--directory", str(tmp_path), "--configfile",
                   str(REPO / "config/config.yaml"), str(REPO / "config/beyond.yaml"))
    over = yaml.safe_load((REPO / "config/beyond.yaml").read_text())
    latent = sum(len(g["seeds"]) for g in over["models"]["bases"]["minilmL"]["grid"])
    n = default["embed"] + latent
    assert jobs["perturb_latent"] == latent and jobs["embed"] == n
    assert jobs["geometry"] == jobs["softpp"] == n
    assert jobs["ranking"] == jobs["analyze_softpp"] == 1
    assert jobs["perturb"] == default["perturb"]  # the default's models are all there


@pytest.mark.slow
def test_tiny_latent_noise_end_to_end(tmp_path, tiny_bert):
    """models.bases.<b>.perturbation: latent (docs/latent-noise.md) beside a weights base:
    embed, quantize, measures, fine-tuning and the tables, with the latent models' own names,
    alpha and perturbation columns, and their own architecture group in Table 2 / Figure 5."""
    import json

    import pandas as pd

    from latentgeom.latentnoise import dimension_std

    cfg = tiny_config(tmp_path, tiny_bert)
    c = yaml.safe_load(cfg.read_text())
    c["models"]["bases"]["tinyL"] = {"source": f"path:{tiny_bert}", "architecture": "tiny",
                                     "alphas": [0.0, 0.5, 1.0], "seeds": [0],
                                     "perturbation": "latent"}
    c["nonstandard"] = None
    c["embed"]["temporary"] = False
    cfg.write_text(yaml.safe_dump(c))
    smk("--cores", "2", "--directory", str(tmp_path), "--configfile", str(cfg))
    res = tmp_path / "results"
    latent = ["tinyL_latent_a0.5_s0", "tinyL_latent_a0_s0", "tinyL_latent_a1_s0"]
    for name in ("measures", "glue", "models"):
        t = pd.read_csv(res / f"tables/{name}.csv").set_index("model")
        assert sorted(t.index) == sorted(["tiny_a0.5_s0", "tiny_a0_s0", *latent]), name
        assert list(t.columns[:5]) == ["architecture", "kind", "alpha", "seed", "perturbation"] \
            or name == "glue", name
        assert t.loc[latent, "perturbation"].eq("latent").all(), name
        assert t.loc[["tiny_a0_s0", "tiny_a0.5_s0"], "perturbation"].eq("weights").all(), name
        assert t.loc[latent, "alpha"].tolist() == [0.5, 0.0, 1.0], name  # the latent alpha
        assert t.loc[latent, "architecture"].eq("tiny+latent").all(), name
    models = pd.read_csv(res / "tables/models.csv")
    assert models.glue_average.notna().all() and models["additive.PP"].notna().all()
    # alpha 0 is the base itself, bit for bit; sigma is the per-dimension std of its embeddings
    X0 = np.load(res / "latent/tinyL_latent_a0_s0/embeddings.npy")
    np.testing.assert_array_equal(X0, np.load(res / "latent/tiny_a0_s0/embeddings.npy"))
    man = json.loads((res / "models/tinyL_latent_a1_s0/manifest.json").read_text())
    assert man["alpha"] == 0.0 and man["latent_alpha"] == 1.0 and man["perturbation"] == "latent"
    np.testing.assert_allclose(man["latent_noise"]["sigma"], dimension_std(X0), rtol=1e-12)
    X1 = np.load(res / "latent/tinyL_latent_a1_s0/embeddings.npy")
    assert X1.shape == X0.shape
    # alpha 1: noise of the base's per-dimension scale, uncorrelated with the clean vectors
    np.testing.assert_allclose(X1.std(0), dimension_std(X0), rtol=0.25)
    assert abs(np.corrcoef(X0.ravel(), X1.ravel())[0, 1]) < 0.1
    # Table 2 per perturbation kind: one r column per architecture group
    t2 = pd.read_csv(res / "analysis/table2.csv")
    assert {"r_tiny", "r_tiny+latent"} <= set(t2.columns)
    assert (res / "figures/figure5.png").stat().st_size > 1000
    assert planned("--directory", str(tmp_path), "--configfile", str(cfg)) == {}
