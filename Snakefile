# latentgeom: the whole paper as one DAG. See README.md.
from snakemake.utils import min_version, validate

min_version("9.0")


# The embedded default, unless the command line gives a whole configuration: `--configfile
# config/paper.yaml [overrides.yaml ...]` is used as given (files merged in order), so the
# default's models never leak into it; a command line with no models (`--config key=value`, or
# a --configfile holding only overrides) is layered on top of the default.
if "models" not in config:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/latent.smk"
include: "workflow/rules/glue.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/predict.smk"


rule all:
    default_target: True
    input:
        all_targets(),
