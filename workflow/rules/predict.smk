# latentgeom predict for the models of config predict.models (README, "latentgeom predict"):
# each model's geometry and predicted GLUE average from a reference run's tables/models.csv
# (predict.reference; default: this run's own, after its analysis).
rule predict:
    input:
        unpack(predict_inputs),
    output:
        md=res("predict/{name}.md"),
        json=res("predict/{name}.json"),
    log:
        log("predict/{name}.log"),
    benchmark:
        res("benchmarks/predict/{name}.tsv")
    wildcard_constraints:
        name=names_regex(sorted(PREDICT["models"])),
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=_gpu_request(GPU_SETTING, config["embed"]["device"]),
    # embed.device is read by the script: where the job runs re-runs nothing
    params:
        source=lambda wc: PREDICT["models"][wc.name]["source"],
        architecture=lambda wc: PREDICT["models"][wc.name].get("architecture"),
    script:
        "../../scripts/predict.py"
