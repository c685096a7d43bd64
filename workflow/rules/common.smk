# Shared helpers: the model grid, result paths, and the targets of `all`.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from latentgeom.pipeline import model_table  # noqa: E402
from latentgeom import jobsize as _size  # noqa: E402
from latentgeom.gpus import gpu_request as _gpu_request  # noqa: E402

RESULTS = config.get("results", "results")
MODELS = model_table(config)
PERTURBED = sorted(n for n, m in MODELS.items() if m["kind"] == "perturbed")
NONSTANDARD = sorted(n for n, m in MODELS.items() if m["kind"] == "nonstandard")
QUANTIZERS = list(config["quantize"]["quantizers"])
# One GPU decision for every GPU-capable rule (config resources.gpu: none | auto | N).
GPU_SETTING = (config.get("resources") or {}).get("gpu", "none")


def names_regex(names):
    """A wildcard constraint matching exactly these names."""
    import re

    return "|".join(re.escape(n) for n in names) or "^$"


wildcard_constraints:
    model=names_regex(sorted(MODELS)),
    quantizer="|".join(QUANTIZERS),


def res(path):
    """A path under the results folder."""
    return f"{RESULTS}/{path}"


def log(path):
    return f"{RESULTS}/logs/{path}"


def model_param(field):
    """A rule param that looks up one field of the current model's record."""
    return lambda wc: MODELS[wc.model][field]


def all_targets():
    return [
        res("tables/measures.csv"),
        res("sample/representativeness.csv"),
        res("tables/glue.csv"),
        res("tables/models.csv"),
        res("analysis/table2.csv"),
        *[res(f"figures/figure{i}.png") for i in range(1, 12)],
    ]
