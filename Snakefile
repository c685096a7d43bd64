# latentgeom: the whole paper as one DAG. See README.md.
from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/latent.smk"


rule all:
    input:
        all_targets(),
    default_target: True
