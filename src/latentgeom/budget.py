"""What a configuration costs before it runs: jobs, CPU/GPU-hours, memory and disk per rule.

``latentgeom plan --configfile config/paper.yaml`` prints :func:`plan_table` of :func:`plan`.
No Snakemake DAG is built (that takes seconds to minutes for thousands of jobs): the jobs per
rule follow from the model grid exactly as the rules expand it (``tests/test_budget.py``
compares them, and every job's ``mem_mb``, ``threads`` and ``gpu``, with Snakemake's own dry
run). Times are *expected* durations, not the time limits the jobs ask for:

    job seconds = start-up (JOB_START_SECONDS) + work / rate

with the work and rates of :mod:`latentgeom.jobsize` (``resources.throughput``,
``glue.examples_per_second``) and, for rules jobsize does not size, the measured costs in
:data:`ASSUMED`. CPU-hours are job hours x threads; GPU-hours are job hours x GPUs asked. Memory
is the request at the first attempt (``mem_mb``, headroom included): the peak a job may reach
before the scheduler kills it. Disk is estimated from the array shapes each rule writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import jobsize
from .defaults import setting
from .glue.tasks import get_task
from .gpus import gpu_request, gpu_share, share_request

#: Hidden size and parameter count per ``architecture`` label; an unknown label is taken as
#: BERT-large (the widest, as jobsize does) and named in the assumptions.
ARCHITECTURES = {
    "minilm-l6": (384, 22.7e6),
    "bert-small": (512, 28.8e6),
    "bert-base": (768, 109.5e6),
    "roberta": (768, 124.6e6),
    "bert-large": (1024, 335.1e6),
}
UNKNOWN_ARCHITECTURE = (1024, 335.1e6)

#: Per-job start-up: python, torch + transformers imports, model classes (benchmarks/README.md,
#: "What every job pays first": 1.5 + 3.3 s measured; the demo's perturb jobs took 4.8 s in all).
JOB_START_SECONDS = 5.0

#: Costs of the rules that jobsize does not size (seconds, measured on 2 CPU cores; see
#: benchmarks/README.md). ``*_per_row`` are at hidden size 384 and scale with d/384.
ASSUMED = {
    "perturb_s_per_mparam": 0.05,     # load + Eq. 1 + checksum (demo: 4.8 s per MiniLM job)
    "nonstandard_s_per_mparam": 0.1,  # + save_pretrained of the weights
    "measures_ms_per_row": 0.15,      # both definitions, both quantizers (demo: 4.8 s per
                                      # 27K x 384 job; 100K x 384 under load: 33 s)
    "bootstrap_light_fraction": 0.05, # a light replicate vs one measures run
    "cache_examples_per_second": 2000,  # fast tokenizer over one task's splits
    "small_job_seconds": 2.0,         # tables, scores (+ start-up)
    "analysis_job_seconds": 30.0,     # analyze / figures (+ start-up)
    "sample_seconds": 30.0,           # the corpus read + sampling + Fig. 2 statistics
}

#: The rules' fixed requests (workflow/rules/*.smk): (mem_mb, threads). tests/test_budget.py
#: checks every job's memory and GPUs against Snakemake's dry run.
FIXED = {
    "perturb": (4000, 1), "nonstandard": (8000, 1), "sample": (4000, 1),
    "measures_table": (2000, 1), "sensitivity_table": (2000, 1),
    "layers_table": (2000, 1), "glue_minibench": (2000, 1), "glue_cache": (8000, 1),
    "glue_scores": (1000, 1), "glue_table": (2000, 1), "models_table": (2000, 1),
    "analyze": (2000, 1), "analyze_uncertainty": (2000, 1), "analyze_sensitivity": (2000, 1),
    "analyze_layers": (2000, 1), "figures": (4000, 1),
}
MB = 1e6


@dataclass
class RuleCost:
    rule: str
    jobs: int = 0
    cpu_hours: float = 0.0
    gpu_hours: float = 0.0
    mem_mb: int = 0            # the largest first-attempt request of the rule's jobs
    threads: int = 1
    gpus: int = 0              # GPUs per job
    job_seconds: list[float] = field(default_factory=list)

    def add(self, seconds: float, threads: int, gpus: int, mem_mb: int, n: int = 1,
            gpu_fraction: float | None = None) -> None:
        """``gpus``: whole GPUs asked; ``gpu_fraction``: the GPUs it occupies (a share)."""
        self.jobs += n
        self.cpu_hours += n * seconds * threads / 3600
        self.gpu_hours += n * seconds * (gpus if gpu_fraction is None else gpu_fraction) / 3600
        self.mem_mb = max(self.mem_mb, int(mem_mb))
        self.threads, self.gpus = threads, gpus
        self.job_seconds.extend([seconds] * n)


@dataclass
class Plan:
    rules: dict[str, RuleCost]
    disk: dict[str, float]           # bytes per kind of artifact, kept at the end of the run
    transient: dict[str, float]      # bytes that exist only while jobs run
    assumptions: list[str]
    n_models: int

    @property
    def disk_total(self) -> float:
        return sum(self.disk.values())


def architecture(label: str, unknown: set[str] | None = None) -> tuple[int, float]:
    """(hidden size, parameters) of an architecture label."""
    label = label.removesuffix("+latent")  # a latent-noise base's group (docs/latent-noise.md)
    if label in ARCHITECTURES:
        return ARCHITECTURES[label]
    if unknown is not None:
        unknown.add(label)
    return UNKNOWN_ARCHITECTURE


def quantized_bytes(rows: int, d: int, spec: dict[str, Any]) -> float:
    """One ``quantized_*.npz``: codes (rows x M, one byte per code up to 8 bits, else two)
    and float32 codebooks (LSQ++: M x 2^nbits x d; PQ: M x 2^nbits x d/M)."""
    M, nbits = int(spec["M"]), int(spec["nbits"])
    codes = rows * M * (1 if nbits <= 8 else 2)
    width = d if spec.get("method") == "lsq" else d / M
    return codes + M * 2**nbits * width * 4


def datasets_cache() -> Path:
    """The folder ``datasets.load_dataset`` caches in (``HF_DATASETS_CACHE``, else
    ``$HF_HOME/datasets``, else ``~/.cache/huggingface/datasets``), without importing it."""
    import os

    if os.environ.get("HF_DATASETS_CACHE"):
        return Path(os.environ["HF_DATASETS_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or Path(os.environ.get("XDG_CACHE_HOME", "~/.cache"),
                                              "huggingface")
    return Path(home).expanduser() / "datasets"


def _count_rows(path: Path) -> int:
    """Rows of a task split file: parquet's metadata; JSON lines; CSV lines minus the header
    (a quoted line break counts twice: an upper bound)."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    if path.suffix == ".json":
        import json

        data = json.loads(path.read_text())
        return len(data) if isinstance(data, list) else len(next(iter(data.values()), []))
    with path.open("rb") as fh:
        lines = sum(1 for line in fh if line.strip())
    return lines - (path.suffix == ".csv")


