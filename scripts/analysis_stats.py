"""Rule analyze: the statistics of Tables 1-2 and the non-standard predictions, under both
definitions of the measures (table1/table2: the config's measures.variant)."""
from pathlib import Path

from latentgeom.io import log_to
from latentgeom.stages import analyze_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    analyze_stage(table_path=sm.input.table, out_dir=str(Path(sm.output.table1).parent),
                  outliers=sm.params.outliers, variant=sm.params.variant)
