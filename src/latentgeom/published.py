"""The authors' published per-model data (their metrics and GLUE files) as a model table in our
schema (``models.csv``, :mod:`latentgeom.analysis`), for ``latentgeom import-published``.

Their measures were computed by their code, so they become the ``authors:<group>.<name>``
columns; the file and column names below are theirs.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from .analysis import AUTHORS, TARGET, measure_columns

_PUB_RENAME = {"patchiness": "PP", "count_var": "PC_var", "count_kl": "PC_kl", "skew": "RS",
               "error": "RE", "iqr": "RI", "centroids": "CD_var", "point_dist": "PD_EEE"}
_ALT_ARCH = {"chin": "bert-base", "germ": "bert-base", "shuffle_index": "bert-base",
             "untrained": "bert-base", "untrained_w_emb": "bert-base", "fc": "roberta",
             "mlm": "roberta", "asci": "roberta", "rand": "roberta", "roberta_sinha": "roberta",
             "shuffle_corp": "roberta", "shuffle_sent": "roberta", "bert-small": "bert-small"}


def _rename_published(df):
    cols = {}
    for c in df.columns:
        m = re.match(r"^([ap])-(.+)$", c)
        if m and m.group(2) in _PUB_RENAME:
            cols[c] = f"{'additive' if m.group(1) == 'a' else 'product'}.{_PUB_RENAME[m.group(2)]}"
        elif c in ("EEE", "VRM"):
            cols[c] = f"spread.{c}"
        elif c == "IsoScore":
            cols[c] = "spread.IS"
    return df.rename(columns=cols)


def _parse_row_name(name: str) -> tuple[str, float, int]:
    m = re.match(r"^(.*)_([0-9.]+)_([0-9]+)$", str(name))
    if not m:
        raise ValueError(f"published row name {name!r} is not <model>_<alpha %>_<run>")
    return m.group(1), float(m.group(2)) / 100.0, int(m.group(3))


PUBLISHED_FILES = {  # metrics file -> (GLUE average column, architecture, per-task GLUE file)
    "bert_small_metrics.csv": ("new_average", "bert-small", "VM_combined_glue.csv"),
    "bert_model_metrics.csv": ("average", "bert-base", "bert_base_glue.csv"),
    "roberta_model_metrics.csv": ("average", "roberta", "roberta_glue.csv"),
}


def import_published(directory: str | Path):
    """The authors' published per-model files (github.com/amarbut/manifolds) as a model table
    in our schema.

    Perturbed BERT-small (``bert_small_metrics.csv``, GLUE average ``new_average``), BERT-base
    (``bert_model_metrics.csv``, ``average``) and RoBERTa (``roberta_model_metrics.csv``,
    ``average``) models, and the 13 non-standard models (``alt_model_metrics.csv``). Per-task
    scores are joined from ``VM_combined_glue.csv`` / ``bert_base_glue.csv`` /
    ``roberta_glue.csv`` where present and the row names match. Their measures were computed by
    their code, so they become the ``authors:<group>.<name>`` columns (no paper-variant
    columns). Values are taken as published (NaN where their file has none).
    """
    import pandas as pd

    d = Path(directory)
    for f in (*PUBLISHED_FILES, "alt_model_metrics.csv"):
        if not (d / f).is_file():
            raise FileNotFoundError(f"published data: {d / f} not found")
    frames = []
    for fname, (avg, arch, glue_file) in PUBLISHED_FILES.items():
        df = pd.read_csv(d / fname)
        key = "model" if "model" in df.columns else df.columns[0]
        df = df.rename(columns={key: "row"})
        parsed = df["row"].map(_parse_row_name)
        df["model"] = df["row"]
        df["alpha"] = [p[1] for p in parsed]
        df["seed"] = [p[2] for p in parsed]
        df["architecture"] = arch
        df["kind"] = "perturbed"
        df[TARGET] = df[avg]
        if (d / glue_file).is_file():
            g = pd.read_csv(d / glue_file)
            g = g.rename(columns={g.columns[0]: "row"})
            tasks = [c for c in g.columns if c not in ("row", "average", "new_average")]
            g = g[["row", *tasks]].rename(columns={t: f"glue.{t}" for t in tasks})
            df = df.merge(g, on="row", how="left", validate="many_to_one")
        frames.append(_rename_published(df))
    alt = pd.read_csv(d / "alt_model_metrics.csv")
    alt = alt.drop(columns=[alt.columns[0]]) if alt.columns[0].startswith("Unnamed") else alt
    alt["architecture"] = alt["model"].map(_ALT_ARCH)
    alt["kind"] = "nonstandard"
    alt["alpha"] = np.nan
    alt["seed"] = np.nan
    frames.append(_rename_published(alt))
    out = pd.concat(frames, ignore_index=True)
    keep = ["model", "architecture", "kind", "alpha", "seed"]
    keep += sorted(c for c in out.columns if c.startswith("glue.")) + [TARGET]
    out = out[keep + measure_columns(out)]
    return out.rename(columns={c: AUTHORS + c for c in measure_columns(out)})
