"""Soft (differentiable) Point Patchiness on a finished run's models, against hard PP and GLUE.

    python benchmarks/softpp.py --results results [--out benchmarks/cache/softpp] \\
        [--factors 0.1 1 10] [--device cpu]

Reads (never writes) the run's ``tables/models.csv`` and, for every model in it,
``latent/<model>/embeddings.npy`` and each ``latent/<model>/quantized_<name>.npz``, through
``latentgeom.io``'s readers. Per model and quantizer: the hard PP from the stored codes (checked
against models.csv's ``<name>.PP``), the temperature tau0 of ``softpp.tau_rule`` (``"margin"``:
the median gap between the second-nearest and the nearest squared distance), soft PP at
``factor x tau0`` for each ``--factors`` and at the ``"nearest"`` rule (median nearest squared
distance), and, for the additive kind, the share of rows whose stored codes are an ICM fixed
point (where soft PP's tau -> 0 limit is the hard PP of exactly those codes).

Prints a per-model table and the Pearson r (scipy, with its 95% interval) over the perturbed
models (Table 2's set) of soft PP with hard PP and with ``glue_average``, beside hard PP's own r
with ``glue_average``. Writes ``softpp_models.csv``, ``softpp_r.csv`` and ``softpp.png`` to
``--out`` (default ``benchmarks/cache/softpp``, git-ignored).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np


def read_run(results: Path):
    """``(models table, {model: (embeddings path, {quantizer name: npz path})})``."""
    from latentgeom.io import read_csv

    table = results / "tables" / "models.csv"
    if not table.is_file():
        raise SystemExit(f"--results {results}: no tables/models.csv (a finished run's "
                         "results folder is needed, e.g. make demo's results/)")
    df = read_csv(table)
    files = {}
    for model in df["model"]:
        d = results / "latent" / model
        emb = d / "embeddings.npy"
        qs = {p.stem.removeprefix("quantized_"): p for p in sorted(d.glob("quantized_*.npz"))}
        if not emb.is_file() or not qs:
            raise SystemExit(f"{d}: embeddings.npy and quantized_*.npz needed (a run with "
                             "embed.temporary: false keeps them)")
        files[model] = (emb, qs)
    return df, files


def read_quantizer(path: Path):
    """``(codes, codebooks, kind)`` of a quantize stage's .npz."""
    from latentgeom.io import read_npz

    z = read_npz(path, ["codes", "codebooks", "meta"])
    return z["codes"].astype(np.int64), z["codebooks"], json.loads(str(z["meta"]))["kind"]


def model_rows(model: str, emb: Path, qs: dict, factors, device: str):
    import torch

    from latentgeom import measures, softpp
    from latentgeom.io import read_npy

    X = torch.as_tensor(np.asarray(read_npy(emb), dtype=np.float64), device=device)
    rows = []
    for name, path in qs.items():
        codes, C, kind = read_quantizer(path)
        K = C.shape[1]
        t0 = time.perf_counter()
        tau0 = softpp.tau_rule(X, C, kind, codes)
        row = {"model": model, "quantizer": name, "kind": kind, "n": len(codes),
               "hard_PP": measures.point_patchiness(codes, K), "tau0": tau0}
        with torch.no_grad():
            for f in factors:
                row[f"soft_PP@{f:g}tau0"] = float(softpp.soft_pp(X, C, kind, f * tau0, codes))
            tau_n = softpp.tau_rule(X, C, kind, codes, rule="nearest")
            row["tau_nearest"] = tau_n
            row["soft_PP@nearest"] = float(softpp.soft_pp(X, C, kind, tau_n, codes))
        row["icm_fixed"] = (float(softpp.is_icm_fixed_point(X, C, kind, codes).mean())
                            if kind == "additive" else float("nan"))
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return rows


def correlations(long, models, target: str = "glue_average"):
    from latentgeom.analysis import pearson_ci

    out = []
    pert = models[models["kind"] == "perturbed"].set_index("model")
    soft_cols = [c for c in long.columns if c.startswith("soft_PP@")]
    for name, g in long.groupby("quantizer", sort=False):
        g = g.set_index("model").loc[[m for m in pert.index if m in set(g["model"])]]
        y = pert.loc[g.index, target].to_numpy(float)
        ok = np.isfinite(y)
        for col in ["hard_PP", *soft_cols]:
            x = g[col].to_numpy(float)
            r_h = pearson_ci(x, g["hard_PP"].to_numpy(float))
            r_g = pearson_ci(x[ok], y[ok])
            out.append({"quantizer": name, "measure": col, "n_models": int(ok.sum()),
                        "r_with_hard_PP": r_h[0], "r_with_glue": r_g[0],
                        "glue_ci_low": r_g[2], "glue_ci_high": r_g[3]})
    import pandas as pd

    return pd.DataFrame(out)


