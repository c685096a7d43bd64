"""Which measure predicts GLUE best, out of sample (issue 21, part 3).

The paper ranks its measures by in-sample r and r^2 (Tables 1-2). Here each measure (and each
pair of measures) predicts the GLUE average of perturbed models it was not fitted on:

- the model is the paper's OLS: ``glue_average ~ measure(s)`` fitted per architecture, and
  ``glue_average ~ measure(s) + architecture`` on every architecture together (``pooled``,
  only with more than one architecture);
- ``loo``: leave one model out; the held-out residuals come from the hat-matrix identity
  e_(i) = e_i / (1 - h_ii) (exact for OLS; :func:`loo_residuals`);
- ``alpha_kfold``: k folds by alpha: the distinct alphas, sorted, are dealt round-robin into k
  folds (:func:`alpha_folds`), so every seed of an alpha is held out together and a fit never
  sees the model it predicts at another seed;
- the error is the root mean squared held-out error (``rmse``) and ``q2 = 1 - MSE / MSE_0``,
  MSE_0 being that of the same fit without any measure (the mean, per architecture when
  pooled) under the same folds on the same models: q2 > 0 means the measure predicts better
  than knowing the architecture's average alone;
- the interval over models: a percentile bootstrap of the held-out squared errors (models
  drawn with replacement, the same draws for every candidate, so differences are paired),
  also of the difference in MSE to a reference measure (default: additive PP), ``d_mse``: < 0
  means the candidate predicts better than the reference.

Rows with a NaN or infinite value of a candidate's measure are left out of that candidate (its
``n`` says how many remain); q2 and d_mse always compare on the same models.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import numpy as np

from .analysis import TARGET
from .bootstrap import percentile_interval

CV_KINDS = ("loo", "alpha_kfold")
NONE = "(none)"  #: the candidate without a measure: the baseline of q2
#: the columns of :func:`rank_measures`
COLUMNS = ("scope", "cv", "n_measures", "measures", "n", "rmse", "rmse_lo", "rmse_hi", "q2",
           "q2_lo", "q2_hi", "r2_in", "d_mse", "d_lo", "d_hi", "reference", "rank", "level")


def loo_residuals(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Leave-one-out residuals y_i - yhat_(i) of the OLS fit of ``y`` on the columns of ``X``,
    by the hat-matrix identity e_i / (1 - h_ii) (the fit's residual e and leverage h, from a
    rank-revealing SVD of ``X``). NaN where h_ii = 1 (a row no other row can predict, e.g. the
    only model of its architecture)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    tol = s.max(initial=0) * max(X.shape) * np.finfo(float).eps
    U = U[:, s > tol]
    h = np.sum(U ** 2, axis=1)
    e = y - U @ (U.T @ y)
    out = np.full(len(y), np.nan)
    ok = h < 1 - 1e-9
    out[ok] = e[ok] / (1 - h[ok])
    return out


def _rank(A: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(A)) if A.size else 0


def fold_residuals(X: np.ndarray, y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Held-out residuals of the OLS fit of ``y`` on ``X`` refitted without each fold (``folds``:
    a fold id per row). NaN for a fold whose training rows cannot identify the fit (fewer rank
    than the whole design: e.g. an architecture only that fold has)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    out = np.full(len(y), np.nan)
    full = _rank(X)
    for f in np.unique(folds):
        test = folds == f
        train = ~test
        if _rank(X[train]) < full or train.sum() <= full:
            continue
        beta = np.linalg.lstsq(X[train], y[train], rcond=None)[0]
        out[test] = y[test] - X[test] @ beta
    return out


def alpha_folds(alpha, k: int) -> np.ndarray:
    """A fold id per row: the distinct values of ``alpha``, sorted, dealt round-robin into
    ``k`` folds (every row of one alpha in one fold; min(k, distinct alphas) folds)."""
    if k < 2:
        raise ValueError(f"ranking.folds: expected at least 2, got {k}")
    alpha = np.asarray(alpha, dtype=float)
    uniq = np.unique(alpha[np.isfinite(alpha)])
    fold_of = {a: i % k for i, a in enumerate(uniq)}
    return np.array([fold_of.get(a, -1) for a in alpha])


def _design(vals: np.ndarray, arch: np.ndarray | None) -> np.ndarray:
    cols = [np.ones(len(vals)), *vals.T]
    if arch is not None:
        cols += [(arch == a).astype(float) for a in list(dict.fromkeys(arch))[1:]]
    return np.column_stack(cols)


def design(df, measures: Sequence[str], pooled: bool) -> np.ndarray:
    """The OLS design: an intercept, the measures, and (``pooled``) a dummy per architecture
    but the first (treatment coding, as statsmodels' ``C(architecture)``)."""
    vals = df[list(measures)].to_numpy(dtype=float).reshape(len(df), len(measures))
    return _design(vals, df["architecture"].to_numpy() if pooled else None)


def _held_out(X: np.ndarray, y: np.ndarray, alpha: np.ndarray, cv: str, k: int) -> np.ndarray:
    if cv == "loo":
        return loo_residuals(X, y)
    if cv == "alpha_kfold":
        return fold_residuals(X, y, alpha_folds(alpha, k))
    raise ValueError(f"cv: expected one of {CV_KINDS}, got {cv!r}")


def held_out_residuals(df, measures: Sequence[str], cv: str, pooled: bool,
                       k: int = 5) -> np.ndarray:
    """Held-out residuals of ``glue_average ~ measures [+ architecture]`` on the rows of ``df``
    (all usable: finite measures and target), by ``cv`` (``loo`` or ``alpha_kfold``)."""
    return _held_out(design(df, measures, pooled), df[TARGET].to_numpy(dtype=float),
                     df["alpha"].to_numpy(dtype=float), cv, k)


def in_sample_r2(df, measures: Sequence[str], pooled: bool) -> float:
    """R^2 of the same OLS fitted on every row (what the paper reports)."""
    return _r2(design(df, measures, pooled), df[TARGET].to_numpy(dtype=float))


def _r2(X: np.ndarray, y: np.ndarray) -> float:
    if len(y) <= _rank(X):
        return float("nan")
    e = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    tss = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum(e ** 2) / tss) if tss > 0 else float("nan")


