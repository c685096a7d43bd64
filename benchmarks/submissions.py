"""How many SLURM submissions a configuration makes through a profile (dry run; no SLURM).

Snakemake's dry run lists jobs, not submissions: a group job (``groups`` / ``group-components``
in the profile, or a rule's ``group:``) is one ``sbatch`` for several jobs. This script runs the
dry run in-process and reads the DAG's groups right after Snakemake forms them
(``DAG.update_groups``): submissions = group jobs + jobs in no group (local and no-op rules such
as ``all`` are not submitted). Prints a markdown table per profile; for each group job kind, its
jobs, submissions and the largest request (threads, mem_mb, runtime, gpu) of one submission.

    .venv/bin/python benchmarks/submissions.py --configfile config/paper.yaml \\
        --profile workflow/profiles/slurm workflow/profiles/slurm-grouped
"""
from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path


def count(snakefile: str, configfiles: list[str], profile: str, workdir: str) -> dict:
    """Jobs, submissions and the per-kind breakdown of one dry run through ``profile``."""
    import importlib

    from snakemake.cli import main as smk_main
    from snakemake.resources import GroupResources

    dagmod = importlib.import_module("snakemake.dag")  # after snakemake.cli (circular imports)

    seen: dict = {}
    orig = dagmod.DAG.update_groups

    def update_groups(self):
        orig(self)
        wf = self.workflow  # a dry run executes "locally": ask the rules what runs remotely
        jobs = [j for j in self.needrun_jobs()
                if j in self._group or not (j.rule.name in wf._localrules or j.rule.norun)]
        if len(jobs) < seen.get("jobs", -1):
            return  # a later, partial update: keep the full DAG's numbers
        groups = {id(g): g for j, g in self._group.items() if j in set(jobs)}
        kinds: dict[str, dict] = defaultdict(lambda: {"jobs": 0, "submissions": 0,
                                                      "max": Counter()})
        for j in jobs:
            if j not in self._group:
                k = kinds[j.rule.name]
                k["jobs"] += 1
                k["submissions"] += 1
        for g in groups.values():
            rules = "+".join(sorted({j.rule.name for j in g.jobs}))
            k = kinds[f"group {g.groupid}: {rules}"]
            k["jobs"] += len(g.jobs)
            k["submissions"] += 1
            # as the SLURM executor sizes it (a dry run counts as local execution, where
            # Snakemake would sum the steps instead of taking the largest)
            res = GroupResources.basic_layered(
                toposorted_jobs=g.toposorted, constraints=g.global_resources, run_local=False,
                additive_resources=["runtime"], sortby=["runtime"])
            for key in ("_cores", "mem_mb", "runtime", "gpu"):
                v = res.get(key)
                if isinstance(v, int | float):
                    k["max"][key] = max(k["max"][key], v)
        seen.update(jobs=len(jobs), submissions=sum(k["submissions"] for k in kinds.values()),
                    kinds=dict(kinds))

    dagmod.DAG.update_groups = update_groups
    argv = ["-s", snakefile, "-n", "--profile", profile, "-d", workdir, "--quiet", "all",
            "--configfile", *configfiles]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                smk_main(argv)
            except SystemExit as e:
                if e.code not in (0, None):
                    raise RuntimeError(f"snakemake {' '.join(argv)} failed:\n"
                                       f"{out.getvalue()[-3000:]}") from None
    finally:
        dagmod.DAG.update_groups = orig
    if not seen:
        raise RuntimeError(f"no DAG was built:\n{out.getvalue()[-3000:]}")
    return seen


def table(profile: str, configfiles: list[str], r: dict) -> str:
    lines = [f"### `--profile {profile}` on {' '.join(configfiles)}: {r['jobs']:,} jobs, "
             f"**{r['submissions']:,} submissions**", "",
             "| jobs of | jobs | submissions | one submission asks at most |",
             "|---|---:|---:|---|"]
    for name, k in sorted(r["kinds"].items(), key=lambda kv: -kv[1]["jobs"]):
        m = k["max"]
        ask = ", ".join(f"{'threads' if key == '_cores' else key} {v:g}"
                        for key, v in m.items() if v) if m else ""
        lines.append(f"| {name} | {k['jobs']:,} | {k['submissions']:,} | {ask} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--configfile", nargs="+", required=True)
    ap.add_argument("--profile", nargs="+", default=["workflow/profiles/slurm"])
    ap.add_argument("--snakefile", default="Snakefile")
    a = ap.parse_args()
    for profile in a.profile:
        with tempfile.TemporaryDirectory() as work:
            r = count(str(Path(a.snakefile).resolve()),
                      [str(Path(c).resolve()) for c in a.configfile], profile, work)
        print(table(profile, a.configfile, r) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
