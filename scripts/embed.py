"""Rule embed: last-layer token vectors of the sample for one model."""
from latentgeom.lifecycle import exit_with_parent

exit_with_parent()  # first: a worker never outlives its snakemake (killed or not)
from latentgeom.gpus import claim_for_job  # a GPU of its own, before torch/FAISS load CUDA

claim_for_job(snakemake)  # noqa: F821
from latentgeom.io import log_to
from latentgeom.stages import embed_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    embed_stage(manifest_path=sm.input.manifest, sequences_path=sm.input.sequences,
                out_embeddings=sm.output.embeddings, out_meta=sm.output.meta,
                threads=sm.threads, device=sm.config["embed"].get("device", "auto"),
                **sm.params)  # embed.device is not a param: it does not change the result
