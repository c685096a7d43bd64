"""The configuration's defaults and bounds, read from the one place they are written: the config
schema ``workflow/schemas/config.schema.yaml`` (inside the package as
``latentgeom/config.schema.yaml``, a link to it in a checkout, a copy in a built wheel).

Code that needs a setting's default (the fine-tuning dataclass, :mod:`latentgeom.jobsize`) asks
:func:`default`; a value that did not come through the schema (a ``latentgeom`` flag, a direct
call) is checked against the same bounds by :func:`check`. ``tests/test_defaults.py`` checks that
every default still written elsewhere (argparse, stage keywords, config/README.md) agrees.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import yaml

PACKAGED = Path(__file__).with_name("config.schema.yaml")
CHECKOUT = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


@functools.cache
def schema() -> dict[str, Any]:
    """The config schema (the packaged copy; a checkout's file where the link is not one)."""
    for path in (PACKAGED, CHECKOUT):
        if path.is_file():
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict):
                return doc
    raise FileNotFoundError(f"the config schema is in neither {PACKAGED} nor {CHECKOUT}")


def node(key: str) -> dict[str, Any]:
    """The schema of the dotted ``key`` (``*`` for a name the user chooses, e.g.
    ``quantize.quantizers.*.M``)."""
    sub = schema()
    for part in key.split("."):
        nxt = sub.get("additionalProperties") if part == "*" else \
            (sub.get("properties") or {}).get(part)
        if not isinstance(nxt, dict):
            raise KeyError(f"{key}: not a key of the config schema")
        sub = nxt
    return sub


def default(key: str) -> Any:
    """The schema's default of ``key`` (a fresh copy)."""
    sub = node(key)
    if "default" not in sub:
        raise KeyError(f"{key}: the config schema gives no default")
    return copy.deepcopy(sub["default"])


def setting(config: dict[str, Any], key: str) -> Any:
    """``config``'s value of the dotted ``key``, else the schema's default (for code handed a
    config that may not have been through the schema, e.g. a test's partial one)."""
    node_ = config
    for part in key.split("."):
        if not isinstance(node_, dict) or part not in node_:
            return default(key)
        node_ = node_[part]
    return node_


def choices(key: str) -> tuple | None:
    """The values ``key`` allows, where the schema lists them."""
    enum = node(key).get("enum")
    return tuple(enum) if enum else None


_RELATION = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}


def check(key: str, value: Any) -> None:
    """``ValueError`` naming ``key`` and what the schema expects, unless ``value`` fits it."""
    from jsonschema import Draft202012Validator

    for e in Draft202012Validator(node(key)).iter_errors(value):
        if e.validator in _RELATION:
            want = f"{_RELATION[e.validator]} {e.validator_value}"
        elif e.validator == "enum":
            want = " or ".join(map(str, e.validator_value))
        elif e.validator == "type":
            kinds = e.validator_value
            want = "of type " + (" or ".join(kinds) if isinstance(kinds, list) else kinds)
        else:
            want = f"valid ({e.message})"
        raise ValueError(f"{key} must be {want}, got {value!r}")
