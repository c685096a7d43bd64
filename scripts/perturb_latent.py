"""Rule perturb_latent: write a latent-noise model's manifest (docs/latent-noise.md)."""
from latentgeom.io import log_to
from latentgeom.stages import perturb_latent_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    perturb_latent_stage(name=sm.wildcards.model, manifest_path=sm.output.manifest,
                         base_embeddings=sm.input.get("base_embeddings"), **sm.params)