def glue_split_sizes(glue: dict[str, Any], task: str) -> tuple[int, int, str]:
    """``(train, dev, origin)``: the examples a task's fine-tune will see, where knowable before
    the run — ``minibench``: its configured sizes; a data folder: the rows of its split files;
    ``hub``: the split sizes of the GLUE copy in the datasets cache (what an offline run, or a
    stand-in hub, loads), else the real GLUE sizes (:mod:`latentgeom.glue.tasks`; dev taken as
    5% of train, at least 1,000)."""
    source = str(setting({"glue": glue}, "glue.source"))
    t = get_task(task)
    if source == "minibench":
        from .glue.plan import minibench_sizes

        tr, dev = minibench_sizes(glue)[t.name][:2]
        return int(tr), int(dev), "minibench sizes"
    if source != "hub":
        from .glue.data import find_split_file, task_folder

        folder = task_folder(source, t)
        files = [find_split_file(folder, s) for s in (t.train_split, *t.dev_splits)]
        if all(files):
            n = [_count_rows(f) for f in files]
            return n[0], sum(n[1:]), f"the rows of the split files under {source}"
        return jobsize.train_examples(glue, task), 1000, f"{folder} not readable: table"
    infos = sorted((datasets_cache() / "nyu-mll___glue" / str(t.hub_config)).glob(
        "*/*/dataset_info.json"), key=lambda p: p.stat().st_mtime)
    if infos:
        import json

        splits = json.loads(infos[-1].read_text()).get("splits") or {}
        want = (t.train_split, *t.dev_splits)
        if all(s in splits for s in want):
            n = [int(splits[s]["num_examples"]) for s in want]
            return n[0], sum(n[1:]), f"the GLUE copy in the datasets cache {datasets_cache()}"
    tr = jobsize.train_examples(glue, task)
    return tr, max(1000, int(tr * 0.05)), "GLUE's published sizes"


