"""Rule glue_cache: validate and tokenise one task's splits once per tokenizer."""
from latentgeom.glue.stages import cache_stage
from latentgeom.io import log_to

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    meta = cache_stage(task=sm.wildcards.task, source=sm.params.source,
                       tokenizer=sm.params.tokenizer, out_dir=sm.output.cache,
                       max_length=sm.params.max_length)
    print({k: meta[k] for k in ("task", "tokenizer", "vocab_size", "splits")})
