"""Fetch every hub artifact a configuration names into the local Hugging Face cache, once.

Compute nodes of most clusters have no internet. ``latentgeom prefetch --configfile …`` runs on
a machine that has it (a login node, a workstation) and downloads, through the very calls the
pipeline's jobs make, every model, tokenizer and dataset the configuration names:

- models and tokenizers: every ``hub:`` (or bare hub id) ``source``, ``donor`` and ``tokenizer``
  of ``models.bases`` and ``nonstandard`` — :func:`huggingface_hub.snapshot_download`, then
  ``AutoConfig``/``AutoTokenizer.from_pretrained`` to prove they load from the cache;
- datasets: GLUE (``glue.source: hub``, one config per task) and the sample's corpora
  (``sample.source.kind: hub``) — ``datasets.load_dataset`` with the jobs' own arguments, which
  leaves the prepared Arrow files that offline mode reads;
- local files the configuration needs (fairseq checkpoints, corpus files) are checked, not
  fetched: they are not on the hub.

Jobs then run with ``HF_HUB_OFFLINE=1`` (and ``HF_DATASETS_OFFLINE=1``) and the same ``HF_HOME``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .preflight import hub_id as _hub_id
from .preflight import merge_configs

#: Weight formats the pipeline never reads (it loads safetensors or PyTorch bins).
_IGNORE = ["*.h5", "*.msgpack", "*.onnx", "*.ot", "tf_model*", "flax_model*", "rust_model*",
           "coreml/*", "onnx/*", "openvino/*", "*.tflite", "*.mlmodel"]


def read_configs(paths: Iterable[str | Path]) -> dict[str, Any]:
    """The merged configuration of YAML files (in order), read as strictly as the workflow
    reads them (:func:`latentgeom.preflight.load_yaml_strict`: file:line on errors)."""
    from .preflight import load_yaml_strict

    docs = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise FileNotFoundError(f"--configfile {p}: no such file")
        docs.append(load_yaml_strict(p) or {})
    return merge_configs(*docs)


def plan(config: dict[str, Any]) -> dict[str, list]:
    """What ``config`` needs from the hub: ``{"models": [ids], "datasets": [(repo, name,
    revision)], "files": [local paths that must exist]}``, each sorted and unique."""
    from . import corpus
    from .glue.tasks import get_task

    models: set[str] = set()
    files: set[str] = set()
    for spec in (config.get("models") or {}).get("bases", {}).values():
        models.add(_hub_id(spec.get("source")))
    for spec in (config.get("nonstandard") or {}).values():
        for key in ("source", "donor", "tokenizer"):
            models.add(_hub_id(spec.get(key)))
        if spec.get("checkpoint"):
            files.add(str(spec["checkpoint"]))
    datasets: set[tuple] = set()
    sample = (config.get("sample") or {}).get("source") or {}
    if sample.get("kind") == "hub":
        for key in corpus.hub_parts(sample.get("name", "ptb+wikitext2")):
            repo, name, _col, revision = corpus.HUB_CORPORA[key]
            datasets.add((repo, name, revision))
    elif sample.get("kind") in ("files", "list"):
        files.update(str(p) for p in sample.get("paths") or [])
    glue = config.get("glue") or {}
    if str(glue.get("source")) == "hub":
        for t in glue.get("tasks") or []:
            task = get_task(t)
            if task.hub_config is None:
                raise ValueError(f"glue.tasks: {t!r} is not a GLUE task on the hub")
            datasets.add(("nyu-mll/glue", task.hub_config, None))
    return {"models": sorted(m for m in models if m),
            "datasets": sorted(datasets, key=lambda d: (d[0], d[1] or "", d[2] or "")),
            "files": sorted(files)}


def fetch_model(repo_id: str) -> str:
    """Download (or find in the cache) one model repository; prove config + tokenizer load."""
    from huggingface_hub import snapshot_download

    from .models import load_config, load_tokenizer

    path = snapshot_download(repo_id, ignore_patterns=_IGNORE)
    load_config(repo_id)
    has_tokenizer = any((Path(path) / f).exists() for f in (
        "tokenizer.json", "vocab.txt", "vocab.json", "tokenizer_config.json"))
    if has_tokenizer:
        load_tokenizer(repo_id)
    return path


def fetch_dataset(repo: str, name: str | None, revision: str | None) -> dict[str, int]:
    """Download and prepare one dataset config exactly as the jobs load it: ``{split: rows}``."""
    from datasets import load_dataset

    kwargs = {"revision": revision} if revision else {}
    ds = load_dataset(repo, name, **kwargs)
    return {split: ds[split].num_rows for split in ds}


def prefetch(config: dict[str, Any], *, dry_run: bool = False,
             say: Callable[[str], None] = print) -> dict[str, list]:
    """Fetch everything :func:`plan` lists; missing local files are an error, listed at once."""
    todo = plan(config)
    missing = [f for f in todo["files"] if not Path(f).expanduser().is_file()]
    say(f"prefetch: {len(todo['models'])} model repositories, {len(todo['datasets'])} dataset "
        f"configs, {len(todo['files'])} local files")
    if dry_run:
        for m in todo["models"]:
            say(f"  model   {m}")
        for d in todo["datasets"]:
            say(f"  dataset {d[0]} {d[1] or ''}" + (f" @{d[2]}" if d[2] else ""))
        for f in todo["files"]:
            say(f"  file    {f}" + ("  (MISSING)" if f in missing else ""))
        return todo
    if missing:
        raise FileNotFoundError(
            "prefetch: local files the configuration names do not exist (they are not on the "
            f"hub; download them by hand): {missing}")
    from tqdm.auto import tqdm

    for m in tqdm(todo["models"], desc="models", unit="repo"):
        say(f"  model   {m} -> {fetch_model(m)}")
    for repo, name, revision in tqdm(todo["datasets"], desc="datasets", unit="config"):
        rows = fetch_dataset(repo, name, revision)
        say(f"  dataset {repo} {name or ''}: {rows}")
    return todo
