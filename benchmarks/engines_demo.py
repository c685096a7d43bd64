"""The demo's Table 2 and Figure 5 under each fine-tuning engine, side by side.

Reads two results directories of the same configuration that differ only in ``glue.engine``
(the engine is read back from every ``metrics.json``, and a directory mixing engines is an
error), and prints:

1. Table 2's r per measure and architecture under each engine with its 95% interval (the
   analysis' own ``analysis/pearson.csv``: SciPy's Fisher-z interval), flagging every r that
   falls outside the other engine's interval;
2. every model's score per task under each engine and the difference, with the mean paired
   difference per task and its 95% t interval over the models;
3. each engine's fine-tuning wall time, from the run's benchmark files
   (``benchmarks/glue/<model>_<task>.tsv``, Snakemake's ``benchmark:``);

and with ``--figure PATH`` draws Figure 5 (GLUE average vs additive PP) with both engines' scores
of every model joined by a line, beside Table 2's r with both intervals.

    python benchmarks/engines_demo.py RESULTS_FAST RESULTS_RUN_GLUE [--figure engines_demo.png]
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def engine_of(results: Path) -> str:
    """The one engine every ``glue/<model>/<task>/metrics.json`` of ``results`` names."""
    engines = {}
    for p in sorted((results / "glue").glob("*/*/metrics.json")):
        if p.parts[-4] == "engines":
            continue
        engines[str(p.relative_to(results))] = json.loads(p.read_text())["hyperparameters"].get(
            "engine", "fast")
    if not engines:
        raise SystemExit(f"{results}: no glue/<model>/<task>/metrics.json")
    kinds = sorted(set(engines.values()))
    if len(kinds) != 1:
        raise SystemExit(f"{results}: metrics.json files name several engines: {kinds}")
    return kinds[0]


def load(results: Path) -> dict:
    import pandas as pd

    t2 = pd.read_csv(results / "analysis/table2.csv")
    variant = str(t2["variant"].iloc[0])
    pear = pd.read_csv(results / "analysis/pearson.csv")
    pear = pear[pear["variant"] == variant]
    glue = pd.read_csv(results / "tables/glue.csv")
    models = pd.read_csv(results / "tables/models.csv")
    wall = []
    for p in sorted((results / "benchmarks/glue").glob("*.tsv")):
        if p.stem == "minibench":
            continue
        s = pd.read_csv(p, sep="\t")
        wall.append({"job": p.stem, "s": float(s["s"].iloc[-1]),
                     "cpu_time": float(s["cpu_time"].iloc[-1])})
    train = []
    for p in sorted((results / "glue").glob("*/*/metrics.json")):
        if p.parts[-4] == "engines":
            continue
        m = json.loads(p.read_text())
        train.append({"job": f"{m['model']}_{m['task']}", "train_s": m["train"]["seconds"],
                      "n_train": m["n_train"], "epochs": m["train"]["epochs"]})
    return {"engine": engine_of(results), "variant": variant, "table2": t2, "pearson": pear,
            "glue": glue, "models": models, "wall": pd.DataFrame(wall),
            "train": pd.DataFrame(train)}


def compare_r(a: dict, b: dict):
    """Table 2's r under both engines; ``flag``: an r outside the other engine's interval."""
    cols = ["measure", "architecture", "n", "r", "ci_low", "ci_high"]
    m = a["pearson"][cols].merge(b["pearson"][cols], on=["measure", "architecture"],
                                 suffixes=("_a", "_b"), validate="one_to_one")
    out_a = (m["r_a"] < m["ci_low_b"]) | (m["r_a"] > m["ci_high_b"])
    out_b = (m["r_b"] < m["ci_low_a"]) | (m["r_b"] > m["ci_high_a"])
    m["flag"] = [("A" if x else "") + ("B" if y else "") for x, y in zip(out_a, out_b)]
    order = {k: i for i, k in enumerate(a["table2"]["measure"])}
    return m.sort_values("measure", key=lambda s: s.map(order)).reset_index(drop=True)


def t_interval(d) -> tuple[float, float]:
    """Mean and half-width of the 95% t interval of paired differences ``d``."""
    import numpy as np
    from scipy import stats

    d = np.asarray(d, dtype=float)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        return (float(d.mean()) if len(d) else math.nan), math.nan
    return float(d.mean()), float(stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1)
                                  / math.sqrt(len(d)))


def compare_scores(a: dict, b: dict):
    """Per model and task (and the GLUE average): both engines' scores and b - a."""
    ga, gb = a["glue"], b["glue"]
    tasks = [c for c in ga.columns if c not in ("model", "kind", "architecture", "base",
                                                "alpha", "seed")]
    m = ga[["model", "kind", *tasks]].merge(gb[["model", *tasks]], on="model",
                                            suffixes=("_a", "_b"), validate="one_to_one")
    if len(m) != len(ga) or len(m) != len(gb):
        raise SystemExit(f"the two runs fine-tuned different models ({len(ga)} vs {len(gb)})")
    # perturbed models by alpha and seed, then the non-standard ones
    m = m.merge(ga[["model", "alpha", "seed"]], on="model").sort_values(
        ["kind", "alpha", "seed", "model"], ascending=[False, True, True, True],
        na_position="last").drop(columns=["alpha", "seed"]).reset_index(drop=True)
    for t in tasks:
        m[f"{t}_d"] = m[f"{t}_b"] - m[f"{t}_a"]
    return m, tasks


