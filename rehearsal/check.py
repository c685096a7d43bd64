"""Check what a rehearsal run of the paper's configuration produced (used by `make rehearsal`).

    python rehearsal/check.py --configfile config/paper.yaml rehearsal/sizes.yaml

Fails (exit 1, naming what is missing) unless the joined table holds every model the
configuration asks for — the three architectures' perturbed models and every non-standard
model — with a score for every GLUE task, a GLUE average and every measure of every group
(the spread and each quantizer, both definitions) finite for every model, unless the
analysis tables, Figures 1-11 and their PDFs exist, and unless every model of
``glue.compare_engines`` was fine-tuned on every task by the other engine too, into the same
``metrics.json`` schema and ``train_log.csv`` columns as the configured engine's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from latentgeom.analysis import AUTHORS, QUANTIZED, SPREAD
from latentgeom.pipeline import model_table
from latentgeom.prefetch import read_configs


def schema(d: dict, prefix: str = "") -> set[str]:
    """The key paths of a metrics.json (below ``dev``: the split and score names)."""
    out = set()
    for k, v in d.items():
        out.add(prefix + k)
        if isinstance(v, dict) and k not in ("hyperparameters", "versions"):
            out |= schema(v, prefix + k + ".")
    return out


def measure_columns(config: dict) -> list[str]:
    """Every measure column the joined table must hold: each measure of each group (the
    spread, every quantizer), in both definitions (``authors:`` prefix for the authors')."""
    groups = [("spread", SPREAD)] + [(q, QUANTIZED) for q in config["quantize"]["quantizers"]]
    return [f"{pre}{g}.{n}" for pre in ("", AUTHORS) for g, names in groups for n in names]


def engine_problems(config: dict, results: Path) -> list[str]:
    """Each ``glue.compare_engines`` model: both engines' outputs, in one schema."""
    import json

    glue = config["glue"]
    engine = glue.get("engine", "fast")
    other = "fast" if engine == "run_glue" else "run_glue"
    out = []
    for model in glue.get("compare_engines") or []:
        for task in glue["tasks"]:
            a, b = results / "glue" / model / task, results / "glue/engines" / other / model / task
            paths = [a / "metrics.json", b / "metrics.json", a / "train_log.csv",
                     b / "train_log.csv"]
            absent = [str(p) for p in paths if not p.is_file()]
            if absent:
                out.append(f"engine check: {absent} missing")
                continue
            ma, mb = (json.loads(p.read_text()) for p in paths[:2])
            if (ma["hyperparameters"].get("engine", "fast"), mb["hyperparameters"]["engine"]) \
                    != (engine, other):
                out.append(f"engine check: {model}/{task} was not fine-tuned by {engine} and "
                           f"{other}")
            diff = schema(ma) ^ schema(mb)
            if diff:
                out.append(f"engine check: {model}/{task}: metrics.json keys differ between "
                           f"{engine} and {other}: {sorted(diff)}")
            cols = [p.read_text().splitlines()[0] for p in paths[2:]]
            if cols[0] != cols[1]:
                out.append(f"engine check: {model}/{task}: train_log.csv columns {cols}")
    return out


def problems(config: dict) -> list[str]:
    results = Path(config.get("results", "results"))
    table = results / "tables" / "models.csv"
    if not table.is_file():
        return [f"{table} does not exist"]
    df = pd.read_csv(table)
    out = []
    want = model_table(config)
    missing = sorted(set(want) - set(df["model"]))
    if missing:
        out.append(f"models missing from {table}: {missing}")
    archs = {m["architecture"] for m in want.values()}
    if set(df["architecture"]) != archs:
        out.append(f"architectures {sorted(set(df['architecture']))}, expected {sorted(archs)}")
    ns = sorted(df.loc[df["kind"] == "nonstandard", "model"])
    ns_want = sorted(n for n, m in want.items() if m["kind"] == "nonstandard")
    if ns != ns_want:
        out.append(f"non-standard models {ns}, expected {ns_want}")
    tasks = config["glue"]["tasks"]
    cols = [f"glue.{t}" for t in tasks] + ["glue_average"]
    measures = measure_columns(config)
    absent = [c for c in cols + measures if c not in df.columns]
    if absent:
        out.append(f"columns missing from {table}: {absent}")
    present = [c for c in cols if c in df.columns]
    empty = [c for c in present if not np.isfinite(pd.to_numeric(df[c], errors="coerce")).any()]
    if empty:
        out.append(f"columns without a single finite value: {empty}")
    for c in (c for c in measures if c in df.columns):
        bad = df.loc[~np.isfinite(pd.to_numeric(df[c], errors="coerce")), "model"].tolist()
        if bad:
            out.append(f"{c}: no finite value for model(s) {bad}")
    nan_glue = df.loc[df[[f"glue.{t}" for t in tasks if f"glue.{t}" in df]].isna().any(axis=1),
                      "model"].tolist()
    if nan_glue:
        out.append(f"models with a missing GLUE task score: {nan_glue}")
    out += engine_problems(config, results)
    for f in ["analysis/table1.csv", "analysis/table2.csv", "analysis/predictions.csv",
              *[f"figures/figure{i}.{e}" for i in range(1, 12) for e in ("png", "pdf")]]:
        if not (results / f).is_file():
            out.append(f"{results / f} does not exist")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--configfile", nargs="+", required=True)
    a = p.parse_args(argv)
    config = read_configs(a.configfile)
    found = problems(config)
    for msg in found:
        print(f"rehearsal check: {msg}", file=sys.stderr)
    if not found:
        df = pd.read_csv(Path(config.get("results", "results")) / "tables" / "models.csv")
        print(f"rehearsal check: OK — {len(df)} models "
              f"({df.groupby(['architecture', 'kind']).size().to_dict()}), "
              f"{df.shape[1]} columns")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
