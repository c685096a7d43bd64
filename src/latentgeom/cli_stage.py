"""``latentgeom stage NAME --ARG VALUE ...``: any file-level stage alone, on files.

Every function ``<name>_stage`` of :mod:`latentgeom.stages` (the models, the geometry half, the
tables and the analysis) and of :mod:`latentgeom.glue.stages` (as ``glue_<name>``: the names of
their rules) is a stage, as is :func:`latentgeom.predict.predict_stage` (``predict``). Each
keyword argument is an option: ``out_path`` is ``--out-path``; a list takes one or more values
(``--quantized-paths a.npz b.npz``), a dict a JSON object (``--spec '{"method": "pq", "M": 4,
"nbits": 8}'``), a bool ``--flag``/``--no-flag``; an option left out keeps the stage's default
(None where its type allows None). ``latentgeom stage`` lists the stages, ``latentgeom stage
NAME --help`` one stage's options. An unknown stage is an error naming the known ones, an
unknown or missing option argparse's usage error (exit status 2), both before any work. Part of
the command line (:mod:`latentgeom.cli`), in a module of its own for size.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import typing
from typing import Any


def stages_by_name() -> dict[str, Any]:
    """Every file-level stage by name: its function's without ``_stage`` (the GLUE half's with
    ``glue_``, as its rules are named), and ``predict`` (the rule of the same name)."""
    from . import stages
    from .glue import stages as glue_stages
    from .predict import predict_stage

    out = {n.removesuffix("_stage"): getattr(stages, n) for n in stages.__all__
           if n.endswith("_stage")}
    out["predict"] = predict_stage
    out.update({"glue_" + n.removesuffix("_stage"): f for n, f in vars(glue_stages).items()
                if n.endswith("_stage") and getattr(f, "__module__", "") == glue_stages.__name__})
    return dict(sorted(out.items()))


def _json_object(text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise argparse.ArgumentTypeError(f"not JSON ({e}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object {{...}}, got {text!r}")
    return value


def _stage_option(annotation) -> dict[str, Any]:
    """argparse keywords for a stage parameter of type ``annotation``: a list takes one or more
    values, a path or string as given, a dict a JSON object, a bool --flag/--no-flag."""
    kinds = [k for k in typing.get_args(annotation) or (annotation,) if k is not type(None)]
    if typing.get_origin(annotation) is list:  # list[int]: its own arguments are the items
        kinds = [annotation]
    first, origin = kinds[0], typing.get_origin(kinds[0])
    if set(kinds) == {bool, str}:
        return {"type": lambda v: {"true": True, "false": False}.get(v.lower(), v),
                "metavar": "true|false|TEXT"}
    if origin is list:
        item = typing.get_args(first)[0]
        return {"nargs": "+", "type": item if item in (int, float) else str}
    if str in kinds or os.PathLike in kinds:
        return {"type": str}
    if origin is dict or first is dict:
        return {"type": _json_object, "metavar": "JSON"}
    if first is bool:
        return {"action": argparse.BooleanOptionalAction}
    return {"type": first if first in (int, float) else str}


def _stage_parser(name: str, func) -> argparse.ArgumentParser:
    """One option per keyword argument of the stage (``--out-path`` for ``out_path``)."""
    p = argparse.ArgumentParser(prog=f"latentgeom stage {name}", description=func.__doc__,
                                argument_default=argparse.SUPPRESS, allow_abbrev=False)
    for prm in inspect.signature(func, eval_str=True).parameters.values():
        flag, opt = "--" + prm.name.replace("_", "-"), _stage_option(prm.annotation)
        default = prm.default
        if default is inspect.Parameter.empty and type(None) in typing.get_args(prm.annotation):
            default = opt["default"] = None  # a required "X | None": left out, it is None
        required = default is inspect.Parameter.empty
        p.add_argument(flag, dest=prm.name, required=required, **opt,
                       help="required" if required else f"default: {default!r}")
    return p


def run_stage(name: str | None, args: list[str]) -> None:
    """``latentgeom stage [NAME [--ARG VALUE ...]]``: list the stages, or run one with these
    keyword arguments (argparse's error, exit status 2, for an unknown or missing one)."""
    found = stages_by_name()
    if name is None:
        for n, func in found.items():
            first = " ".join((func.__doc__ or "").split("\n\n")[0].split())
            print(f"{n:21} {first[:77] + '…' if len(first) > 78 else first}")
        return
    if name not in found:
        raise ValueError(f"unknown stage {name!r}; one of: {', '.join(found)}")
    kwargs = vars(_stage_parser(name, found[name]).parse_args(args))
    found[name](**kwargs)
