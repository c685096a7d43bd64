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
from conftest import dry_run_jobs

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
    for rule, fields in dry_run_jobs(out.stdout):
        if "resources" in fields:
            g = re.search(r"\bgpu=(\d+)", fields["resources"])
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


GROUPED = REPO / "workflow" / "profiles" / "slurm-grouped" / "config.yaml"
GROUPING_KEYS = {"groups", "group-components", "cores"}


def test_grouped_profile_is_the_slurm_profile_plus_grouping():
    plain = yaml.safe_load(PROFILE.read_text())
    grouped = yaml.safe_load(GROUPED.read_text())
    assert {k: v for k, v in grouped.items() if k not in GROUPING_KEYS} == plain
    assert grouped["cores"] == 2  # two 2-thread GPU jobs side by side would ask for 2 GPUs
    groups = dict(g.split("=") for g in grouped["groups"])
    assert not {"glue_finetune", "nonstandard", "sample"} & set(groups)  # too big or alone
    assert {groups[r] for r in ("embed", "quantize", "measures")} == {"latent"}
    components = dict(g.split("=") for g in grouped["group-components"])
    assert set(components) <= set(groups.values()) | {"finetune_small", "finetune_small_shared"}


def _submissions(tmp_path, profile, **over):
    sys.path.insert(0, str(REPO / "benchmarks"))
    from submissions import count

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    for key, value in over.items():
        cfg["resources"][key] = value
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return count(str(REPO / "Snakefile"), [str(path)], str(profile), str(tmp_path / "run"))


def test_grouping_bundles_small_jobs(tmp_path):
    pytest.importorskip("snakemake_executor_plugin_slurm")
    plain = _submissions(tmp_path, PROFILE.parent, gpu="auto", group_finetunes_minutes=5)
    grouped = _submissions(tmp_path, GROUPED.parent, gpu="auto", group_finetunes_minutes=5)
    assert plain["jobs"] == grouped["jobs"] == 129  # `all` runs in the controlling snakemake
    assert plain["submissions"] == 129  # a finetune_small group of one job each
    kinds = grouped["kinds"]
    # one group job per model for embed -> quantize x 2 -> measures
    latent = kinds["group latent: embed+measures+quantize"]
    assert latent["jobs"] == 15 * 4 and latent["submissions"] == 15
    models = kinds["group models: perturb"]
    assert models["jobs"] == 12 and models["submissions"] == 1
    small = kinds["group finetune_small: glue_finetune"]  # the demo's 30 fine-tunes, 8 a time
    assert small["jobs"] == 30 and small["submissions"] == 4
    assert grouped["submissions"] == 15 + 1 + 4 + 1 + 1 + 1 + 3 + 1 + 1  # + scores, caches,
    # report, nonstandard x 3, sample, glue_minibench
    for name, k in kinds.items():  # a group asks for what one member at a time needs
        assert k["max"].get("gpu", 0) <= 1 and k["max"].get("_cores", 1) <= 2, name
    from latentgeom import budget, jobsize

    cfg = budget.load_config([str(REPO / "config" / "config.yaml")])
    sizes = [jobsize.embed_mem(cfg), jobsize.quantize_mem(cfg), jobsize.measures_mem(cfg)]
    assert latent["max"]["gpu"] == 1 and latent["max"]["mem_mb"] == max(sizes)
    # without the config key no fine-tuning job is grouped
    off = _submissions(tmp_path, GROUPED.parent, gpu="auto")
    assert off["kinds"]["glue_finetune"]["submissions"] == 30


def test_a_gpu_share_asks_for_shards_instead_of_a_gpu(tmp_path):
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["resources"].update(gpu="auto", gpu_shards=8)
    cfg["models"]["bases"]["minilm"]["gpu_share"] = 0.25
    path = tmp_path / "share.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n",
                          "--directory", str(tmp_path), "--configfile", str(path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    got: dict[tuple[str, str], int] = {}
    rule = model = None
    for line in out.stdout.splitlines():
        m = re.match(r"^\s*(?:local)?rule (\w+):", line)
        if m:
            rule = m.group(1)
        elif "wildcards:" in line:
            m = re.search(r"model=([^,\s]+)", line)
            model = m.group(1) if m else None
        elif "resources:" in line and rule:
            gpu = re.search(r"\bgpu=(\d+)", line)
            gres = re.search(r"\bgres=([^,\s]*)", line)
            req = f"gpu={gpu.group(1) if gpu else '-'} gres={gres.group(1) if gres else '-'}"
            if rule == "glue_finetune":
                req += " perturbed" if "_a" in model else " ns"
            key = (rule, req)
            got[key] = got.get(key, 0) + 1
    # 12 perturbed MiniLM models x 2 tasks: two of the 8 shards of a GPU, no GPU of their own
    assert got[("glue_finetune", "gpu=0 gres=shard:2 perturbed")] == 24
    assert got[("glue_finetune", "gpu=1 gres= ns")] == 6  # non-standard: no share set
    assert got[("embed", "gpu=1 gres=-")] == 15  # only fine-tuning is shared
    for (rule, req), _n in got.items():
        if rule not in GPU_RULES:
            assert req == "gpu=- gres=-", rule


def test_gpu_shared_local_profile_declares_whole_gpus_in_shards():
    p = yaml.safe_load((REPO / "workflow" / "profiles" / "gpu-shared" / "config.yaml").read_text())
    res = dict(r.split("=") for r in p["resources"])
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    shards = schema["properties"]["resources"]["properties"]["gpu_shards"]["default"]
    assert int(res["gpu_shard"]) == int(res["gpu"]) * shards
