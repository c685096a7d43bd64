"""The prediction card of ``latentgeom predict``: per measure the model's value, its place in the
reference's range (extrapolation flagged), the prediction with its prediction interval from the
reference's OLS fit, and the reference's Pearson r and LM MSE; as JSON and as Markdown."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import schema
from .analysis import analyze, fit_ols, measure_columns, select_variant, to_markdown


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def make_card(reference, settings: dict[str, Any], values: dict[str, float], *, name: str,
              architecture: str | None = None, level: float = 0.95) -> dict[str, Any]:
    """The prediction card: per measure its value, place in the reference's range, prediction
    and prediction interval, and the reference's r and LM MSE."""
    import pandas as pd

    variant = settings["variant"]
    ref = select_variant(reference, variant)
    with warnings.catch_warnings():  # statsmodels' notes on small samples, in its summaries
        warnings.simplefilter("ignore")
        res = analyze(reference, variant=variant)
    t2 = res["table2"].set_index("measure")
    pert = ref[ref["kind"] == "perturbed"]
    archs = sorted(set(pert["architecture"].astype(str)))
    prefix = schema.prefix(variant)
    rows = []
    for m in measure_columns(ref):
        x = values.get(prefix + m, float("nan"))
        col = pd.to_numeric(pert[m], errors="coerce").replace([np.inf, -np.inf], np.nan).dropna()
        lo, hi = (float(col.min()), float(col.max())) if len(col) else (math.nan, math.nan)
        row: dict[str, Any] = {"measure": m, "value": _finite(x),
                               "reference_min": _finite(lo), "reference_max": _finite(hi)}
        row["position"] = _finite((x - lo) / (hi - lo)) if np.isfinite(x) and hi > lo else None
        row["extrapolated"] = bool(np.isfinite(x) and len(col) and not lo <= x <= hi)
        with_arch = architecture in archs
        fit = fit_ols(ref, m, with_arch)
        row["model_formula"] = None if fit is None else fit.model.formula
        row.update(predicted=None, pi_low=None, pi_high=None)
        if fit is not None and np.isfinite(x):
            frame = pd.DataFrame({m: [x], "architecture": [architecture or archs[0]]})
            sf = fit.get_prediction(frame).summary_frame(alpha=1 - level)
            row.update(predicted=_finite(sf["mean"].iloc[0]),
                       pi_low=_finite(sf["obs_ci_lower"].iloc[0]),
                       pi_high=_finite(sf["obs_ci_upper"].iloc[0]))
        r = t2.loc[m] if m in t2.index else None
        row["r"] = {a: (None if r is None else _finite(r.get(f"r_{a}", math.nan)))
                    for a in archs}
        row["lm_mse"] = None if r is None else _finite(r["lm_mse"])
        rows.append(row)
    return {"model": name, "architecture": architecture,
            "architecture_in_reference": architecture in archs,
            "reference": {k: settings[k] for k in ("table", "sequences", "sequences_sha256",
                                                    "embed", "quantizers", "measures_seed",
                                                    "variant")},
            "reference_models": {"perturbed": int(len(pert)),
                                 "nonstandard": int((ref["kind"] == "nonstandard").sum()),
                                 "architectures": archs},
            "level": level, "measures": rows}


def _execution_lines(execution: dict[str, Any] | None) -> list[str]:
    if not execution:
        return []
    if execution["as_reference"]:
        return ["Measured as the reference measured its own models (its stages, settings and "
                "thread counts, on its device).", ""]
    return ["Not the reference's exact path: " + "; ".join(execution["notes"]) + ".", ""]


def card_markdown(card: dict[str, Any]) -> str:
    """The card as Markdown: a header, the settings, one table row per measure."""
    import pandas as pd

    ref = card["reference"]
    arch = card["architecture"]
    known = card["reference_models"]["architectures"]
    fit_note = (f"fits with the architecture term ({arch})" if card["architecture_in_reference"]
                else "fits without the architecture term (the model's architecture "
                f"{arch!r} is not among the reference's {known})")
    lines = [f"# Geometry and predicted GLUE average: {card['model']}", "",
             f"Reference: `{ref['table']}` ({card['reference_models']['perturbed']} perturbed, "
             f"{card['reference_models']['nonstandard']} non-standard models); {fit_note}.",
             f"Sample `{ref['sequences']}` (sha256 {ref['sequences_sha256'][:12]}…), layer "
             f"{ref['embed']['layer']}, quantizers "
             + ", ".join(f"{g}: {q['spec']['method']} M={q['spec']['M']} "
                         f"nbits={q['spec']['nbits']}" for g, q in ref["quantizers"].items())
             + f"; {ref['variant']} definitions.", "", *_execution_lines(card.get("execution")),
             f"Prediction interval: {card['level']:.0%}. range: the reference's perturbed "
             "models' values; position: 0 at their minimum, 1 at their maximum (*extrapolated*: "
             "outside). r: the reference's Pearson r (measure vs. GLUE average) per "
             "architecture (none with fewer than 3 models); LM MSE: its error on its "
             "non-standard models.", ""]
    table = []
    for r in card["measures"]:
        pos = "" if r["position"] is None else f"{r['position']:.2f}"
        table.append({
            "measure": r["measure"], "value": r["value"],
            "range": "" if r["reference_min"] is None else
            f"[{r['reference_min']:.4g}, {r['reference_max']:.4g}]",
            "position": pos + (" *extrapolated*" if r["extrapolated"] else ""),
            "predicted": r["predicted"],
            "95% PI": "" if r["pi_low"] is None else f"[{r['pi_low']:.3f}, {r['pi_high']:.3f}]",
            "r": ", ".join(f"{a} {v:.2f}" for a, v in r["r"].items() if v is not None) or "–",
            "LM MSE": r["lm_mse"]})
    df = pd.DataFrame(table)
    for c in ("value", "predicted", "LM MSE"):
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return "\n".join(lines) + "\n" + to_markdown(df, ".4g")


def write_card(card: dict[str, Any], out_md: str | Path, out_json: str | Path) -> None:
    from .io import write_json, write_text

    write_json(out_json, card)
    write_text(out_md, card_markdown(card))
