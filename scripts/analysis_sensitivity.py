"""Rule analyze_sensitivity: r per quantizer setting, and r against M and K (figure)."""
from pathlib import Path

import pandas as pd

from latentgeom.io import log_to, write_csv
from latentgeom.plots import figure_sensitivity
from latentgeom.sensitivity import sensitivity_pearson

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    pear = sensitivity_pearson(pd.read_csv(sm.input.models), pd.read_csv(sm.input.table))
    write_csv(sm.output.table, pear)
    for p in figure_sensitivity(pear, Path(sm.output.png).with_suffix(""), sm.params.variant):
        print(p)
