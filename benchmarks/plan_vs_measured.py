"""`latentgeom plan`'s estimates beside a finished run's measured costs.

Reads the run's Snakemake ``benchmark:`` files (``<results>/benchmarks/**.tsv``: wall seconds
and max RSS of each job) and prints, per rule, the planned and the measured seconds per job, their
ratio, the requested memory and the largest RSS; then the planned and measured job-hours of the
jobs measured and their ratio (the estimator's factor for this machine; a run still going
counts the jobs finished so far). Rules without
``benchmark:`` files (the small table joins) are listed as planned only.

    .venv/bin/python benchmarks/plan_vs_measured.py --results results \
        --configfile config/config.yaml
"""
from __future__ import annotations

import argparse
import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stage_costs import rule_of  # noqa: E402

from latentgeom import budget  # noqa: E402


def measured(results: Path) -> dict[str, list[tuple[float, float]]]:
    """(wall seconds, max RSS MB) of every benchmarked job, by rule."""
    out: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for f in sorted((results / "benchmarks").rglob("*.tsv")):
        rows = list(csv.DictReader(f.open(), delimiter="\t"))
        if rows:
            rss = rows[-1].get("max_rss", "NA")
            rule = rule_of(f.relative_to(results / "benchmarks")).split(" ")[0]
            out[rule].append((float(rows[-1]["s"]), float(rss) if rss not in ("NA", "-") else 0.0))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default="results")
    ap.add_argument("--configfile", nargs="+", default=[], help="the run's configuration")
    a = ap.parse_args()
    p = budget.plan(budget.load_config(a.configfile))
    got = measured(Path(a.results))
    if not got:
        sys.exit(f"{a.results}/benchmarks: no benchmark files (run the workflow first)")
    print(f"## Planned vs measured: {' '.join(a.configfile) or 'the embedded default'} "
          f"({a.results})\n")
    print("| rule | jobs planned | jobs measured | s / job planned | s / job measured (mean) "
          "| planned ÷ measured | memory requested (MB) | max RSS measured (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    plan_s = meas_s = 0.0
    for r in sorted(p.rules.values(), key=lambda r: -sum(r.job_seconds)):
        est = statistics.mean(r.job_seconds)
        jobs = got.get(r.rule, [])
        if jobs:
            m = statistics.mean(s for s, _ in jobs)
            rss = max(x for _, x in jobs)
            plan_s += est * len(jobs)  # the plan of the jobs measured (a partial run too)
            meas_s += sum(s for s, _ in jobs)
            print(f"| {r.rule} | {r.jobs} | {len(jobs)} | {est:.1f} | {m:.1f} | {est / m:.2f} "
                  f"| {r.mem_mb:,} | {rss:,.0f} |")
        else:
            print(f"| {r.rule} | {r.jobs} | – | {est:.1f} | – | – | {r.mem_mb:,} | – |")
    print(f"| **benchmarked jobs, in all** | | | **{plan_s / 3600:.3f} h** "
          f"| **{meas_s / 3600:.3f} h** | **{plan_s / meas_s:.2f}** | | |")


if __name__ == "__main__":
    main()
