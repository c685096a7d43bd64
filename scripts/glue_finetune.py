"""Rule glue_finetune: fine-tune one model on one task, score it on the dev set.

Where and on what the job runs (``glue.scratch``, ``glue.device``, ``glue.keep_weights``) does
not change its score, so those are read from the config here, not passed as ``params:`` (a
changed param re-runs every fine-tuning job).
"""
from latentgeom.lifecycle import exit_with_parent

exit_with_parent()  # first: a worker never outlives its snakemake (killed or not)
from latentgeom.gpus import claim_for_job  # a GPU of its own, before torch/FAISS load CUDA

claim_for_job(snakemake)  # noqa: F821
from latentgeom.glue.plan import runtime_settings
from latentgeom.glue.stages import finetune_stage
from latentgeom.io import log_to

sm = snakemake  # noqa: F821
run = runtime_settings(sm.config, model=sm.wildcards.model, task=sm.wildcards.task)
if sm.rule == "glue_finetune_engine":  # the other engine's check: its weights are not kept
    run["keep_weights"] = None
with log_to(sm.log[0]):
    finetune_stage(manifest=sm.input.manifest, task=sm.wildcards.task, cache_dir=sm.input.cache,
                   out_metrics=sm.output.metrics, out_log=sm.output.train_log,
                   hyperparameters=sm.params.hyperparameters, threads=sm.threads, **run)
