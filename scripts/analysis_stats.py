"""Rule analyze: the statistics of Tables 1-2 and the non-standard predictions."""
from pathlib import Path

import pandas as pd

from latentgeom.analysis import analyze, to_markdown, write_results
from latentgeom.io import log_to

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    res = analyze(pd.read_csv(sm.input.table), outliers=sm.params.outliers)
    write_results(res, Path(sm.output.table1).parent)
    print(to_markdown(res["table2"]))
