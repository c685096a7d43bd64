"""Rule nonstandard: build one non-standard model (Section 3.4) and write its manifest."""
from latentgeom.io import log_to
from latentgeom.stages import nonstandard_stage

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    nonstandard_stage(name=sm.wildcards.model, manifest_path=sm.output.manifest,
                      weights_dir=sm.output.weights, **sm.params)
