"""Rule sensitivity_table: one row per (model, quantizer setting)."""
from latentgeom.io import log_to
from latentgeom.stages import sensitivity_table_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    sensitivity_table_stage(measure_paths=list(sm.input.measures), models=list(sm.params.models),
                            out_path=sm.output.table)
