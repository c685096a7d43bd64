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
import time
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
        return int(json.loads(cfg.read_text())["num_hidden_layers"])
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


# ----------------------------------------------------------------------------- one forward pass
def embed_layers_stage(*, manifest_path: str, sequences_path: str, out_paths: list[str],
                       layers: list[int], batch_size: int = 64, max_length: int | None = None,
                       device: str = "auto", threads: int | None = None) -> None:
    """Token vectors of every layer in ``layers`` from one forward pass per batch, streamed
    into ``out_paths[i]`` (float32 ``.npy``) with an ``embeddings.json`` beside each."""
    import torch
    from numpy.lib.format import open_memmap

    from . import embed, models
    from .gpus import pick_device
    from .integrity import require_checksum, sha256_file
    from .io import atomic_path, provenance, read_json, write_json
    from .stages import _say, read_sequences

    if threads:
        torch.set_num_threads(int(threads))
    if len(out_paths) != len(layers):
        raise ValueError("embed_layers: one output path per layer expected")
    seqs = read_sequences(sequences_path)
    manifest = read_json(manifest_path)
    checksum = require_checksum(manifest, manifest_path)
    model, tok = models.load_from_manifest(manifest)
    dev = pick_device(device)
    max_length = max_length or embed.default_max_length(model, tok)
    ids = embed.tokenize(tok, seqs, max_length)
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    n_states = int(model.config.num_hidden_layers) + 1
    bad = [i for i in layers if not 0 <= i < n_states]
    if bad:
        raise ValueError(f"embed.layers: {bad} outside the model's hidden states 0..{n_states - 1}")
    hidden = int(model.config.hidden_size)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    model = model.to(dev).eval()
    t0 = time.time()
    with _atomic_all(out_paths, atomic_path) as tmps:
        outs = [open_memmap(t, mode="w+", dtype=np.float32, shape=(int(offsets[-1]), hidden))
                for t in tmps]
        order = np.argsort(-lengths, kind="stable")
        with torch.inference_mode():
            for a in range(0, len(order), batch_size):
                batch = order[a:a + batch_size]
                input_ids, mask = embed.pad_batch(ids, lengths, batch, pad_id)
                res = model(input_ids=input_ids.to(dev), attention_mask=mask.to(dev),
                            output_hidden_states=True, return_dict=True)
                for out, layer in zip(outs, layers):
                    h = res.hidden_states[layer].float().cpu().numpy()
                    for row, i in enumerate(batch):
                        out[offsets[i]:offsets[i + 1]] = h[row, :lengths[i]]
        for out in outs:
            if not np.isfinite(out).all():
                raise FloatingPointError(f"embed_layers {manifest['name']}: NaN/Inf vectors")
            out.flush()
        del outs
    dt = time.time() - t0
    _say(f"{len(layers)} layers x {int(offsets[-1])} tokens x {hidden} dims in {dt:.1f}s")
    for path, layer in zip(out_paths, layers):
        write_json(Path(path).with_suffix(".json"), {
            "model": manifest["name"], "layer": layer, "shape": [int(offsets[-1]), hidden],
            "lengths": lengths.tolist(), "seconds": dt, "device": dev,
            "manifest_checksum": checksum, "embeddings_sha256": sha256_file(path),
            **provenance(layer=layer, batch_size=batch_size, max_length=max_length,
                         checksum=checksum)})


class _atomic_all:
    """Temporary paths for several outputs, all moved into place together on success."""

    def __init__(self, paths, atomic_path):
        from contextlib import ExitStack

        self.paths, self.atomic_path, self.stack = paths, atomic_path, ExitStack()

    def __enter__(self):
        return [str(self.stack.enter_context(self.atomic_path(p, suffix=".npy")))
                for p in self.paths]

    def __exit__(self, *exc):
        return self.stack.__exit__(*exc)


# ----------------------------------------------------------------------------- tables, analysis
def layers_table_stage(*, measure_paths: list[str], models: list[str], layers: list[int],
                       main_table: str, main_layer: int | None, out_path: str):
    """Long table, one row per (model, layer): ``model, layer``, then every measure column of
    ``tables/measures.csv`` (both definitions); the main layer's rows come from that table."""
    import pandas as pd

    from .io import read_json, write_csv
    from .stages import flatten_measures

    main = pd.read_csv(main_table)
    meta = ["model", "architecture", "kind", "alpha", "seed"]
    rows = []
    for path, model, layer in zip(measure_paths, models, layers):
        rows.append({"model": model, "layer": int(layer),
                     **flatten_measures(read_json(path))})
    extra = pd.DataFrame(rows)
    if len(extra):
        extra = extra.merge(main[meta], on="model", how="left", validate="many_to_one")
    # the main layer by its index; -1 (from the end) where the models' depth is unknown (hub)
    main = main.assign(layer=int(main_layer) if main_layer is not None else -1)
    cols = meta + ["layer"] + [c for c in main.columns if c not in meta + ["layer"]
                               and not c.startswith(("ci_lo:", "ci_hi:"))]
    df = pd.concat([main, extra], ignore_index=True)[cols].sort_values(["model", "layer"])
    write_csv(out_path, df)
    return df


def layer_pearson(layers_df, models_df, level: float = 0.95):
    """r(measure, GLUE average) over the perturbed models per layer, definition, measure and
    architecture, with Fisher intervals: columns layer, variant, measure, architecture, n, r,
    ci_low, ci_high."""
    import pandas as pd

    from .analysis import AUTHORS, TARGET, measure_columns, pearson_ci, variant_of

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
