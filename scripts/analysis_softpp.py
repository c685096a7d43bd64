"""Rule analyze_softpp: r of soft PP with hard PP and the GLUE average (table + figure)."""
from latentgeom.io import log_to
from latentgeom.stages import softpp_analysis_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    softpp_analysis_stage(softpp_paths=list(sm.input.softpp), table_path=sm.input.table,
                          out_table=sm.output.table, out_figure=sm.output.png,
                          variant=sm.params.variant)
