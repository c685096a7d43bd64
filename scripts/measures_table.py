"""Rule measures_table: one row per model, measures as columns."""
from latentgeom.io import log_to
from latentgeom.stages import measures_table_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    measures_table_stage(measure_paths=list(sm.input.measures),
                         manifest_paths=list(sm.input.manifests), out_path=sm.output.table,
                         bootstrap_paths=list(sm.input.bootstrap) or None)
