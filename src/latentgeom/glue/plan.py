"""Planning helpers for the GLUE rules (kept here, unit-testable, not in the Snakefile)."""

from __future__ import annotations

import re
from typing import Any

from .minibench import DEFAULT_SIZES
from .tasks import get_task


def tokenizer_key(source: str) -> str:
    """A file-name-safe key for a tokenizer source: models sharing it share the cache."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", source.split(":", 1)[-1]).strip("_")


def minibench_sizes(glue: dict[str, Any]) -> dict[str, list[int]]:
    return {**{t: list(v) for t, v in DEFAULT_SIZES.items()},
            **((glue.get("minibench") or {}).get("sizes") or {})}


def data_files(glue: dict[str, Any], task: str, results: str) -> list[str]:
    """The local split files a task's cache is built from (none for the hub)."""
    source = str(glue.get("source", "minibench"))
    if source == "minibench":
        return [f"{results}/glue/data/{task}/{s}.csv" for s in ("train", "validation")]
    if source == "hub":
        return []
    from .data import find_split_file, task_folder

    t = get_task(task)
    folder = task_folder(source, t)
    return [str(p) for p in (find_split_file(folder, s) for s in t.splits) if p is not None]


def runtime_minutes(glue: dict[str, Any], task: str) -> int:
    """Setup + training at ``examples_per_second``, with a 1.5x margin."""
    if str(glue.get("source", "minibench")) == "minibench":
        n = int(minibench_sizes(glue)[task][0])
    else:
        n = get_task(task).train_size or 10000
    examples = n * int(glue.get("epochs", 3))
    return 6 + int(1.5 * examples / float(glue.get("examples_per_second", 25)) / 60)


def compare_engine_targets(glue: dict[str, Any], models: list[str], tasks: list[str],
                           results: str) -> list[str]:
    """The metrics of ``glue.compare_engines``' models fine-tuned with the other engine.

    An unknown model name is an error naming the known ones.
    """
    names = list(glue.get("compare_engines") or [])
    unknown = sorted(set(names) - set(models))
    if unknown:
        raise ValueError(f"glue.compare_engines: unknown model(s) {unknown}; the configured "
                         f"models are {models}")
    other = "fast" if glue.get("engine", "fast") == "run_glue" else "run_glue"
    return [f"{results}/glue/engines/{other}/{m}/{t}/metrics.json" for m in names for t in tasks]


def runtime_settings(config: dict[str, Any], *, model: str, task: str) -> dict[str, Any]:
    """``scratch``, ``device`` and ``keep_weights`` of a pipeline job, from the whole config.

    None of them changes a score, so the rule reads them here instead of declaring them as
    ``params:``. Scratch defaults to ``<results>/.scratch/glue`` (private to this workflow; a
    per-job subfolder is keyed by the output path and settings, see
    :func:`.checkpoint.scratch_dir`).
    """
    glue = config.get("glue") or {}
    results = config.get("results", "results")
    return {"scratch": glue.get("scratch") or f"{results}/.scratch/glue",
            "device": glue.get("device", "auto"),
            "keep_weights": (f"{results}/glue/{model}/{task}/weights"
                             if glue.get("keep_weights", False) else None)}
