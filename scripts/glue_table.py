"""Rule glue_table: one row per model (identity, per-task scores, GLUE average)."""
from latentgeom.glue.stages import table_stage
from latentgeom.io import log_to

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    table = table_stage(scores_paths=list(sm.input.scores),
                        manifest_paths=list(sm.input.manifests), out_path=sm.output.table)
    print(table.to_string())
