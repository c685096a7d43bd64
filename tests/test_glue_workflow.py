"""The GLUE half of the DAG: `snakemake -n` plans fine-tuning for the configured grid."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def planned(cwd: Path, *args: str) -> dict[str, int]:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n", "--quiet",
           "rules", "--directory", str(cwd), *args]
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-5000:]
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", p.stdout + p.stderr, flags=re.M)
            if m.group(1) != "total"}


def n_models(cfg) -> int:
    from latentgeom.pipeline import model_table

    return len(model_table(cfg))


def test_default_config_plans_one_job_per_model_and_task(tmp_path):
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    jobs = planned(tmp_path, "--configfile", str(REPO / "config/config.yaml"))
    tasks = cfg["glue"]["tasks"]
    assert jobs["glue_finetune"] == n_models(cfg) * len(tasks)
    assert jobs["glue_scores"] == n_models(cfg) and jobs["glue_table"] == 1
    # Every default model uses the packaged MiniLM tokenizer: one cache per task, shared.
    assert jobs["glue_cache"] == len(tasks)
    assert jobs["glue_minibench"] == 1


def test_paper_config_plans_the_full_grid(tmp_path):
    cfg = yaml.safe_load((REPO / "config/paper.yaml").read_text())
    jobs = planned(tmp_path, "--configfile", str(REPO / "config/paper.yaml"))
    assert jobs["glue_finetune"] == n_models(cfg) * 8
    assert "glue_minibench" not in jobs  # hub data
    # bert-small, bert-base-uncased and roberta-base tokenizers x 8 tasks.
    assert jobs["glue_cache"] == 3 * 8


def test_adding_alphas_only_adds_jobs_and_geometry_plans_no_finetuning(tmp_path):
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["nonstandard"] = None
    cfg["models"]["bases"]["minilm"].pop("grid")  # the default's grid, replaced
    cfg["models"]["bases"]["minilm"]["alphas"] = [0.0, 0.5]
    cfg["models"]["bases"]["minilm"]["seeds"] = [0]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    ntasks = len(cfg["glue"]["tasks"])
    assert planned(tmp_path, "--configfile", str(tmp_path / "c.yaml"))["glue_finetune"] == \
        2 * ntasks
    # Pretend every job has run: create each planned output (snakemake --summary lists them).
    p = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
                        "--summary", "--directory", str(tmp_path),
                        "--configfile", str(tmp_path / "c.yaml")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    for line in p.stdout.splitlines()[1:]:
        out = tmp_path / line.split("\t")[0]
        if "/glue/cache/" in str(out):
            out.mkdir(parents=True, exist_ok=True)
        elif line.strip():
            out.parent.mkdir(parents=True, exist_ok=True)
            out.touch()
    p = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
                        "--touch", "--cores", "1", "--directory", str(tmp_path),
                        "--configfile", str(tmp_path / "c.yaml")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]  # mtimes in DAG order
    assert not planned(tmp_path, "--configfile", str(tmp_path / "c.yaml"))
    cfg["quantize"]["seed"] = 5
    cfg["measures"]["seed"] = 3
    cfg["embed"]["batch_size"] = 8
    (tmp_path / "geom.yaml").write_text(yaml.safe_dump(cfg))
    jobs = planned(tmp_path, "--configfile", str(tmp_path / "geom.yaml"))
    assert not any(r.startswith("glue") for r in jobs), jobs
    # Another fine-tuning engine: every fine-tuning job and what follows it, nothing before.
    # (--touch --forceall: every job's params on record, which a params change is checked against)
    p = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
                        "--touch", "--forceall", "--cores", "1", "--directory", str(tmp_path),
                        "--configfile", str(tmp_path / "c.yaml")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    engine = yaml.safe_load((tmp_path / "c.yaml").read_text())
    engine["glue"]["engine"] = "run_glue"
    (tmp_path / "engine.yaml").write_text(yaml.safe_dump(engine))
    jobs = planned(tmp_path, "--configfile", str(tmp_path / "engine.yaml"))
    assert jobs["glue_finetune"] == 2 * ntasks and jobs["glue_scores"] == 2, jobs
    assert not {"perturb", "embed", "quantize", "measures", "glue_cache",
                "glue_minibench"} & set(jobs), jobs
    assert jobs["analyze"] == 1, jobs
    # A new alpha: fine-tuning for the new model only, the caches are reused.
    cfg["models"]["bases"]["minilm"]["alphas"] = [0.0, 0.5, 0.7]
    (tmp_path / "more.yaml").write_text(yaml.safe_dump(cfg))
    jobs = planned(tmp_path, "--configfile", str(tmp_path / "more.yaml"))
    assert jobs["glue_finetune"] == ntasks and "glue_cache" not in jobs
    assert jobs["glue_table"] == 1
