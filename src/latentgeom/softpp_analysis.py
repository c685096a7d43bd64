"""Soft Point Patchiness on a run's models (rule ``analyze_softpp``, issue 21 part 4): Pearson r
of soft PP (:mod:`latentgeom.softpp`) with the hard PP and with the GLUE average over the
perturbed models, per quantizer, temperature and architecture group, and its figure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .analysis import TARGET, pearson_ci

SOFT = "soft_PP@"  #: column prefix of the soft PP at a multiple of tau0 (``soft_PP@0.1tau0``)
POOLED = "pooled"
COLUMNS = ("quantizer", "scope", "measure", "n", "r_with_hard_PP", "r_with_glue", "p_glue",
           "glue_ci_low", "glue_ci_high", "tau0_median")


def long_table(records: list[dict[str, Any]], variant: str = "paper"):
    """One row per (model, quantizer) of ``softpp`` JSONs (``{"model", "softpp": {quantizer:
    …}}``) under ``variant``'s definition: ``model, quantizer, tau0, icm_fixed, hard_PP,
    hard_PP_limit, soft_PP@…``."""
    import pandas as pd

    rows = []
    for d in records:
        for q, s in d["softpp"].items():
            if variant not in s:
                raise ValueError(f"softpp of {d.get('model')}: no {variant!r} values for {q}")
            rows.append({"model": d["model"], "quantizer": q, "tau0": s["tau0"],
                         "icm_fixed": s["icm_fixed"], **s[variant]})
    return pd.DataFrame(rows)


def check_hard_pp(long, models, variant: str = "paper", rtol: float = 1e-9) -> None:
    """The hard PP the softpp jobs computed from the stored codes must be the model table's
    (``<quantizer>.PP``, ``authors:`` for that definition): otherwise the two were made from
    different quantizers (a stale file). ValueError naming the model and column."""
    prefix = "authors:" if variant == "authors" else ""
    m = models.set_index("model")
    for r in long.itertuples():
        col = f"{prefix}{r.quantizer}.PP"
        if col not in m.columns or r.model not in m.index:
            raise ValueError(f"softpp: tables/models.csv has no {col} for {r.model}")
        ref = float(m.loc[r.model, col])
        if not np.isclose(r.hard_PP, ref, rtol=rtol, atol=0):
            raise ValueError(f"softpp of {r.model}: hard PP {r.hard_PP!r} of the stored "
                             f"{r.quantizer} codes, but tables/models.csv {col} is {ref!r}: "
                             "they come from different quantizer files; re-run both")


def scopes(models) -> list[tuple[str, Any]]:
    """``(scope, perturbed rows)``: each architecture group (sorted, so a base's weight-noise
    group comes before its ``+latent`` one, as in the paper's figures), then ``pooled`` when
    there are several (Table 2's set: ``kind == "perturbed"``)."""
    pert = models[models["kind"] == "perturbed"]
    archs = sorted(set(pert["architecture"].astype(str)))
    out = [(a, pert[pert["architecture"].astype(str) == a]) for a in archs]
    if len(archs) > 1:
        out.append((POOLED, pert))
    return out


def correlations(long, models, level: float = 0.95):
    """Per quantizer, scope and measure (``hard_PP`` and every ``soft_PP@…``): Pearson r with
    the hard PP and with the GLUE average (p and ``level`` interval), over the scope's perturbed
    models with a finite GLUE average; ``tau0_median`` over those models."""
    import pandas as pd

    soft = [c for c in long.columns if c.startswith(SOFT)]
    rows = []
    for q, g in long.groupby("quantizer", sort=False):
        g = g.set_index("model")
        for scope, sub in scopes(models):
            sub = sub[sub["model"].isin(g.index)]
            y = sub[TARGET].to_numpy(dtype=float)
            ok = np.isfinite(y)
            gg = g.loc[sub["model"].to_numpy()[ok]]
            hard = gg["hard_PP"].to_numpy(dtype=float)
            for col in ["hard_PP", *soft]:
                x = gg[col].to_numpy(dtype=float)
                r_g = pearson_ci(x, y[ok], level)
                rows.append({"quantizer": q, "scope": scope, "measure": col, "n": int(ok.sum()),
                             "r_with_hard_PP": pearson_ci(x, hard, level)[0],
                             "r_with_glue": r_g[0], "p_glue": r_g[1], "glue_ci_low": r_g[2],
                             "glue_ci_high": r_g[3],
                             "tau0_median": float(np.median(gg["tau0"])) if len(gg) else np.nan})
    return pd.DataFrame(rows, columns=list(COLUMNS))


def figure_softpp(long, models, path) -> list[Path]:
    """Two rows per quantizer (soft PP against hard PP; the GLUE average against soft PP), a
    column per temperature (``soft_PP@…``), the perturbed models coloured by architecture group,
    r in the legend (per group; with the hard PP: pooled in the panel's title)."""
    from .plots import COLORS, MARKERS, _note, _save, _style, plt

    _style()
    soft = [c for c in long.columns if c.startswith(SOFT)]
    qs = list(dict.fromkeys(long["quantizer"]))
    groups = [(s, sub) for s, sub in scopes(models) if s != POOLED]
    pert = models[models["kind"] == "perturbed"]
    ncols, nrows = max(1, len(soft)), max(1, 2 * len(qs))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.6 * ncols, 2.9 * nrows), squeeze=False)
    if not soft or not groups:
        _note(axes[0, 0], "no soft PP of perturbed models")
        return _save(fig, Path(path))
    for i, q in enumerate(qs):
        g = long[(long["quantizer"] == q) & long["model"].isin(pert["model"])].set_index("model")
        for j, col in enumerate(soft):
            tau = col.removeprefix(SOFT).replace("tau0", " x tau0")
            top, bottom = axes[2 * i, j], axes[2 * i + 1, j]
            r_all = pearson_ci(g[col], g["hard_PP"])[0]
            top.set_title(f"{q}: soft PP at {tau} (r with hard PP {r_all:.2f})", fontsize=8)
            for k, (scope, sub) in enumerate(groups):
                names = [m for m in sub["model"] if m in g.index]
                x = g.loc[names, col].to_numpy(dtype=float)
                y = sub.set_index("model").loc[names, TARGET].to_numpy(dtype=float)
                style = {"color": COLORS[k % len(COLORS)], "marker": MARKERS[k % len(MARKERS)],
                         "s": 16}
                top.scatter(g.loc[names, "hard_PP"], x, label=scope, **style)
                ok = np.isfinite(y)
                r = pearson_ci(x[ok], y[ok])[0]
                bottom.scatter(x[ok], y[ok], label=f"{scope}: r = {r:.2f} (n = {ok.sum()})",
                               **style)
            top.set(xlabel=f"hard PP ({q})", ylabel="soft PP")
            bottom.set(xlabel=f"soft PP ({q}, {tau})", ylabel="GLUE average")
            top.legend(fontsize=7)
            bottom.legend(fontsize=7)
    return _save(fig, Path(path))
