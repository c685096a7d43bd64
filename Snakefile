# latentgeom: the whole paper as one DAG. See README.md.
from snakemake.utils import min_version, validate

min_version("9.0")


# The embedded default, unless the command line names its own config file(s): Snakemake would
# otherwise merge e.g. config/paper.yaml's models *into* the default's instead of replacing them.
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/latent.smk"
include: "workflow/rules/glue.smk"
include: "workflow/rules/analysis.smk"


rule all:
    input:
        all_targets(),
    default_target: True
