"""Rule analyze_uncertainty: Table 2's r recomputed on every bootstrap replicate of the
measures; whether each r survives the measures' own uncertainty."""
from latentgeom.io import log_to
from latentgeom.stages import uncertainty_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    uncertainty_stage(table_path=sm.input.table, replicate_paths=list(sm.input.replicates),
                      out_table=sm.output.table, out_md=sm.output.md, level=sm.params.level,
                      variant=sm.params.variant)
