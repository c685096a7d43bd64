"""Fine-tuning one model on one task: a short plain-PyTorch loop with the authors' defaults.

The authors ran Transformers' ``run_glue.py`` (NOTES.md): max length 128, effective batch 32,
learning rate 2e-5, 3 epochs, linear decay without warm-up, AdamW (betas (0.9, 0.999), eps 1e-8,
weight decay 0), gradient clipping at 1.0, seed 42, config and tokenizer of the unperturbed
model. This module keeps those defaults (every one configurable) and differs only in speed:

- examples are tokenised once per tokenizer x task (:mod:`.data`), not per model;
- batches are padded to their longest example (dynamic padding), optionally with length-grouped
  batches (as ``TrainingArguments(group_by_length=True)``), not to 128;
- bf16 autocast on a GPU that supports it, fp32 on the CPU.

A run checkpoints model, optimizer, scheduler, RNG states and its position every
``checkpoint_every`` optimizer steps into a scratch folder (atomically); a killed run started
again resumes there and, on the CPU, ends with bit-identical weights and scores. The checkpoint is
deleted when the run finishes; the fine-tuned weights are kept only if asked.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import random
import shutil
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from .data import GlueDataError, TokenizedSplit, build_cache, load_cache
from .tasks import Task, compute_metrics, get_task, glue_average


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
    precision: str = "auto"       # auto: bf16 autocast on a GPU supporting it, else fp32
    checkpoint_every: int = 0     # optimizer steps between checkpoints (0: never)

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
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"glue.precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.checkpoint_every < 0:
            raise ValueError("glue.checkpoint_every must be >= 0")

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Hyperparameters:
        d = dict(d or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown fine-tuning setting(s) {unknown}; known: {sorted(known)}")
        return cls(**{k: v for k, v in d.items() if v is not None or k == "micro_batch_size"})


class TrainingInterrupted(RuntimeError):
    """Raised by ``stop_after_steps`` (tests): the run stopped as if killed, outputs unwritten."""


# --------------------------------------------------------------------------- model


def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def tokenizer_source(manifest: dict[str, Any]) -> str:
    """The tokenizer a model is fine-tuned with: the manifest's, else its unperturbed base's."""
    return manifest.get("tokenizer") or manifest["base"]


def classification_model(manifest: dict[str, Any], num_labels: int, problem_type: str, *,
                         seed: int = 42, verify: bool = True):
    """``AutoModelForSequenceClassification`` with the encoder of ``manifest`` and a fresh head.

    The config is the unperturbed base's (or, for a model with stored weights, the stored one);
    the encoder weights come from :func:`latentgeom.models.load_from_manifest` (perturbation
    rebuilt and checksum-verified, or stored weights loaded); the classification head is
    initialised under ``seed``. Returns ``(model, tokenizer)``.
    """
    from transformers import AutoModelForSequenceClassification

    from ..models import load_config, load_from_manifest

    encoder, tok = load_from_manifest(manifest, verify=verify)
    config_src = manifest["weights"] if manifest.get("weights") else manifest["base"]
    config = load_config(config_src, num_labels=num_labels, problem_type=problem_type)
    set_seed(seed)
    model = AutoModelForSequenceClassification.from_config(config)
    missing, unexpected = model.base_model.load_state_dict(encoder.state_dict(), strict=False)
    bad_missing = [k for k in missing if not k.startswith("pooler.")]
    bad_unexpected = [k for k in unexpected if not k.startswith("pooler.")]
    if bad_missing or bad_unexpected:
        raise RuntimeError(f"model {manifest.get('name')!r}: encoder weights do not fit "
                           f"{type(model).__name__} (missing {bad_missing[:5]}, "
                           f"unexpected {bad_unexpected[:5]})")
    if missing:
        print(f"note: {len(missing)} pooler tensor(s) not in the encoder, freshly initialised")
    del encoder
    return model, tok


def check_vocabulary(model, meta: dict[str, Any], splits: dict[str, TokenizedSplit],
                     name: str) -> None:
    """The tokenizer's ids must index the model's input embeddings."""
    rows = model.get_input_embeddings().weight.shape[0]
    max_id = max(int(s.ids.max()) if s.ids.size else 0 for s in splits.values())
    if meta["vocab_size"] > rows or max_id >= rows:
        raise GlueDataError(
            f"model {name!r}: its input embeddings have {rows} rows but tokenizer "
            f"{meta['tokenizer']!r} has {meta['vocab_size']} tokens (largest id in the data "
            f"{max_id}): the vocabulary does not fit the tokenizer")


def pick_device(device: str = "auto") -> str:
    from ..embed import pick_device as _pick

    return _pick(device, field="glue.device")


def use_bf16(precision: str, device: str) -> bool:
    import torch

    if precision == "fp32" or not device.startswith("cuda"):
        if precision == "bf16" and not device.startswith("cuda"):
            print("note: bf16 asked for on the CPU; training in fp32")
        return False
    return precision == "bf16" or torch.cuda.is_bf16_supported()


# --------------------------------------------------------------------------- batches


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int,
                  group_by_length: bool) -> list[np.ndarray]:
    """The batches of one epoch, a pure function of (seed, epoch): resumable without state.

    Random order from a ``torch.Generator`` seeded by ``(seed, epoch)``; with
    ``group_by_length``, as Transformers' ``LengthGroupedSampler``: mega-batches of 50 batches
    sorted by length, cut into batches, whose order is shuffled again.
    """
    import torch

    g = torch.Generator()
    g.manual_seed(int(seed) * 1_000_003 + int(epoch))
    n = len(lengths)
    perm = torch.randperm(n, generator=g).numpy()
    if not group_by_length:
        return [perm[i:i + batch_size] for i in range(0, n, batch_size)]
    mega = 50 * batch_size
    batches = []
    for i in range(0, n, mega):
        chunk = perm[i:i + mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size))
    order = torch.randperm(len(batches), generator=g).numpy()
    return [batches[k] for k in order]


def _to(batch: dict[str, Any], device: str) -> dict[str, Any]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


# --------------------------------------------------------------------------- checkpoints


def _rng_state() -> dict[str, Any]:
    import torch

    st = {"python": random.getstate(), "numpy": np.random.get_state(),
          "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def _set_rng_state(st: dict[str, Any]) -> None:
    import torch

    random.setstate(st["python"])
    np.random.set_state(st["numpy"])
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    import torch

    from ..io import atomic_path

    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, fingerprint: str) -> dict[str, Any] | None:
    import torch

    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a truncated file from a crash during an older, non-atomic write
        print(f"note: checkpoint {path} unreadable ({e}); starting from scratch")
        return None
    if state.get("fingerprint") != fingerprint:
        print(f"note: checkpoint {path} is from other settings; starting from scratch")
        return None
    return state


def scratch_dir(root: str | os.PathLike | None, *, name: str, task: str,
                out_metrics: str | os.PathLike, fingerprint: str) -> Path:
    """The checkpoint folder of one job, private to its output path and settings.

    ``root`` (``glue.scratch``; the pipeline passes ``<results>/.scratch/glue``) defaults to
    ``.scratch`` beside ``out_metrics`` — never ``$TMPDIR``, which Snakemake points at one
    machine-wide folder for every job, clone and user (and which SLURM wipes on a requeue). The
    last component is a digest of the *absolute* output path and the run's fingerprint, so two
    workflows (or two settings) never share a checkpoint, even under a shared ``root``.
    """
    out = Path(out_metrics).expanduser().resolve()
    if root is None or str(root) == "":
        root = os.environ.get("LATENTGEOM_SCRATCH") or out.parent / ".scratch"
    key = hashlib.sha256(json.dumps({"out": str(out), "fingerprint": fingerprint},
                                    sort_keys=True).encode()).hexdigest()[:20]
    return Path(root).expanduser().resolve() / name / task / key


class ScratchLock:
    """An exclusive ``fcntl.flock`` on a job's scratch folder for the job's lifetime.

    A second worker on the same folder (e.g. the orphan of a killed ``snakemake`` and the job of
    the re-run) waits, saying who holds it, instead of training into the same checkpoint. The
    lock is the kernel's: it goes with the holder's process, however that process ends.
    """

    def __init__(self, folder: Path, *, wait: bool = True, poll_seconds: float = 1.0):
        self.folder, self.wait, self.poll = Path(folder), wait, poll_seconds
        self.path = self.folder / ".lock"
        self.fh = None
        self.waited = False  # whether another worker held the folder first

    def __enter__(self) -> ScratchLock:
        import fcntl

        announced = False
        while True:
            self.folder.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                fh.close()
                if not self.wait:
                    raise RuntimeError(
                        f"scratch folder {self.folder} is locked by {holder}: another "
                        "fine-tuning worker (perhaps left over from a killed snakemake) is "
                        "training this job; wait for it or end it") from None
                if not announced:
                    print(f"note: scratch folder {self.folder} is locked by {holder} (a worker of "
                          "a killed run?); waiting for it to finish", flush=True)
                    announced = True
                self.waited = True
                time.sleep(self.poll)
                continue
            # The holder may have finished and removed the folder between our open and flock:
            # then we hold a lock on a deleted file; start again on the current one.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                fh.close()
                continue
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
            fh.flush()
            self.fh = fh
            return self

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            self.fh.close()  # releases the flock
            self.fh = None


def remove_scratch(folder: Path, root_levels: int = 2) -> None:
    """Delete a finished job's scratch folder and the empty ``<model>/<task>`` folders above it."""
    shutil.rmtree(folder, ignore_errors=True)
    p = folder.parent
    for _ in range(root_levels):
        try:
            p.rmdir()
        except OSError:
            return
        p = p.parent


