# Analysis: join the two halves, the statistics of Tables 1-2, Figures 1-11.
ANALYSIS = config["analysis"]
FIGURES = [f"figure{i}" for i in range(1, 12)]
ANALYSIS_TABLES = ["table1", "table2"]


rule models_table:
    """One row per model: architecture, kind, alpha, seed, task scores, GLUE average, measures."""
    input:
        measures=res("tables/measures.csv"),
        glue=res("tables/glue.csv"),
        geometry=GEOMETRY_FILES,  # geometry.smk (issue 21): [] unless geometry.enabled
        geometry_meta=GEOMETRY_META,  # their embeddings' SHA-256 (checked), same switch
    output:
        table=report(res("tables/models.csv"), caption="../report/models.rst", category="Tables"),
    log:
        log("models_table/models.log"),
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=5,
    script:
        "../../scripts/analysis_join.py"


rule analyze:
    """Pearson r per architecture, OLS with/without architecture, LM MSE (Tables 1-2)."""
    input:
        table=res("tables/models.csv"),
    output:
        table1=report(res("analysis/table1.csv"), caption="../report/table1.rst", category="Tables"),
        table2=report(res("analysis/table2.csv"), caption="../report/table2.rst", category="Tables"),
        predictions=report(
            res("analysis/predictions.csv"), caption="../report/predictions.rst", category="Tables"
        ),
        extra=multiext(
            res("analysis/"),
            "table1.md",
            "table2.md",
            "pearson.csv",
            "correlations.csv",
            "ols_summaries.txt",
        ),
        variants=expand(
            res("analysis/{table}_{variant}.{ext}"),
            table=ANALYSIS_TABLES,
            variant=["paper", "authors"],
            ext=["csv", "md"],
        ),
    log:
        log("analyze/analyze.log"),
    benchmark:
        res("benchmarks/analysis/analyze.tsv")
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        outliers=ANALYSIS["outliers"],
        variant=config["measures"]["variant"],
    script:
        "../../scripts/analysis_stats.py"


rule figures:
    """The paper's Figures 1-11 (PNG for the report, PDF beside them)."""
    input:
        table=res("tables/models.csv"),
        representativeness=res("sample/representativeness.csv"),
    output:
        png=[
            report(res(f"figures/{f}.png"), caption=f"../report/{f}.rst", category="Figures")
            for f in FIGURES
        ],
        pdf=[res(f"figures/{f}.pdf") for f in FIGURES],
    log:
        log("figures/figures.log"),
    benchmark:
        res("benchmarks/analysis/figures.tsv")
    conda:
        "../../envs/analysis.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        variant=config["measures"]["variant"],
    script:
        "../../scripts/analysis_figures.py"
