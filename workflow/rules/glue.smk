# GLUE half: (mini-benchmark) -> tokenised cache per tokenizer x task -> fine-tune per
# model x task -> scores per model -> tables/glue.csv. Depends on the models only, never on a
# geometry setting.
from latentgeom.glue import hparams as _hparams
from latentgeom.glue import plan as _plan
from latentgeom.glue.tasks import get_task as _get_task
from latentgeom.nonstandard import model_tokenizer as _tokenizer

GLUE = config["glue"]
GLUE_SOURCE = str(GLUE["source"])
GLUE_TASKS = [_get_task(t).name for t in GLUE["tasks"]]
# The fine-tuning settings the config gives (their list: the Hyperparameters dataclass).
GLUE_HP = _hparams.from_config(GLUE)
# Tokenised caches are keyed by tokenizer source: models sharing one share the cache.
GLUE_TOKENIZER = {n: _plan.tokenizer_key(_tokenizer(m)) for n, m in MODELS.items()}
GLUE_TOKENIZER_SOURCE = {_plan.tokenizer_key(_tokenizer(m)): _tokenizer(m) for m in MODELS.values()}
# glue.compare_engines: models fine-tuned with the other engine too, under glue/engines/.
GLUE_OTHER_ENGINE = "fast" if GLUE["engine"] == "run_glue" else "run_glue"
GLUE_COMPARE = _plan.compare_engine_targets(GLUE, sorted(MODELS), GLUE_TASKS, RESULTS)


wildcard_constraints:
    task=names_regex(GLUE_TASKS),
    engine="fast|run_glue",
    tokenizer=names_regex(sorted(GLUE_TOKENIZER_SOURCE)),


rule glue_minibench:
    """The offline proxy benchmark (GLUE schema) from data shipped in the gensim wheel."""
    output:
        expand(res("glue/data/{task}/{split}.csv"), task=GLUE_TASKS, split=["train", "validation"]),
        info=res("glue/data/minibench.json"),
    log:
        log("glue_minibench/minibench.log"),
    benchmark:
        res("benchmarks/glue/minibench.tsv")
    conda:
        "../../envs/glue.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        out_dir=lambda wc, output: str(Path(output.info).parent),
        tasks=GLUE_TASKS,
        sizes=_plan.minibench_sizes(GLUE),
        seed=GLUE["minibench"]["seed"],
    script:
        "../../scripts/glue_minibench.py"


rule glue_cache:
    """Validated, tokenised splits of one task, shared by every model with this tokenizer."""
    input:
        lambda wc: _plan.data_files(GLUE, wc.task, RESULTS),
    output:
        cache=directory(res("glue/cache/{tokenizer}/{task}")),
    log:
        log("glue_cache/{tokenizer}_{task}.log"),
    benchmark:
        res("benchmarks/glue/cache/{tokenizer}_{task}.tsv")
    conda:
        "../../envs/glue.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        source=res("glue/data") if GLUE_SOURCE == "minibench" else GLUE_SOURCE,
        tokenizer=lambda wc: GLUE_TOKENIZER_SOURCE[wc.tokenizer],
        max_length=GLUE["max_length"],
    script:
        "../../scripts/glue_cache.py"


rule glue_finetune:
    """Fine-tune one model on one task (resumes from its scratch checkpoint)."""
    input:
        manifest=res("models/{model}/manifest.json"),
        cache=lambda wc: res(f"glue/cache/{GLUE_TOKENIZER[wc.model]}/{wc.task}"),
    output:
        metrics=res("glue/{model}/{task}/metrics.json"),
        train_log=res("glue/{model}/{task}/train_log.csv"),
    log:
        log("glue_finetune/{model}_{task}.log"),
    benchmark:
        res("benchmarks/glue/{model}_{task}.tsv")
    # resources.group_finetunes_minutes: short ones join group finetune_small, which the
    # slurm-grouped profile bundles (ignored when running locally)
    group:
        lambda wc: _size.finetune_group(config, wc.task, glue_gpu("gres")(wc) != "")
    conda:
        "../../envs/glue.yaml"
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: _size.finetune_mem(config, attempt),
        runtime=lambda wc, attempt: _size.finetune_runtime(config, wc.task, attempt),
        # a model's gpu_share < 1: shards of a GPU instead of a GPU (README, GPUs)
        gpu=glue_gpu("gpu"),
        gpu_shard=glue_gpu("gpu_shard"),
        gres=glue_gpu("gres"),
    params:
        # Only what changes the score: glue.scratch, glue.device and glue.keep_weights are read
        # by the script from the config (changing them re-runs nothing). glue.engine is one of
        # the settings: changing it re-runs fine-tuning and what follows.
        hyperparameters=GLUE_HP,
    script:
        "../../scripts/glue_finetune.py"


rule glue_scores:
    input:
        metrics=expand(res("glue/{{model}}/{task}/metrics.json"), task=GLUE_TASKS),
    output:
        scores=res("glue/{model}/scores.json"),
    log:
        log("glue_scores/{model}.log"),
    conda:
        "../../envs/glue.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        tasks=GLUE_TASKS,
    script:
        "../../scripts/glue_scores.py"


rule glue_table:
    input:
        scores=expand(res("glue/{model}/scores.json"), model=sorted(MODELS)),
        manifests=expand(res("models/{model}/manifest.json"), model=sorted(MODELS)),
    output:
        table=res("tables/glue.csv"),
    log:
        log("glue_table/glue.log"),
    conda:
        "../../envs/glue.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../../scripts/glue_table.py"
