"""Rule glue_table: one row per model (identity, per-task scores, GLUE average)."""
from latentgeom.glue.finetune import glue_table
from latentgeom.io import log_to, write_csv

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    table = glue_table(list(sm.input.scores), list(sm.input.manifests))
    write_csv(sm.output.table, table)
    print(table.to_string())
