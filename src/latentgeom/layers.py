"""Layer-wise geometry (issue 13): the latent space of several hidden layers per model.

``embed.layers`` lists hidden-state indices (0 = the embeddings' output, L = the last of L
layers; negative counts from the end) or ``all``. The configured ``embed.layer`` (the paper's
last layer) keeps its files and jobs (``latent/{model}/embeddings.npy``); every *other*
requested layer is extracted by one ``embed_layers`` job per model, in **one forward pass**
(``output_hidden_states=True``), each layer's token vectors streamed batch by batch into its own
float32 ``.npy`` on disk (``numpy.lib.format.open_memmap``), so memory holds the model and one
batch's hidden states, never the layers' matrices. Quantizers and measures then run per
(model, layer) as cached jobs, and the analysis gives r per layer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def model_depth(source: str) -> int | None:
    """``num_hidden_layers`` from a locally resolvable model's ``config.json``; None if not
    local (a hub id)."""
    from .models import resolve_source

    if not isinstance(source, str) or source.startswith("hub:"):
        return None
    cfg = Path(resolve_source(source)) / "config.json"
    if not cfg.is_file():
        return None
    try:
        from .preflight import DEPTH_KEYS, config_field

        return int(config_field(json.loads(cfg.read_text()), DEPTH_KEYS))
    except (ValueError, KeyError, TypeError):
        return None


def resolve_layers(spec, depth: int | None, main: int = -1) -> list[int]:
    """The hidden-state indices (0..depth) of ``embed.layers`` other than the main layer
    ``embed.layer``, sorted. ``spec``: a list of indices (negative from the end) or ``"all"``;
    ``depth``: the models' number of layers (None: unknown, only non-negative indices then)."""
    if spec == "all":
        if depth is None:
            raise ValueError("embed.layers: 'all' needs the models' depth (a local model "
                             "config.json); list the layers instead, e.g. [0, 6, 12]")
        idx = list(range(depth + 1))
    else:
        idx = []
        for i in spec:
            i = int(i)
            if i < 0:
                if depth is None:
                    raise ValueError(f"embed.layers: {i} counts from the end, but the models' "
                                     "depth is unknown (a hub model); use indices >= 0")
                i += depth + 1
            if i < 0 or (depth is not None and i > depth):
                raise ValueError(f"embed.layers: layer {i} is outside 0..{depth}")
            idx.append(i)
    m = main + depth + 1 if (main < 0 and depth is not None) else main
    return sorted({i for i in idx if i != m})


def config_layers(config: dict[str, Any],
                  models: dict[str, dict[str, Any]]) -> tuple[list[int], int | None]:
    """``(extra layers, main layer index)`` of a config: the hidden-state indices of
    ``embed.layers`` other than ``embed.layer`` (``[]`` by default: off), and ``embed.layer``
    as an index >= 0 (None when the depth is unknown and it counts from the end). Every model
    must have the same depth."""
    emb = config.get("embed") or {}
    spec = emb.get("layers", [-1])
    main = int(emb.get("layer", -1))
    if spec != "all" and {int(i) for i in spec} <= {main}:
        return [], None
    depths = {m.get("source"): None for m in models.values()}
    for s in depths:
        depths[s] = model_depth(s)
    known = {d for d in depths.values() if d is not None}
    if len(known) > 1:
        raise ValueError(f"embed.layers: the models have different depths {sorted(known)}; "
                         "layer-wise geometry needs one depth (run one architecture at a time)")
    depth = known.pop() if known else None
    main_idx = main + depth + 1 if main < 0 and depth is not None else (main if main >= 0
                                                                       else None)
    return resolve_layers(spec, depth, main), main_idx


# ----------------------------------------------------------------------------- analysis
def layer_pearson(layers_df, models_df, level: float = 0.95):
    """r(measure, GLUE average) over the perturbed models per layer, definition, measure and
    architecture, with Fisher intervals: columns layer, variant, measure, architecture, n, r,
    ci_low, ci_high."""
    import pandas as pd

    from .analysis import TARGET, measure_columns, pearson_ci, variant_of
    from .schema import AUTHORS

    df = layers_df.drop(columns=[c for c in ("architecture", "kind") if c in layers_df])
    df = df.merge(models_df[["model", "architecture", "kind", TARGET]], on="model",
                  how="inner", validate="many_to_one")
    pert = df[df["kind"] == "perturbed"]
    rows = []
    for col in measure_columns(df, None):
        for (layer, arch), g in pert.groupby(["layer", "architecture"], sort=True):
            x = pd.to_numeric(g[col], errors="coerce").to_numpy(dtype=float)
            y = pd.to_numeric(g[TARGET], errors="coerce").to_numpy(dtype=float)
            ok = np.isfinite(x) & np.isfinite(y)
            r, _, lo, hi = pearson_ci(x[ok], y[ok], level)
            rows.append({"layer": int(layer), "variant": variant_of(col),
                         "measure": col.removeprefix(AUTHORS), "architecture": arch,
                         "n": int(ok.sum()), "r": r, "ci_low": lo, "ci_high": hi})
    return pd.DataFrame(rows, columns=["layer", "variant", "measure", "architecture", "n", "r",
                                       "ci_low", "ci_high"])
