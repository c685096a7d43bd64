#!/usr/bin/env bash
# Run by Snakemake inside the freshly created conda env (--use-conda): installs the latentgeom
# code that the Snakemake process itself imports, without dependencies (the env file lists
# those). workflow/rules/common.smk exports LATENTGEOM_PIP_SPEC, read from the package's
# install record (PEP 610): "-e /path/to/checkout", "latentgeom@git+https://...@<commit>",
# "latentgeom==<version>" or a wheel URL. Set it yourself to override.
set -euo pipefail
if [ -z "${LATENTGEOM_PIP_SPEC:-}" ]; then
    echo "LATENTGEOM_PIP_SPEC is not set: create this env through the workflow (snakemake --use-conda)" >&2
    exit 1
fi
eval "python -m pip install --no-deps ${LATENTGEOM_PIP_SPEC}"
