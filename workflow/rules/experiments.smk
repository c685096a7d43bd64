# Opt-in experiments beyond the paper (README, "Beyond the paper"). Each adds jobs only when its
# config key turns it on (none does by default; all_targets() in common.smk asks for their
# results, their switches are read there):
#   measures.bootstrap.n > 0  measures_bootstrap, analyze_uncertainty
#   quantize.sensitivity      measures_sensitivity, sensitivity_table, analyze_sensitivity
#   embed.layers              embed_layers, quantize_layer, measures_layer, layers_table,
#                             analyze_layers
#   glue.compare_engines      glue_finetune_engine
# A new opt-in experiment adds its rules here (included after the paper's rules).


wildcard_constraints:
    layer=r"\d+",


rule measures_bootstrap:
    """Percentile intervals of every measure from resampled sequences (quantizers reused)."""
    input:
        embeddings=res("latent/{model}/embeddings.npy"),
        meta=res("latent/{model}/embeddings.json"),
        quantized=expand(res("latent/{{model}}/quantized_{quantizer}.npz"), quantizer=QUANTIZERS),
    output:
        json=res("measures/{model}.bootstrap.json"),
        npz=res("measures/{model}.bootstrap.npz"),
    log:
        log("measures_bootstrap/{model}.log"),
    benchmark:
        res("benchmarks/measures/{model}.bootstrap.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: _size.measures_mem(config, attempt),
        runtime=120,
    params:
        quantizers=QUANTIZERS,
        n=BOOTSTRAP["n"],
        seed=BOOTSTRAP["seed"],
        level=BOOTSTRAP["level"],
        heavy=BOOTSTRAP["heavy"],
        measure_seed=config["measures"]["seed"],
    script:
        "../../scripts/measures_bootstrap.py"


rule measures_sensitivity:
    """The quantized measures of one quantize.sensitivity setting (both definitions)."""
    input:
        embeddings=res("latent/{model}/embeddings.npy"),
        quantized=res("latent/{model}/quantized_{setting}.npz"),
    output:
        measures=res("measures/sensitivity/{model}/{setting}.json"),
    log:
        log("measures_sensitivity/{model}_{setting}.log"),
    benchmark:
        res("benchmarks/measures/sensitivity/{model}_{setting}.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: _size.measures_mem(config, attempt),
        runtime=60,
    params:
        setting=lambda wc: wc.setting,
        seed=config["measures"]["seed"],
    script:
        "../../scripts/measures_sensitivity.py"


rule sensitivity_table:
    """One row per (model, quantize.sensitivity setting): the eight quantized measures."""
    input:
        measures=expand(
            res("measures/sensitivity/{model}/{setting}.json"),
            model=sorted(MODELS),
            setting=list(SENSITIVITY),
        ),
    output:
        table=res("tables/sensitivity.csv"),
    log:
        log("sensitivity_table/sensitivity.log"),
    conda:
        "../../envs/latent.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        models=[m for m in sorted(MODELS) for _ in SENSITIVITY],
    script:
        "../../scripts/sensitivity_table.py"


rule embed_layers:
    """Token vectors of every extra layer of embed.layers, from one forward pass."""
    input:
        manifest=res("models/{model}/manifest.json"),
        sequences=res("sample/sequences.txt"),
    output:
        embeddings=expand(res("latent/{{model}}/layers/L{layer}/embeddings.npy"), layer=LAYERS),
    log:
        log("embed_layers/{model}.log"),
    benchmark:
        res("benchmarks/embed/{model}.layers.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: _size.embed_mem(config, attempt),
        runtime=lambda wc, attempt: _size.embed_runtime(config, attempt),
        gpu=_gpu_request(GPU_SETTING, config["embed"]["device"]),
    params:
        layers=LAYERS,
        batch_size=config["embed"]["batch_size"],
        max_length=config["embed"]["max_length"],
    script:
        "../../scripts/embed_layers.py"


use rule quantize as quantize_layer with:
    input:
        embeddings=res("latent/{model}/layers/L{layer}/embeddings.npy"),
    output:
        quantized=res("latent/{model}/layers/L{layer}/quantized_{quantizer}.npz"),
    log:
        log("quantize_layer/{model}_L{layer}_{quantizer}.log"),
    benchmark:
        res("benchmarks/quantize/{model}_L{layer}_{quantizer}.tsv")


use rule measures as measures_layer with:
    input:
        embeddings=res("latent/{model}/layers/L{layer}/embeddings.npy"),
        quantized=expand(
            res("latent/{{model}}/layers/L{{layer}}/quantized_{quantizer}.npz"),
            quantizer=QUANTIZERS,
        ),
    output:
        measures=res("measures/layers/{model}/L{layer}.json"),
    log:
        log("measures_layer/{model}_L{layer}.log"),
    benchmark:
        res("benchmarks/measures/layers/{model}_L{layer}.tsv")


rule layers_table:
    """One row per (model, layer), the main layer's from tables/measures.csv: long format."""
    input:
        measures=expand(
            res("measures/layers/{model}/L{layer}.json"), model=sorted(MODELS), layer=LAYERS
        ),
        table=res("tables/measures.csv"),
    output:
        table=res("tables/layers.csv"),
    log:
        log("layers_table/layers.log"),
    conda:
        "../../envs/latent.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    params:
        models=[m for m in sorted(MODELS) for _ in LAYERS],
        layers=[la for _ in sorted(MODELS) for la in LAYERS],
        main_layer=MAIN_LAYER,
    script:
        "../../scripts/layers_table.py"


rule analyze_uncertainty:
    """Table 2's r under the measures' bootstrap (only with measures.bootstrap.n > 0)."""
    input:
        table=res("tables/models.csv"),
        replicates=expand(res("measures/{model}.bootstrap.npz"), model=sorted(MODELS)),
    output:
        table=report(
            res("analysis/table2_uncertainty.csv"),
            caption="../report/table2_uncertainty.rst",
            category="Tables",
        ),
        md=res("analysis/table2_uncertainty.md"),
    log:
        log("analyze_uncertainty/analyze_uncertainty.log"),
    benchmark:
        res("benchmarks/analysis/analyze_uncertainty.tsv")
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        level=BOOTSTRAP["level"],
        variant=config["measures"]["variant"],
    script:
        "../../scripts/analysis_uncertainty.py"


rule analyze_sensitivity:
    """r(measure, GLUE average) per quantize.sensitivity setting; r against M and K (figure)."""
    input:
        table=res("tables/sensitivity.csv"),
        models=res("tables/models.csv"),
    output:
        table=report(
            res("analysis/sensitivity.csv"),
            caption="../report/sensitivity_table.rst",
            category="Beyond the paper",
        ),
        png=report(
            res("figures/sensitivity.png"),
            caption="../report/figure_sensitivity.rst",
            category="Beyond the paper",
        ),
        pdf=res("figures/sensitivity.pdf"),
    log:
        log("analyze_sensitivity/analyze_sensitivity.log"),
    benchmark:
        res("benchmarks/analysis/analyze_sensitivity.tsv")
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        variant=config["measures"]["variant"],
    script:
        "../../scripts/analysis_sensitivity.py"


rule analyze_layers:
    """r(measure, GLUE average) per hidden layer, with Fisher intervals; r against depth."""
    input:
        table=res("tables/layers.csv"),
        models=res("tables/models.csv"),
    output:
        table=report(
            res("analysis/layers.csv"),
            caption="../report/layers_table.rst",
            category="Beyond the paper",
        ),
        png=report(
            res("figures/layers.png"),
            caption="../report/figure_layers.rst",
            category="Beyond the paper",
        ),
        pdf=res("figures/layers.pdf"),
    log:
        log("analyze_layers/analyze_layers.log"),
    benchmark:
        res("benchmarks/analysis/analyze_layers.tsv")
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        variant=config["measures"]["variant"],
    script:
        "../../scripts/analysis_layers.py"


rule glue_finetune_engine:
    """Fine-tune one model on one task with the engine glue.engine does not name (a check)."""
    input:
        manifest=res("models/{model}/manifest.json"),
        cache=lambda wc: res(f"glue/cache/{GLUE_TOKENIZER[wc.model]}/{wc.task}"),
    output:
        metrics=res("glue/engines/{engine}/{model}/{task}/metrics.json"),
        train_log=res("glue/engines/{engine}/{model}/{task}/train_log.csv"),
    log:
        log("glue_finetune_engine/{engine}/{model}_{task}.log"),
    benchmark:
        res("benchmarks/glue/engines/{engine}/{model}_{task}.tsv")
    conda:
        "../../envs/glue.yaml"
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: _size.finetune_mem(config, attempt),
        runtime=lambda wc, attempt: _size.finetune_runtime(config, wc.task, attempt),
        gpu=_gpu_request(GPU_SETTING, GLUE["device"]),
    params:
        hyperparameters=lambda wc: {**GLUE_HP, "engine": wc.engine},
    script:
        "../../scripts/glue_finetune.py"
