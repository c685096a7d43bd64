"""Stages that gather per-model artifacts into tables (``tables/*.csv``): the measures, the
layer-wise and sensitivity long tables, and the model table that joins the GLUE scores."""

from __future__ import annotations

from typing import Any

from ..io import read_csv, read_json, write_csv
from ..latentnoise import mark_perturbation, table_fields
from ..provenance import say
from ..schema import AUTHORS


def flatten_measures(m: dict[str, Any]) -> dict[str, float]:
    """``{"spread": {"EEE": …}, "authors": {"spread": {"EEE": …}}}`` ->
    ``{"spread.EEE": …, "authors:spread.EEE": …}``: the paper's definitions as
    ``<group>.<name>``, the authors' as ``authors:<group>.<name>`` (provenance dropped)."""
    out = {}
    for group, vals in m.items():
        if group == "provenance":
            continue
        if group == "authors":
            out.update({f"{AUTHORS}{k}": v for k, v in flatten_measures(vals).items()})
        else:
            out.update({f"{group}.{k}": v for k, v in vals.items()})
    return out


def measures_table_stage(*, measure_paths: list[str], manifest_paths: list[str],
                         out_path: str, bootstrap_paths: list[str] | None = None):
    """One row per model: model, architecture, kind, alpha, seed, then every measure under
    both definitions (``<group>.<name>``: the paper's; ``authors:<group>.<name>``: theirs);
    with ``bootstrap_paths`` (one per model) also ``ci_lo:<column>``/``ci_hi:<column>``."""
    import pandas as pd

    rows = []
    boots = bootstrap_paths or [None] * len(measure_paths)
    for mpath, manpath, bpath in zip(measure_paths, manifest_paths, boots):
        man, measured = read_json(manpath), read_json(mpath)
        built = (measured.get("provenance") or {}).get("manifest_checksum")
        if built and built != man.get("checksum"):
            raise RuntimeError(f"{mpath} was computed for model checksum {built[:12]}…, but "
                               f"{manpath} is {str(man.get('checksum'))[:12]}…: delete it and "
                               "re-run (snakemake --forcerun embed)")
        row = {"model": man["name"], "architecture": man.get("architecture"),
               "kind": man.get("kind", "perturbed"),
               "alpha": man.get("alpha") if man.get("kind", "perturbed") == "perturbed" else None,
               "seed": man.get("seed") if man.get("kind", "perturbed") == "perturbed" else None}
        row.update(table_fields(man))  # latent noise: its alpha and perturbation (if any)
        row.update(flatten_measures(measured))
        if bpath:  # the bootstrap's intervals (latentgeom.bootstrap)
            for col, (lo, hi) in read_json(bpath)["interval"].items():
                row[f"ci_lo:{col}"], row[f"ci_hi:{col}"] = lo, hi
        rows.append(row)
    df = mark_perturbation(pd.DataFrame(rows))
    write_csv(out_path, df)
    return df


def layers_table_stage(*, measure_paths: list[str], models: list[str], layers: list[int],
                       main_table: str, main_layer: int | None, out_path: str):
    """Long table, one row per (model, layer): ``model, layer``, then every measure column of
    ``tables/measures.csv`` (both definitions); the main layer's rows come from that table."""
    import pandas as pd


    main = read_csv(main_table)
    meta = ["model", "architecture", "kind", "alpha", "seed"]
    rows = []
    for path, model, layer in zip(measure_paths, models, layers):
        rows.append({"model": model, "layer": int(layer),
                     **flatten_measures(read_json(path))})
    extra = pd.DataFrame(rows)
    if len(extra):
        extra = extra.merge(main[meta], on="model", how="left", validate="many_to_one")
    # the main layer by its index; -1 (from the end) where the models' depth is unknown (hub)
    main = main.assign(layer=int(main_layer) if main_layer is not None else -1)
    cols = meta + ["layer"] + [c for c in main.columns if c not in meta + ["layer"]
                               and not c.startswith(("ci_lo:", "ci_hi:"))]
    df = pd.concat([main, extra], ignore_index=True)[cols].sort_values(["model", "layer"])
    write_csv(out_path, df)
    return df


def sensitivity_table_stage(*, measure_paths: list[str], models: list[str], out_path: str):
    """Long table, one row per (model, setting): model, setting, method, M, K, then
    ``<name>`` (paper's definitions) and ``authors:<name>`` for the eight measures."""
    import pandas as pd

    from ..schema import QUANTIZED

    if len(measure_paths) != len(models):
        raise ValueError("sensitivity table: one model name per measures file expected")
    rows = []
    for path, model in zip(measure_paths, models):
        m = read_json(path)
        s = m["setting"]
        row = {"model": model, "setting": s["name"], "method": s["method"], "M": s["M"],
               "K": s["K"]}
        row.update({k: m["paper"][k] for k in QUANTIZED})
        row.update({AUTHORS + k: m["authors"][k] for k in QUANTIZED})
        rows.append(row)
    df = pd.DataFrame(rows)
    write_csv(out_path, df)
    return df


def models_table_stage(*, measures_path: str, glue_path: str, out_path: str,
                       geometry_paths: list[str] | None = None,
                       geometry_meta_paths: list[str] | None = None):
    """``tables/models.csv``: the measures table joined to the GLUE table (one row a model);
    with ``geometry_paths`` (``geometry.enabled``) also the ``geometry.*`` columns, each file
    checked against its model's ``embeddings.json`` (``geometry_meta_paths``) when given."""

    from ..analysis import join_tables

    df = join_tables(read_csv(measures_path), read_csv(glue_path))
    if geometry_paths:
        from .geometry import add_geometry_columns

        df = add_geometry_columns(df, geometry_paths, geometry_meta_paths)
    write_csv(out_path, df)
    say(f"{len(df)} models, {df.shape[1]} columns")
    return df
