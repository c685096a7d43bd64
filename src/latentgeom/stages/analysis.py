"""Stages of the analysis (rules of ``workflow/rules/analysis.smk``): Tables 1-2 and the fits,
the figures, and the analyses of the bootstrap, sensitivity and layer-wise experiments."""

from __future__ import annotations

from pathlib import Path

from ..io import read_csv, write_csv, write_text


def analyze_stage(*, table_path: str, out_dir: str, outliers: list[str] | None = None,
                  variant: str | None = None) -> dict:
    """Tables 1-2, the OLS fits and the non-standard predictions under both definitions of the
    measures (``table1``/``table2``: ``variant``'s), written under ``out_dir``."""
    import logging

    from ..analysis import analyze_all
    from ..report import to_markdown, write_results

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", force=True)
    res = analyze_all(read_csv(table_path), outliers=outliers or [], primary=variant)
    write_results(res, out_dir)
    for v, r in res["variants"].items():
        print(f"Table 2, {v} definitions{' (primary)' if v == res['primary'] else ''}:")
        print(to_markdown(r["table2"]))
    return res


def figures_stage(*, table_path: str, representativeness_path: str | None, out_dir: str,
                  variant: str) -> list[Path]:
    """Figures 1-11 from the model table (``variant``'s measures) and the Fig. 2 table."""

    from ..analysis import select_variant
    from ..plots import make_figures

    df = select_variant(read_csv(table_path), variant)
    rep = (read_csv(representativeness_path, keep_default_na=False)
           if representativeness_path else None)
    paths = make_figures(df, rep, Path(out_dir))
    for p in paths:
        print(p)
    return paths


def uncertainty_stage(*, table_path: str, replicate_paths: list[str], out_table: str,
                      out_md: str, level: float = 0.95, variant: str = "paper"):
    """Table 2's r recomputed on every bootstrap replicate of the measures
    (:func:`latentgeom.analysis.pearson_under_bootstrap`); whether each r survives."""

    from ..analysis import pearson_under_bootstrap
    from ..bootstrap import read_replicates
    from ..report import to_markdown

    reps = {Path(p).name.removesuffix(".bootstrap.npz"): read_replicates(p)
            for p in replicate_paths}
    out = pearson_under_bootstrap(read_csv(table_path), reps, level=level)
    write_csv(out_table, out)
    write_text(out_md, to_markdown(out))
    print(to_markdown(out[out.variant == variant]))
    return out


def sensitivity_analysis_stage(*, models_path: str, table_path: str, out_table: str,
                               out_figure: str, variant: str = "paper"):
    """r(measure, GLUE average) per quantizer setting, and the figure of r against M and K
    (``out_figure`` without its suffix: PNG and PDF)."""

    from ..plots import figure_sensitivity
    from ..sensitivity import sensitivity_pearson

    pear = sensitivity_pearson(read_csv(models_path), read_csv(table_path))
    write_csv(out_table, pear)
    for p in figure_sensitivity(pear, Path(out_figure).with_suffix(""), variant):
        print(p)
    return pear


def layers_analysis_stage(*, table_path: str, models_path: str, out_table: str,
                          out_figure: str, variant: str = "paper"):
    """r(measure, GLUE average) per hidden layer with Fisher intervals, and the figure of r
    against depth (``out_figure`` without its suffix: PNG and PDF)."""

    from ..layers import layer_pearson
    from ..plots import figure_layers

    pear = layer_pearson(read_csv(table_path), read_csv(models_path))
    write_csv(out_table, pear)
    for p in figure_layers(pear, Path(out_figure).with_suffix(""), variant):
        print(p)
    return pear
