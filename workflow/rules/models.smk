# Models: a manifest per perturbed model (Eq. 1); weights stored only if asked.


rule perturb:
    output:
        manifest=res("models/{model}/manifest.json"),
    log:
        log("perturb/{model}.log"),
    benchmark:
        res("benchmarks/perturb/{model}.tsv")
    wildcard_constraints:
        model=names_regex(PERTURBED),
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        base=model_param("source"),
        architecture=model_param("architecture"),
        kind=model_param("kind"),
        alpha=model_param("alpha"),
        seed=model_param("seed"),
        scope=model_param("scope"),
        store_weights=config["models"]["store_weights"],
        weights_dir=lambda wc: res(f"models/{wc.model}/weights"),
    script:
        "../../scripts/perturb.py"


rule perturb_latent:
    """A latent-noise model (docs/latent-noise.md): the base's weights + a hook on embed.layer."""
    input:
        base_embeddings=latent_sigma_input,
    output:
        manifest=res("models/{model}/manifest.json"),
    log:
        log("perturb_latent/{model}.log"),
    benchmark:
        res("benchmarks/perturb_latent/{model}.tsv")
    wildcard_constraints:
        model=names_regex(LATENT),
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        base=model_param("source"),
        architecture=model_param("architecture"),
        alpha=model_param("alpha"),
        seed=model_param("seed"),
        scope=model_param("scope"),
        layer=config["embed"]["layer"],
    script:
        "../../scripts/perturb_latent.py"


rule nonstandard:
    """A non-standard model of Section 3.4 from its recipe; weights are stored."""
    input:
        # a fairseq checkpoint (when present: a missing one fails in the job, naming the file)
        checkpoint=nonstandard_checkpoint,
    output:
        manifest=res("models/{model}/manifest.json"),
        weights=directory(res("models/{model}/weights")),
    log:
        log("nonstandard/{model}.log"),
    benchmark:
        res("benchmarks/nonstandard/{model}.tsv")
    wildcard_constraints:
        model=names_regex(NONSTANDARD),
    conda:
        "../../envs/models.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=20,
    params:
        recipe=model_param("recipe"),
        architecture=model_param("architecture"),
        source=model_param("source"),
        donor=model_param("donor"),
        tokenizer=model_param("tokenizer"),
        seed=model_param("seed"),
        checkpoint=model_param("checkpoint"),
    script:
        "../../scripts/nonstandard.py"
