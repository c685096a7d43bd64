"""The prefetch plan: every hub artifact the paper's configuration names, nothing else."""
from __future__ import annotations

from pathlib import Path

import pytest

from latentgeom import prefetch

ROOT = Path(__file__).resolve().parents[1]


def test_paper_config_plan_names_every_hub_artifact():
    todo = prefetch.plan(prefetch.read_configs([ROOT / "config/paper.yaml"]))
    assert todo["models"] == sorted([
        "prajjwal1/bert-small", "bert-base-uncased", "roberta-base", "bert-base-chinese",
        "dbmdz/bert-base-german-uncased", "aajrami/bert-mlm-base", "aajrami/bert-fc-base",
        "aajrami/bert-ascii-base", "aajrami/bert-rand-base"])
    glue = [d[1] for d in todo["datasets"] if d[0] == "nyu-mll/glue"]
    assert sorted(glue) == sorted(["cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte"])
    assert ("ptb-text-only/ptb_text_only", None, "refs/convert/parquet") in todo["datasets"]
    assert ("Salesforce/wikitext", "wikitext-2-v1", None) in todo["datasets"]
    assert len(todo["files"]) == 3 and all(f.endswith("model.pt") for f in todo["files"])


def test_default_config_needs_nothing_from_the_hub():
    todo = prefetch.plan(prefetch.read_configs([ROOT / "config/config.yaml"]))
    assert todo == {"models": [], "datasets": [], "files": []}


def test_configfiles_merge_like_snakemake(tmp_path):
    over = tmp_path / "o.yaml"
    over.write_text("models:\n  bases:\n    roberta:\n      grid: [{alpha: 0.1, seeds: [1]}]\n"
                    "sample: {n: 10}\n")
    cfg = prefetch.read_configs([ROOT / "config/paper.yaml", over])
    assert cfg["models"]["bases"]["roberta"]["source"] == "hub:roberta-base"  # kept
    assert cfg["models"]["bases"]["roberta"]["grid"] == [{"alpha": 0.1, "seeds": [1]}]
    assert cfg["sample"]["n"] == 10 and cfg["sample"]["rules"] == "authors"


def test_missing_local_files_fail_before_any_download(tmp_path):
    cfg = {"nonstandard": {"x": {"recipe": "fairseq_roberta", "architecture": "roberta",
                                 "source": str(tmp_path), "checkpoint": str(tmp_path / "no.pt")}}}
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="no.pt"):
        prefetch.prefetch(cfg, say=lambda m: None)
