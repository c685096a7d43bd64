"""Rule figures: Figures 1-11 from the model table (the measures of the config's
measures.variant) and the representativeness table."""
from pathlib import Path

import pandas as pd

from latentgeom.analysis import select_variant
from latentgeom.io import log_to
from latentgeom.plots import make_figures

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    df = select_variant(pd.read_csv(sm.input.table), sm.params.variant)
    rep = pd.read_csv(sm.input.representativeness, keep_default_na=False)
    for p in make_figures(df, rep, Path(sm.output.png[0]).parent):
        print(p)
