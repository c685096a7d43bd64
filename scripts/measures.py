"""Rule measures: every measure of one model (spread + one group per quantizer), both
definitions (the paper's equations and the authors' code) in one JSON."""
from latentgeom.lifecycle import exit_with_parent

exit_with_parent()  # first: a worker never outlives its snakemake (killed or not)
from latentgeom.io import log_to
from latentgeom.stages import measures_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    measures_stage(embeddings_path=sm.input.embeddings, quantized_paths=list(sm.input.quantized),
                   out_path=sm.output.measures, workers=sm.threads, **sm.params)
