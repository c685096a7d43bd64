# Beyond the paper (issue 21): other geometry per model, the out-of-sample ranking of the
# measures and soft Point Patchiness. All off by default (config keys geometry.enabled,
# ranking.enabled, softpp.enabled): no job then. Switching geometry on over a finished run adds
# the geometry jobs and re-joins tables/models.csv (its new geometry.* columns); softpp adds its
# jobs and analysis/softpp.csv; nothing else that exists re-runs.
from latentgeom import schema as _schema_consts
from latentgeom.geometry import GEOMETRY_MEASURES as _geometry_measures

GEOMETRY = config["geometry"]  # defaults from the schema
RANKING = config["ranking"]
SOFTPP = config["softpp"]
GEOMETRY_SETTINGS = {k: v for k, v in GEOMETRY.items() if k != "enabled"}
# the per-model files models_table joins (none while geometry is off), and the embeddings'
# meta files whose SHA-256 it checks them against
GEOMETRY_FILES = (
    expand(res("measures/geometry/{model}.json"), model=sorted(MODELS))
    if GEOMETRY["enabled"]
    else []
)
GEOMETRY_META = (
    expand(res("latent/{model}/embeddings.json"), model=sorted(MODELS))
    if GEOMETRY["enabled"]
    else []
)
SOFTPP_FILES = (
    expand(res("measures/softpp/{model}.json"), model=sorted(MODELS)) if SOFTPP["enabled"] else []
)
# what `all` asks for (the ranking reads models.csv, geometry columns included)
GEOMETRY_TARGETS = (
    GEOMETRY_FILES
    + ([res("analysis/ranking.csv"), res("figures/ranking.png")] if RANKING["enabled"] else [])
    + ([res("analysis/softpp.csv"), res("figures/softpp.png")] if SOFTPP["enabled"] else [])
)
# the ranking's table: measure columns per definition, scopes (each architecture group, pooled)
RANKING_MEASURES = (
    len(_schema_consts.SPREAD)
    + len(_schema_consts.QUANTIZED) * len(QUANTIZERS)
    + (len(_geometry_measures) if GEOMETRY["enabled"] else 0)
)
RANKING_SCOPES = len({m["architecture"] for m in MODELS.values()}) + bool(LATENT) + 1


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
        mem_mb=lambda wc, attempt: _size.geometry_mem(config, attempt),
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
        mem_mb=lambda wc, attempt: _size.ranking_mem(
            config, len(MODELS), RANKING_MEASURES, RANKING_SCOPES, attempt
        ),
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


rule softpp:
    """Soft Point Patchiness of one model's latent matrix per quantizer, and its hard limits."""
    input:
        embeddings=res("latent/{model}/embeddings.npy"),
        quantized=expand(res("latent/{{model}}/quantized_{quantizer}.npz"), quantizer=QUANTIZERS),
    output:
        json=res("measures/softpp/{model}.json"),
    log:
        log("softpp/{model}.log"),
    benchmark:
        res("benchmarks/softpp/{model}.tsv")
    conda:
        "../../envs/latent.yaml"
    threads: 1
    resources:
        mem_mb=lambda wc, attempt: _size.softpp_mem(config, attempt),
        runtime=10,
    params:
        quantizers=QUANTIZERS,
        factors=SOFTPP["factors"],
        rule=SOFTPP["rule"],
    script:
        "../../scripts/softpp.py"


rule analyze_softpp:
    """r of soft PP with hard PP and with the GLUE average (table and figure)."""
    input:
        softpp=SOFTPP_FILES,
        table=res("tables/models.csv"),
    output:
        table=report(
            res("analysis/softpp.csv"),
            caption="../report/softpp_table.rst",
            category="Beyond the paper",
        ),
        png=report(
            res("figures/softpp.png"),
            caption="../report/figure_softpp.rst",
            category="Beyond the paper",
        ),
        pdf=res("figures/softpp.pdf"),
    log:
        log("analyze_softpp/analyze_softpp.log"),
    benchmark:
        res("benchmarks/analysis/analyze_softpp.tsv")
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        variant=config["measures"]["variant"],
    script:
        "../../scripts/analysis_softpp.py"
