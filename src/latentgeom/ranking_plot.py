"""The figure of the out-of-sample ranking (:mod:`latentgeom.ranking`), in the style of the
paper's figures (:mod:`latentgeom.plots`: PNG + PDF, same fonts and spines)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .plots import COLORS, _note, _save, _style, plt

TOP = 12  #: candidates per panel


def figure_ranking(table, path, cv: str = "loo", top: int = TOP) -> list[Path]:
    """q2 (out-of-sample skill over the baseline without a measure) with its bootstrap interval
    per scope (columns: each architecture, then pooled): the ``top`` single measures (upper
    row) and pairs (lower row) under ``cv``, best first; the reference measure in a second
    colour, q2 = 0 (no better than the architecture's mean) as a line. ``table``: one
    variant's rows of :func:`latentgeom.ranking.rank_measures`."""
    _style()
    d = table[table["cv"] == cv] if len(table) else table
    scopes = list(dict.fromkeys(d["scope"])) if len(d) else []
    scopes = [s for s in scopes if s != "pooled"] + [s for s in scopes if s == "pooled"]
    ncols = max(1, len(scopes))
    fig, axes = plt.subplots(2, ncols, figsize=(4.6 * ncols, 6.4), squeeze=False)
    if not scopes:
        _note(axes[0, 0], "no ranking (fewer than 3 perturbed models)")
        return _save(fig, Path(path))
    ref = str(d["reference"].iloc[0]) if "reference" in d.columns else ""
    for j, scope in enumerate(scopes):
        for i, (k, what) in enumerate(((1, "single measures"), (2, "pairs"))):
            ax = axes[i, j]
            g = d[(d["scope"] == scope) & (d["n_measures"] == k)].sort_values("rank").head(top)
            if g.empty:
                _note(ax, f"no {what}")
                continue
            y = np.arange(len(g))[::-1]
            q, lo, hi = (g[c].to_numpy(dtype=float) for c in ("q2", "q2_lo", "q2_hi"))
            err = np.vstack([np.clip(q - lo, 0, None), np.clip(hi - q, 0, None)])
            colors = [COLORS[1] if ref and ref in m.split(" + ") else COLORS[0]
                      for m in g["measures"]]
            ax.errorbar(q, y, xerr=np.nan_to_num(err), fmt="none", ecolor="0.55", lw=0.8)
            ax.scatter(q, y, c=colors, s=14, zorder=3)
            ax.axvline(0, color="0.6", lw=0.6)
            ax.set_yticks(y, list(g["measures"]), fontsize=6)
            ax.set_xlabel("out-of-sample q² (95% bootstrap)" if i == 1 else "q²", fontsize=8)
            n = int(g["n"].max())
            ax.set_title(f"{scope}: {what} (n ≤ {n})", fontsize=8)
    fig.suptitle(f"Predicting the GLUE average out of sample ({cv}); reference: {ref or 'none'}",
                 fontsize=9)
    return _save(fig, Path(path))