def figure(long, models, path: Path, target: str = "glue_average") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pert = models[models["kind"] == "perturbed"].set_index("model")
    names = list(dict.fromkeys(long["quantizer"]))
    fig, axes = plt.subplots(len(names), 2, figsize=(9.5, 3.8 * len(names)), squeeze=False,
                             layout="constrained")
    for i, name in enumerate(names):
        g = long[(long["quantizer"] == name) & long["model"].isin(pert.index)]
        a = pert.loc[g["model"], "alpha"].to_numpy(float)
        soft = g["soft_PP@1tau0"].to_numpy(float)
        ax = axes[i, 0]
        sc = ax.scatter(g["hard_PP"], soft, c=a, cmap="viridis")
        ax.set(xlabel=f"hard PP ({name})", ylabel="soft PP at tau0 (margin rule)")
        ax = axes[i, 1]
        ax.scatter(soft, pert.loc[g["model"], target], c=a, cmap="viridis")
        ax.set(xlabel=f"soft PP at tau0 ({name})", ylabel=target)
        fig.colorbar(sc, ax=axes[i, :].tolist(), label="alpha")
    fig.suptitle("Soft PP on the run's perturbed models")
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)


def main(argv=None) -> None:
    import pandas as pd

    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "cache" / "softpp"))
    ap.add_argument("--factors", nargs="+", type=float, default=[0.1, 1.0, 10.0])
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args(argv)
    if 1.0 not in a.factors:
        a.factors.append(1.0)
    results, out = Path(a.results), Path(a.out)
    if out.resolve().is_relative_to(results.resolve()):
        raise SystemExit("--out must lie outside --results (the run is read, never written)")
    models, files = read_run(results)
    import torch

    print(f"# {results}: {len(models)} models, {os.cpu_count()} CPU cores, "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"device {a.device}")
    rows = []
    for model, (emb, qs) in files.items():
        rows += model_rows(model, emb, qs, a.factors, a.device)
    long = pd.DataFrame(rows)
    for name in long["quantizer"].unique():  # the hard PP here is models.csv's
        col = f"{name}.PP"
        if col in models.columns:
            ref = models.set_index("model").loc[long.loc[long.quantizer == name, "model"], col]
            diff = np.abs(ref.to_numpy(float) - long.loc[long.quantizer == name, "hard_PP"]
                          .to_numpy(float)).max()
            print(f"# {name}: hard PP from the stored codes vs models.csv {col}: "
                  f"max |diff| {diff:.3g}")
    soft_cols = [c for c in long.columns if c.startswith("soft_PP@")]
    print("\n| model | quantizer | n | hard PP | tau0 | " + " | ".join(soft_cols)
          + " | ICM fixed | s |")
    print("|---|---|---:|---:|---:|" + "---:|" * len(soft_cols) + "---:|---:|")
    for _, r in long.iterrows():
        print(f"| {r.model} | {r.quantizer} | {r.n} | {r.hard_PP:.4f} | {r.tau0:.4g} | "
              + " | ".join(f"{r[c]:.4f}" for c in soft_cols)
              + f" | {r.icm_fixed:.3f} | {r.seconds:.1f} |")
    corr = correlations(long, models)
    print("\nPearson r over the perturbed models (95% interval of r with glue_average):\n")
    print("| quantizer | measure | models | r with hard PP | r with glue_average | 95% CI |")
    print("|---|---|---:|---:|---:|---|")
    for _, r in corr.iterrows():
        print(f"| {r.quantizer} | {r.measure} | {r.n_models} | {r.r_with_hard_PP:.3f} | "
              f"{r.r_with_glue:.3f} | [{r.glue_ci_low:.2f}, {r.glue_ci_high:.2f}] |")
    out.mkdir(parents=True, exist_ok=True)
    long.to_csv(out / "softpp_models.csv", index=False)
    corr.to_csv(out / "softpp_r.csv", index=False)
    figure(long, models, out / "softpp.png")
    print(f"\nwrote {out}/softpp_models.csv, softpp_r.csv, softpp.png")


if __name__ == "__main__":
    main()
