"""Rule geometry: issue 21's other geometry of one model's latent matrix (one JSON)."""
from latentgeom.lifecycle import exit_with_parent

exit_with_parent()  # first: a worker never outlives its snakemake (killed or not)
from latentgeom.io import log_to
from latentgeom.stages import geometry_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    geometry_stage(embeddings_path=sm.input.embeddings, out_path=sm.output.json,
                   model=sm.wildcards.model, settings=dict(sm.params.settings))
