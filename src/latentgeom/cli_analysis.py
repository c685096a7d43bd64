"""Subcommands of the analysis side of ``latentgeom``: the paper's statistics of a model table
(``analyze``), the authors' published data as one (``import-published``), the other geometry of a
token matrix (``geometry``) and the out-of-sample ranking of a table's measures (``rank``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from .schema import VARIANTS


def _analyze(a: argparse.Namespace) -> None:
    from .stages import analyze_stage

    outliers = [s for s in (a.outliers or "").split(",") if s]
    res = analyze_stage(table_path=a.table, out_dir=a.out, outliers=outliers, variant=a.variant)
    if a.figures:
        import pandas as pd

        from .analysis import select_variant
        from .plots import make_figures

        primary = res["primary"]
        for p in make_figures(select_variant(pd.read_csv(a.table), primary), None,
                              Path(a.out) / "figures",
                              predictions=res["variants"][primary]["predictions"]):
            print(p)


def _import_published(a: argparse.Namespace) -> None:
    from .io import write_csv
    from .published import import_published

    df = import_published(a.directory)
    write_csv(a.out, df)
    print(f"{len(df)} models -> {a.out}")


def _geometry(a: argparse.Namespace) -> None:
    from .geometry import DEFAULTS
    from .stages import geometry_stage

    given = {k: getattr(a, k) for k in DEFAULTS if getattr(a, k) is not None}
    geometry_stage(embeddings_path=a.embeddings, out_path=a.out, settings=given)
    print(a.out)


def _rank(a: argparse.Namespace) -> None:
    from .stages import ranking_stage

    ranking_stage(table_path=a.table, out_table=a.out, out_figure=a.figure, folds=a.folds,
                  pairs=not a.no_pairs, bootstrap=a.bootstrap, seed=a.seed,
                  reference=a.reference)
    print(a.out)


def add_commands(sub) -> None:
    """Add the analysis-side subcommands to ``sub`` (``build_parser``'s subparsers)."""
    s = sub.add_parser("analyze", help="Pearson r, OLS, LM MSE (Tables 1-2) of a model table")
    s.add_argument("table", help="models.csv (see `latentgeom.analysis` for its columns)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--outliers", help="comma-separated non-standard models left out of "
                                      "lm_mse_filtered")
    s.add_argument("--figures", action="store_true", help="also draw the figures")
    s.add_argument("--variant", choices=list(VARIANTS),
                   help="primary definition of the measures for table1/table2 and the figures "
                        "(default: paper if the table has it, else authors); every variant "
                        "present also gets table1_<variant>/table2_<variant>")
    s.set_defaults(func=_analyze)

    s = sub.add_parser("import-published", help="the authors' published data as a model table")
    s.add_argument("directory", help="folder with bert_small_metrics.csv etc.")
    s.add_argument("--out", required=True, help="models.csv to write")
    s.set_defaults(func=_import_published)

    from .geometry import DEFAULTS as geometry_defaults  # numpy only: cheap

    s = sub.add_parser("geometry", help="TwoNN, MLE, persistence, RankMe, alpha-ReQ and "
                       "anisotropy of a token matrix (.npy) as JSON")
    s.add_argument("embeddings")
    s.add_argument("--out", required=True, help="JSON to write")
    for k, v in geometry_defaults.items():  # the geometry config block's settings
        s.add_argument("--" + k.replace("_", "-"), type=type(v), help=f"(default {v})")
    s.set_defaults(func=_geometry)
    s = sub.add_parser("rank", help="out-of-sample ranking of a model table's measures as "
                       "predictors of the GLUE average (CSV + figure)")
    s.add_argument("table", help="models.csv (e.g. from import-published)")
    s.add_argument("--out", required=True, help="ranking CSV to write")
    s.add_argument("--figure", required=True, help="figure path (PNG; a PDF beside it)")
    s.add_argument("--folds", type=int, default=5)
    s.add_argument("--bootstrap", type=int, default=1000)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--reference", default="additive.PP")
    s.add_argument("--no-pairs", action="store_true", help="single measures only")
    s.set_defaults(func=_rank)
