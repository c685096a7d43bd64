"""Rule glue_scores: per-task scores of one model and their GLUE average."""
from latentgeom.glue.finetune import model_scores
from latentgeom.io import log_to, write_json

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    scores = model_scores(list(sm.input.metrics), sm.params.tasks, sm.wildcards.model)
    write_json(sm.output.scores, scores)
    print(scores)
