"""Rule glue_finetune: fine-tune one model on one task, score it on the dev set."""
from latentgeom.glue.finetune import finetune
from latentgeom.io import log_to

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    finetune(manifest=sm.input.manifest, task=sm.wildcards.task, cache_dir=sm.input.cache,
             out_metrics=sm.output.metrics, out_log=sm.output.train_log,
             hyperparameters=sm.params.hyperparameters, scratch=sm.params.scratch,
             device=sm.params.device, threads=sm.threads,
             keep_weights=sm.params.keep_weights or None)
