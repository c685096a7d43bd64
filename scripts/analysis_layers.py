"""Rule analyze_layers: r per hidden layer (Fisher intervals) and r against depth (figure)."""
from latentgeom.io import log_to
from latentgeom.stages import layers_analysis_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    layers_analysis_stage(table_path=sm.input.table, models_path=sm.input.models,
                          out_table=sm.output.table, out_figure=sm.output.png,
                          variant=sm.params.variant)
