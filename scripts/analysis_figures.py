"""Rule figures: Figures 1-11 from the model table (the measures of the config's
measures.variant) and the representativeness table."""
from pathlib import Path

from latentgeom.io import log_to
from latentgeom.stages import figures_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    figures_stage(table_path=sm.input.table, representativeness_path=sm.input.representativeness,
                  out_dir=str(Path(sm.output.png[0]).parent), variant=sm.params.variant)
