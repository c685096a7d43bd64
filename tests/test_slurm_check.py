"""tools/slurm_check.sh's cheap part, in the default suite so that it cannot rot unnoticed.

DRYRUN=1 builds the script's tiny configuration and dry-runs it locally and through the shipped
SLURM profile (no root, no SLURM). The real-SLURM part runs only by hand (root, Debian/Ubuntu).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "slurm_check.sh"


def test_dry_run_of_the_check(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    work = tmp_path / "check"
    env = {**os.environ, "DRYRUN": "1", "PYTHON": sys.executable,
           "PROFILES": "workflow/profiles/slurm workflow/profiles/slurm-grouped",
           "PYTHONPATH": str(REPO / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    out = subprocess.run(["bash", str(SCRIPT), str(work)], capture_output=True, text=True,
                         env=env, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "VERDICT dryrun: PASS" in out.stdout
    jobs = re.findall(r"dry run (local|--profile \S+): (\d+) jobs", out.stdout)
    assert [k for k, _ in jobs] == ["local", "--profile workflow/profiles/slurm",
                                    "--profile workflow/profiles/slurm-grouped"]
    # 2 perturbed + 1 non-standard model, 2 tasks: the same DAG locally and through the profile
    assert jobs[0][1] == jobs[1][1] == jobs[2][1] == "34"
    cfg = yaml.safe_load((work / "tiny.yaml").read_text())
    minilm = cfg["models"]["bases"]["minilm"]
    assert minilm["alphas"] == [0.0, 0.5] and minilm["grid"] == []
    assert cfg["resources"] == {"gpu": "none"}
    assert yaml.safe_load((work / "tiny_gpu.yaml").read_text())["resources"]["gpu"] == "auto"
    grouped = yaml.safe_load((work / "tiny_grouped.yaml").read_text())
    assert grouped["resources"] == {"gpu": "none", "group_finetunes_minutes": 1}
    assert {**grouped, "resources": cfg["resources"]} == cfg  # nothing else differs
    share = yaml.safe_load((work / "tiny_grouped_gpushare.yaml").read_text())  # GPU=1
    assert share["resources"] == {"gpu": "auto", "group_finetunes_minutes": 1}
    assert share["models"]["bases"]["minilm"]["gpu_share"] == 0.25


def test_accounting_mode_is_opt_in_and_runs_are_time_limited():
    text = SCRIPT.read_text()
    assert 'MODES="${MODES:-none}"' in text  # the mode known to hang is not a default
    # every snakemake call of the script runs under run_limited (a timeout with a verdict)
    calls = [ln for ln in text.splitlines() if '"${SMK[@]}"' in ln and "SMK=(" not in ln]
    assert calls and all("run_limited" in ln for ln in calls), calls
    assert re.search(r'fail\(\) \{[^}]*VERDICT \$CURRENT_MODE: FAIL', text)
