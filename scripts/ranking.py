"""Rule ranking: the out-of-sample ranking of the measures (analysis/ranking.csv + figure)."""
from latentgeom.io import log_to
from latentgeom.stages import ranking_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    ranking_stage(table_path=sm.input.table, out_table=sm.output.table,
                  out_figure=sm.output.png, **sm.params)
