# latentgeom: the whole paper as one DAG. See README.md.
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")


# The embedded default, unless the command line gives a whole configuration: `--configfile
# config/paper.yaml [overrides.yaml ...]` is used as given (files merged in order), so the
# default's models never leak into it; a command line with no models (`--config key=value`, or
# a --configfile holding only overrides) is layered on top of the default.
if "models" not in config:

    configfile: "config/config.yaml"


# The schema's violations, one line each with the key's path (Snakemake's own message ends in a
# dump of the whole schema); then Snakemake's validate fills in the defaults. (Without the
# package, common.smk says how to install it.)
try:
    from latentgeom.preflight import ConfigError, SCHEMA, validate_config
except ImportError:
    SCHEMA = None

_schema = Path(workflow.basedir) / "workflow/schemas/config.schema.yaml"
for _s in (_schema, SCHEMA) if SCHEMA else ():
    if _s.is_file():  # (a module from a remote basedir: Snakemake's validate alone)
        try:
            validate_config(config, _s, source="--configfile")
        except ConfigError as _e:
            raise WorkflowError(str(_e)) from None
        break
validate(config, "workflow/schemas/config.schema.yaml")


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/latent.smk"
include: "workflow/rules/geometry.smk"  # issue 21: other geometry, ranking (opt-in)
include: "workflow/rules/glue.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/predict.smk"
include: "workflow/rules/experiments.smk"


rule all:
    default_target: True
    input:
        all_targets(),