def plan(config: dict[str, Any]) -> Plan:  # noqa: C901 (one rule after the other)
    """Every rule's jobs, hours, memory; disk per kind of artifact. ``config`` as the workflow
    sees it (schema defaults applied: :func:`load_config`)."""
    from .glue.plan import tokenizer_key
    from .layers import config_layers
    from .nonstandard import model_tokenizer
    from .pipeline import model_table
    from .sensitivity import sensitivity_quantizers

    models = model_table(config)
    unknown: set[str] = set()
    rows = jobsize.embedding_rows(config)
    gpu_setting = setting(config, "resources.gpu")
    emb, q, glue = config["embed"], config["quantize"], config["glue"]
    quantizers = dict(q["quantizers"])
    sens = sensitivity_quantizers(config)
    sizing = {**config, "quantize": {**q, "quantizers": {**quantizers, **sens}}}
    layers, _ = config_layers(config, models)
    tasks = [get_task(t).name for t in glue["tasks"]]
    g_embed = gpu_request(gpu_setting, setting(config, "embed.device"))
    g_quant = gpu_request(gpu_setting, setting(config, "quantize.use_gpu"))
    g_glue = gpu_request(gpu_setting, setting(config, "glue.device"))
    shards = int(setting(config, "resources.gpu_shards"))
    sizes = {t: glue_split_sizes(glue, t) for t in tasks}  # (train, dev, where from)
    engines = set(glue.get("compare_engines") or [])
    rules: dict[str, RuleCost] = {}

    def cost(rule: str) -> RuleCost:
        return rules.setdefault(rule, RuleCost(rule))

    def fixed(rule: str, seconds: float, n: int = 1) -> None:
        mem, thr = FIXED[rule]
        cost(rule).add(JOB_START_SECONDS + seconds, thr, 0, mem, n)

    def measures(rule: str, seconds: float) -> None:  # every measures-like rule: 2 threads
        cost(rule).add(JOB_START_SECONDS + seconds, 2, 0, jobsize.measures_mem(config))

    start = JOB_START_SECONDS
    disk = {"model manifests": 0.0, "model weights (non-standard; store_weights)": 0.0,
            "token matrices (embeddings.npy)": 0.0, "quantized codes + codebooks": 0.0,
            "measures, GLUE metrics and train logs": 0.0, "GLUE tokenised caches": 0.0,
            "sample, tables, analysis, figures": 5 * MB, "logs and benchmark files": 0.0}
    transient = {"fine-tuning checkpoints, per running job (removed on success)": 0.0}
    store = bool((config.get("models") or {}).get("store_weights"))
    for model_name, m in models.items():
        d, params = architecture(m["architecture"], unknown)
        mp = params / 1e6
        disk["model manifests"] += 4e3
        if m["kind"] == "perturbed":
            fixed("perturb", ASSUMED["perturb_s_per_mparam"] * mp)
            if store:
                disk["model weights (non-standard; store_weights)"] += 4 * params
        else:
            fixed("nonstandard", ASSUMED["nonstandard_s_per_mparam"] * mp)
            disk["model weights (non-standard; store_weights)"] += 4 * params
        matrix = rows * d * 4.0
        cost("embed").add(start + jobsize.embed_seconds(config), 2, g_embed,
                          jobsize.embed_mem(config))
        if not emb.get("temporary"):
            disk["token matrices (embeddings.npy)"] += matrix
        for name, spec in {**quantizers, **sens}.items():
            cost("quantize").add(start + jobsize.quantize_seconds(sizing, name, hidden=d), 2,
                                 g_quant, jobsize.quantize_mem(config))
            disk["quantized codes + codebooks"] += quantized_bytes(rows, d, spec)
        measures_s = rows * ASSUMED["measures_ms_per_row"] / 1000 * d / 384
        measures("measures", measures_s)
        disk["measures, GLUE metrics and train logs"] += 20e3
        boot_n = int(setting(config, "measures.bootstrap.n"))
        if boot_n:
            light = boot_n * ASSUMED["bootstrap_light_fraction"]
            heavy = int(setting(config, "measures.bootstrap.heavy"))
            measures("measures_bootstrap", measures_s * (heavy + light))
            disk["measures, GLUE metrics and train logs"] += boot_n * 200.0
        for _ in sens:
            measures("measures_sensitivity", measures_s)
        if layers:
            cost("embed_layers").add(start + jobsize.embed_seconds(config), 2, g_embed,
                                     jobsize.embed_mem(config))
            disk["token matrices (embeddings.npy)"] += len(layers) * matrix
            for _layer in layers:
                for name, spec in quantizers.items():
                    cost("quantize_layer").add(
                        start + jobsize.quantize_seconds(sizing, name, hidden=d), 2, g_quant,
                        jobsize.quantize_mem(config))
                    disk["quantized codes + codebooks"] += quantized_bytes(rows, d, spec)
                measures("measures_layer", measures_s)
        share = share_request(g_glue, gpu_share(config, m), shards)
        for task in tasks:
            # glue.compare_engines: the model fine-tuned again with the other engine
            seconds = start + jobsize.finetune_seconds(config, task, sizes[task][0])
            cost("glue_finetune").add(seconds, 2, share["gpu"], jobsize.finetune_mem(config),
                                      gpu_fraction=share["gpu_shard"] / shards)
            disk["measures, GLUE metrics and train logs"] += 30e3
            if model_name in engines:  # glue.compare_engines: again with the other engine
                cost("glue_finetune_engine").add(seconds, 2, g_glue,
                                                 jobsize.finetune_mem(config))
                disk["measures, GLUE metrics and train logs"] += 30e3
            transient["fine-tuning checkpoints, per running job (removed on success)"] = max(
                transient["fine-tuning checkpoints, per running job (removed on success)"],
                16 * params)  # weights + gradients + two AdamW moments, float32
        fixed("glue_scores", ASSUMED["small_job_seconds"])
    fixed("sample", ASSUMED["sample_seconds"])
    fixed("measures_table", ASSUMED["small_job_seconds"])
    fixed("models_table", ASSUMED["small_job_seconds"])
    fixed("glue_table", ASSUMED["small_job_seconds"])
    fixed("analyze", ASSUMED["analysis_job_seconds"])
    fixed("figures", ASSUMED["analysis_job_seconds"])
    if int(setting(config, "measures.bootstrap.n")):
        fixed("analyze_uncertainty", ASSUMED["analysis_job_seconds"])
    if sens:
        fixed("sensitivity_table", ASSUMED["small_job_seconds"])
        fixed("analyze_sensitivity", ASSUMED["analysis_job_seconds"])
    if layers:
        fixed("layers_table", ASSUMED["small_job_seconds"])
        fixed("analyze_layers", ASSUMED["analysis_job_seconds"])
    if str(setting(config, "glue.source")) == "minibench":
        fixed("glue_minibench", ASSUMED["small_job_seconds"])
    tokenizers = sorted({tokenizer_key(model_tokenizer(m)) for m in models.values()})
    max_length = int(setting(config, "glue.max_length"))
    for _tok in tokenizers:
        for task in tasks:
            tr, dev, _ = sizes[task]
            fixed("glue_cache", (tr + dev) / ASSUMED["cache_examples_per_second"])
            # token ids + offsets; ~ half of max_length per example, int64 ids and type ids
            disk["GLUE tokenised caches"] += (tr + dev) * (max_length / 2) * 16
    n_jobs = sum(r.jobs for r in rules.values()) + 1  # + `all`
    disk["logs and benchmark files"] = n_jobs * 4e3
    assumptions = [
        f"{rows:,} token vectors per model (sample.n x (1.4 x mean words + 2), jobsize)",
        f"per-job start-up {JOB_START_SECONDS:g} s (imports; benchmarks/README.md)",
        "embed {embed_tokens_per_second:g} tokens/s; LSQ++ {lsq_train_ms_per_row:g} ms, PQ "
        "{pq_train_ms_per_row:g} ms per training row, encode {encode_ms_per_row:g} ms per row "
        "at d = 384, scaled by d/384 (resources.throughput)".format(
            **{k: jobsize._throughput(config, k) for k in jobsize.THROUGHPUT}),
        f"fine-tuning {float(glue.get('examples_per_second', 25)):g} examples/s for every "
        "model size (glue.examples_per_second; x epochs x 1.1 for the dev passes)",
        "GLUE examples (train/dev) per task: " + "; ".join(
            f"{t} {tr:,}/{dev:,}" for t, (tr, dev, _) in sizes.items()) + " (from: "
        + "; ".join(sorted({o for _, _, o in sizes.values()})) + ")",
        f"measures {ASSUMED['measures_ms_per_row']:g} ms per row at d = 384; other rules: "
        + ", ".join(f"{k} {v:g}" for k, v in ASSUMED.items() if k != "measures_ms_per_row"),
        f"GPUs per job (resources.gpu = {setting}): embed {g_embed}, quantize {g_quant}, "
        f"glue_finetune {g_glue} (x gpu_share of its model); a GPU job's hours count as "
        "CPU-hours (x threads) too, and its rates are the configured ones (CPU-measured unless "
        "you set GPU rates; a shared GPU is assumed to run each job at the same rate)",
        "memory: the first attempt's mem_mb request (headroom "
        f"{float(setting(config, 'resources.headroom')):g} included)",
        "disk: float32 matrices rows x d; hidden sizes and parameters per architecture: "
        + ", ".join(f"{k} {v[0]}/{v[1] / 1e6:.0f}M" for k, v in ARCHITECTURES.items()),
    ]
    if emb.get("temporary"):
        assumptions.append("embed.temporary: token matrices removed once their measures are "
                           "written (at most one per running embed/quantize/measures job exists)")
        transient["token matrix of one model while its jobs run (embed.temporary)"] = max(
            rows * architecture(m["architecture"])[0] * 4.0 for m in models.values())
    if unknown:
        assumptions.append(f"unknown architecture(s) {sorted(unknown)}: taken as d = 1024, "
                           "335M parameters")
    return Plan(rules=rules, disk=disk, transient=transient, assumptions=assumptions,
                n_models=len(models))


