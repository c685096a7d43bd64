# Geometry half: sample -> embed -> quantize -> measures -> table.


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
    params:
        source=config["sample"]["source"],
        rules=config["sample"]["rules"],
        n=config["sample"]["n"],
        min_tokens=config["sample"]["min_tokens"],
        max_tokens=config["sample"]["max_tokens"],
        seed=config["sample"]["seed"],
        n_stats=config["sample"]["representativeness_samples"],
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/latent.yaml"
    script:
        "../../scripts/sample.py"


rule embed:
    input:
        manifest=res("models/{model}/manifest.json"),
        sequences=res("sample/sequences.txt"),
    output:
        embeddings=res("latent/{model}/embeddings.npy"),
        meta=res("latent/{model}/embeddings.json"),
    log:
        log("embed/{model}.log"),
    benchmark:
        res("benchmarks/embed/{model}.tsv")
    # embed.device is read by the script: where the job runs re-runs nothing
    params:
        layer=config["embed"]["layer"],
        batch_size=config["embed"]["batch_size"],
        max_length=config["embed"]["max_length"],
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: _size.embed_mem(config, attempt),
        runtime=lambda wc, attempt: _size.embed_runtime(config, attempt),
        gpu=_gpu_request(GPU_SETTING, config["embed"]["device"]),
    conda:
        "../../envs/latent.yaml"
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
    params:
        spec=lambda wc: config["quantize"]["quantizers"][wc.quantizer],
        seed=config["quantize"]["seed"],
        train_size=config["quantize"]["train_size"],
        use_gpu=config["quantize"]["use_gpu"],
    threads: 2
    resources:
        mem_mb=lambda wc, attempt: _size.quantize_mem(config, attempt),
        runtime=lambda wc, attempt: _size.quantize_runtime(config, wc.quantizer, attempt),
        gpu=_gpu_request(GPU_SETTING, config["quantize"]["use_gpu"]),
    conda:
        "../../envs/latent.yaml"
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
    params:
        quantizers=QUANTIZERS,
        seed=config["measures"]["seed"],
    threads: 2
    resources:
        mem_mb=16000,
        runtime=60,
    conda:
        "../../envs/latent.yaml"
    script:
        "../../scripts/measures.py"


rule measures_table:
    input:
        measures=expand(res("measures/{model}.json"), model=sorted(MODELS)),
        manifests=expand(res("models/{model}/manifest.json"), model=sorted(MODELS)),
    output:
        table=res("tables/measures.csv"),
    log:
        log("tables/measures.log"),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    conda:
        "../../envs/latent.yaml"
    script:
        "../../scripts/measures_table.py"
