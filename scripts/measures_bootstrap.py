"""Rule measures_bootstrap: intervals of one model's measures from resampled sequences."""
from latentgeom.lifecycle import exit_with_parent

exit_with_parent()  # first: a worker never outlives its snakemake (killed or not)
from latentgeom.io import log_to
from latentgeom.stages import bootstrap_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    bootstrap_stage(embeddings_path=sm.input.embeddings, meta_path=sm.input.meta,
                    quantized_paths=list(sm.input.quantized), out_json=sm.output.json,
                    out_npz=sm.output.npz, workers=sm.threads, **sm.params)