# --- the configuration as the workflow sees it -------------------------------------------------

def workflow_root() -> Path:
    """The checkout holding ``workflow/`` and ``config/`` (the current folder, else the one
    this package was installed from)."""
    for cand in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (cand / "workflow" / "schemas" / "config.schema.yaml").is_file():
            return cand
    raise FileNotFoundError("workflow/schemas/config.schema.yaml not found: run latentgeom plan "
                            "from the repository's root folder")


def load_config(files: list[str]) -> dict[str, Any]:
    """The merged configuration, as the Snakefile builds it: files in order, layered on the
    embedded default (config/config.yaml) unless they name the models; then validated against
    the schema with its defaults filled in."""
    import copy

    from snakemake.utils import validate

    from .prefetch import merge_configs, read_configs

    root = workflow_root()
    config = read_configs(files) if files else {}
    if "models" not in config:
        config = merge_configs(read_configs([root / "config" / "config.yaml"]), config)
    config = copy.deepcopy(config)
    validate(config, str(root / "workflow" / "schemas" / "config.schema.yaml"), set_default=True)
    return config


# --- the table -----------------------------------------------------------------------------------

def _size(b: float) -> str:
    for unit, f in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= f:
            return f"{b / f:.1f} {unit}"
    return f"{b:.0f} B"


