"""Rule analyze_layers: r per hidden layer (Fisher intervals) and r against depth (figure)."""
from pathlib import Path

import pandas as pd

from latentgeom.io import log_to, write_csv
from latentgeom.layers import layer_pearson
from latentgeom.plots import figure_layers

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    pear = layer_pearson(pd.read_csv(sm.input.table), pd.read_csv(sm.input.models))
    write_csv(sm.output.table, pear)
    for p in figure_layers(pear, Path(sm.output.png).with_suffix(""), sm.params.variant):
        print(p)
