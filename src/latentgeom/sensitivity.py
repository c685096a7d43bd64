"""Quantizer sensitivity (issue 13): the quantized measures under a grid of quantizer settings.

The paper fixed M = 4 codebooks of K = 256 centroids and names the number of components as a
possible cause of its non-monotonic results (§6). ``quantize.sensitivity`` lists methods, M and
nbits (K = 2^nbits); every combination is a quantizer of its own, named ``<method>_M<M>_K<K>``
(e.g. ``pq_M8_K64``), trained and measured per model by cached jobs (``quantize``,
``measures_sensitivity``), beside the configured ``additive``/``product`` quantizers, which
stay as they are. The analysis gives r(measure, GLUE average) per setting, definition and
architecture, and a figure of r against M (lines per K) per measure.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np

from .analysis import TARGET
from .schema import QUANTIZED, VARIANTS, prefix

NAME = re.compile(r"^(lsq|pq)_M(\d+)_K(\d+)$")


def setting_name(method: str, M: int, nbits: int) -> str:
    """``pq, 8, 6 -> 'pq_M8_K64'``."""
    return f"{method}_M{int(M)}_K{1 << int(nbits)}"


def parse_setting(name: str) -> dict[str, Any]:
    """``'pq_M8_K64' -> {"method": "pq", "M": 8, "K": 64, "nbits": 6}``."""
    m = NAME.match(name)
    if not m or int(m.group(3)) & (int(m.group(3)) - 1):
        raise ValueError(f"quantizer setting {name!r}: expected <lsq|pq>_M<M>_K<2^nbits>")
    K = int(m.group(3))
    return {"method": m.group(1), "M": int(m.group(2)), "K": K, "nbits": K.bit_length() - 1}


def sensitivity_quantizers(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """``{name: {method, M, nbits}}`` of the grid ``quantize.sensitivity`` (empty when its
    ``methods`` list is empty: off). Names never collide with the configured quantizers."""
    sens = (config.get("quantize") or {}).get("sensitivity") or {}
    methods = list(dict.fromkeys(sens.get("methods") or []))
    if not methods:
        return {}
    Ms = sorted({int(m) for m in sens.get("M") or []})
    bits = sorted({int(b) for b in sens.get("nbits") or []})
    if not Ms or not bits:
        raise ValueError("quantize.sensitivity: needs non-empty M and nbits lists")
    out = {}
    for method, M, nb in itertools.product(methods, Ms, bits):
        out[setting_name(method, M, nb)] = {"method": method, "M": M, "nbits": nb}
    clash = set(out) & set((config.get("quantize") or {}).get("quantizers") or {})
    if clash:
        raise ValueError(f"quantize.quantizers: the names {sorted(clash)} are taken by "
                         "quantize.sensitivity's settings; rename those quantizers")
    return out


# ----------------------------------------------------------------------------- analysis
def sensitivity_pearson(models, table):
    """r(measure, GLUE average) over the perturbed models, per setting, definition, measure
    and architecture: columns setting, method, M, K, variant, measure, architecture, n, r.
    ``models``: ``tables/models.csv`` (kind, architecture, GLUE average); ``table``:
    :func:`sensitivity_table_stage`'s."""
    import pandas as pd

    from .analysis import _pearson

    meta = models[["model", "architecture", "kind", TARGET]]
    df = table.merge(meta, on="model", how="inner", validate="many_to_one")
    missing = sorted(set(table.model) - set(models.model))
    if missing:
        raise ValueError(f"sensitivity table: models not in models.csv: {missing[:5]}")
    pert = df[df["kind"] == "perturbed"]
    rows = []
    keys = ["setting", "method", "M", "K", "architecture"]
    for key, g in pert.groupby(keys, sort=True):
        rec = dict(zip(keys, key))
        y = pd.to_numeric(g[TARGET], errors="coerce").to_numpy(dtype=float)
        for variant in VARIANTS:
            pre = prefix(variant)
            for name in QUANTIZED:
                x = pd.to_numeric(g[pre + name], errors="coerce").to_numpy(dtype=float)
                ok = np.isfinite(x) & np.isfinite(y)
                rows.append({**rec, "variant": variant, "measure": name,
                             "n": int(ok.sum()), "r": _pearson(x[ok], y[ok])})
    cols = ["setting", "method", "M", "K", "variant", "measure", "architecture", "n", "r"]
    return pd.DataFrame(rows, columns=cols)
