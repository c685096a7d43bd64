# Models: a manifest per perturbed model (Eq. 1); weights stored only if asked.


rule perturb:
    output:
        manifest=res("models/{model}/manifest.json"),
    log:
        log("perturb/{model}.log"),
    params:
        base=model_param("source"),
        architecture=model_param("architecture"),
        kind=model_param("kind"),
        alpha=model_param("alpha"),
        seed=model_param("seed"),
        scope=model_param("scope"),
        store_weights=config["models"].get("store_weights", False),
        weights_dir=lambda wc: res(f"models/{wc.model}/weights"),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    conda:
        "../../envs/models.yaml"
    script:
        "../../scripts/perturb.py"
