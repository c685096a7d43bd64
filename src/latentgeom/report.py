"""The analysis's results on disk: Markdown tables and the files of Tables 1-2, the fits and the
predictions (:func:`write_results`). The statistics themselves are in :mod:`latentgeom.analysis`,
which re-exports these two functions."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .io import write_csv, write_text


def to_markdown(df, floatfmt: str = ".3f") -> str:
    """A GitHub Markdown table (no tabulate dependency)."""
    def fmt(v):
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else format(v, floatfmt)
        return str(v)

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    from pandas.api.types import is_numeric_dtype

    sep = "|" + "|".join("---:" if is_numeric_dtype(df[c]) else "---" for c in df.columns) + "|"
    body = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, sep, *body]) + "\n"


def without_clock(summaries: str) -> str:
    """statsmodels' OLS summaries with their ``Date:`` and ``Time:`` values blanked (same
    width): the wall clock of the run is not a result, and two runs of one config must write
    the same bytes."""
    import re

    return re.sub(r"^(Date|Time):( +)(.+?)(   )",
                  lambda m: f"{m[1]}:{m[2]}{' ' * len(m[3])}{m[4]}", summaries, flags=re.M)


def write_results(res: dict, out_dir: str | Path) -> list[Path]:
    """Write tables (CSV + Markdown), predictions, correlations and model summaries.

    ``res`` from :func:`analyze` (one variant) or :func:`analyze_all`: then ``table1``/``table2``
    (and predictions, correlations, summaries) are the primary variant's, each variant also
    gets ``table1_<variant>``/``table2_<variant>``, and ``pearson.csv`` holds every variant's
    rows (column ``variant``)."""
    import pandas as pd

    out = Path(out_dir)
    by_variant = res["variants"] if "variants" in res else {res["variant"]: res}
    main = by_variant[res["primary"]] if "variants" in res else res
    paths = []
    tables = [(name, main[name]) for name in ("table1", "table2")]
    if "variants" in res:
        tables += [(f"{name}_{v}", r[name]) for v, r in by_variant.items()
                   for name in ("table1", "table2")]
    for name, table in tables:
        write_csv(out / f"{name}.csv", table)
        write_text(out / f"{name}.md", to_markdown(table))
        paths += [out / f"{name}.csv", out / f"{name}.md"]
    write_csv(out / "predictions.csv", main["predictions"])
    write_csv(out / "pearson.csv", pd.concat([r["pearson"] for r in by_variant.values()],
                                             ignore_index=True))
    corr = main["correlations"].reset_index().rename(columns={"index": "measure"})
    write_csv(out / "correlations.csv", corr)
    write_text(out / "ols_summaries.txt", without_clock(main["summaries"]))
    return paths + [out / f for f in ("predictions.csv", "pearson.csv", "correlations.csv",
                                      "ols_summaries.txt")]
