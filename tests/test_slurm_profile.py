"""The shipped SLURM profile and the jobs' resource requests (dry runs; no SLURM needed).

The real-SLURM run of the profile is tools/slurm_check.sh (root, Debian/Ubuntu).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "workflow" / "profiles" / "slurm" / "config.yaml"
GPU_RULES = {"embed", "quantize", "glue_finetune"}


def test_profile_as_shipped():
    p = yaml.safe_load(PROFILE.read_text())
    assert p["executor"] == "slurm"
    assert p["slurm-status-command"] == "squeue"  # works without job accounting
    assert p["slurm-requeue"] is True and p["retries"] >= 1
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,50}", p["slurm-jobname-prefix"])
    # GPUs come from the config (resources.gpu), never from the profile.
    assert "gpu" not in p.get("default-resources", {}) and "set-resources" not in p
    text = PROFILE.read_text()
    # The commented GPU-cluster example routes every GPU rule to the GPU partition.
    example = text[text.index("# set-resources:"):text.index("# Extra sbatch")]
    for rule in GPU_RULES:
        assert f"#   {rule}:\n#     slurm_partition: gpu" in example
    assert "# slurm-status-command: sacct" in text


def _requests(tmp_path: Path, gpu) -> dict[str, set[str]]:
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["resources"]["gpu"] = gpu
    path = tmp_path / f"c_{gpu}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n",
                          "--directory", str(tmp_path), "--configfile", str(path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    got: dict[str, set[str]] = {}
    rule = None
    for line in out.stdout.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
        elif "resources:" in line and rule:
            g = re.search(r"\bgpu=(\d+)", line)
            got.setdefault(rule, set()).add(g.group(1) if g else "-")
    return got


@pytest.mark.parametrize("gpu, want", [("none", "0"), ("auto", "1"), (2, "2")])
def test_one_gpu_setting_drives_every_gpu_rule(tmp_path, gpu, want):
    got = _requests(tmp_path, gpu)
    for rule in GPU_RULES:
        assert got[rule] == {want}, (rule, got[rule])
    for rule, gpus in got.items():
        if rule not in GPU_RULES:
            assert gpus == {"-"}, rule
