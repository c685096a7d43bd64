"""Rule measures_sensitivity: the quantized measures of one quantizer setting."""
from latentgeom.lifecycle import exit_with_parent

exit_with_parent()  # first: a worker never outlives its snakemake (killed or not)
from latentgeom.io import log_to
from latentgeom.stages import sensitivity_measures_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    sensitivity_measures_stage(embeddings_path=sm.input.embeddings,
                               quantized_path=sm.input.quantized, out_path=sm.output.measures,
                               workers=sm.threads, **sm.params)
