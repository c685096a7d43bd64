"""The paper's figures, from the tables only (matplotlib, PNG + PDF).

Where several seeds share an alpha, the points are their median, as in the paper. A figure that
needs data the table lacks says so on the figure instead of failing.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .analysis import TARGET, fit_ols, label, measure_columns, pearson_ci  # noqa: E402
from .schema import GROUP_ORDER  # noqa: E402

MARKERS = "osD^v<>Px*"
COLORS = plt.rcParams["axes.prop_cycle"].by_key()["color"]
GLUE_LABEL = "Average GLUE score"


def _style():
    plt.rcParams.update({"figure.dpi": 150, "savefig.dpi": 150, "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False,
                         "legend.frameon": False})


def _save(fig, path: Path) -> list[Path]:
    from .io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    out = []
    for ext in (".png", ".pdf"):
        target = path.with_suffix(ext)
        with atomic_path(target, suffix=ext) as tmp:
            # no CreationDate: identical runs give byte-identical PDFs
            fig.savefig(tmp, format=ext[1:],
                        metadata={"CreationDate": None} if ext == ".pdf" else None)
        out.append(target)
    plt.close(fig)
    return out


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9,
            color="0.35", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def seed_medians(df, cols):
    """Perturbed rows grouped by (architecture, alpha): the median of ``cols`` (paper, fn. 2)."""
    pert = df[df["kind"] == "perturbed"]
    if pert.empty:
        return pert
    return pert.groupby(["architecture", "alpha"], as_index=False, sort=True)[list(cols)].median()


def _archs(df):
    return list(dict.fromkeys(df["architecture"]))


def _style_of(archs, arch):
    i = archs.index(arch) if arch in archs else len(archs)
    return COLORS[i % len(COLORS)], MARKERS[i % len(MARKERS)]


def error_bar_lengths(x, lo, hi) -> np.ndarray:
    """``(2, n)`` lengths below/above each point for ``errorbar(xerr=…)``: the interval
    ``[lo, hi]`` around x, 0 where it is missing (a percentile interval need not contain x)."""
    x, lo, hi = (np.asarray(v, dtype=float) for v in (x, lo, hi))
    below = np.where(np.isfinite(lo), np.clip(x - lo, 0, None), 0.0)
    above = np.where(np.isfinite(hi), np.clip(hi - x, 0, None), 0.0)
    return np.vstack([below, above])


def scatter_measure(ax, df, measure: str, fit_line: bool = True, archs=None) -> None:
    """GLUE average vs a measure, per architecture, seed medians, with an OLS line and r with
    its 95% interval (Fisher's z) over the perturbed models."""
    if measure not in df.columns:
        _note(ax, f"{measure}: not in the table")
        return
    med = seed_medians(df, [measure, TARGET]).replace([np.inf, -np.inf], np.nan).dropna()
    if med.empty:
        _note(ax, f"{measure}: no perturbed models with values")
        return
    archs = archs or _archs(df)
    pert = df[df["kind"] == "perturbed"]
    lo_c, hi_c = f"ci_lo:{measure}", f"ci_hi:{measure}"
    has_ci = lo_c in df.columns and hi_c in df.columns
    if has_ci:  # bootstrap intervals: median of the seeds' interval ends, as the points
        ci = seed_medians(df, [lo_c, hi_c])
        med = med.merge(ci, on=["architecture", "alpha"], how="left")
    for arch, g in med.groupby("architecture", sort=False):
        c, mk = _style_of(archs, arch)
        raw = pert[pert.architecture == arch][[measure, TARGET]].replace(
            [np.inf, -np.inf], np.nan).dropna()
        r, _, r_lo, r_hi = pearson_ci(raw[measure], raw[TARGET])
        interval = f" [{r_lo:.2f}, {r_hi:.2f}]" if np.isfinite(r_lo) else ""
        if has_ci:
            err = error_bar_lengths(g[measure], g[lo_c], g[hi_c])
            ax.errorbar(g[measure], g[TARGET], xerr=err, fmt="none", ecolor=c, elinewidth=0.8,
                        capsize=2, alpha=0.7)
        ax.scatter(g[measure], g[TARGET], s=16, color=c, marker=mk, alpha=0.8,
                   label=f"{arch} (r = {r:.2f}{interval}, n = {len(raw)})")
        if fit_line and len(raw) > 2 and raw[measure].nunique() > 1:
            b, a = np.polyfit(raw[measure], raw[TARGET], 1)
            xs = np.linspace(raw[measure].min(), raw[measure].max(), 50)
            ax.plot(xs, a + b * xs, color=c, lw=1)
    ax.set_xlabel(label(measure))
    ax.set_ylabel(GLUE_LABEL)


# ----------------------------------------------------------------------------- figures
def figure1(df, path):
    """Figure 1: alpha vs average GLUE score per architecture."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    med = seed_medians(df, [TARGET])
    if med.empty:
        _note(ax, "no perturbed models")
    archs = _archs(df)
    for arch, g in med.groupby("architecture", sort=False):
        c, mk = _style_of(archs, arch)
        ax.plot(g["alpha"], g[TARGET], marker=mk, ms=4, color=c, lw=1, label=arch)
    if not med.empty:
        ax.set_xlabel("Weight perturbation α (Eq. 1)")
        ax.set_ylabel(GLUE_LABEL)
        ax.legend()
    ax.set_title("Perturbation vs. downstream performance")
    return _save(fig, path)


def figure2(repr_df, path):
    """Figure 2: unigram, bigram and length distributions of the samples vs. the corpus."""
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
    if repr_df is None or len(repr_df) == 0:
        for ax in axes:
            _note(ax, "no representativeness table")
        return _save(fig, path)
    titles = {"unigram": "Unigrams", "bigram": "Bigrams", "length": "Sentence length"}
    for ax, stat in zip(axes, ("unigram", "bigram", "length")):
        d = repr_df[repr_df.statistic == stat]
        if d.empty:
            _note(ax, f"no {stat} statistics")
            continue
        samples = [s for s in d["sample"].astype(str).unique() if s != "corpus"]
        for i, s in enumerate(samples):
            g = d[d["sample"].astype(str) == s]
            ax.plot(g["rank"], g["frequency"], color="tab:orange", lw=0.6, alpha=0.5,
                    label="samples" if i == 0 else None)
        c = d[d["sample"].astype(str) == "corpus"]
        ax.plot(c["rank"], c["frequency"], color="k", lw=1.2, label="whole corpus")
        if stat == "length":
            ax.set_xlabel("sequence length (tokens)")
        else:
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(f"{stat} rank (by corpus frequency)")
        ax.set_ylabel("relative frequency")
        ax.set_title(titles[stat])
        ax.legend()
    return _save(fig, path)


def figure3(df, path, measure="additive.PP"):
    """Figure 3: PP vs GLUE with fit lines and r per architecture."""
    fig, ax = plt.subplots(figsize=(5, 3.8))
    scatter_measure(ax, df, measure)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return _save(fig, path)


def _residual_panel(ax, df, measure, with_arch, title):
    fit = fit_ols(df, measure, with_arch) if measure in df.columns else None
    if fit is None:
        _note(ax, f"{measure}: no regression (too few models)")
        return
    data = fit.model.data.frame
    archs = _archs(df)
    for arch in dict.fromkeys(data["architecture"]):
        sel = (data["architecture"] == arch).to_numpy()
        c, mk = _style_of(archs, arch)
        ax.scatter(fit.fittedvalues[sel], fit.resid[sel], s=12, color=c, marker=mk,
                   alpha=0.8, label=arch)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("fitted GLUE average")
    ax.set_ylabel("residual")
    ax.set_title(f"{title} (r² = {fit.rsquared:.2f})")
    ax.legend(fontsize=7)


def figure4(df, path, measure="additive.PP"):
    """Figure 4: residuals of the PP model without and with architecture."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    name = measure.split(".", 1)[1]
    _residual_panel(axes[0], df, measure, False, f"GLUE ~ {name}")
    _residual_panel(axes[1], df, measure, True, f"GLUE ~ {name} + architecture")
    return _save(fig, path)


def figure5(df, path, measure="additive.PP", predictions=None):
    """Figure 5: the PP regression with the non-standard models labelled."""
    fig, ax = plt.subplots(figsize=(6, 4.2))
    scatter_measure(ax, df, measure, fit_line=False)
    ns = df[df["kind"] == "nonstandard"]
    if measure not in df.columns:
        return _save(fig, path)
    fit = fit_ols(df, measure, True)
    archs = _archs(df)
    if fit is not None:
        data = fit.model.data.frame
        for arch in dict.fromkeys(data["architecture"]):
            c, _ = _style_of(archs, arch)
            xs = np.linspace(df[measure].replace([np.inf, -np.inf], np.nan).min(),
                             df[measure].replace([np.inf, -np.inf], np.nan).max(), 50)
            import pandas as pd

            ys = fit.predict(pd.DataFrame({measure: xs, "architecture": arch}))
            ax.plot(xs, ys, color=c, lw=1, ls="--")
    if ns.empty:
        ax.text(0.02, 0.02, "no non-standard models in this configuration",
                transform=ax.transAxes, fontsize=8, color="0.35")
    for _, row in ns.iterrows():
        c, _ = _style_of(archs, row["architecture"])
        ax.scatter(row[measure], row[TARGET], s=40, facecolors="none", edgecolors=c, lw=1.2)
        ax.annotate(str(row["model"]), (row[measure], row[TARGET]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")
    y = df[TARGET].replace([np.inf, -np.inf], np.nan).dropna()
    if len(y):
        pad = 0.05 * max(float(y.max() - y.min()), 0.1)
        ax.set_ylim(float(y.min()) - pad, float(y.max()) + pad)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    ax.set_title("Dashed: GLUE ~ measure + architecture; circles: non-standard models",
                 fontsize=8)
    return _save(fig, path)


def figure_grid(df, path, measures, ncols=4, title=None):
    """A grid of GLUE-vs-measure panels (Figures 6, 9-11)."""
    n = max(len(measures), 1)
    ncols = min(ncols, n)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.8 * nrows), squeeze=False)
    for ax in axes.ravel()[len(measures):]:
        ax.axis("off")
    if not measures:
        _note(axes[0, 0], "no such measures in the table")
    archs = _archs(df)
    for ax, m in zip(axes.ravel(), measures):
        scatter_measure(ax, df, m, archs=archs)
        ax.xaxis.label.set_fontsize(7)
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    if handles:
        fig.legend([h for h in handles], [lab.split(" (")[0] for lab in labels],
                   loc="upper right", fontsize=7)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def figure7(df, path, measure="additive.PD_EEE"):
    """Figure 7: residuals of the PD_EEE regression (with architecture)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    _residual_panel(ax, df, measure, True, f"GLUE ~ {measure.split('.', 1)[1]} + architecture")
    return _save(fig, path)


def figure8(df, path):
    """Figure 8: Pearson correlation matrix of all measures."""
    cols = measure_columns(df)
    fig, ax = plt.subplots(figsize=(7.5, 6.5))
    if len(cols) < 2:
        _note(ax, "fewer than two measures")
        return _save(fig, path)
    corr = df[cols].replace([np.inf, -np.inf], np.nan).corr().to_numpy()
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    names = [c.replace("additive.", "a-").replace("product.", "p-").replace("spread.", "")
             for c in cols]
    ax.set_xticks(range(len(cols)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(cols)), names, fontsize=7)
    for i in range(len(cols)):
        for j in range(len(cols)):
            if np.isfinite(corr[i, j]):
                ax.text(j, i, f"{corr[i, j]:.1f}", ha="center", va="center", fontsize=5,
                        color="white" if abs(corr[i, j]) > 0.6 else "black")
    fig.colorbar(im, ax=ax, shrink=0.8, label="Pearson r")
    ax.set_title("Correlation between measures")
    return _save(fig, path)


def make_figures(df, repr_df, out_dir, predictions=None) -> list[Path]:
    """Figures 1-11 into ``out_dir`` as ``figureN.png`` and ``.pdf``."""
    _style()
    out = Path(out_dir)
    cols = measure_columns(df)
    by_group = {g: [c for c in cols if c.startswith(g + ".")] for g in GROUP_ORDER}
    other = [m for m in ("additive.RS", "additive.CD_var", "additive.PD_EEE", "spread.EEE")]
    paths = []
    paths += figure1(df, out / "figure1")
    paths += figure2(repr_df, out / "figure2")
    paths += figure3(df, out / "figure3")
    paths += figure4(df, out / "figure4")
    paths += figure5(df, out / "figure5", predictions=predictions)
    paths += figure_grid(df, out / "figure6", other, ncols=2)
    paths += figure7(df, out / "figure7")
    paths += figure8(df, out / "figure8")
    paths += figure_grid(df, out / "figure9", by_group["additive"], title="Additive quantizer")
    paths += figure_grid(df, out / "figure10", by_group["product"], title="Product quantizer")
    paths += figure_grid(df, out / "figure11", by_group["spread"], ncols=3, title="Data spread")
    return paths


# ----------------------------------------------------------------------------- beyond the paper
def figure_sensitivity(pear, path, variant: str = "paper") -> list[Path]:
    """r(measure, GLUE average) against M (x, log 2 scale), one line per K, per quantized
    measure (rows) and method (columns), one line style per architecture (``pear``:
    :func:`latentgeom.sensitivity.sensitivity_pearson`'s table)."""
    from .schema import QUANTIZED

    _style()
    d = pear[pear["variant"] == variant] if len(pear) else pear
    methods = sorted(d["method"].unique()) if len(d) else []
    ncols = max(1, len(methods))
    fig, axes = plt.subplots(len(QUANTIZED), ncols, figsize=(3.6 * ncols, 2.0 * len(QUANTIZED)),
                             squeeze=False, sharex=True)
    if not methods:
        _note(axes[0, 0], "no quantizer settings")
        return _save(fig, Path(path))
    Ks = sorted(d["K"].unique())
    archs = list(dict.fromkeys(d["architecture"]))
    styles = ["-", "--", ":", "-."]
    for j, method in enumerate(methods):
        for i, name in enumerate(QUANTIZED):
            ax = axes[i, j]
            g = d[(d["method"] == method) & (d["measure"] == name)]
            for ki, K in enumerate(Ks):
                for ai, arch in enumerate(archs):
                    line = g[(g["K"] == K) & (g["architecture"] == arch)].sort_values("M")
                    if line.empty:
                        continue
                    ax.plot(line["M"], line["r"], marker=MARKERS[ki % len(MARKERS)], ms=3,
                            lw=1, ls=styles[ai % len(styles)], color=COLORS[ki % len(COLORS)],
                            label=f"K = {K}" + (f", {arch}" if len(archs) > 1 else ""))
            ax.axhline(0, color="0.6", lw=0.6)
            ax.set_ylim(-1.05, 1.05)
            ax.set_xscale("log", base=2)
            Ms = sorted(d["M"].unique())  # explicit: an all-NaN panel has no data limits
            ax.set_xlim(Ms[0] / 1.4, Ms[-1] * 1.4)
            ax.set_xticks(Ms, [str(int(m)) for m in Ms])
            ax.minorticks_off()
            if not np.isfinite(g["r"].to_numpy(dtype=float)).any():
                ax.text(0.5, 0.75, "no r (< 3 perturbed models)", ha="center", fontsize=7,
                        color="0.35", transform=ax.transAxes)
            ax.set_ylabel(f"r: {name}", fontsize=7)
            if i == 0:
                kind = {"lsq": "LSQ++ (additive)", "pq": "PQ (product)"}.get(method, method)
                ax.set_title(kind, fontsize=9)
            if i == len(QUANTIZED) - 1:
                ax.set_xlabel("codebooks M")
    legend = {}  # every panel's lines, once per label (a method may lack some K)
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(lab, h)
    if legend:
        fig.legend(list(legend.values()), list(legend), loc="upper center",
                   ncol=min(len(legend), 6), fontsize=7, bbox_to_anchor=(0.5, 1.0))
    fig.suptitle(f"r with the GLUE average vs quantizer setting ({variant} definitions)",
                 fontsize=9, y=1.02)
    return _save(fig, Path(path))


def figure_layers(pear, path, variant: str = "paper") -> list[Path]:
    """r(measure, GLUE average) against the hidden layer, one line per architecture with its
    Fisher interval as a band, a panel per measure (``pear``:
    :func:`latentgeom.layers.layer_pearson`'s table)."""
    from .schema import order

    _style()
    d = pear[pear["variant"] == variant] if len(pear) else pear
    measures = order(d["measure"]) if len(d) else []
    ncols = max(1, min(4, len(measures)))
    nrows = max(1, int(np.ceil(len(measures) / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.3 * nrows), squeeze=False,
                             sharex=True)
    for ax in axes.ravel()[len(measures):]:
        ax.axis("off")
    if not measures:
        _note(axes[0, 0], "no layer-wise measures")
        return _save(fig, Path(path))
    archs = list(dict.fromkeys(d["architecture"]))
    for ax, m in zip(axes.ravel(), measures):
        g = d[d["measure"] == m]
        for arch in archs:
            line = g[g["architecture"] == arch].sort_values("layer")
            c, mk = _style_of(archs, arch)
            ax.plot(line["layer"], line["r"], marker=mk, ms=3, lw=1, color=c, label=arch)
            ax.fill_between(line["layer"], line["ci_low"], line["ci_high"], color=c, alpha=0.15,
                            lw=0)
        ax.axhline(0, color="0.6", lw=0.6)
        ax.set_ylim(-1.05, 1.05)
        ax.set_title(label(m), fontsize=7)
        lay = sorted(d["layer"].unique())  # explicit: an all-NaN panel has no data limits
        ax.set_xlim(lay[0] - 0.3, lay[-1] + 0.3)
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        if not np.isfinite(g["r"].to_numpy(dtype=float)).any():
            ax.text(0.5, 0.75, "no r (< 3 perturbed models)", ha="center", fontsize=7,
                    color="0.35", transform=ax.transAxes)
        ax.set_xlabel("hidden layer", fontsize=7)
        ax.set_ylabel("r with GLUE", fontsize=7)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="upper right", fontsize=7)
    fig.suptitle(f"r with the GLUE average by layer ({variant} definitions; bands: 95% "
                 "Fisher intervals)", fontsize=9)
    return _save(fig, Path(path))