def bootstrap_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """``(n_boot, n)`` how often each of ``n`` models is drawn in each bootstrap replicate
    (n draws with replacement; ``np.random.default_rng(seed)``)."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)


def _boot_mse(C: np.ndarray, sq: np.ndarray, ok: np.ndarray) -> np.ndarray:
    w = C @ ok.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (C @ np.where(ok, sq, 0.0)) / w


def rank_measures(df, measures: Sequence[str], *, pairs: bool = True, k: int = 5,
                  n_boot: int = 1000, seed: int = 0, level: float = 0.95,
                  reference: str | None = "additive.PP") -> pd.DataFrame:  # noqa: F821
    """The out-of-sample ranking of ``measures`` (and, with ``pairs``, of every pair of them) as
    predictors of the GLUE average of the perturbed models of ``df`` (a model table, one
    definition of the measures: :func:`latentgeom.analysis.select_variant`).

    One row per scope (each architecture; ``pooled``), cv kind and candidate: ``scope``, ``cv``,
    ``n_measures`` (0: the baseline, 1, 2), ``measures`` (``a + b`` for a pair), ``n``,
    ``rmse`` with its bootstrap interval ``rmse_lo``/``rmse_hi``, ``q2`` (``q2_lo``/``q2_hi``),
    ``r2_in`` (in-sample R^2 of the same fit), ``d_mse`` (MSE minus the ``reference``'s, on the
    models both have; ``d_lo``/``d_hi``), ``rank`` (by q2, best first, within scope, cv and
    n_measures).
    """
    import pandas as pd

    pert = df[df["kind"] == "perturbed"].reset_index(drop=True)
    measures = list(measures)
    if reference not in measures:
        reference = None
    cands: list[tuple[str, ...]] = [()] + [(m,) for m in measures]
    if pairs:
        cands += list(combinations(measures, 2))
    archs = list(dict.fromkeys(pert["architecture"]))
    scopes = [(a, pert[pert["architecture"] == a]) for a in archs]
    if len(archs) > 1:
        scopes.append(("pooled", pert))
    rows = []
    for scope, sub in scopes:
        sub = sub.reset_index(drop=True)
        pooled = scope == "pooled"
        n = len(sub)
        if n < 3:
            continue
        C = bootstrap_counts(n, n_boot, seed)
        y = sub[TARGET].to_numpy(dtype=float)
        y_ok = np.isfinite(y)
        alpha = sub["alpha"].to_numpy(dtype=float)
        arch = sub["architecture"].to_numpy() if pooled else None
        V = sub[measures].to_numpy(dtype=float)  # numpy from here on: pandas indexing is slow
        col = {m: i for i, m in enumerate(measures)}
        for cv in CV_KINDS:
            sq: dict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = {}
            base_cache: dict[bytes, np.ndarray] = {}
            for cand in cands:
                vals = V[:, [col[m] for m in cand]]
                ok = y_ok & np.isfinite(vals).all(axis=1)
                e = np.full(n, np.nan)
                base = np.full(n, np.nan)
                r2_in = float("nan")
                if ok.sum() >= 3:
                    a_ok = arch[ok] if arch is not None else None
                    X = _design(vals[ok], a_ok)
                    e[ok] = _held_out(X, y[ok], alpha[ok], cv, k)
                    r2_in = _r2(X, y[ok])
                    key = ok.tobytes()
                    if key not in base_cache:
                        b = np.full(n, np.nan)
                        b[ok] = _held_out(_design(vals[ok][:, :0], a_ok), y[ok], alpha[ok], cv, k)
                        base_cache[key] = b
                    base = base_cache[key]
                use = ok & np.isfinite(e) & np.isfinite(base)
                sq[cand] = (e ** 2, use)
                mse = float(np.mean(e[use] ** 2)) if use.any() else float("nan")
                mse0 = float(np.mean(base[use] ** 2)) if use.any() else float("nan")
                bm = _boot_mse(C, e ** 2, use)
                b0 = _boot_mse(C, base ** 2, use)
                with np.errstate(invalid="ignore", divide="ignore"):
                    q2b = 1 - bm / b0
                    q2 = 1 - mse / mse0 if mse0 > 0 else float("nan")
                rl, rh = percentile_interval(np.sqrt(bm), level)
                ql, qh = percentile_interval(q2b, level)
                rows.append({"scope": scope, "cv": cv, "n_measures": len(cand),
                             "measures": " + ".join(cand) if cand else NONE,
                             "n": int(use.sum()), "rmse": np.sqrt(mse), "rmse_lo": rl,
                             "rmse_hi": rh, "q2": q2, "q2_lo": ql, "q2_hi": qh,
                             "r2_in": r2_in, "_cand": cand})
            if reference is not None:
                rsq, ruse = sq[(reference,)]
                for row in rows:
                    if row["scope"] != scope or row["cv"] != cv:
                        continue
                    csq, cuse = sq[row.pop("_cand")]
                    both = cuse & ruse
                    if both.sum() == 0:
                        row.update(d_mse=np.nan, d_lo=np.nan, d_hi=np.nan)
                        continue
                    d = float(np.mean(csq[both]) - np.mean(rsq[both]))
                    db = _boot_mse(C, csq, both) - _boot_mse(C, rsq, both)
                    lo, hi = percentile_interval(db, level)
                    row.update(d_mse=d, d_lo=lo, d_hi=hi)
    for row in rows:
        row.pop("_cand", None)
    out = pd.DataFrame(rows)
    if out.empty:  # fewer than 3 perturbed models in every scope: no candidate
        return pd.DataFrame(columns=list(COLUMNS))
    out["reference"] = reference or ""
    # by q2: each candidate's rmse is over its own usable models, its q2 against the baseline
    # on those same models, so q2 is the comparable one
    out["rank"] = (out.groupby(["scope", "cv", "n_measures"])["q2"]
                   .rank(method="min", ascending=False).astype("Int64"))
    out["level"] = level
    out = out.reindex(columns=list(COLUMNS))  # d_* NaN without a reference
    return out.sort_values(["scope", "cv", "n_measures", "rank"], kind="stable",
                           ignore_index=True)


def rank_table(df, *, variants: Sequence[str] | None = None, **kw) -> pd.DataFrame:  # noqa: F821
    """:func:`rank_measures` under every definition the model table has (``variant`` column
    first): the paper's (with any other ``<group>.<name>`` columns, e.g. ``geometry.*``) and
    the authors'."""
    import pandas as pd

    from .analysis import check_model_table, measure_columns, select_variant, variants_present

    check_model_table(df)
    frames = []
    for v in variants or variants_present(df):
        sel = select_variant(df, v)
        r = rank_measures(sel, measure_columns(sel), **kw)
        r.insert(0, "variant", v)
        frames.append(r)
    if not frames:
        raise ValueError("model table: no measure columns (expected e.g. 'additive.PP')")
    return pd.concat(frames, ignore_index=True)
