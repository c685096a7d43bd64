"""latentgeom plan (latentgeom.budget): its jobs and requests are Snakemake's own (dry runs),
its disk arithmetic is the arrays' sizes, and embed.temporary removes the token matrices."""
from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
import yaml

from latentgeom import budget
from latentgeom.cli import main

REPO = Path(__file__).resolve().parents[1]


def dry_run(tmp_path: Path, *configfiles: Path, extra=()) -> tuple[Counter, dict]:
    """Jobs per rule and every job's (mem_mb, gpu) from `snakemake -n`."""
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n",
                          "-d", str(tmp_path / "run"), "--configfile", *map(str, configfiles),
                          *extra], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    jobs: Counter = Counter()
    requests: dict[str, set] = defaultdict(set)
    rule = None
    for line in out.stdout.splitlines():
        m = re.match(r"^\s*(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
            jobs[rule] += 1
        elif line.strip().startswith("resources:") and rule:
            mem = re.search(r"\bmem_mb=(\d+)", line)
            gpu = re.search(r"\bgpu=(\d+)", line)
            requests[rule].add((int(mem.group(1)) if mem else None,
                                int(gpu.group(1)) if gpu else 0))
    return jobs, requests, out.stdout


def check_against_snakemake(tmp_path, files):
    jobs, requests, _ = dry_run(tmp_path, *files)
    p = budget.plan(budget.load_config([str(f) for f in files]))
    want = {r: c.jobs for r, c in p.rules.items()}
    jobs.pop("all")
    assert dict(jobs) == want
    for rule, cost in p.rules.items():
        assert requests[rule] == {(cost.mem_mb, cost.gpus)}, rule
    return p


def test_default_config_matches_the_dry_run(tmp_path):
    p = check_against_snakemake(tmp_path, [REPO / "config" / "config.yaml"])
    assert sum(r.jobs for r in p.rules.values()) + 1 == 130


def test_optional_stages_and_gpus_match_the_dry_run(tmp_path):
    over = {"resources": {"gpu": "auto"},
            "embed": {"layers": [3, -1], "temporary": True},
            "measures": {"bootstrap": {"n": 4, "heavy": 1}},
            "quantize": {"sensitivity": {"methods": ["pq"], "M": [2], "nbits": [4]}},
            "glue": {"device": "cpu"}}
    f = tmp_path / "over.yaml"
    f.write_text(yaml.safe_dump(over))
    p = check_against_snakemake(tmp_path, [REPO / "config" / "config.yaml", f])
    for rule in ("measures_bootstrap", "measures_sensitivity", "embed_layers", "quantize_layer",
                 "measures_layer", "analyze_layers", "analyze_sensitivity"):
        assert p.rules[rule].jobs >= 1, rule
    assert p.rules["embed"].gpus == 1 and p.rules["glue_finetune"].gpus == 0
    assert p.rules["embed"].gpu_hours == pytest.approx(p.rules["embed"].cpu_hours / 2)


def test_paper_config_jobs(tmp_path):
    jobs, _, _ = dry_run(tmp_path, REPO / "config" / "paper.yaml")
    p = budget.plan(budget.load_config([str(REPO / "config" / "paper.yaml")]))
    jobs.pop("all")
    assert dict(jobs) == {r: c.jobs for r, c in p.rules.items()}
    assert p.rules["glue_finetune"].jobs == 1432


def test_disk_is_the_arrays_sizes(tmp_path):
    rows, d = 1000, 64
    X = np.zeros((rows, d), np.float32)
    np.save(tmp_path / "e.npy", X)
    assert (tmp_path / "e.npy").stat().st_size == pytest.approx(rows * d * 4, abs=200)
    # PQ, M = 4, 8 bits: uint8 codes + 4 x 256 x (d/4) float32; LSQ++: 4 x 256 x d
    np.savez(tmp_path / "q.npz", codes=np.zeros((rows, 4), np.uint8),
             codebooks=np.zeros((4, 256, d // 4), np.float32))
    got = (tmp_path / "q.npz").stat().st_size
    assert budget.quantized_bytes(rows, d, {"method": "pq", "M": 4, "nbits": 8}) == \
        pytest.approx(got, abs=1000)
    assert budget.quantized_bytes(rows, d, {"method": "lsq", "M": 4, "nbits": 8}) == \
        rows * 4 + 4 * 256 * d * 4


def test_temporary_embeddings_drop_from_the_disk():
    from latentgeom.pipeline import model_table

    cfg = budget.load_config([str(REPO / "config" / "paper.yaml")])
    keep = budget.plan(cfg)
    widths = sum(budget.architecture(m["architecture"])[0] for m in model_table(cfg).values())
    matrices = 195_499 * widths * 4  # jobsize.embedding_rows of the paper's sample x d x float32
    cfg["embed"]["temporary"] = True
    temp = budget.plan(cfg)
    assert keep.disk["token matrices (embeddings.npy)"] == pytest.approx(matrices)
    assert temp.disk["token matrices (embeddings.npy)"] == 0
    assert keep.disk_total - temp.disk_total == pytest.approx(matrices)
    assert keep.disk_total > 50e9 > temp.disk_total  # tens of GB: the bulk
    assert temp.transient["token matrix of one model while its jobs run (embed.temporary)"] > 0


@pytest.mark.slow
def test_temporary_embeddings_are_removed_and_re_made_on_demand(tmp_path, tiny_bert):
    """embed.temporary on the tiny run's geometry half: the matrices go once measured, a second
    run has nothing to do, and a measures setting then re-embeds and re-quantizes."""
    from test_workflow import planned, smk, tiny_config

    cfg = tiny_config(tmp_path, tiny_bert)
    c = yaml.safe_load(cfg.read_text())
    c["embed"]["temporary"] = True
    cfg.write_text(yaml.safe_dump(c))
    # the target between options that take one value (--configfile takes several)
    args = ("--directory", str(tmp_path), "results/tables/measures.csv", "--configfile", str(cfg))
    smk("--cores", "2", *args)
    latent = tmp_path / "results" / "latent"
    assert sorted(p.name for p in latent.iterdir()) == ["tiny-shuffle", "tiny_a0.5_s0",
                                                        "tiny_a0_s0"]
    assert not list(latent.glob("*/embeddings.npy"))
    assert len(list(latent.glob("*/embeddings.json"))) == 3
    assert len(list(latent.glob("*/quantized_*.npz"))) == 6
    assert planned(*args) == {}
    # the setting itself re-runs nothing
    c["embed"]["temporary"] = False
    cfg.write_text(yaml.safe_dump(c))
    assert planned(*args) == {}
    # what a re-run costs: a measures setting re-embeds and re-quantizes every model first
    c["embed"]["temporary"] = True
    c["measures"]["seed"] = 1
    cfg.write_text(yaml.safe_dump(c))
    jobs = planned(*args)
    assert jobs == {"embed": 3, "quantize": 6, "measures": 3, "measures_table": 1}, jobs


def test_cli_plan_prints_the_table(capsys):
    assert main(["plan", "--configfile", str(REPO / "config" / "paper.yaml")]) in (0, None)
    out = capsys.readouterr().out
    assert "| glue_finetune | 1,432 |" in out and "Assumptions:" in out
    assert re.search(r"\| \*\*total\*\* \| \*\*2,536\*\* \|", out)


def test_rehearsal_config_matches_the_dry_run_engines_included(tmp_path):
    """The rehearsal's configuration, glue.compare_engines' fine-tunes counted."""
    files = [REPO / "config" / "paper.yaml", REPO / "rehearsal" / "sizes.yaml"]
    jobs, _, _ = dry_run(tmp_path, *files)
    p = budget.plan(budget.load_config([str(f) for f in files]))
    jobs.pop("all")
    assert dict(jobs) == {r: c.jobs for r, c in p.rules.items()}
    assert p.rules["glue_finetune_engine"].jobs == 8
    # the same eight tasks, the same estimate per task as the model's own fine-tunes
    assert p.rules["glue_finetune_engine"].job_seconds == p.rules["glue_finetune"].job_seconds[:8]


def test_glue_sizes_are_the_ones_the_run_will_see(tmp_path, monkeypatch):
    """hub: the GLUE copy in the datasets cache (a stand-in hub's tiny splits), else GLUE's
    own sizes; a data folder: its files' rows; the fine-tune and cache estimates follow."""
    import json

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "cache"))
    glue = {"source": "hub", "tasks": ["rte", "mnli"]}
    assert budget.glue_split_sizes(glue, "rte") == (2490, 1000, "GLUE's published sizes")
    for config, splits in (("rte", {"train": 40, "validation": 12, "test": 9}),
                           ("mnli", {"train": 64, "validation_matched": 10,
                                     "validation_mismatched": 11, "test_matched": 5})):
        info = tmp_path / f"cache/nyu-mll___glue/{config}/0.0.0/abc123/dataset_info.json"
        info.parent.mkdir(parents=True)
        info.write_text(json.dumps({"splits": {k: {"name": k, "num_examples": v}
                                               for k, v in splits.items()}}))
    train, dev, origin = budget.glue_split_sizes(glue, "rte")
    assert (train, dev) == (40, 12) and "datasets cache" in origin
    assert budget.glue_split_sizes(glue, "mnli")[:2] == (64, 21)  # both dev splits evaluated
    # a data folder: rows of its split files (CSV with a header, JSON lines, parquet)
    import pandas as pd

    data = tmp_path / "data"
    (data / "rte").mkdir(parents=True)
    pd.DataFrame({"sentence1": ["a"] * 7, "sentence2": ["b"] * 7, "label": [0] * 7}).to_csv(
        data / "rte/train.csv", index=False)
    pd.DataFrame({"sentence1": ["a"] * 3, "sentence2": ["b"] * 3, "label": [1] * 3}).to_json(
        data / "rte/validation.jsonl", orient="records", lines=True)
    assert budget.glue_split_sizes({"source": str(data)}, "rte")[:2] == (7, 3)
    pd.DataFrame({"sentence1": ["a"] * 5, "sentence2": ["b"] * 5, "label": [1] * 5}).to_parquet(
        data / "rte/train.parquet")
    (data / "rte/train.csv").unlink()
    assert budget.glue_split_sizes({"source": str(data)}, "rte")[:2] == (5, 3)
    # the plan of a configuration on that cache: fine-tunes sized from 40 and 64 examples
    cfg = budget.load_config([str(REPO / "config/paper.yaml"), str(REPO / "rehearsal/sizes.yaml")])
    cfg["glue"]["tasks"] = ["rte", "mnli"]
    cfg["glue"]["compare_engines"] = []
    p = budget.plan(cfg)
    eps, epochs = cfg["glue"]["examples_per_second"], cfg["glue"]["epochs"]
    assert sorted(set(p.rules["glue_finetune"].job_seconds)) == pytest.approx(
        [budget.JOB_START_SECONDS + n * epochs * 1.1 / eps for n in (40, 64)])
    assert "rte 40/12" in " ".join(p.assumptions)
