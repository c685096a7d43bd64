"""Rule models_table: join tables/measures.csv and tables/glue.csv."""
from latentgeom.io import log_to
from latentgeom.stages import models_table_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    models_table_stage(measures_path=sm.input.measures, glue_path=sm.input.glue,
                       out_path=sm.output.table,
                       geometry_paths=list(sm.input.geometry) or None,  # issue 21
                       geometry_meta_paths=list(sm.input.geometry_meta) or None)
