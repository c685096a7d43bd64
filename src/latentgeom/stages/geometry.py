"""File-level stages of the other geometry and out-of-sample ranking (files in,
artifacts out, atomically), called by the rules of ``workflow/rules/geometry.smk`` and usable
alone. The computations are in :mod:`latentgeom.geometry` and :mod:`latentgeom.ranking`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..io import read_csv, read_json, write_csv, write_json
from ..provenance import provenance, say
from ..schema import CI

GROUP = "geometry"  #: the column group of the geometry measures: ``geometry.<name>``


def geometry_stage(*, embeddings_path: str, out_path: str, model: str | None = None,
                   settings: dict[str, Any] | None = None) -> dict[str, float]:
    """``measures/geometry/{model}.json``: :func:`latentgeom.geometry.geometry_measures` of one
    latent matrix (``settings``: the config's ``geometry`` block without ``enabled``), with
    the seconds per family, the settings, versions and the fingerprints of the matrix."""
    from .. import geometry
    from ..integrity import check_embeddings
    from ..io import read_npy

    settings = dict(settings or {})
    unknown = sorted(set(settings) - set(geometry.DEFAULTS))
    if unknown:
        raise ValueError(f"geometry: unknown settings {unknown} (expected some of "
                         f"{sorted(geometry.DEFAULTS)})")
    digest = check_embeddings(embeddings_path)
    X = read_npy(embeddings_path, mmap=True)  # (latentgeom.geometry checks shape and dtype)
    values, seconds = geometry.geometry_measures_timed(X, **settings)
    say(f"geometry of {X.shape[0]} x {X.shape[1]} in {sum(seconds.values()):.1f}s "
        f"({', '.join(f'{k} {v:.1f}s' for k, v in seconds.items())}): {json.dumps(values)}")
    meta = Path(embeddings_path).with_suffix(".json")
    fp = {"embeddings_sha256": digest}
    if Path(embeddings_path).suffix == ".npy" and meta.is_file():
        fp["manifest_checksum"] = read_json(meta).get("manifest_checksum")
    out = {"model": model, GROUP: values, "seconds": seconds,
           "provenance": {**provenance(**{**geometry.DEFAULTS, **settings},
                                       n_rows=int(X.shape[0])), **fp}}
    write_json(out_path, out)
    return values


def add_geometry_columns(df, geometry_paths: list[str]):
    """The model table ``df`` with a ``geometry.<name>`` column per measure of the files
    ``geometry_paths`` (one per model, named ``<model>.json``), after the other measures.
    Every model of ``df`` must have one file and every file a model."""
    import pandas as pd

    from ..geometry import GEOMETRY_MEASURES

    rows = {}
    for p in geometry_paths:
        d = read_json(p)
        name = d.get("model") or Path(p).stem
        if GROUP not in d:
            raise ValueError(f"{p}: no {GROUP!r} block (not a geometry measures file)")
        rows[name] = {f"{GROUP}.{k}": d[GROUP].get(k) for k in GEOMETRY_MEASURES}
    have, want = set(rows), set(df["model"].astype(str))
    if have != want:
        raise ValueError(f"geometry files and the model table disagree: only in the table "
                         f"{sorted(want - have)[:5]}, only in the files {sorted(have - want)[:5]}")
    g = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model").reset_index()
    out = df.merge(g, on="model", how="left", validate="one_to_one")
    cis = [c for c in out.columns if c.startswith(CI)]  # stay last
    return out[[c for c in out.columns if c not in cis] + cis]


def ranking_stage(*, table_path: str, out_table: str, out_figure: str, folds: int = 5,
                  pairs: bool = True, bootstrap: int = 1000, seed: int = 0,
                  level: float = 0.95, reference: str = "additive.PP",
                  variant: str = "paper"):
    """``analysis/ranking.csv`` (:func:`latentgeom.ranking.rank_table`, every definition the
    table has) and its figure (``out_figure`` without its suffix: PNG and PDF; ``variant``'s
    rows, or the first variant present)."""
    from ..ranking import rank_table
    from ..ranking_plot import figure_ranking

    table = rank_table(read_csv(table_path), k=folds, pairs=pairs, n_boot=bootstrap,
                       seed=seed, level=level, reference=reference)
    write_csv(out_table, table)
    present = list(dict.fromkeys(table.variant))
    shown = variant if variant in present else (present[0] if present else variant)
    for p in figure_ranking(table[table.variant == shown], Path(out_figure).with_suffix("")):
        print(p)
    best = table[(table.n_measures == 1) & (table["rank"] == 1)]
    for r in best.itertuples():
        say(f"{r.variant}, {r.scope}, {r.cv}: best single measure {r.measures} "
            f"(q2 {r.q2:.3f} [{r.q2_lo:.3f}, {r.q2_hi:.3f}], n {r.n})")
    return table
