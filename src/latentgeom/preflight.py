"""Checks that run when the workflow is planned, before any job: fail at once, naming the cause.

The JSON schema checks each value alone (:func:`schema_errors`: the schema Snakemake validates
against, one line per error with the key's path, instead of Snakemake's dump of the schema);
these check what needs two values, a file, or the model:

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

import copy
import json
import os
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration that cannot run, found before any job starts."""


#: The config schema of a checkout (the Snakefile validates against the same file).
SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def _key_path(parts) -> str:
    return ".".join(str(p) for p in parts) or "(top level)"


def _short_repr(value: Any, width: int = 60) -> str:
    r = repr(value)
    return r if len(r) <= width else r[:width - 1] + "…"


def _one_line(error) -> str:
    """A jsonschema error as ``key.path: what was expected``."""
    import difflib

    where = list(error.absolute_path)
    v, inst, sch = error.validator, error.instance, error.schema
    if v == "additionalProperties" and isinstance(inst, dict):
        allowed = sorted(sch.get("properties") or {})
        lines = []
        for key in sorted(set(inst) - set(allowed), key=str):
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"{_key_path([*where, key])}: unknown key{hint}; expected one of "
                         f"{', '.join(allowed)}")
        if lines:
            return "\n".join(lines)
    if v == "required":
        missing = [k for k in error.validator_value if isinstance(inst, dict) and k not in inst]
        return "\n".join(f"{_key_path([*where, k])}: required, missing" for k in missing)
    if v == "type":
        want = error.validator_value
        want = " or ".join(want) if isinstance(want, list) else want
        return f"{_key_path(where)}: expected {want}, got {_short_repr(inst)}"
    if v in ("oneOf", "anyOf") and all(set(sub) == {"required"} for sub in error.validator_value):
        keys = [" + ".join(sub["required"]) for sub in error.validator_value]
        return f"{_key_path(where)}: needs exactly one of {', '.join(keys)}"
    if v in ("oneOf", "anyOf"):
        options = []
        for sub in error.validator_value:
            options.append(", ".join(f"{k}: {_short_repr(x, 40)}" for k, x in sub.items()
                                     if k not in ("description", "default")))
        return (f"{_key_path(where)}: {_short_repr(inst)} matches none of: "
                + " | ".join(options))
    return f"{_key_path(where)}: {error.message}"


def load_schema(path: str | os.PathLike | None = None) -> dict[str, Any]:
    path = Path(path or SCHEMA)
    if not path.is_file():
        raise ConfigError(f"{path}: the config schema is not there (latentgeom installed "
                          "without its checkout? check-config needs the workflow folder)")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def schema_errors(config: Any, schema: dict[str, Any] | str | os.PathLike | None = None,
                  set_defaults: bool = True) -> list[str]:
    """Every violation of the config schema, one line each (``key.path: what was expected``).

    The same validator Snakemake's ``validate`` uses (JSON Schema 2020-12, the schema's
    defaults filled in as it fills them, so the cross-field checks see what a run sees).
    """
    from jsonschema import Draft202012Validator, validators
    from referencing import Registry, Resource

    if not isinstance(schema, dict):
        schema = load_schema(schema)
    if not isinstance(config, dict):
        return [f"(top level): expected a mapping of settings (key: value lines), got "
                f"{type(config).__name__} {_short_repr(config)}"]
    registry = Registry().with_resource("urn:config", Resource.from_contents(schema))
    base = Draft202012Validator
    if set_defaults:
        props = base.VALIDATORS["properties"]

        def fill(validator, properties, instance, sch):
            if isinstance(instance, dict):
                for name, sub in properties.items():
                    if "default" in sub:
                        instance.setdefault(name, copy.deepcopy(sub["default"]))
            yield from props(validator, properties, instance, sch)

        base = validators.extend(base, {"properties": fill})
    errors = sorted(base(schema, registry=registry).iter_errors(config),
                    key=lambda e: [str(p) for p in e.absolute_path])
    return list(dict.fromkeys(line for e in errors for line in _one_line(e).splitlines()))