def fmt(x, nd=3, sign=False) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:+.{nd}f}" if sign else f"{x:.{nd}f}"


def print_tables(a: dict, b: dict) -> None:
    A, B = a["engine"], b["engine"]
    r = compare_r(a, b)
    print(f"Table 2 (variant {a['variant']}): r with its 95% interval (Fisher z, "
          f"analysis/pearson.csv) under each engine\n")
    print(f"| measure | architecture | n | r, {A} [95% CI] | r, {B} [95% CI] | {B} − {A} | "
          f"outside the other's CI |")
    print("|---|---|---:|---:|---:|---:|---|")
    for _, x in r.iterrows():
        flag = {"": "", "A": f"{A}'s r", "B": f"{B}'s r", "AB": "both"}[x["flag"]]
        print(f"| {x['measure']} | {x['architecture']} | {int(x['n_a'])} | "
              f"{fmt(x['r_a'])} [{fmt(x['ci_low_a'], 2)}, {fmt(x['ci_high_a'], 2)}] | "
              f"{fmt(x['r_b'])} [{fmt(x['ci_low_b'], 2)}, {fmt(x['ci_high_b'], 2)}] | "
              f"{fmt(x['r_b'] - x['r_a'], sign=True)} | {flag} |")
    nflag = int((r["flag"] != "").sum())
    d = (r["r_b"] - r["r_a"]).abs()
    print(f"\n{len(r)} r values; {nflag} outside the other engine's interval; "
          f"|{B} − {A}| median {d.median():.3f}, max {d.max():.3f} "
          f"({r.loc[d.idxmax(), 'measure']}).\n")

    s, tasks = compare_scores(a, b)
    print(f"Scores per model and task (dev split), {A} / {B} / {B} − {A}\n")
    print("| model | kind | " + " | ".join(f"{t} {A} | {t} {B} | Δ" for t in tasks) + " |")
    print("|---|---|" + "---:|---:|---:|" * len(tasks))
    for _, x in s.iterrows():
        cells = " | ".join(f"{fmt(x[f'{t}_a'])} | {fmt(x[f'{t}_b'])} | "
                           f"{fmt(x[f'{t}_d'], sign=True)}" for t in tasks)
        print(f"| {x['model']} | {x['kind']} | {cells} |")
    print()
    for t in tasks:
        for kind, g in [("all", s), ("perturbed", s[s["kind"] == "perturbed"])]:
            mean, hw = t_interval(g[f"{t}_d"])
            print(f"{t:>14} ({kind}, {len(g)} models): mean {B} − {A} {fmt(mean, sign=True)} "
                  f"(95% t ± {fmt(hw)}); |Δ| max {g[f'{t}_d'].abs().max():.3f}")
    print()
    print("Fine-tuning cost (Snakemake benchmark files, benchmarks/glue/*.tsv; train_s from "
          "metrics.json)\n")
    print("| engine | jobs | wall s, sum | cpu s, sum | train s, sum (metrics.json) | "
          "train examples/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for e in (a, b):
        w, tr = e["wall"], e["train"]
        ex = float((tr["n_train"] * tr["epochs"]).sum())
        print(f"| {e['engine']} | {len(w)} | {w['s'].sum():.0f} | {w['cpu_time'].sum():.0f} | "
              f"{tr['train_s'].sum():.0f} | {ex / tr['train_s'].sum():.1f} |")


def figure(a: dict, b: dict, path: Path, measure: str = "additive.PP") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    A, B = a["engine"], b["engine"]
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.6), gridspec_kw={"width_ratios": [1, 1.1]})
    ma = a["models"].set_index("model")
    mb = b["models"].set_index("model").reindex(ma.index)
    x = ma[measure].to_numpy(float)
    ya, yb = ma["glue_average"].to_numpy(float), mb["glue_average"].to_numpy(float)
    pert = (ma["kind"] == "perturbed").to_numpy()
    for xi, y0, y1 in zip(x, ya, yb):
        ax.plot([xi, xi], [y0, y1], color="0.75", lw=1, zorder=1)
    pr = compare_r(a, b).set_index("measure").loc[measure]
    for y, eng, c, mk, key in [(ya, A, "C0", "o", "a"), (yb, B, "C3", "s", "b")]:
        ax.scatter(x[pert], y[pert], color=c, marker=mk, s=22, zorder=2,
                   label=f"{eng}: r = {pr['r_' + key]:.2f} [{pr['ci_low_' + key]:.2f}, "
                         f"{pr['ci_high_' + key]:.2f}], n = {int(pr['n_' + key])}")
        ax.scatter(x[~pert], y[~pert], facecolors="none", edgecolors=c, marker=mk, s=40,
                   lw=1.2, zorder=2)
        ok = pert & np.isfinite(x) & np.isfinite(y)
        k, c0 = np.polyfit(x[ok], y[ok], 1)
        xs = np.linspace(np.nanmin(x), np.nanmax(x), 20)
        ax.plot(xs, k * xs + c0, color=c, lw=1, ls="--")
    for name, xi, y0 in zip(ma.index[~pert], x[~pert], ya[~pert]):
        ax.annotate(name, (xi, y0), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel(f"{measure.split('.')[1]}, {measure.split('.')[0]}")
    ax.set_ylabel("Average GLUE score (demo proxy tasks)")
    ax.set_title("Figure 5 under both engines (grey: one model's two scores;\n"
                 "hollow: non-standard; dashed: OLS over perturbed)", fontsize=8)
    ax.legend(fontsize=7, loc="upper left")
    r = compare_r(a, b)
    yy = np.arange(len(r))[::-1]
    for off, key, c, mk, eng in [(0.17, "a", "C0", "o", A), (-0.17, "b", "C3", "s", B)]:
        bx.errorbar(r["r_" + key], yy + off,
                    xerr=[r["r_" + key] - r["ci_low_" + key], r["ci_high_" + key] - r["r_" + key]],
                    fmt=mk, color=c, ms=4, lw=1, capsize=2, label=eng)
    for yi, f in zip(yy, r["flag"]):
        if f:
            bx.annotate("*", (1.02, yi), fontsize=10, color="k", va="center")
    bx.axvline(0, color="0.6", lw=0.8)
    bx.set_yticks(yy, [f"{m} ({arch})" if r["architecture"].nunique() > 1 else m
                       for m, arch in zip(r["measure"], r["architecture"])], fontsize=7)
    bx.set_xlim(-1.05, 1.1)
    bx.set_xlabel("Pearson r with the GLUE average (95% Fisher-z interval)")
    bx.set_title("Table 2 under both engines (*: an r outside the other's interval)", fontsize=8)
    bx.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    print(f"\nwrote {path}")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", type=Path, help="results directory of one engine (e.g. fast)")
    ap.add_argument("b", type=Path, help="results directory of the other (e.g. run_glue)")
    ap.add_argument("--figure", type=Path, default=None, help="write the side-by-side figure")
    args = ap.parse_args(argv)
    a, b = load(args.a), load(args.b)
    if a["engine"] == b["engine"]:
        raise SystemExit(f"both directories were fine-tuned with {a['engine']}")
    print_tables(a, b)
    if args.figure:
        figure(a, b, args.figure)


if __name__ == "__main__":
    main()
