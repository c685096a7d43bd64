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
    output:
        table=report(res("tables/models.csv"), caption="../report/models.rst", category="Tables"),
    log:
        log("tables/models.log"),
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
        log("analysis/analyze.log"),
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
        log("analysis/analyze_uncertainty.log"),
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
        log("analysis/analyze_sensitivity.log"),
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
        log("analysis/analyze_layers.log"),
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
        log("analysis/figures.log"),
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
