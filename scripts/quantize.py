"""Rule quantize: one FAISS quantizer (LSQ++ or PQ) of one model's latent matrix."""
from latentgeom.lifecycle import exit_with_parent

exit_with_parent()  # first: a worker never outlives its snakemake (killed or not)
from latentgeom.gpus import claim_for_job  # a GPU of its own, before torch/FAISS load CUDA

claim_for_job(snakemake)  # noqa: F821
from latentgeom.io import log_to
from latentgeom.stages import quantize_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    quantize_stage(embeddings_path=sm.input.embeddings, out_path=sm.output.quantized,
                   threads=sm.threads, **sm.params)
