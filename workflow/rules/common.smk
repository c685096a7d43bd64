# Shared helpers: the model grid, result paths, and the targets of `all`.
import os
import sys
from pathlib import Path

# The rules and scripts import the installed latentgeom package (never this checkout's src/ by
# path), so the workflow also runs as a Snakemake module or through snakedeploy.
try:
    import latentgeom as _latentgeom  # noqa: F401
except ImportError as _err:
    raise WorkflowError(
        f"The latentgeom package is not importable by this Snakemake ({sys.executable}): "
        "install it into the environment that runs snakemake, e.g. `make setup` in a checkout, "
        "`pip install -e /path/to/checkout`, or `pip install 'latentgeom @ git+<repo URL>@<tag>'` "
        "when the workflow is used as a module. See README.md, 'Installation'."
    ) from _err


def latentgeom_pip_spec():
    """pip arguments that install the latentgeom code this process imports (PEP 610 record).

    Exported as LATENTGEOM_PIP_SPEC for envs/*.post-deploy.sh, which install it, without
    dependencies, into each conda env (--use-conda).
    """
    import json
    import shlex
    from importlib import metadata
    from urllib.parse import unquote, urlparse

    root = Path(_latentgeom.__file__).resolve().parents[2]
    checkout = (root / "pyproject.toml").is_file()  # imported from a source tree
    try:
        dist = metadata.distribution("latentgeom")
    except metadata.PackageNotFoundError:  # a source tree on PYTHONPATH, nothing installed
        return f"-e {shlex.quote(str(root))}" if checkout else ""
    info = json.loads(dist.read_text("direct_url.json") or "null")
    url = str((info or {}).get("url") or "")  # PEP 610's url of the installed copy
    installed = unquote(urlparse(url).path) if url.startswith("file://") else None
    if checkout and (installed is None or Path(installed).resolve() != root):
        # PYTHONPATH puts another checkout before the installed one: install what is imported
        return f"-e {shlex.quote(str(root))}"
    if info is None:  # from an index
        return f"latentgeom=={dist.version}"
    url = info["url"]
    if "vcs_info" in info:
        vcs = info["vcs_info"]
        return shlex.quote(f"latentgeom@{vcs['vcs']}+{url}@{vcs['commit_id']}")
    if url.startswith("file://") and "dir_info" in info:  # a local checkout
        path = shlex.quote(unquote(urlparse(url).path))
        return f"-e {path}" if info["dir_info"].get("editable") else path
    return shlex.quote(f"latentgeom@{url}")  # a wheel or sdist URL


if latentgeom_pip_spec():  # one set by the user wins
    os.environ.setdefault("LATENTGEOM_PIP_SPEC", latentgeom_pip_spec())

from latentgeom.pipeline import model_table  # noqa: E402
from latentgeom import jobsize as _size  # noqa: E402
from latentgeom.gpus import gpu_request as _gpu_request  # noqa: E402

RESULTS = config["results"]
MODELS = model_table(config)
# models.bases.<b>.perturbation: latent (docs/latent-noise.md): rule perturb_latent; none by default
LATENT = sorted(n for n, m in MODELS.items() if m.get("perturbation") == "latent")
PERTURBED = sorted(n for n, m in MODELS.items() if m["kind"] == "perturbed" and n not in LATENT)
NONSTANDARD = sorted(n for n, m in MODELS.items() if m["kind"] == "nonstandard")
QUANTIZERS = list(config["quantize"]["quantizers"])
# quantize.sensitivity's grid (README, "Beyond the paper"): quantizers of their own, e.g.
# pq_M8_K64, with their own measures jobs; empty (off) by default.
from latentgeom.sensitivity import sensitivity_quantizers as _sensitivity  # noqa: E402

SENSITIVITY = _sensitivity(config)
# measures.bootstrap.n > 0 adds measures_bootstrap per model (README, "Beyond the paper").
BOOTSTRAP = config["measures"]["bootstrap"]  # defaults from the schema
# embed.layers other than embed.layer (README, "Beyond the paper"); [] by default: no job added
from latentgeom.layers import config_layers as _config_layers  # noqa: E402

LAYERS, MAIN_LAYER = _config_layers(config, MODELS)
QUANTIZER_SPECS = {**config["quantize"]["quantizers"], **SENSITIVITY}
# the config as the job sizing sees it: every quantizer, the grid's included
SIZING_CONFIG = {**config, "quantize": {**config["quantize"], "quantizers": QUANTIZER_SPECS}}

# Before any job: config files re-read strictly (duplicated keys, file:line of YAML errors), then
# what the schema cannot see (min_tokens <= max_tokens, glue.source exists, PQ M | hidden size).
from latentgeom.preflight import (
    check_config as _check_config,
    check_files as _check_files,
)  # noqa: E402