def validate_config(config: Any, schema: dict[str, Any] | str | os.PathLike | None = None,
                    source: str = "config") -> None:
    """:class:`ConfigError` listing every schema violation, one line each (defaults filled)."""
    errors = schema_errors(config, schema)
    if errors:
        raise ConfigError(f"{source}: {len(errors)} setting(s) do not fit the schema "
                          "(workflow/schemas/config.schema.yaml):\n  " + "\n  ".join(errors))


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


def merge_configs(*configs: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge configurations in order, as Snakemake layers ``--configfile`` files
    (mappings merged key by key, anything else replaced)."""
    def update(into: dict, new: dict) -> None:
        for k, v in new.items():
            if isinstance(v, dict) and isinstance(into.get(k), dict):
                update(into[k], v)
            else:
                into[k] = copy.deepcopy(v)

    out: dict[str, Any] = {}
    for c in configs:
        update(out, c or {})
    return out


def hub_id(source: str | None) -> str | None:
    """The hub id a model source resolves to, or None for packaged/local sources."""
    from .models import resolve_source

    if not source or str(source).startswith(("packaged:", "path:")):
        return None
    resolved = resolve_source(source)
    return None if Path(resolved).expanduser().exists() else resolved


def read_config_files(paths) -> dict[str, Any]:
    """The configuration a run with ``--configfile paths`` sees: each file strictly read (an
    empty file or a top level that is not a mapping is an error, as in Snakemake), merged in
    order, layered over the checkout's ``config/config.yaml`` when it names no ``models`` (as
    the Snakefile does)."""
    docs = []
    for p in paths:
        p = Path(p)
        if not p.is_file():
            raise ConfigError(f"{p}: no such config file")
        doc = load_yaml_strict(p)
        if doc is None:
            raise ConfigError(f"{p}: empty; expected a mapping of settings (key: value lines)")
        if not isinstance(doc, dict):
            raise ConfigError(f"{p}: the top level is a {type(doc).__name__}; expected a "
                              "mapping of settings (key: value lines)")
        docs.append(doc)
    config = merge_configs(*docs)
    default = SCHEMA.parents[2] / "config" / "config.yaml"
    if "models" not in config and default.is_file():
        config = merge_configs(load_yaml_strict(default), config)
    return config


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


def _offline() -> bool:
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("HF_HUB_OFFLINE", "").upper() in (
        "1", "ON", "YES", "TRUE")


def check_hub_cache(config: dict[str, Any], configfiles=()) -> None:
    """Offline (``HF_HUB_OFFLINE=1``), every hub model the config names must already be in the
    Hugging Face cache: else :class:`ConfigError` naming the model and ``latentgeom prefetch``
    (instead of a connection traceback from the job, after the dry run passed)."""
    if not _offline():
        return
    from huggingface_hub import constants, try_to_load_from_cache

    missing = []
    where = [(f"models.bases.{n}", spec, ("source",))
             for n, spec in ((config.get("models") or {}).get("bases") or {}).items()]
    where += [(f"nonstandard.{n}", spec, ("source", "donor", "tokenizer"))
              for n, spec in (config.get("nonstandard") or {}).items()]
    for prefix, spec, keys in where:
        for key in keys:
            repo = hub_id(spec.get(key)) if isinstance(spec, dict) else None
            if repo and not isinstance(try_to_load_from_cache(repo, "config.json"), str):
                missing.append(f"{prefix}.{key}: hub model {repo!r}")
    if missing:
        files = " ".join(str(f) for f in configfiles) or "<your config files>"
        raise ConfigError(
            "HF_HUB_OFFLINE is set, so the jobs cannot download, and these are not in the "
            f"Hugging Face cache ({constants.HF_HUB_CACHE}):\n  " + "\n  ".join(missing)
            + f"\nfetch them once where there is network, with the same HF_HOME: "
              f"`latentgeom prefetch --configfile {files}`")
