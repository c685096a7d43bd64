# Geometry half: sample -> embed -> quantize -> measures -> table.
# measures.bootstrap.n > 0 adds measures_bootstrap per model (README, "Beyond the paper").
BOOTSTRAP = config["measures"]["bootstrap"]  # defaults from the schema
# embed.layers other than embed.layer (README, "Beyond the paper"); [] by default: no job added
from latentgeom.layers import config_layers as _config_layers  # noqa: E402

LAYERS, MAIN_LAYER = _config_layers(config, MODELS)


wildcard_constraints:
    layer=r"\d+",


rule sample:
    input:
        # the text files a `files`/`list` sample is drawn from: editing one re-runs the sample
        corpus=sample_corpus_files(),
    output:
        sequences=res("sample/sequences.txt"),
        meta=res("sample/sample.json"),
        stats=res("sample/representativeness.csv"),
    log:
        log("sample/sample.log"),
    benchmark:
        res("benchmarks/sample.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        source=config["sample"]["source"],
        rules=config["sample"]["rules"],
        n=config["sample"]["n"],
        min_tokens=config["sample"]["min_tokens"],
        max_tokens=config["sample"]["max_tokens"],
        seed=config["sample"]["seed"],
        n_stats=config["sample"]["representativeness_samples"],
    script:
        "../../scripts/sample.py"


rule embed:
    input:
        manifest=res("models/{model}/manifest.json"),
        sequences=res("sample/sequences.txt"),
    output:
        # embed.temporary: removed once every job reading it is done (the disk; never a param)
        embeddings=(
            temp(res("latent/{model}/embeddings.npy"))
            if config["embed"]["temporary"]
            else res("latent/{model}/embeddings.npy")
        ),
        meta=res("latent/{model}/embeddings.json"),
    log:
        log("embed/{model}.log"),
    benchmark:
        res("benchmarks/embed/{model}.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: _size.embed_mem(config, attempt),
        runtime=lambda wc, attempt: _size.embed_runtime(config, attempt),
        gpu=_gpu_request(GPU_SETTING, config["embed"]["device"]),
    # embed.device is read by the script: where the job runs re-runs nothing
    params:
        layer=config["embed"]["layer"],
        batch_size=config["embed"]["batch_size"],
        max_length=config["embed"]["max_length"],
    script:
        "../../scripts/embed.py"


rule quantize:
    input:
        embeddings=res("latent/{model}/embeddings.npy"),
    output:
        quantized=res("latent/{model}/quantized_{quantizer}.npz"),
    log:
        log("quantize/{model}_{quantizer}.log"),
    benchmark:
        res("benchmarks/quantize/{model}_{quantizer}.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: _size.quantize_mem(config, attempt),
        runtime=lambda wc, attempt: _size.quantize_runtime(SIZING_CONFIG, wc.quantizer, attempt),
        gpu=_gpu_request(GPU_SETTING, config["quantize"]["use_gpu"]),
    params:
        spec=lambda wc: QUANTIZER_SPECS[wc.quantizer],
        seed=config["quantize"]["seed"],
        train_size=config["quantize"]["train_size"],
        use_gpu=config["quantize"]["use_gpu"],
    script:
        "../../scripts/quantize.py"


rule measures:
    input:
        embeddings=res("latent/{model}/embeddings.npy"),
        quantized=expand(res("latent/{{model}}/quantized_{quantizer}.npz"), quantizer=QUANTIZERS),
    output:
        measures=res("measures/{model}.json"),
    log:
        log("measures/{model}.log"),
    benchmark:
        res("benchmarks/measures/{model}.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=60,
    params:
        quantizers=QUANTIZERS,
        seed=config["measures"]["seed"],
    script:
        "../../scripts/measures.py"


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
        log("measures/{model}.bootstrap.log"),
    benchmark:
        res("benchmarks/measures/{model}.bootstrap.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=16000,
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
        log("measures/sensitivity/{model}_{setting}.log"),
    benchmark:
        res("benchmarks/measures/sensitivity/{model}_{setting}.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=16000,
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
        log("tables/sensitivity.log"),
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
        log("embed/{model}.layers.log"),
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


rule quantize_layer:
    input:
        embeddings=res("latent/{model}/layers/L{layer}/embeddings.npy"),
    output:
        quantized=res("latent/{model}/layers/L{layer}/quantized_{quantizer}.npz"),
    log:
        log("quantize/{model}_L{layer}_{quantizer}.log"),
    benchmark:
        res("benchmarks/quantize/{model}_L{layer}_{quantizer}.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: _size.quantize_mem(config, attempt),
        runtime=lambda wc, attempt: _size.quantize_runtime(SIZING_CONFIG, wc.quantizer, attempt),
        gpu=_gpu_request(GPU_SETTING, config["quantize"]["use_gpu"]),
    params:
        spec=lambda wc: QUANTIZER_SPECS[wc.quantizer],
        seed=config["quantize"]["seed"],
        train_size=config["quantize"]["train_size"],
        use_gpu=config["quantize"]["use_gpu"],
    script:
        "../../scripts/quantize.py"


rule measures_layer:
    input:
        embeddings=res("latent/{model}/layers/L{layer}/embeddings.npy"),
        quantized=expand(
            res("latent/{{model}}/layers/L{{layer}}/quantized_{quantizer}.npz"),
            quantizer=QUANTIZERS,
        ),
    output:
        measures=res("measures/layers/{model}/L{layer}.json"),
    log:
        log("measures/layers/{model}_L{layer}.log"),
    benchmark:
        res("benchmarks/measures/layers/{model}_L{layer}.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=16000,
        runtime=60,
    params:
        quantizers=QUANTIZERS,
        seed=config["measures"]["seed"],
    script:
        "../../scripts/measures.py"


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
        log("tables/layers.log"),
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


rule measures_table:
    input:
        measures=expand(res("measures/{model}.json"), model=sorted(MODELS)),
        manifests=expand(res("models/{model}/manifest.json"), model=sorted(MODELS)),
        # only with measures.bootstrap.n > 0: ci_lo:/ci_hi: columns
        bootstrap=(
            expand(res("measures/{model}.bootstrap.json"), model=sorted(MODELS))
            if BOOTSTRAP["n"]
            else []
        ),
    output:
        table=res("tables/measures.csv"),
    log:
        log("tables/measures.log"),
    conda:
        "../../envs/latent.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../../scripts/measures_table.py"
