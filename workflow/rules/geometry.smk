# Beyond the paper (issue 21): other geometry per model and the out-of-sample ranking of the
# measures. Both off by default (config keys geometry.enabled, ranking.enabled): no job then.
# Switching geometry on over a finished run adds the geometry jobs and re-joins
# tables/models.csv (its new geometry.* columns); nothing else that exists re-runs.
GEOMETRY = config["geometry"]  # defaults from the schema
RANKING = config["ranking"]
GEOMETRY_SETTINGS = {k: v for k, v in GEOMETRY.items() if k != "enabled"}
# the per-model files models_table joins (none while geometry is off)
GEOMETRY_FILES = (
    expand(res("measures/geometry/{model}.json"), model=sorted(MODELS))
    if GEOMETRY["enabled"]
    else []
)
# what `all` asks for (the ranking reads models.csv, geometry columns included)
GEOMETRY_TARGETS = GEOMETRY_FILES + (
    [res("analysis/ranking.csv"), res("figures/ranking.png")] if RANKING["enabled"] else []
)


rule geometry:
    """TwoNN, MLE, persistence, RankMe, alpha-ReQ and anisotropy of one model's latent matrix."""
    input:
        embeddings=res("latent/{model}/embeddings.npy"),
    output:
        json=res("measures/geometry/{model}.json"),
    log:
        log("geometry/{model}.log"),
    benchmark:
        res("benchmarks/geometry/{model}.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        settings=GEOMETRY_SETTINGS,
    script:
        "../../scripts/geometry.py"


rule ranking:
    """Out-of-sample ranking of every measure (and pair) as a predictor of the GLUE average."""
    input:
        table=res("tables/models.csv"),
    output:
        table=report(
            res("analysis/ranking.csv"),
            caption="../report/ranking_table.rst",
            category="Beyond the paper",
        ),
        png=report(
            res("figures/ranking.png"),
            caption="../report/figure_ranking.rst",
            category="Beyond the paper",
        ),
        pdf=res("figures/ranking.pdf"),
    log:
        log("ranking/ranking.log"),
    benchmark:
        res("benchmarks/analysis/ranking.tsv")
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        folds=RANKING["folds"],
        pairs=RANKING["pairs"],
        bootstrap=RANKING["bootstrap"],
        seed=RANKING["seed"],
        level=RANKING["level"],
        reference=RANKING["reference"],
        variant=config["measures"]["variant"],
    script:
        "../../scripts/ranking.py"
