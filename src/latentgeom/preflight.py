"""Checks that run when the workflow is planned, before any job: fail at once, naming the cause.

The JSON schema checks each value alone; these check what needs two values, a file, or the model:

- config files are re-read with a strict YAML loader: a duplicated key (which YAML loaders
  silently resolve to the last value) and a syntax error are reported with file and line;
- ``sample.min_tokens <= sample.max_tokens``; the ``files``/``list`` paths exist;
- ``glue.source`` is ``minibench``, ``hub`` or an existing folder;
- every product quantizer's ``M`` divides the hidden size of every model (read from the model's
  local ``config.json`` when its source resolves locally; hub models are checked by the quantize
  job before it trains), the ``quantize.sensitivity`` grid's included;
- every quantizer has at least one row per centroid (K <= ``quantize.train_size``, and K <= the
  rows of latent matrices a previous run embedded; the quantize job checks the rest).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration that cannot run, found before any job starts."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicated mapping keys."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    seen: dict[Any, yaml.Node] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in seen:
            first = seen[key].start_mark
            raise yaml.constructor.ConstructorError(
                f"while reading a mapping (line {node.start_mark.line + 1})",
                node.start_mark,
                f"duplicated key {key!r} (first at line {first.line + 1}); the first value "
                "would be silently dropped", key_node.start_mark)
        seen[key] = key_node
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml_strict(path: str | os.PathLike) -> Any:
    """A YAML file, or :class:`ConfigError` with ``file:line:column`` on a syntax error or a
    duplicated key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text ({e})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: {e.problem or e}"
                          + (f" ({e.context})" if e.context else "")) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: {e}") from None


def check_files(paths) -> None:
    """Strictly re-read every config file (the ones Snakemake loaded leniently)."""
    for p in paths:
        if Path(p).is_file():
            load_yaml_strict(p)


def model_hidden_size(source: str) -> int | None:
    """``hidden_size`` from a locally resolvable model's ``config.json``; None if not local."""
    from .models import SourceError, resolve_source

    if not isinstance(source, str) or source.startswith("hub:"):
        return None
    try:
        resolved = Path(resolve_source(source))
    except SourceError:
        raise
    cfg = resolved / "config.json"
    if not cfg.is_file():
        return None  # a bare hub id
    try:
        return int(config_field(json.loads(cfg.read_text()), HIDDEN_SIZE_KEYS))
    except (ValueError, KeyError, TypeError):
        return None


#: The keys a family's ``config.json`` names its width and depth by (GPT-2 ``n_embd``/``n_layer``,
#: DistilBERT ``dim``/``n_layers``; Transformers maps them with each config's ``attribute_map``).
HIDDEN_SIZE_KEYS = ("hidden_size", "n_embd", "dim", "d_model")
DEPTH_KEYS = ("num_hidden_layers", "n_layer", "n_layers", "num_layers")


def config_field(cfg: dict[str, Any], keys: tuple[str, ...]):
    """The first of ``keys`` that a raw ``config.json`` holds; ``KeyError`` if none."""
    for k in keys:
        if k in cfg:
            return cfg[k]
    raise KeyError(keys[0])


def _embedded_rows(config: dict[str, Any]) -> int | None:
    """The fewest rows of the latent matrices a previous run embedded (from their
    ``embeddings.json``), None before the first embed."""
    root = Path(str(config.get("results", "results"))) / "latent"
    rows = []
    for meta in root.glob("*/embeddings.json") if root.is_dir() else []:
        try:
            rows.append(int(json.loads(meta.read_text())["shape"][0]))
        except (ValueError, KeyError, TypeError, IndexError, OSError):
            continue
    return min(rows) if rows else None


def check_config(config: dict[str, Any], models: dict[str, dict[str, Any]] | None = None) -> None:
    """Every cross-field check of a (schema-validated) config; raises :class:`ConfigError`."""
    s = config.get("sample") or {}
    lo, hi = s.get("min_tokens", 3), s.get("max_tokens", 50)
    if lo > hi:
        raise ConfigError(f"sample.min_tokens ({lo}) > sample.max_tokens ({hi}): no sequence "
                          "can be drawn")
    src = s.get("source") or {}
    if src.get("kind") in ("files", "list"):
        if not src.get("paths"):
            raise ConfigError(f"sample.source.paths: kind {src['kind']!r} needs text files")
        for p in src["paths"]:
            if not Path(p).expanduser().is_file():
                raise ConfigError(f"sample.source.paths: {p} does not exist")
    glue = config.get("glue") or {}
    gs = str(glue.get("source", "minibench"))
    if gs not in ("minibench", "hub") and not Path(gs).expanduser().is_dir():
        raise ConfigError(f"glue.source: {gs!r} is neither 'minibench', 'hub' nor an existing "
                          "folder")
    from .sensitivity import sensitivity_quantizers

    try:
        grid = sensitivity_quantizers(config)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    quantizers = {**((config.get("quantize") or {}).get("quantizers") or {}), **grid}
    train = (config.get("quantize") or {}).get("train_size")
    rows = _embedded_rows(config) if quantizers else None
    for name, q in quantizers.items():
        K = 1 << int(q.get("nbits", 8))
        if train is not None and int(train) < K:
            raise ConfigError(f"quantizer {name}: K = {K} centroids but quantize.train_size = "
                              f"{train} rows (at least one training row per centroid)")
        if rows is not None and rows < K:
            raise ConfigError(f"quantizer {name}: K = {K} centroids but the latent matrices "
                              f"already embedded have {rows} rows (at least one per centroid)")
    pq = {name: int(q.get("M", 4)) for name, q in quantizers.items() if q.get("method") == "pq"}
    if not pq or not models:
        return
    sizes: dict[str, int | None] = {}
    for name, m in models.items():
        source = m.get("source")
        if source not in sizes:
            sizes[source] = model_hidden_size(source)
        d = sizes[source]
        for q, M in pq.items():
            if d is not None and d % M:
                key = f"quantize.sensitivity.M ({q})" if q in grid else f"quantize.quantizers.{q}.M"
                raise ConfigError(
                    f"{key} = {M} does not divide the hidden size {d} of "
                    f"model {name} ({source}): a product quantizer splits each vector into M "
                    f"equal parts (choose M among the divisors of {d})")
