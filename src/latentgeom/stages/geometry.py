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
from ..threadpools import thread_counts

GROUP = "geometry"  #: the column group of the geometry measures: ``geometry.<name>``


def geometry_stage(*, embeddings_path: str, out_path: str, model: str | None = None,
                   settings: dict[str, Any] | None = None) -> dict[str, float]:
    """``measures/geometry/{model}.json``: :func:`latentgeom.geometry.geometry_measures` of one
    latent matrix (``settings``: the config's ``geometry`` block without ``enabled``), with
    the seconds per family, the settings, versions and the fingerprints of the matrix."""
    from .. import geometry
    from ..integrity import check_embeddings
    from ..io import read_npy
    from .latent import manifest_fingerprint

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
    fp = {"embeddings_sha256": digest, **manifest_fingerprint(embeddings_path)}
    out = {"model": model, GROUP: values, "seconds": seconds,
           "provenance": {**provenance(**{**geometry.DEFAULTS, **settings},
                                       n_rows=int(X.shape[0])), **fp,
                          "threads": thread_counts()}}  # latentgeom predict pins them
    write_json(out_path, out)
    return values


def add_geometry_columns(df, geometry_paths: list[str],
                         meta_paths: list[str] | None = None):
    """The model table ``df`` with a ``geometry.<name>`` column per measure of the files
    ``geometry_paths`` (one per model, named ``<model>.json``), after the other measures.
    Every model of ``df`` must have one file and every file a model. With ``meta_paths`` (each
    model's ``latent/<model>/embeddings.json``), every geometry file's recorded embeddings
    SHA-256 must be the one its model's ``embeddings.json`` records (the matrix the measures
    were computed on is the model's current one): otherwise
    :class:`latentgeom.integrity.FingerprintError` naming both files."""
    import pandas as pd

    from ..geometry import GEOMETRY_MEASURES
    from ..integrity import check_built_from

    digests = {}
    for m in meta_paths or []:
        meta = read_json(m)
        digests[meta.get("model") or Path(m).parent.name] = (m, meta.get("embeddings_sha256"))
    rows = {}
    for p in geometry_paths:
        d = read_json(p)
        name = d.get("model") or Path(p).stem
        if GROUP not in d:
            raise ValueError(f"{p}: no {GROUP!r} block (not a geometry measures file)")
        if meta_paths is not None:
            if name not in digests:
                raise ValueError(f"{p}: no embeddings.json of model {name!r} among "
                                 f"{len(digests)} given to check it against")
            meta, actual = digests[name]
            check_built_from(p, (d.get("provenance") or {}).get("embeddings_sha256"),
                             Path(meta).with_suffix(".npy"), actual)
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


def softpp_stage(*, embeddings_path: str, quantized_paths: list[str], out_path: str,
                 quantizers: list[str] | None = None, model: str | None = None,
                 factors: list[float] = (0.1, 1.0), rule: str = "margin",
                 threads: int | None = None) -> dict:
    """``measures/softpp/{model}.json``: :func:`latentgeom.softpp.soft_pp_summary` of each
    quantizer of one latent matrix (``{"model", "softpp": {quantizer: …}, "seconds",
    "provenance"}``), the quantizer files checked against the matrix (SHA-256) first."""
    import time

    import torch

    from .. import softpp
    from ..io import load_matrix
    from .latent import checked_inputs

    if threads:
        torch.set_num_threads(int(threads))
    if rule not in softpp.TAU_RULES:
        raise ValueError(f"softpp.rule: expected one of {softpp.TAU_RULES}, got {rule!r}")
    factors = [float(f) for f in factors]
    if not factors or min(factors) <= 0:
        raise ValueError(f"softpp.factors: expected positive multiples of tau0, got {factors}")
    names, quantized, fp = checked_inputs(embeddings_path, quantized_paths, quantizers,
                                          "softpp")
    X = load_matrix(embeddings_path)
    out, seconds = {}, {}
    for name, (codes, codebooks, kind) in quantized.items():
        t0 = time.perf_counter()
        out[name] = softpp.soft_pp_summary(X, codebooks, kind, codes, factors, rule)
        seconds[name] = time.perf_counter() - t0
        say(f"{name} ({kind}): tau0 {out[name]['tau0']:.4g}, {json.dumps(out[name]['paper'])} "
            f"in {seconds[name]:.1f}s")
    write_json(out_path, {"model": model, "softpp": out, "seconds": seconds,
                          "provenance": {**provenance(factors=factors, rule=rule,
                                                      n_rows=int(X.shape[0]), quantizers=names),
                                         **fp}})
    return out


def softpp_analysis_stage(*, softpp_paths: list[str], table_path: str, out_table: str,
                          out_figure: str, variant: str = "paper", level: float = 0.95):
    """``analysis/softpp.csv`` (:func:`latentgeom.softpp_analysis.correlations` under
    ``variant``'s definition) and its figure (``out_figure`` without its suffix: PNG and PDF),
    after checking that each model's hard PP is the model table's."""
    from ..softpp_analysis import check_hard_pp, correlations, figure_softpp, long_table

    models = read_csv(table_path)
    long = long_table([read_json(p) for p in softpp_paths], variant)
    missing = sorted(set(models["model"]) - set(long["model"]))
    if missing:
        raise ValueError(f"softpp: no softpp file for {missing[:5]} of {table_path}")
    check_hard_pp(long, models, variant)
    table = correlations(long, models, level)
    write_csv(out_table, table)
    for p in figure_softpp(long, models, Path(out_figure).with_suffix("")):
        print(p)
    for r in table[table["measure"] != "hard_PP"].itertuples():
        say(f"{r.quantizer}, {r.scope}, {r.measure}: r with hard PP {r.r_with_hard_PP:.3f}, "
            f"with GLUE {r.r_with_glue:.3f} (n {r.n})")
    return table