def exit_with_parent(poll_seconds: float = 2.0) -> None:
    """End this process when the process that started it dies (Linux; no-op elsewhere).

    A Snakemake job runs as ``snakemake -> [bash -c] -> python``. When the controller is killed
    the worker would be re-parented and keep training. ``PR_SET_PDEATHSIG`` covers a direct
    parent; a daemon thread also watches the grandparent when the parent is a shell.
    """
    import signal
    import sys
    import threading

    if not sys.platform.startswith("linux"):
        return
    ppid = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no libc/prctl
        pass
    if os.getppid() != ppid or ppid == 1:
        return

    def comm(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return ""

    def parent_of(pid: int) -> int | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            return int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None

    watched = [(ppid, parent_of(ppid))]
    if comm(ppid) in ("bash", "sh", "dash", "zsh") and watched[0][1] not in (None, 0, 1):
        gp = watched[0][1]
        watched.append((gp, parent_of(gp)))

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            gone = os.getppid() != ppid or any(parent_of(p) != pp for p, pp in watched)
            if gone:
                print(f"note: the process that started this worker ({watched}) is gone; "
                      "stopping (the last checkpoint is kept)", flush=True)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# --------------------------------------------------------------------------- train + eval


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
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if n.endswith("bias") or "LayerNorm" in n or "layer_norm" in n
         else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=hp.learning_rate, betas=(hp.adam_beta1, hp.adam_beta2),
                            eps=hp.adam_epsilon)
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
        _set_rng_state(state["rng"])
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
                    "scheduler": sched.state_dict(), "rng": _rng_state()})
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
    metrics = {
        "task": task.name, "metric": task.metric,
        "score": dev[task.dev_splits[0]]["score"], "score_split": task.dev_splits[0],
        "dev": dev, "n_train": len(train), "n_dev": n_dev,
        "train": {"steps": step, "epochs": hp.epochs, "seconds": round(seconds, 3),
                  "examples_per_s": round(examples / run_seconds, 3) if run_seconds else None,
                  "final_loss": rows[-1]["loss"] if rows else None,
                  "resumed_from_step": resumed_from},
        "eval": {"seconds": round(eval_seconds, 3),
                 "examples_per_s": round(sum(n_dev.values()) / eval_seconds, 3)},
        "device": device, "precision": "bf16" if bf16 else "fp32",
    }
    return RunResult(metrics=metrics, log_rows=rows, model=model)


