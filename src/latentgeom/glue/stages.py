"""File-level stages of the GLUE half: files in, artifacts out (atomically).

The Snakemake scripts and the ``latentgeom`` command line both call these, as they call
:mod:`latentgeom.stages` for the geometry half:

- :func:`minibench_stage`: the offline GLUE-schema mini-benchmark (:mod:`.minibench`);
- :func:`cache_stage`: a task's validated, tokenised splits for one tokenizer (:mod:`.data`);
- :func:`finetune_stage`: one model fine-tuned on one task (``glue.engine``: :mod:`.train` or
  :mod:`.run_glue`), its metrics and log;
- :func:`scores_stage`: one model's per-task scores and GLUE average;
- :func:`table_stage`: one row per model.

Every input check runs before training starts; outputs are written at the end only.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..gpus import pick_device
from ..nonstandard import model_tokenizer
from .checkpoint import ScratchLock, remove_scratch, scratch_dir
from .data import GlueDataError, build_cache, load_cache
from .hparams import Hyperparameters
from .minibench import build_minibench
from .model import check_vocabulary, classification_model, drop_unused_inputs
from .tasks import get_task, glue_average
from .train import train_and_evaluate


# --------------------------------------------------------------------------- data
def minibench_stage(out_dir: str | os.PathLike, *, tasks: list[str] | None = None,
                    sizes: dict[str, list[int]] | None = None, seed: int = 0) -> dict[str, Any]:
    """Write the offline mini-benchmark's ``{task}/{train,validation}.csv`` and its info."""
    return build_minibench(out_dir, tasks=tasks, sizes=sizes, seed=seed)


def cache_stage(*, task: str, source: str | os.PathLike, tokenizer: str,
                out_dir: str | os.PathLike, max_length: int) -> dict[str, Any]:
    """Validate and tokenise one task's splits once per tokenizer; returns the cache's meta."""
    return build_cache(task=get_task(task), source=source, tokenizer_source=tokenizer,
                       out_dir=out_dir, max_length=max_length)


