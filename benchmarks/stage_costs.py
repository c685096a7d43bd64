"""Where a pipeline run's time goes: per-stage cost per model, and the fixed start-up of a job.

Reads a finished run's ``results/benchmarks/**.tsv`` (Snakemake's ``benchmark:`` files: wall
seconds of each job, start-up included) and the fine-tuning ``metrics.json`` files (set-up,
training and evaluation seconds inside the job), and measures in fresh processes what every job
pays before it computes anything: the interpreter with torch + transformers, the model classes'
import, and the rebuild of one perturbed model from its manifest. Prints markdown tables.

    .venv/bin/python benchmarks/stage_costs.py --results results   # after `make demo`
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path


def rule_of(rel: Path) -> str:
    """The rule a benchmark file belongs to, by the folder it lies in (the rules' paths)."""
    parts = rel.parts
    if parts[0] == "glue":
        if len(parts) > 2 and parts[1] == "cache":
            return "glue_cache"
        if len(parts) > 2 and parts[1] == "engines":  # glue.compare_engines
            return "glue_finetune_engine"
        return "glue_minibench" if rel.stem == "minibench" else "glue_finetune"
    if parts[0] == "quantize":
        return "quantize (" + rel.stem.rsplit("_", 1)[-1] + ")"
    if parts[0] == "analysis":
        return rel.stem
    if len(parts) == 1:
        return rel.stem
    if parts[0] == "measures" and rel.name.endswith(".bootstrap.tsv"):
        return "measures_bootstrap"
    return parts[0]


def job_seconds(results: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for f in sorted((results / "benchmarks").rglob("*.tsv")):
        rows = list(csv.DictReader(f.open(), delimiter="\t"))
        if rows:
            out[rule_of(f.relative_to(results / "benchmarks"))].append(float(rows[-1]["s"]))
    return out


def finetune_parts(results: Path) -> dict[str, dict[str, float]]:
    """Mean set-up / training / evaluation seconds per task, from the jobs' metrics."""
    per: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for f in (results / "glue").glob("*/*/metrics.json"):
        m = json.loads(f.read_text())
        d = per[m["task"]]
        d["setup"].append(m["setup_seconds"])
        d["train"].append(m["train"]["seconds"])
        d["eval"].append(m["eval"]["seconds"])
        d["n_train"].append(m["n_train"])
    return {t: {k: statistics.mean(v) for k, v in d.items()} for t, d in sorted(per.items())}


def _timed(code: str, repeats: int) -> float:
    """Median wall seconds of ``python -c code`` in a fresh interpreter."""
    times = []
    for _ in range(repeats):
        p = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter()\n"
                            + code + "\nprint(time.perf_counter() - t)"],
                           capture_output=True, text=True, check=True)
        times.append(float(p.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def startup_costs(manifest: Path | None, repeats: int) -> list[tuple[str, float]]:
    rows = [("python + `import torch, transformers`",
             _timed("import torch, transformers", repeats)),
            ("+ the model classes (`transformers.models.bert.modeling_bert`)",
             _timed("import torch, transformers, transformers.models.bert.modeling_bert",
                    repeats))]
    if manifest is not None:
        code = ("import torch, transformers, transformers.models.bert.modeling_bert\n"
                "from latentgeom import models\nfrom latentgeom.io import read_json\n"
                f"m = read_json({str(manifest)!r})\n"
                "t = time.perf_counter()\nmodels.load_from_manifest(m)")
        rows.append((f"rebuild {manifest.parent.name} from its manifest (load, Eq. 1, checksum)",
                     _timed(code, repeats)))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default="results", help="a finished run's results folder")
    ap.add_argument("--repeats", type=int, default=3, help="fresh processes per start-up timing")
    a = ap.parse_args()
    results = Path(a.results)
    jobs = job_seconds(results)
    if not jobs:
        sys.exit(f"{results}/benchmarks: no benchmark files (run the workflow first)")
    n_models = len(list((results / "models").glob("*/manifest.json")))
    total = sum(sum(v) for v in jobs.values())
    print(f"## Jobs of `{results}` ({n_models} models; {sum(map(len, jobs.values()))} jobs, "
          f"{total:.0f} job-seconds)\n")
    print("| rule | jobs | s / job (mean) | min | max | s per model | share |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for rule, v in sorted(jobs.items(), key=lambda kv: -sum(kv[1])):
        print(f"| {rule} | {len(v)} | {statistics.mean(v):.2f} | {min(v):.2f} | {max(v):.2f} "
              f"| {sum(v) / max(n_models, 1):.1f} | {100 * sum(v) / total:.0f}% |")
    parts = finetune_parts(results)
    if parts:
        print("\n## Inside a fine-tuning job (means per task, seconds)\n")
        print("| task | train examples | set-up (data, model) | training | evaluation |")
        print("|---|---:|---:|---:|---:|")
        for t, d in parts.items():
            print(f"| {t} | {d['n_train']:.0f} | {d['setup']:.2f} | {d['train']:.2f} "
                  f"| {d['eval']:.2f} |")
    manifests = sorted((results / "models").glob("*/manifest.json"))
    perturbed = [m for m in manifests if json.loads(m.read_text()).get("kind",
                                                                       "perturbed") == "perturbed"]
    print(f"\n## What every job pays first (fresh process, median of {a.repeats})\n")
    print("| step | seconds |")
    print("|---|---:|")
    for name, s in startup_costs(perturbed[-1] if perturbed else None, a.repeats):
        print(f"| {name} | {s:.2f} |")


if __name__ == "__main__":
    main()
