"""Rule analyze_sensitivity: r per quantizer setting, and r against M and K (figure)."""
from latentgeom.io import log_to
from latentgeom.stages import sensitivity_analysis_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    sensitivity_analysis_stage(models_path=sm.input.models, table_path=sm.input.table,
                               out_table=sm.output.table, out_figure=sm.output.png,
                               variant=sm.params.variant)
