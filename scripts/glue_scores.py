"""Rule glue_scores: per-task scores of one model and their GLUE average."""
from latentgeom.glue.stages import scores_stage
from latentgeom.io import log_to

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    print(scores_stage(metrics_paths=list(sm.input.metrics), tasks=sm.params.tasks,
                       model=sm.wildcards.model, out_path=sm.output.scores))