_check_files(workflow.configfiles)
_check_config(config, MODELS)
# offline (HF_HUB_OFFLINE=1): every hub model must be cached already (`latentgeom prefetch`).
# Planning says so (a dry run may plan on another machine); a real run stops before any job.
from latentgeom.preflight import (
    ConfigError as _ConfigError,
    check_hub_cache as _check_hub_cache,
)  # noqa: E402

try:
    _check_hub_cache(config, workflow.configfiles)
    _HUB_MISSING = None
except _ConfigError as _e:
    _HUB_MISSING = str(_e)
    print(f"warning (a run stops before its first job): {_HUB_MISSING}", file=sys.stderr)


onstart:
    if _HUB_MISSING:
        raise WorkflowError(_HUB_MISSING)


# Before any job: an artifact that cannot be read (a truncated manifest, npz or JSON) stops the run
# here, before Snakemake deletes what was built from it (issue 19), naming the fix.
from latentgeom.integrity import (
    rebuild_command as _rebuild_command,
    unreadable_artifacts as _unreadable_artifacts,
)  # noqa: E402

_damaged = _unreadable_artifacts(RESULTS, skip_empty=True)
if _damaged:
    raise WorkflowError(
        "unreadable artifacts (nothing was run or deleted):\n"
        + "\n".join(f"  {p}" for p in _damaged)
        + "\nrebuild exactly these and what was built from them (with this run's "
        + "--configfile/--directory):\n  "
        + _rebuild_command(_damaged, RESULTS)
    )
# One GPU decision for every GPU-capable rule, from the config key resources.gpu (none, auto or N).
GPU_SETTING = config["resources"]["gpu"]


def glue_gpu(field):
    """One field of a fine-tuning job's GPU request: a GPU, or shards of one for a model with a
    gpu_share < 1 (gpus.share_request)."""
    from latentgeom.gpus import gpu_share, share_request

    want = _gpu_request(GPU_SETTING, config["glue"]["device"])
    shards, gres = config["resources"]["gpu_shards"], config["resources"]["gpu_share_gres"]
    return lambda wc: share_request(want, gpu_share(config, MODELS[wc.model]), shards, gres)[field]


def names_regex(names):
    """A wildcard constraint matching exactly these names."""
    import re

    return "|".join(re.escape(n) for n in names) or "^$"


wildcard_constraints:
    model=names_regex(sorted(MODELS)),
    quantizer="|".join(QUANTIZER_SPECS),
    setting=names_regex(SENSITIVITY),


def res(path):
    """A path under the results folder."""
    return f"{RESULTS}/{path}"


def log(path):
    return f"{RESULTS}/logs/{path}"


def sample_corpus_files():
    """Local text files the sample reads (kind files/list): declared as the rule's input."""
    src = config["sample"]["source"]
    if src.get("kind") not in ("files", "list"):
        return []
    return [str(Path(p).expanduser()) for p in src.get("paths") or []]


def nonstandard_checkpoint(wc):
    """A non-standard model's checkpoint file, as input when it exists (editing it re-runs)."""
    ckpt = MODELS[wc.model].get("checkpoint")
    return [ckpt] if ckpt and Path(ckpt).expanduser().is_file() else []


def latent_sigma_input(wc):
    """The embeddings sigma comes from: the latent base's alpha = 0 model's (none for itself)."""
    ref = MODELS[wc.model]["latent_ref"]
    return [] if ref == wc.model else [res(f"latent/{ref}/embeddings.npy")]


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
        # beyond the paper (README): only when the config turns them on
        *([res("analysis/table2_uncertainty.csv")] if BOOTSTRAP["n"] else []),
        *([res("analysis/sensitivity.csv"), res("figures/sensitivity.png")] if SENSITIVITY else []),
        *([res("analysis/layers.csv"), res("figures/layers.png")] if LAYERS else []),
        *predict_targets(),  # predict.smk: cards of predict.models (none by default)
        *GLUE_COMPARE,  # glue.compare_engines
        *GEOMETRY_TARGETS,  # geometry.smk (issue 21): geometry.enabled, ranking.enabled
    ]


# latentgeom predict (predict.smk): the cards of predict.models.
PREDICT = config["predict"]


def predict_targets():
    return [res(f"predict/{n}.{ext}") for n in sorted(PREDICT["models"]) for ext in ("md", "json")]


def predict_inputs(wc):
    """The reference table; this run's own also waits for its analysis (the primary variant)."""
    if PREDICT["reference"]:
        return {"table": PREDICT["reference"]}
    return {"table": res("tables/models.csv"), "analysis": res("analysis/table2.csv")}
