"""Rule embed_layers: the token vectors of embed.layers' extra layers, one forward pass."""
from latentgeom.lifecycle import exit_with_parent

exit_with_parent()  # first: a worker never outlives its snakemake (killed or not)
from latentgeom.gpus import claim_for_job  # a GPU of its own, before torch loads CUDA

claim_for_job(snakemake)  # noqa: F821
from latentgeom.io import log_to
from latentgeom.stages import embed_layers_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    embed_layers_stage(manifest_path=sm.input.manifest, sequences_path=sm.input.sequences,
                       out_paths=list(sm.output.embeddings), threads=sm.threads,
                       device=sm.config["embed"]["device"], **sm.params)
