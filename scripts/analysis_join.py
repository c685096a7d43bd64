"""Rule models_table: join tables/measures.csv and tables/glue.csv."""
import pandas as pd

from latentgeom.analysis import join_tables
from latentgeom.io import log_to, write_csv

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    df = join_tables(pd.read_csv(sm.input.measures), pd.read_csv(sm.input.glue))
    write_csv(sm.output.table, df)
    print(f"{len(df)} models, {df.shape[1]} columns")
