"""The fine-tuning settings: one dataclass, the only list of them.

The authors ran Transformers' ``run_glue.py`` (NOTES.md): max length 128, effective batch 32,
learning rate 2e-5, 3 epochs, linear decay without warm-up, AdamW (betas (0.9, 0.999), eps 1e-8,
weight decay 0), gradient clipping at 1.0, seed 42, config and tokenizer of the unperturbed
model. :class:`Hyperparameters` keeps those defaults, every one configurable. The pipeline's
``params`` (:func:`from_config`) and the ``latentgeom finetune`` flags are derived from its
fields, so a setting added here reaches both.
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field, fields
from typing import Any

PRECISIONS = ("auto", "fp32", "bf16")
#: ``fast``: our loop (:mod:`.train`); ``run_glue``: Transformers' ``Trainer`` set up as
#: ``run_glue.py`` sets it up (:mod:`.run_glue`).
ENGINES = ("fast", "run_glue")


@dataclass(frozen=True)
class Hyperparameters:
    """Fine-tuning settings; defaults are run_glue's with the authors' command line."""

    max_length: int = 128
    batch_size: int = 32          # effective batch (per optimizer step)
    micro_batch_size: int | None = None  # gradient accumulation: batch split into these
    learning_rate: float = 2e-5
    epochs: int = 3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    seed: int = 42
    group_by_length: bool = True
    eval_batch_size: int = 64
    # auto: bf16 autocast on a GPU supporting it, else fp32
    precision: str = field(default="auto", metadata={"choices": PRECISIONS})
    checkpoint_every: int = 0     # optimizer steps between checkpoints (0: never)
    engine: str = field(default="fast", metadata={"choices": ENGINES})

    def __post_init__(self):
        for name in ("max_length", "batch_size", "epochs", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"glue.{name} must be >= 1, got {getattr(self, name)}")
        if self.micro_batch_size is not None and not 1 <= self.micro_batch_size <= self.batch_size:
            raise ValueError("glue.micro_batch_size must be in [1, batch_size]")
        if not self.learning_rate > 0:
            raise ValueError(f"glue.learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError("glue.warmup_ratio must be in [0, 1)")
        if self.precision not in PRECISIONS:
            raise ValueError(f"glue.precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.checkpoint_every < 0:
            raise ValueError("glue.checkpoint_every must be >= 0")
        if self.engine not in ENGINES:
            raise ValueError(f"glue.engine must be fast or run_glue, got {self.engine!r}")
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
    """The allowed values of setting ``name``, where the dataclass lists them."""
    return {f.name: f.metadata.get("choices") for f in fields(Hyperparameters)}[name]