def _hours(h: float) -> str:
    return f"{h:.3f}" if h < 1 else f"{h:,.1f}"


def plan_table(p: Plan, title: str = "") -> str:
    """Markdown: jobs, hours, memory per rule; disk per kind of artifact; the assumptions."""
    order = sorted(p.rules.values(), key=lambda r: -r.cpu_hours)
    out = [f"## Plan{': ' + title if title else ''} ({p.n_models} models, "
           f"{sum(r.jobs for r in order) + 1:,} jobs incl. `all`)", "",
           "| rule | jobs | threads | GPUs/job | s / job (mean) | CPU-hours | GPU-hours "
           "| peak memory / job (MB) |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in order:
        mean = sum(r.job_seconds) / len(r.job_seconds)
        out.append(f"| {r.rule} | {r.jobs:,} | {r.threads} | {r.gpus} | {mean:,.1f} "
                   f"| {_hours(r.cpu_hours)} | {_hours(r.gpu_hours)} | {r.mem_mb:,} |")
    cpu = sum(r.cpu_hours for r in order)
    gpu = sum(r.gpu_hours for r in order)
    out.append(f"| **total** | **{sum(r.jobs for r in order):,}** | | | | **{_hours(cpu)}** "
               f"| **{_hours(gpu)}** | **{max(r.mem_mb for r in order):,}** |")
    out += ["", "| disk (kept at the end) | size |", "|---|---:|"]
    out += [f"| {k} | {_size(v)} |" for k, v in p.disk.items() if v > 0]
    out.append(f"| **total** | **{_size(p.disk_total)}** |")
    out += [f"| (transient) {k} | {_size(v)} |" for k, v in p.transient.items() if v > 0]
    out += ["", "Assumptions:", *[f"- {a}" for a in p.assumptions]]
    return "\n".join(out)


def rehearsal_hours(p: Plan) -> float:
    """Total job-hours (wall, threads not counted) of a plan: what Snakemake's benchmark
    files of the same run add up to."""
    return sum(sum(r.job_seconds) for r in p.rules.values()) / 3600
