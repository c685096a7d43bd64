"""Fine-tuning one model on one task: a short plain-PyTorch loop with the authors' defaults
(:mod:`.hparams`), then its evaluation on every dev split.

This is ``glue.engine: fast``; ``run_glue`` (:mod:`.run_glue`) is Transformers' ``Trainer`` set
up as ``run_glue.py`` sets it up. Where this loop differs from it (the README's "Fine-tuning
engines" lists every difference; ``benchmarks/engines.py`` measures the scores side by side):

- examples are tokenised once per tokenizer x task (:mod:`.data`), not per model;
- batches are padded to their longest example (dynamic padding), not to ``max_length``;
- with ``group_by_length`` batches are length-grouped (:mod:`.sampler`); without it the batch
  order is the ``run_glue`` engine's;
- bf16 autocast on a GPU that supports it, fp32 on the CPU (:mod:`.device`);
- the dev splits are evaluated in length order, dynamically padded;
- no second seeding after the model is built, so dropout masks differ.

Everything else of a step is the Trainer's (clipping at ``max_grad_norm``, AdamW's settings and
its fused kernel where torch has one for the device, as the Trainer's default optimizer
``adamw_torch_fused``, the linear schedule, the loss, the step count): with dropout off and
without length grouping both engines take the same steps to the same weights
(``tests/test_glue_engines.py``; the optimizer bit for bit, ``tests/test_glue_optimizer.py``).

With a ``checkpoint`` path it saves its state every ``checkpoint_every`` optimizer steps and
resumes from there (:mod:`.checkpoint`); on the CPU a resumed run ends bit-identical.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .data import TokenizedSplit
from .device import use_bf16
from .hparams import Hyperparameters
from .sampler import epoch_batches
from .tasks import Task, compute_metrics


class TrainingInterrupted(RuntimeError):
    """Raised by ``stop_after_steps`` (tests): the run stopped as if killed, outputs unwritten."""


def _to(batch: dict[str, Any], device: str) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


@dataclass
class RunResult:
    metrics: dict[str, Any]
    log_rows: list[dict[str, Any]]
    model: Any = None


def evaluate(model, split: TokenizedSplit, task: Task, *, batch_size: int, device: str,
             bf16: bool) -> tuple[np.ndarray, dict[str, float]]:
    """Predictions (in the split's order) and the task's metrics on ``split``."""
    import torch

    model.eval()
    order = np.argsort(-split.lengths, kind="stable")  # little padding; order restored below
    preds = np.empty(len(split), dtype=np.float32 if task.is_regression else np.int64)
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            batch = _to(split.batch(idx), device)
            batch.pop("labels")
            logits = model(**batch).logits.float()
            p = logits.squeeze(-1) if task.is_regression else logits.argmax(-1)
            preds[idx] = p.cpu().numpy()
    return preds, compute_metrics(task.metric, preds, split.labels)


def decays(name: str) -> bool:
    """Whether AdamW's weight decay applies to parameter ``name``: not to biases nor to the
    normalisation gains of any family (BERT ``LayerNorm``, DistilBERT ``*_layer_norm``, Llama
    ``*_layernorm``/``norm``, ModernBERT ``*_norm``, GPT-2 ``ln_*``), as run_glue's rule for
    BERT (no decay for ``bias`` and ``LayerNorm.weight``)."""
    module = name.rsplit(".", 2)[-2] if "." in name else name
    return not (name.endswith("bias") or "norm" in module.lower() or module.startswith("ln_"))


def adamw(model, hp: Hyperparameters, kernel: str = "fused"):
    """AdamW as the ``Trainer``'s default optimizer (``adamw_torch_fused``) builds it: weight
    decay on the parameters :func:`decays` names, none on the rest, ``hp``'s betas and epsilon,
    and torch's fused kernel (one kernel per step instead of a Python loop of element-wise ops
    over every parameter: on the CPU a 16-token step of MiniLM 1.6x faster,
    ``benchmarks/adamw_step.py``); the plain implementation where torch has no fused kernel for
    the parameters' device. ``kernel`` ``"plain"`` or ``"foreach"``: torch's other two
    implementations (the fast loop's before 2 December 2026, and its multi-tensor form, the
    same update; ``benchmarks/engines_profile.py`` compares them)."""
    import torch

    if kernel not in ("fused", "plain", "foreach"):
        raise ValueError(f"kernel: expected 'fused', 'plain' or 'foreach', got {kernel!r}")

    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (decay if decays(n) else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": hp.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    kwargs = {"lr": hp.learning_rate, "betas": (hp.adam_beta1, hp.adam_beta2),
              "eps": hp.adam_epsilon}
    if kernel != "fused":
        return torch.optim.AdamW(groups, foreach=kernel == "foreach", **kwargs)
    try:
        return torch.optim.AdamW(groups, fused=True, **kwargs)
    except (RuntimeError, ValueError):  # no fused kernel for this device or dtype
        return torch.optim.AdamW(groups, **kwargs)


def train_and_evaluate(model, task: Task, splits: dict[str, TokenizedSplit],
                       hp: Hyperparameters, *, device: str = "cpu",
                       checkpoint: Path | None = None, fingerprint: str = "",
                       stop_after_steps: int | None = None, log_every: int = 10) -> RunResult:
    """Fine-tune ``model`` on ``splits[train]``, then score every dev split."""
    import torch
    from transformers import get_linear_schedule_with_warmup

    train = splits[task.train_split]
    bf16 = use_bf16(hp.precision, device)
    model.to(device)
    opt = adamw(model, hp)
    steps_per_epoch = math.ceil(len(train) / hp.batch_size)
    total = steps_per_epoch * hp.epochs
    sched = get_linear_schedule_with_warmup(opt, math.ceil(hp.warmup_ratio * total), total)
    micro = hp.micro_batch_size or hp.batch_size

    step, rows, seconds, resumed_from = 0, [], 0.0, None
    state = load_checkpoint(checkpoint, fingerprint) if checkpoint is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        set_rng_state(state["rng"])
        step, rows, seconds = state["step"], state["log"], state["seconds"]
        resumed_from = step
        print(f"resumed from checkpoint at step {step}/{total}")
        del state

    model.train()
    t0 = time.perf_counter()
    done_this_run = 0
    examples = 0
    for epoch in range(step // steps_per_epoch, hp.epochs):
        batches = epoch_batches(train.lengths, hp.batch_size, hp.seed, epoch, hp.group_by_length)
        for b in range(step - epoch * steps_per_epoch, len(batches)):
            idx = batches[b]
            loss_sum = 0.0
            for m in range(0, len(idx), micro):
                sub = idx[m:m + micro]
                batch = _to(train.batch(sub), device)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
                    out = model(**batch)
                loss = out.loss.float() * (len(sub) / len(idx))
                loss.backward()
                loss_sum += float(loss.detach())
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), hp.max_grad_norm)
            lr = sched.get_last_lr()[0]
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            done_this_run += 1
            examples += len(idx)
            rows.append({"step": step, "epoch": round(epoch + (b + 1) / len(batches), 4),
                         "loss": loss_sum, "learning_rate": lr,
                         "grad_norm": float(grad_norm), "examples": len(idx)})
            if step % log_every == 0 or step == total:
                print(f"step {step}/{total} epoch {epoch} loss {loss_sum:.4f} lr {lr:.3g}",
                      flush=True)
            if checkpoint is not None and hp.checkpoint_every and \
                    step % hp.checkpoint_every == 0 and step < total:
                save_checkpoint(checkpoint, {
                    "fingerprint": fingerprint, "step": step, "log": rows,
                    "seconds": seconds + time.perf_counter() - t0,
                    "model": model.state_dict(), "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(), "rng": rng_state()})
            if stop_after_steps is not None and done_this_run >= stop_after_steps \
                    and step < total:
                raise TrainingInterrupted(f"stopped after {done_this_run} steps (step {step})")
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    run_seconds = time.perf_counter() - t0
    seconds += run_seconds

    t1 = time.perf_counter()
    dev, n_dev = {}, {}
    for split in task.dev_splits:
        _, dev[split] = evaluate(model, splits[split], task, batch_size=hp.eval_batch_size,
                                 device=device, bf16=bf16)
        n_dev[split] = len(splits[split])
    eval_seconds = time.perf_counter() - t1
    metrics = metrics_record(task, dev, n_dev, n_train=len(train), steps=step, epochs=hp.epochs,
                             seconds=seconds, examples=examples, run_seconds=run_seconds,
                             rows=rows, resumed_from=resumed_from, eval_seconds=eval_seconds,
                             device=device, bf16=bf16)
    return RunResult(metrics=metrics, log_rows=rows, model=model)


def metrics_record(task: Task, dev: dict, n_dev: dict, *, n_train: int, steps: int, epochs: int,
                   seconds: float, examples: int, run_seconds: float, rows: list[dict],
                   resumed_from: int | None, eval_seconds: float, device: str,
                   bf16: bool) -> dict:
    """``metrics.json`` of one fine-tune, the same schema for both engines (``fast`` and
    ``run_glue``): the score on the task's first dev split, every dev split's metrics, the
    training and evaluation counts and throughputs."""
    return {
        "task": task.name, "metric": task.metric,
        "score": dev[task.dev_splits[0]]["score"], "score_split": task.dev_splits[0],
        "dev": dev, "n_train": n_train, "n_dev": n_dev,
        "train": {"steps": steps, "epochs": epochs, "seconds": round(seconds, 3),
                  "examples_per_s": round(examples / run_seconds, 3) if run_seconds else None,
                  "final_loss": rows[-1]["loss"] if rows else None,
                  "resumed_from_step": resumed_from},
        "eval": {"seconds": round(eval_seconds, 3),
                 "examples_per_s": round(sum(n_dev.values()) / eval_seconds, 3)},
        "device": device, "precision": "bf16" if bf16 else "fp32",
    }
