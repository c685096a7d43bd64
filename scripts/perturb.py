"""Rule perturb: write a model manifest (and, if asked, the perturbed weights)."""
from latentgeom.io import log_to
from latentgeom.stages import perturb_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    perturb_stage(name=sm.wildcards.model, manifest_path=sm.output.manifest, **sm.params)
