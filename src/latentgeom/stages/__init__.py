"""File-level stages of the models, the geometry half and the analysis: files in, artifacts out
(atomically). The GLUE half's are in :mod:`latentgeom.glue.stages`.

One module per part of the workflow, as its rules are split:

- :mod:`.models`: ``perturb``, ``nonstandard`` (``workflow/rules/models.smk``);
- :mod:`.latent`: ``sample``, ``embed``, ``embed_layers``, ``quantize``, ``measures``,
  ``bootstrap``, ``sensitivity_measures`` (``workflow/rules/latent.smk``);
- :mod:`.tables`: ``measures_table``, ``layers_table``, ``sensitivity_table``, ``models_table``
  (the ``tables/*.csv`` the analysis reads);
- :mod:`.analysis`: ``analyze``, ``figures``, ``uncertainty``, ``sensitivity_analysis``,
  ``layers_analysis`` (``workflow/rules/analysis.smk``);
- :mod:`.geometry`: ``geometry`` (the other geometry of one latent matrix), ``ranking`` (the
  out-of-sample ranking of a model table's measures), ``softpp`` and ``softpp_analysis`` (soft
  Point Patchiness per model, and its r with hard PP and GLUE) (``workflow/rules/geometry.smk``).

Every stage is importable from here (``latentgeom.stages.<name>_stage``). The Snakemake scripts
call them, and so does the ``latentgeom`` command line: ``latentgeom stage NAME --ARG VALUE``
runs any stage (these and the GLUE half's) alone on files, with or without the pipeline. Inputs
are checked before any expensive work, and each artifact carries the config that produced it and
the library versions. The artifact readers (:func:`~latentgeom.io.load_matrix`,
:func:`~latentgeom.io.read_quantized`, :func:`~latentgeom.io.read_sequences`) are in
:mod:`latentgeom.io` and importable from here too.
"""

from __future__ import annotations

from ..io import load_matrix, read_quantized, read_sequences
from .analysis import (
    analyze_stage,
    figures_stage,
    layers_analysis_stage,
    sensitivity_analysis_stage,
    uncertainty_stage,
)
from .geometry import (
    add_geometry_columns,
    geometry_stage,
    ranking_stage,
    softpp_analysis_stage,
    softpp_stage,
)
from .latent import (
    bootstrap_stage,
    embed_layers_stage,
    embed_stage,
    measures_stage,
    quantize_stage,
    sample_stage,
    sensitivity_measures_stage,
)
from .models import nonstandard_stage, perturb_latent_stage, perturb_stage
from .tables import (
    flatten_measures,
    layers_table_stage,
    measures_table_stage,
    models_table_stage,
    sensitivity_table_stage,
)

__all__ = [
    "add_geometry_columns", "analyze_stage", "bootstrap_stage", "embed_layers_stage",
    "embed_stage", "figures_stage", "flatten_measures", "geometry_stage",
    "layers_analysis_stage", "layers_table_stage", "load_matrix", "measures_stage",
    "measures_table_stage", "models_table_stage", "nonstandard_stage", "perturb_latent_stage",
    "perturb_stage", "quantize_stage", "ranking_stage", "read_quantized", "read_sequences",
    "sample_stage", "sensitivity_analysis_stage", "sensitivity_measures_stage",
    "sensitivity_table_stage", "softpp_analysis_stage", "softpp_stage", "uncertainty_stage",
]