# --------------------------------------------------------------------------- fine-tuning
def _fingerprint(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def write_log_csv(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    from ..io import atomic_path

    cols = ["step", "epoch", "loss", "learning_rate", "grad_norm", "examples"]
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)

def finetune_stage(*, manifest: dict[str, Any] | str | os.PathLike, task: str,
             cache_dir: str | os.PathLike, out_metrics: str | os.PathLike,
             out_log: str | os.PathLike, hyperparameters: dict[str, Any] | None = None,
             scratch: str | os.PathLike | None = None, device: str = "auto",
             threads: int | None = None, keep_weights: str | os.PathLike | None = None,
             stop_after_steps: int | None = None, wait_for_lock: bool = True) -> dict[str, Any]:
    """Fine-tune the model of ``manifest`` on ``task`` from its tokenised cache; write metrics.

    Every input check (task, cache, vocabulary, settings) runs before training starts; outputs
    are written atomically at the end only.
    """
    import torch

    from ..io import read_json

    t_start = time.perf_counter()
    task_ = get_task(task)
    hp = Hyperparameters.from_dict(hyperparameters)
    if not isinstance(manifest, dict):
        manifest = read_json(manifest)
    name = manifest.get("name") or "model"
    meta, splits = load_cache(cache_dir, task_)
    if int(meta["max_length"]) != hp.max_length:
        raise GlueDataError(f"{cache_dir}: tokenised with max_length {meta['max_length']}, "
                            f"fine-tuning asks for {hp.max_length}")
    if meta["tokenizer"] != model_tokenizer(manifest):
        print(f"warning: cache tokenised with {meta['tokenizer']!r}, model {name!r} names "
              f"{model_tokenizer(manifest)!r}")
    if threads:
        torch.set_num_threads(int(threads))
    device = pick_device(device, field="glue.device")
    model, tok = classification_model(manifest, task_.num_labels, task_.problem_type,
                                      seed=hp.seed)
    check_vocabulary(model, meta, splits, name)
    for dropped in drop_unused_inputs(model, splits):
        print(f"note: {type(model).__name__} takes no {dropped}; the cached ones are not used")
    fp = _fingerprint(model=name, checksum=manifest.get("checksum"), alpha=manifest.get("alpha"),
                      seed=manifest.get("seed"), base=manifest.get("base"), task=task_.name,
                      data=meta["data_sha256"], tokenizer=meta["tokenizer"], hp=asdict(hp),
                      device=device)
    ckpt_dir = scratch_dir(scratch, name=name, task=task_.name, out_metrics=out_metrics,
                           fingerprint=fp)
    with ScratchLock(ckpt_dir, wait=wait_for_lock) as lock:
        done = _finished_by_other(out_metrics, out_log, fp) if lock.waited else None
        if done is not None:
            print(f"{name} / {task_.name}: finished meanwhile by the worker that held "
                  f"{ckpt_dir}; its result is kept")
            remove_scratch(ckpt_dir)
            return done
        print(f"checkpoints in {ckpt_dir}")
        return _train_and_write(model, tok, task_, splits, hp, meta, manifest, name, device,
                                ckpt_dir, fp, t_start, cache_dir, out_metrics, out_log,
                                keep_weights, stop_after_steps)


def _finished_by_other(out_metrics, out_log, fp: str) -> dict[str, Any] | None:
    """The metrics a worker holding our lock before us wrote for these very settings."""
    from ..io import read_json

    try:
        m = read_json(out_metrics)
    except (OSError, ValueError):
        return None
    return m if m.get("fingerprint") == fp and Path(out_log).is_file() else None


def _train_and_write(model, tok, task_, splits, hp, meta, manifest, name, device, ckpt_dir, fp,
                     t_start, cache_dir, out_metrics, out_log, keep_weights, stop_after_steps):
    import torch

    from ..io import versions, write_json

    ckpt = ckpt_dir / "checkpoint.pt"
    setup_seconds = time.perf_counter() - t_start
    if hp.engine == "run_glue":
        from .run_glue import train_and_evaluate as run_glue_engine

        res = run_glue_engine(model, task_, splits, hp, device=device, checkpoint_dir=ckpt_dir,
                              fingerprint=fp, stop_after_steps=stop_after_steps)
    else:
        res = train_and_evaluate(model, task_, splits, hp, device=device, checkpoint=ckpt,
                                 fingerprint=fp, stop_after_steps=stop_after_steps)
    metrics = {"model": name, **res.metrics, "setup_seconds": round(setup_seconds, 3),
               "fingerprint": fp, "scratch": str(ckpt_dir),
               "hyperparameters": asdict(hp), "tokenizer": meta["tokenizer"],
               "cache": str(cache_dir), "manifest": {k: manifest.get(k) for k in (
                   "name", "kind", "architecture", "base", "alpha", "seed", "scope",
                   "checksum")},
               "threads": torch.get_num_threads(), "versions": versions()}
    if keep_weights:
        res.model.save_pretrained(keep_weights)
        tok.save_pretrained(keep_weights)
        metrics["weights"] = str(keep_weights)
    write_log_csv(out_log, res.log_rows)
    write_json(out_metrics, metrics)
    remove_scratch(ckpt_dir)
    print(f"{name} / {task_.name}: {task_.metric} score {metrics['score']:.4f} "
          f"({metrics['train']['seconds']:.1f} s training)")
    return metrics


# --------------------------------------------------------------------------- collecting


def model_scores(metrics_paths: list[str], tasks: list[str], model: str) -> dict[str, Any]:
    """Per-task scores of one model and their GLUE average (over ``tasks``)."""
    from ..io import read_json

    per_task, extra = {}, {}
    for p in metrics_paths:
        m = read_json(p)
        per_task[m["task"]] = float(m["score"])
        for split, d in m["dev"].items():
            if split != m["score_split"]:
                extra[f"{m['task']}_{split}"] = float(d["score"])
    return {"model": model, "tasks": list(tasks), "scores": {t: per_task[t] for t in tasks},
            "other_dev_splits": extra, "glue_average": glue_average(per_task, tasks)}


def glue_table(scores_paths: list[str], manifest_paths: list[str]):
    """One row per model: identity (from its manifest), each task's score, the GLUE average."""
    import pandas as pd

    from ..io import read_json
    from ..latentnoise import mark_perturbation, table_fields

    rows = []
    for sp, mp in zip(scores_paths, manifest_paths):
        s, man = read_json(sp), read_json(mp)
        row = {"model": s["model"], "kind": man.get("kind"),
               "architecture": man.get("architecture"), "base": man.get("base"),
               "alpha": man.get("alpha"), "seed": man.get("seed")}
        row.update(table_fields(man))  # latent noise: its alpha and perturbation (if any)
        row.update(s["scores"])
        row.update(s.get("other_dev_splits", {}))
        row["glue_average"] = s["glue_average"]
        rows.append(row)
    return mark_perturbation(pd.DataFrame(rows))


def scores_stage(*, metrics_paths: list[str], tasks: list[str], model: str,
                 out_path: str | os.PathLike) -> dict[str, Any]:
    """Write :func:`model_scores` as JSON."""
    from ..io import write_json

    scores = model_scores(metrics_paths, tasks, model)
    write_json(out_path, scores)
    return scores


def table_stage(*, scores_paths: list[str], manifest_paths: list[str],
                out_path: str | os.PathLike):
    """Write :func:`glue_table` as CSV."""
    from ..io import write_csv

    table = glue_table(scores_paths, manifest_paths)
    write_csv(out_path, table)
    return table
