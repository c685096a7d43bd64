"""Rule analyze_uncertainty: Table 2's r recomputed on every bootstrap replicate of the
measures; whether each r survives the measures' own uncertainty."""
from pathlib import Path

import pandas as pd

from latentgeom.analysis import pearson_under_bootstrap, to_markdown
from latentgeom.bootstrap import read_replicates
from latentgeom.io import log_to, write_csv, write_text

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    reps = {Path(p).name.removesuffix(".bootstrap.npz"): read_replicates(p)
            for p in sm.input.replicates}
    out = pearson_under_bootstrap(pd.read_csv(sm.input.table), reps, level=sm.params.level)
    write_csv(sm.output.table, out)
    write_text(sm.output.md, to_markdown(out))
    print(to_markdown(out[out.variant == sm.params.variant]))
