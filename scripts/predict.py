"""Rule predict: one model's measures and predicted GLUE average from a reference run."""
from latentgeom.gpus import claim_for_job  # a GPU of its own, before torch/FAISS load CUDA

claim_for_job(snakemake)  # noqa: F821
from latentgeom.io import log_to
from latentgeom.predict import predict_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    predict_stage(source=sm.params.source, reference=sm.input.table,
                  architecture=sm.params.architecture, out_md=sm.output.md,
                  out_json=sm.output.json, device=sm.config["embed"].get("device", "auto"))
