"""The fine-tuning settings: one dataclass, the only list of them.

The authors ran Transformers' ``run_glue.py`` (README, "Fine-tuning engines"): max length 128,
effective batch 32, learning rate 2e-5, 3 epochs, linear decay without warm-up, AdamW (betas
(0.9, 0.999), eps 1e-8, weight decay 0), gradient clipping at 1.0, seed 42, config and tokenizer
of the unperturbed model. Every setting but AdamW's betas and epsilon is a ``glue.*`` config key:
its default and bounds are the config schema's (:mod:`latentgeom.defaults`), so the dataclass
repeats neither. ``adam_beta1``, ``adam_beta2`` and ``adam_epsilon`` stay at run_glue's (and
PyTorch's) AdamW defaults in the pipeline (the config schema has no key for them); the
``latentgeom finetune`` flags can change them. The pipeline's ``params`` (:func:`from_config`) and
the ``latentgeom finetune`` flags are derived from the fields, so a setting added here reaches
both.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, fields
from typing import Any

from ..defaults import check, default
from ..defaults import choices as _schema_choices

#: ``fast``: our loop (:mod:`.train`); ``run_glue``: Transformers' ``Trainer`` set up as
#: ``run_glue.py`` sets it up (:mod:`.run_glue`).
ENGINES = _schema_choices("glue.engine")
#: auto: bf16 autocast on a GPU supporting it, else fp32
PRECISIONS = _schema_choices("glue.precision")
#: The settings that are not config keys (AdamW's, at run_glue's defaults).
NOT_IN_CONFIG = ("adam_beta1", "adam_beta2", "adam_epsilon")


def _glue(name: str) -> Any:
    return default(f"glue.{name}")


@dataclass(frozen=True)
class Hyperparameters:
    """Fine-tuning settings; defaults are the config schema's ``glue.*`` (run_glue's with the
    authors' command line)."""

    max_length: int = _glue("max_length")
    batch_size: int = _glue("batch_size")          # effective batch (per optimizer step)
    micro_batch_size: int | None = _glue("micro_batch_size")  # gradient accumulation
    learning_rate: float = _glue("learning_rate")
    epochs: int = _glue("epochs")
    weight_decay: float = _glue("weight_decay")
    warmup_ratio: float = _glue("warmup_ratio")
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = _glue("max_grad_norm")
    seed: int = _glue("seed")
    group_by_length: bool = _glue("group_by_length")
    eval_batch_size: int = _glue("eval_batch_size")
    precision: str = _glue("precision")
    checkpoint_every: int = _glue("checkpoint_every")  # optimizer steps between checkpoints
    engine: str = _glue("engine")

    def __post_init__(self):
        for name in KEYS:  # type, bounds and choices: the schema's
            if name not in NOT_IN_CONFIG:
                check(f"glue.{name}", getattr(self, name))
        if self.micro_batch_size is not None and not 1 <= self.micro_batch_size <= self.batch_size:
            raise ValueError("glue.micro_batch_size must be in [1, batch_size]")
        if self.engine == "run_glue" and self.micro_batch_size is not None and \
                self.batch_size % self.micro_batch_size:
            raise ValueError(f"glue.engine run_glue: glue.batch_size ({self.batch_size}) must be a "
                             f"multiple of glue.micro_batch_size ({self.micro_batch_size}) "
                             "(Trainer's gradient accumulation)")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Hyperparameters:
        d = dict(d or {})
        known = set(KEYS)
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown fine-tuning setting(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in d.items() if v is not None or k == "micro_batch_size"})


#: The names of the settings, in the dataclass's order.
KEYS: tuple[str, ...] = tuple(f.name for f in fields(Hyperparameters))


def from_config(glue: dict[str, Any]) -> dict[str, Any]:
    """The settings a ``glue:`` config section gives (the ``glue_finetune`` rule's params)."""
    return {k: glue[k] for k in KEYS if k in glue}


def value_type(name: str) -> type:
    """The value type of setting ``name`` (``int`` for ``int | None``)."""
    hint = typing.get_type_hints(Hyperparameters)[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if args else hint


def choices(name: str) -> tuple[str, ...] | None:
    """The allowed values of setting ``name``, where the config schema lists them."""
    return None if name in NOT_IN_CONFIG else _schema_choices(f"glue.{name}")
