"""Statistics of Section 4 / Appendix C: Pearson r per architecture, OLS with and without the
architecture, predictions and LM MSE for the non-standard models.

The input is the joined model table, ``models.csv``: one row per model with

- ``model``, ``architecture``, ``kind`` (``perturbed`` | ``nonstandard``), ``alpha``, ``seed``
  (empty for non-standard models);
- ``glue.<task>`` per-task dev scores (optional) and ``glue_average``;
- every measure as ``<group>.<name>``: ``spread.EEE``, ``spread.VRM``, ``spread.IS`` and, per
  quantizer group (``additive``, ``product``), ``PP, PC_var, PC_kl, RS, RE, RI, CD_var, PD_EEE``
  — the paper's definitions (its equations) — and the same under the authors' definitions
  (their code, docs/measures.md) as ``authors:<group>.<name>``. Either set may be absent (the
  published data have only the authors').

Every statistic is computed per definition ("variant"); one of them, the primary (the config's
``measures.variant``), fills ``table1``/``table2``, the predictions and the figures, and each
variant present also gets ``table1_<variant>``/``table2_<variant>`` and its rows in
``pearson.csv``, so that the paper's conclusions can be read under both definitions.

Regressions are fitted on all perturbed models together (every architecture), as the authors
did, and used to predict the non-standard models; "LM MSE" is the mean squared error of the
``glue_average ~ measure + architecture`` predictions over the non-standard models.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .schema import AUTHORS, CI, GROUP_ORDER, PAPER_NAMES, QUANTIZED, SPREAD, VARIANTS

TARGET = "glue_average"
#: Table 1 of the paper.
TABLE1 = ("additive.PP", "additive.RS", "additive.CD_var", "additive.PD_EEE", "spread.EEE")
log = logging.getLogger("latentgeom.analysis")


def variant_of(column: str) -> str:
    """``paper`` for ``<group>.<name>``, ``authors`` for ``authors:<group>.<name>``."""
    return "authors" if column.startswith(AUTHORS) else "paper"


def _is_ci(c: str) -> bool:
    return c.startswith(CI)


def _is_measure(c: str) -> bool:
    if _is_ci(c):
        return False
    c = c.removeprefix(AUTHORS)
    return "." in c and not c.startswith("glue.")


def variants_present(df) -> list[str]:
    """The variants that have measure columns in ``df``, in ``VARIANTS`` order."""
    have = {variant_of(c) for c in df.columns if _is_measure(c)}
    return [v for v in VARIANTS if v in have]


def select_variant(df, variant: str):
    """``df`` with the measure columns of one variant only, named ``<group>.<name>`` (the other
    variant's columns dropped): what the statistics and figures read."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    keep, rename = [], {}
    for c in df.columns:
        if _is_ci(c):  # ci_lo:<column>: follows its measure column
            pre, col = c[:6], c[6:]
            if variant_of(col) == variant:
                keep.append(c)
                rename[c] = pre + col.removeprefix(AUTHORS)
        elif not _is_measure(c):
            keep.append(c)
        elif variant_of(c) == variant:
            keep.append(c)
            rename[c] = c.removeprefix(AUTHORS)
    if not any(_is_measure(c) for c in rename):
        raise ValueError(f"model table: no measure columns of the {variant!r} variant "
                         f"(present: {variants_present(df) or 'none'})")
    return df[keep].rename(columns=rename)


def label(measure: str) -> str:
    """Readable label of a measure column: ``additive.PP`` -> ``Point Patchiness (PP), additive``.
    """
    group, _, name = measure.partition(".")
    base = PAPER_NAMES.get(name, name)
    return base if group == "spread" else f"{base}, {group}"


def measure_columns(df, variant: str | None = "paper") -> list[str]:
    """Measure columns of one variant (``None``: both, the paper's first) in the paper's order:
    additive, product (other quantizers after), spread."""
    if variant is None:
        return measure_columns(df, "paper") + measure_columns(df, "authors")
    cols = [c for c in df.columns if _is_measure(c) and variant_of(c) == variant]
    bare = {c: c.removeprefix(AUTHORS) for c in cols}
    groups = list(dict.fromkeys(bare[c].split(".", 1)[0] for c in cols))
    order = [g for g in GROUP_ORDER if g in groups] + [g for g in groups if g not in GROUP_ORDER]
    rank = {n: i for i, n in enumerate(QUANTIZED + SPREAD)}
    out = []
    for g in order:
        out += sorted((c for c in cols if bare[c].split(".", 1)[0] == g),
                      key=lambda c: rank.get(bare[c].split(".", 1)[1], 99))
    return out


def join_tables(measures, glue):
    """``models.csv``: the geometry table joined to the GLUE table on ``model``.

    The GLUE table's per-task columns (bare task names, as ``tables/glue.csv`` has them) become
    ``glue.<task>``; its own model metadata is dropped in favour of the geometry table's."""
    for name, df, need in (("measures table", measures, ("model", "architecture", "kind")),
                           ("GLUE table", glue, ("model", TARGET))):
        missing = [c for c in need if c not in df.columns]
        if missing:
            raise ValueError(f"{name}: missing columns {missing}")
    only_m = sorted(set(measures.model) - set(glue.model))
    only_g = sorted(set(glue.model) - set(measures.model))
    if only_m or only_g:
        raise ValueError(f"tables disagree on models: only in measures {only_m[:5]}, "
                         f"only in GLUE {only_g[:5]}")
    meta = {"model", "kind", "architecture", "base", "alpha", "seed", "perturbation", TARGET}
    g = glue.rename(columns={c: f"glue.{c}" for c in glue.columns
                             if c not in meta and not c.startswith("glue.")})
    g = g[["model", *[c for c in g.columns if c.startswith("glue.")], TARGET]]
    out = measures.merge(g, on="model", how="inner", validate="one_to_one")
    front = ["model", "architecture", "kind", "alpha", "seed", "perturbation"]  # latent noise
    front = [c for c in front if c in out.columns]
    glue_cols = [c for c in out.columns if c.startswith("glue.")] + [TARGET]
    cis = [c for c in out.columns if _is_ci(c)]  # bootstrap intervals, when the run has them
    return out[front + glue_cols + measure_columns(out, None) + cis]


# ----------------------------------------------------------------------------- correlation
def pearson_ci(x, y, level: float = 0.95) -> tuple[float, float, float, float]:
    """``(r, p, ci_low, ci_high)`` of the Pearson correlation of ``x`` and ``y``:
    ``scipy.stats.pearsonr`` and its ``confidence_interval`` (Fisher's z, standard error
    1/sqrt(n - 3); n = 3 gives (-1, 1)). All NaN with fewer than 3 pairs or no variance in
    either (a correlation is undefined there)."""
    from scipy import stats

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return (float("nan"),) * 4
    res = stats.pearsonr(x, y)
    ci = res.confidence_interval(confidence_level=level)
    return float(res.statistic), float(res.pvalue), float(ci.low), float(ci.high)


def unusable_rows(df, measure: str, target: str = TARGET) -> list[tuple[str, str]]:
    """``(model, reason)`` for every row of ``df`` that a statistic of ``measure`` must leave
    out: a NaN target, a NaN or infinite measure value (e.g. PC_var is +inf when one cell holds
    every point)."""
    import pandas as pd

    x = pd.to_numeric(df[measure], errors="coerce").to_numpy(dtype=float)
    y = pd.to_numeric(df[target], errors="coerce").to_numpy(dtype=float)
    out = []
    for model, xi, yi in zip(df["model"], x, y):
        why = []
        if np.isnan(yi):
            why.append(f"{target} NaN")
        elif np.isinf(yi):
            why.append(f"{target} {'+' if yi > 0 else '-'}inf")
        if np.isnan(xi):
            why.append(f"{measure} NaN")
        elif np.isinf(xi):
            why.append(f"{measure} {'+' if xi > 0 else '-'}inf")
        if why:
            out.append((str(model), ", ".join(why)))
    return out


def _describe(dropped: list[tuple[str, str]]) -> str:
    return "; ".join(f"{m} ({why})" for m, why in dropped)


def pearson_by_architecture(df, measures: Sequence[str], target: str = TARGET):
    """Long table: measure, architecture, n, r, ci_low, ci_high, p over perturbed models, and
    ``dropped``: the models left out and why (see :func:`unusable_rows`), each also logged."""
    import pandas as pd

    pert = df[df["kind"] == "perturbed"]
    rows = []
    for m in measures:
        for arch, g in pert.groupby("architecture", sort=False):
            dropped = unusable_rows(g, m, target)
            if dropped:
                log.warning("%s, %s: %d of %d perturbed models left out: %s", m, arch,
                            len(dropped), len(g), _describe(dropped))
            ok = g[[m, target]].replace([np.inf, -np.inf], np.nan).dropna()
            r, p, lo, hi = pearson_ci(ok[m], ok[target])
            rows.append({"measure": m, "architecture": arch, "n": len(ok), "r": r,
                         "ci_low": lo, "ci_high": hi, "p": p,
                         "dropped": _describe(dropped)})
    return pd.DataFrame(rows)


def pearson_under_bootstrap(df, replicates, level: float = 0.95, measures=None):
    """Table 2's r under the measures' own uncertainty (``measures.bootstrap``).

    ``replicates`` maps a model to ``(columns, values)``: its measures on each bootstrap
    replicate (``latentgeom.bootstrap``; every model's replicate b resampled the same
    sequences). For each measure column (both definitions) and architecture, r(measure, GLUE
    average) over the perturbed models is recomputed with each replicate's measure values (the
    GLUE scores held fixed); the percentile interval of those r values is ``r_lo``/``r_hi``,
    and the r ``survives`` when that interval excludes 0. Returns a long table: variant,
    measure, architecture, n, r (the point estimate), r_lo, r_hi, replicates (those where
    every model had a finite value), survives.
    """
    import pandas as pd

    from .bootstrap import percentile_interval

    check_model_table(df)
    pert = df[df["kind"] == "perturbed"]
    cols = list(measures or measure_columns(df, None))
    rows = []
    for m in cols:
        for arch, g in pert.groupby("architecture", sort=False):
            y = pd.to_numeric(g[TARGET], errors="coerce").to_numpy(dtype=float)
            x0 = pd.to_numeric(g[m], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(y) & np.isfinite(x0)
            names = g["model"].astype(str).to_numpy()[ok]
            y = y[ok]
            r0 = _pearson(x0[ok], y)
            if any(n not in replicates for n in names):
                missing = [n for n in names if n not in replicates]
                raise ValueError(f"bootstrap replicates missing for models {missing[:5]}")
            reps = []
            for n in names:
                c, v = replicates[n]
                reps.append(v[:, c.index(m)] if m in c else np.full(len(v), np.nan))
            B = min((len(r) for r in reps), default=0)
            R = np.array([r[:B] for r in reps]).T if reps else np.empty((0, 0))  # (B, models)
            keep = np.isfinite(R).all(axis=1) if R.size else np.zeros(0, bool)
            rb = np.array([_pearson(row, y) for row in R[keep]]) if keep.any() else np.array([])
            lo, hi = percentile_interval(rb, level)
            rows.append({"variant": variant_of(m), "measure": m.removeprefix(AUTHORS),
                         "architecture": arch, "n": int(ok.sum()), "r": r0, "r_lo": lo,
                         "r_hi": hi, "replicates": int(np.isfinite(rb).sum()),
                         "level": level,
                         "survives": bool(np.isfinite(lo) and (lo > 0 or hi < 0))})
    return pd.DataFrame(rows)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r, NaN with fewer than 3 points or no variance in either."""
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


# ----------------------------------------------------------------------------- regression
def _formula(measure: str, with_arch: bool) -> str:
    rhs = f'Q("{measure}")'
    return f"{TARGET} ~ {rhs} + C(architecture)" if with_arch else f"{TARGET} ~ {rhs}"


def fit_ols(df, measure: str, with_arch: bool):
    """OLS ``glue_average ~ measure [+ architecture]`` on the perturbed models (statsmodels).

    With a single architecture the ``+ architecture`` model is the plain one.
    Returns the fitted results, or None when fewer than 3 usable rows remain.
    """
    import statsmodels.formula.api as smf

    data = df[df["kind"] == "perturbed"][[measure, TARGET, "architecture"]]
    data = data.replace([np.inf, -np.inf], np.nan).dropna()
    if len(data) < 3 or data[measure].nunique() < 2:
        return None
    use_arch = with_arch and data["architecture"].nunique() > 1
    return smf.ols(_formula(measure, use_arch), data=data).fit()


def predict(fit, df, measure: str):
    """Predictions of ``fit`` for the rows of ``df``; NaN for rows it cannot predict (missing
    measure, or an architecture the perturbed models did not have)."""
    pred = np.full(len(df), np.nan)
    if fit is None or len(df) == 0:
        return pred
    known = None
    if "C(architecture)" in fit.model.formula:
        known = set(fit.model.data.frame["architecture"])
    ok = np.isfinite(df[measure].to_numpy(dtype=float))
    if known is not None:
        ok &= df["architecture"].isin(known).to_numpy()
    if ok.any():
        pred[ok] = np.asarray(fit.predict(df[ok]))
    return pred


def check_model_table(df) -> None:
    """Required columns present and every model named once (a repeated row would be counted
    twice in every statistic)."""
    missing = [c for c in ("model", "architecture", "kind", TARGET) if c not in df.columns]
    if missing:
        raise ValueError(f"model table: missing columns {missing}")
    dup = df["model"][df["model"].duplicated()].astype(str).unique().tolist()
    if dup:
        raise ValueError(f"model table: {len(dup)} model name(s) appear more than once: "
                         f"{', '.join(sorted(dup))} (each model must have one row)")


def analyze(df, outliers: Iterable[str] = (), measures: Sequence[str] | None = None,
            variant: str | None = None) -> dict:
    """Every statistic of the paper's Tables 1-2 and the non-standard predictions, under one
    definition of the measures (``variant``; default: the paper's if the table has them, else
    the authors').

    Returns ``{"table2", "table1", "pearson", "predictions", "correlations", "summaries",
    "variant"}``. Duplicate model names are an error; every row left out of a statistic is
    named with its reason in ``pearson`` (``dropped``) and in a log line.
    """
    import pandas as pd

    check_model_table(df)
    if variant is None:
        present = variants_present(df)
        if not present:
            raise ValueError("model table: no measure columns (expected e.g. 'additive.PP')")
        variant = present[0]
    df = select_variant(df, variant)
    measures = list(measures or measure_columns(df))
    if not measures:
        raise ValueError("model table: no measure columns (expected e.g. 'additive.PP')")
    outliers = set(outliers)
    archs = list(dict.fromkeys(df.loc[df["kind"] == "perturbed", "architecture"]))
    pear = pearson_by_architecture(df, measures)
    ns = df[df["kind"] == "nonstandard"].reset_index(drop=True)
    rows, preds, summaries = [], [], []
    for m in measures:
        row: dict[str, Any] = {"group": m.split(".", 1)[0], "measure": m}
        for arch in archs:
            pr = pear[(pear.measure == m) & (pear.architecture == arch)].iloc[0]
            row[f"n_{arch}"] = int(pr.n)
            row[f"r_{arch}"] = pr.r
        fits = {"no_arch": fit_ols(df, m, False), "arch": fit_ols(df, m, True)}
        row["r2"] = fits["no_arch"].rsquared if fits["no_arch"] is not None else np.nan
        row["r2_arch"] = fits["arch"].rsquared if fits["arch"] is not None else np.nan
        p_arch, p_plain = predict(fits["arch"], ns, m), predict(fits["no_arch"], ns, m)
        obs = ns[TARGET].to_numpy(dtype=float) if len(ns) else np.array([])
        keep = ~ns["model"].isin(outliers).to_numpy() if len(ns) else np.array([], bool)
        row["lm_mse"] = _mse(obs, p_arch)
        row["lm_mse_no_arch"] = _mse(obs, p_plain)
        row["lm_mse_filtered"] = _mse(obs[keep], p_arch[keep])
        row["n_nonstandard"] = int(np.isfinite(p_arch).sum())
        row["variant"] = variant
        rows.append(row)
        if len(ns):
            no_pred = [(str(ns.loc[i, "model"]), why) for i, why in
                       _no_prediction_reasons(ns, m, fits["arch"])]
            if no_pred:
                log.warning("%s: %d of %d non-standard models left out of lm_mse: %s", m,
                            len(no_pred), len(ns), _describe(no_pred))
        for i in range(len(ns)):
            preds.append({"model": ns.loc[i, "model"], "architecture": ns.loc[i, "architecture"],
                          "measure": m, "value": ns.loc[i, m], "observed": obs[i],
                          "predicted": p_arch[i], "predicted_no_arch": p_plain[i],
                          "outlier": ns.loc[i, "model"] in outliers})
        for fit in fits.values():
            if fit is not None:
                summaries.append(f"==== {m}: {fit.model.formula} ====\n{fit.summary()}\n")
    table2 = pd.DataFrame(rows)
    table1 = table2[table2.measure.isin(TABLE1)].set_index("measure").reindex(
        [t for t in TABLE1 if t in set(table2.measure)]).reset_index()[list(table2.columns)]
    vals = df[measures].replace([np.inf, -np.inf], np.nan)
    corr = vals.corr(method="pearson")
    pear.insert(0, "variant", variant)
    return {"table2": table2, "table1": table1, "pearson": pear,
            "predictions": pd.DataFrame(preds), "correlations": corr,
            "summaries": "\n".join(summaries), "variant": variant}


def _no_prediction_reasons(ns, measure: str, fit):
    """Index and reason of each non-standard row the '+ architecture' fit cannot predict."""
    bad = dict(unusable_rows(ns, measure))
    known = None
    if fit is not None and "C(architecture)" in fit.model.formula:
        known = set(fit.model.data.frame["architecture"])
    for i in range(len(ns)):
        name = str(ns.loc[i, "model"])
        if fit is None:
            yield i, "no regression (too few perturbed models)"
        elif name in bad:
            yield i, bad[name]
        elif known is not None and ns.loc[i, "architecture"] not in known:
            yield i, f"architecture {ns.loc[i, 'architecture']!r} has no perturbed models"


def analyze_all(df, outliers: Iterable[str] = (), primary: str | None = None) -> dict:
    """:func:`analyze` under every definition the table has: ``{"primary": variant,
    "variants": {variant: result}}``. ``primary`` (the config's ``measures.variant``; default:
    the paper's if present) is the one :func:`write_results` puts in ``table1``/``table2``."""
    check_model_table(df)
    present = variants_present(df)
    if not present:
        raise ValueError("model table: no measure columns (expected e.g. 'additive.PP')")
    primary = primary or present[0]
    if primary not in present:
        raise ValueError(f"measures.variant {primary!r}: the model table has no such measure "
                         f"columns (present: {present})")
    return {"primary": primary,
            "variants": {v: analyze(df, outliers, variant=v) for v in present}}


def _mse(obs: np.ndarray, pred: np.ndarray) -> float:
    ok = np.isfinite(obs) & np.isfinite(pred)
    return float(np.mean((obs[ok] - pred[ok]) ** 2)) if ok.any() else float("nan")


# the results' files have their own module (report); these names stay importable from here
from .report import to_markdown, write_results  # noqa: E402, F401
