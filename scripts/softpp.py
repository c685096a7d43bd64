"""Rule softpp: soft Point Patchiness of one model's latent matrix per quantizer (one JSON)."""
from latentgeom.lifecycle import exit_with_parent

exit_with_parent()  # first: a worker never outlives its snakemake (killed or not)
from latentgeom.io import log_to
from latentgeom.stages import softpp_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    softpp_stage(embeddings_path=sm.input.embeddings, quantized_paths=list(sm.input.quantized),
                 out_path=sm.output.json, model=sm.wildcards.model, threads=sm.threads,
                 quantizers=list(sm.params.quantizers), factors=list(sm.params.factors),
                 rule=sm.params.rule)
