"""Rule layers_table: one row per (model, layer), long format."""
from latentgeom.io import log_to
from latentgeom.stages import layers_table_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    layers_table_stage(measure_paths=list(sm.input.measures), models=list(sm.params.models),
                       layers=list(sm.params.layers), main_table=sm.input.table,
                       main_layer=sm.params.main_layer, out_path=sm.output.table)
