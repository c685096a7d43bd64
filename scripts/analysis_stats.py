"""Rule analyze: the statistics of Tables 1-2 and the non-standard predictions, under both
definitions of the measures (table1/table2: the config's measures.variant)."""
import logging
from pathlib import Path

import pandas as pd

from latentgeom.analysis import analyze_all, to_markdown, write_results
from latentgeom.io import log_to

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", force=True)
    res = analyze_all(pd.read_csv(sm.input.table), outliers=sm.params.outliers,
                      primary=sm.params.variant)
    write_results(res, Path(sm.output.table1).parent)
    for variant, r in res["variants"].items():
        print(f"Table 2, {variant} definitions{' (primary)' if variant == res['primary'] else ''}:")
        print(to_markdown(r["table2"]))
