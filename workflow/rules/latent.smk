# Geometry half: sample -> embed -> quantize -> measures -> table.
# (The opt-in layer-wise, sensitivity and bootstrap rules: experiments.smk.)


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
        mem_mb=lambda wc, attempt: _size.measures_mem(config, attempt),
        runtime=60,
    params:
        quantizers=QUANTIZERS,
        seed=config["measures"]["seed"],
    script:
        "../../scripts/measures.py"


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
        log("measures_table/measures.log"),
    conda:
        "../../envs/latent.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../../scripts/measures_table.py"
