"""Rule sample: the latent-space sample and its representativeness statistics (Fig. 2)."""
from latentgeom.io import log_to
from latentgeom.stages import sample_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    sample_stage(out_sequences=sm.output.sequences, out_meta=sm.output.meta,
                 out_stats=sm.output.stats, **sm.params)
