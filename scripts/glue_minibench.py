"""Rule glue_minibench: the offline GLUE-schema mini-benchmark from gensim's test data."""
from latentgeom.glue.stages import minibench_stage
from latentgeom.io import log_to

sm = snakemake  # noqa: F821
with log_to(sm.log[0]):
    print(minibench_stage(sm.params.out_dir, tasks=sm.params.tasks, sizes=sm.params.sizes,
                          seed=sm.params.seed))