def _fingerprint(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def write_log_csv(path: str | os.PathLike, rows: list[dict[str, Any]]) -> None:
    from ..io import atomic_path

    cols = ["step", "epoch", "loss", "learning_rate", "grad_norm", "examples"]
    with atomic_path(path, suffix=".csv") as tmp, open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols)
        w.writeheader()
        w.writerows(rows)


def finetune(*, manifest: dict[str, Any] | str | os.PathLike, task: str,
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
    if meta["tokenizer"] != tokenizer_source(manifest):
        print(f"warning: cache tokenised with {meta['tokenizer']!r}, model {name!r} names "
              f"{tokenizer_source(manifest)!r}")
    if threads:
        torch.set_num_threads(int(threads))
    device = pick_device(device)
    model, tok = classification_model(manifest, task_.num_labels, task_.problem_type,
                                      seed=hp.seed)
    check_vocabulary(model, meta, splits, name)
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

    rows = []
    for sp, mp in zip(scores_paths, manifest_paths):
        s, man = read_json(sp), read_json(mp)
        row = {"model": s["model"], "kind": man.get("kind"),
               "architecture": man.get("architecture"), "base": man.get("base"),
               "alpha": man.get("alpha"), "seed": man.get("seed")}
        row.update(s["scores"])
        row.update(s.get("other_dev_splits", {}))
        row["glue_average"] = s["glue_average"]
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- command line


def _manifest_for(model: str) -> dict[str, Any]:
    """A manifest from ``--model``: a manifest JSON, a folder holding one, or a model folder."""
    from ..io import read_json

    p = Path(model)
    if p.is_file():
        return read_json(p)
    if (p / "manifest.json").is_file():
        return read_json(p / "manifest.json")
    if (p / "config.json").is_file():
        from ..models import load_base, make_manifest

        model, _ = load_base(f"path:{p}", with_tokenizer=False)  # for the checksum
        return make_manifest(name=p.resolve().name, base=f"path:{p}", alpha=None, seed=0,
                             scope="", architecture=p.resolve().name, kind="pretrained",
                             model=model, weights=str(p), extra={"tokenizer": f"path:{p}"})
    raise FileNotFoundError(f"--model {model}: neither a manifest nor a model folder "
                            "(config.json)")


def _cli_finetune(a: argparse.Namespace) -> None:
    hp = {k: getattr(a, k) for k in ("max_length", "batch_size", "micro_batch_size",
                                     "learning_rate", "epochs", "seed", "precision",
                                     "checkpoint_every", "eval_batch_size")
          if getattr(a, k) is not None}
    if a.no_group_by_length:
        hp["group_by_length"] = False
    task = get_task(a.task)
    man = _manifest_for(a.model)
    out = Path(a.out)
    cache = Path(a.cache) if a.cache else out / "cache"
    max_length = hp.get("max_length", Hyperparameters.max_length)
    if not (cache / "meta.json").is_file():
        build_cache(task=task, source=a.data, tokenizer_source=tokenizer_source(man),
                    out_dir=cache, max_length=max_length)
    m = finetune(manifest=man, task=task.name, cache_dir=cache, out_metrics=out / "metrics.json",
                 out_log=out / "train_log.csv", hyperparameters=hp, scratch=a.scratch,
                 device=a.device, threads=a.threads,
                 keep_weights=out / "weights" if a.keep_weights else None)
    print(json.dumps({"task": m["task"], "score": m["score"], "dev": m["dev"]}, indent=2))


def _cli_glue_data(a: argparse.Namespace) -> None:
    from .minibench import build_minibench

    info = build_minibench(a.out, seed=a.seed)
    print(json.dumps(info, indent=2))


def add_cli(subparsers) -> None:
    """Register ``finetune`` and ``glue-data`` on the ``latentgeom`` command."""
    s = subparsers.add_parser("finetune", help="fine-tune a model on one GLUE(-schema) task")
    s.add_argument("--model", required=True,
                   help="manifest JSON, a folder holding manifest.json, or a model folder")
    s.add_argument("--task", required=True, help="cola, sst2, ..., or a mini-benchmark task")
    s.add_argument("--data", required=True,
                   help="'hub' (nyu-mll/glue) or a folder with {split}.csv/.jsonl/.parquet")
    s.add_argument("--out", required=True, help="folder for metrics.json and train_log.csv")
    s.add_argument("--cache", help="tokenised cache folder (built there if missing)")
    s.add_argument("--max-length", type=int)
    s.add_argument("--batch-size", type=int)
    s.add_argument("--micro-batch-size", type=int)
    s.add_argument("--learning-rate", type=float)
    s.add_argument("--epochs", type=int)
    s.add_argument("--seed", type=int)
    s.add_argument("--eval-batch-size", type=int)
    s.add_argument("--precision", choices=["auto", "fp32", "bf16"])
    s.add_argument("--checkpoint-every", type=int)
    s.add_argument("--no-group-by-length", action="store_true")
    s.add_argument("--scratch", help="checkpoint root (default OUT/.scratch; a per-job "
                   "subfolder keyed by the output path and settings is made in it)")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int)
    s.add_argument("--keep-weights", action="store_true", help="save the fine-tuned model")
    s.set_defaults(func=_cli_finetune)

    s = subparsers.add_parser("glue-data", help="build the offline GLUE-schema mini-benchmark")
    s.add_argument("--out", required=True, help="folder for {task}/{train,validation}.csv")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cli_glue_data)


def runtime_settings(config: dict[str, Any], *, model: str, task: str) -> dict[str, Any]:
    """``scratch``, ``device`` and ``keep_weights`` of a pipeline job, from the whole config.

    None of them changes a score, so the rule reads them here instead of declaring them as
    ``params:``. Scratch defaults to ``<results>/.scratch/glue`` (private to this workflow; a
    per-job subfolder is keyed by the output path and settings, see :func:`scratch_dir`).
    """
    glue = config.get("glue") or {}
    results = config.get("results", "results")
    return {"scratch": glue.get("scratch") or f"{results}/.scratch/glue",
            "device": glue.get("device", "auto"),
            "keep_weights": (f"{results}/glue/{model}/{task}/weights"
                             if glue.get("keep_weights", False) else None)}
