"""The ``run_glue`` engine: Transformers' ``Trainer`` set up as ``run_glue.py`` sets it up.

For the authors' command line (their scripts: ``--max_seq_length 128 --per_gpu_train_batch_size 4
--gradient_accumulation_steps 8 --learning_rate 2e-5 --num_train_epochs 3``, seed 42), with the
settings of :class:`.hparams.Hyperparameters`:

- the seed is set before the model is built (:func:`.model.classification_model`), and again by
  ``Trainer.__init__`` (``set_seed(args.seed)``), as in ``run_glue.py``;
- every example is padded to ``max_length`` (``padding="max_length"``, run_glue's default
  ``--pad_to_max_length``), batched by ``default_data_collator``;
- the default sampler: a ``RandomSampler`` that accelerate makes seedable (the order of epoch
  ``e`` is ``torch.randperm(n)`` under a generator seeded with ``seed + e``); ``group_by_length``
  is the fast loop's setting and is not used here;
- the optimizer and schedule ``TrainingArguments`` builds (its default AdamW, linear decay,
  ``warmup_ratio`` as a fraction of the steps, weight decay off biases and norms, clipping);
  ``micro_batch_size`` becomes ``per_device_train_batch_size`` with
  ``gradient_accumulation_steps = batch_size / micro_batch_size``;
- fp32 unless ``precision: bf16`` (``TrainingArguments(bf16=True)``); ``auto`` is fp32, as the
  authors' command line (no ``--fp16``);
- evaluation by ``Trainer.predict`` on the dev splits padded to ``max_length``, in order; the
  scores are :func:`.tasks.compute_metrics` (those of the fast loop, see :mod:`.tasks`).

The data are the tokenised cache the fast loop uses (:mod:`.data`: the same tokenizer call with
``truncation=True, max_length``), padded here to ``max_length``: the same ids ``run_glue.py``'s
``tokenizer(..., padding="max_length", max_length=128, truncation=True)`` gives for a tokenizer
that pads on the right.

Checkpoints are the Trainer's own (``checkpoint-<step>`` folders, ``save_total_limit=1``) in the
job's private scratch folder; a killed run started again resumes from the newest one
(``trainer.train(resume_from_checkpoint=...)``). Outputs: the fast loop's metrics schema and
train-log columns (:func:`.train.train_and_evaluate`).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from .data import TokenizedSplit
from .hparams import Hyperparameters
from .tasks import Task, compute_metrics
from .train import RunResult, TrainingInterrupted, metrics_record

#: Written into the scratch folder beside the Trainer's checkpoints: the settings' fingerprint
#: and the training seconds of the runs so far.
STATE_FILE = "engine_state.json"


class PaddedDataset:
    """A cached split as ``run_glue.py`` feeds it: every example padded to ``max_length``."""

    def __init__(self, split: TokenizedSplit, max_length: int):
        self.split, self.max_length = split, int(max_length)

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, i: int) -> dict[str, Any]:
        import torch

        s, n = self.split, int(self.split.lengths[i])
        a = int(s.offsets[i])
        ids = torch.full((self.max_length,), s.pad_token_id, dtype=torch.long)
        ids[:n] = torch.from_numpy(s.ids[a:a + n])
        mask = torch.zeros(self.max_length, dtype=torch.long)
        mask[:n] = 1
        item = {"input_ids": ids, "attention_mask": mask,
                "labels": torch.tensor(s.labels[i])}
        if s.token_type_ids is not None:
            tt = torch.zeros(self.max_length, dtype=torch.long)
            tt[:n] = torch.from_numpy(s.token_type_ids[a:a + n].astype(np.int64))
            item["token_type_ids"] = tt
        return item


def training_arguments(hp: Hyperparameters, output_dir: Path, device: str):
    """``TrainingArguments`` for ``hp`` (the flags run_glue.py gets from the command line)."""
    from transformers import TrainingArguments

    micro = hp.micro_batch_size or hp.batch_size
    save = hp.checkpoint_every > 0
    return TrainingArguments(
        output_dir=str(output_dir), seed=hp.seed,
        per_device_train_batch_size=micro,
        gradient_accumulation_steps=hp.batch_size // micro,
        per_device_eval_batch_size=hp.eval_batch_size,
        learning_rate=hp.learning_rate, num_train_epochs=hp.epochs,
        weight_decay=hp.weight_decay, adam_beta1=hp.adam_beta1, adam_beta2=hp.adam_beta2,
        adam_epsilon=hp.adam_epsilon, max_grad_norm=hp.max_grad_norm,
        lr_scheduler_type="linear", warmup_steps=float(hp.warmup_ratio),
        bf16=hp.precision == "bf16", use_cpu=device == "cpu",
        save_strategy="steps" if save else "no", save_steps=hp.checkpoint_every or 500,
        save_total_limit=1, eval_strategy="no",
        logging_strategy="steps", logging_steps=1, report_to="none", disable_tqdm=True,
        dataloader_num_workers=0)


def _last_checkpoint(folder: Path) -> Path | None:
    found = [(int(p.name.split("-")[1]), p) for p in folder.glob("checkpoint-*")
             if p.is_dir() and p.name.split("-")[1].isdigit()
             and (p / "trainer_state.json").is_file()]
    return max(found)[1] if found else None


def _log_rows(history: list[dict[str, Any]], n_train: int, batch_size: int,
              steps_per_epoch: int) -> list[dict[str, Any]]:
    """The Trainer's per-step log as the fast loop's ``train_log.csv`` rows."""
    rows = []
    for h in history:
        if "loss" not in h or "step" not in h:
            continue
        step = int(h["step"])
        b = (step - 1) % steps_per_epoch
        rows.append({"step": step, "epoch": round(float(h.get("epoch", 0.0)), 4),
                     "loss": float(h["loss"]), "learning_rate": float(h["learning_rate"]),
                     "grad_norm": float(h.get("grad_norm", float("nan"))),
                     "examples": min(batch_size, n_train - b * batch_size)})
    return rows


def predict(trainer, split: TokenizedSplit, task: Task, max_length: int) -> np.ndarray:
    """``trainer.predict`` on ``split`` (padded to ``max_length``), as run_glue's scores see it."""
    logits = trainer.predict(PaddedDataset(split, max_length)).predictions
    logits = logits[0] if isinstance(logits, tuple) else logits
    return np.squeeze(logits, -1) if task.is_regression else np.argmax(logits, axis=1)


def train_and_evaluate(model, task: Task, splits: dict[str, TokenizedSplit],
                       hp: Hyperparameters, *, device: str = "cpu",
                       checkpoint_dir: Path | None = None, fingerprint: str = "",
                       stop_after_steps: int | None = None) -> RunResult:
    """Fine-tune ``model`` with the Trainer as run_glue.py does, then score every dev split.

    ``checkpoint_dir`` holds the Trainer's checkpoints (a temporary folder when None); a run
    finding one there for the same ``fingerprint`` resumes from it.
    """
    import tempfile

    import torch
    from transformers import Trainer, TrainerCallback, default_data_collator

    tmp = None
    if checkpoint_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="run_glue.")
        checkpoint_dir = Path(tmp.name)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    state_path = checkpoint_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    resume = _last_checkpoint(checkpoint_dir)
    if state.get("fingerprint") != fingerprint or resume is None:
        if resume is not None:
            print(f"note: checkpoints in {checkpoint_dir} are from other settings; starting "
                  "from scratch")
        for p in checkpoint_dir.glob("checkpoint-*"):
            import shutil

            shutil.rmtree(p, ignore_errors=True)
        resume, state = None, {"fingerprint": fingerprint, "seconds": 0.0}
    previous_seconds = float(state.get("seconds", 0.0))

    train = splits[task.train_split]
    steps_per_epoch = math.ceil(len(train) / hp.batch_size)
    total = steps_per_epoch * hp.epochs
    t0 = time.perf_counter()

    class _Bookkeeping(TrainerCallback):
        """Training seconds into the scratch folder at each save; a simulated kill (tests)."""

        def __init__(self):
            self.start_step = None

        def on_train_begin(self, args, st, control, **kw):
            self.start_step = st.global_step

        def on_step_begin(self, args, st, control, **kw):
            if stop_after_steps is not None and \
                    st.global_step - self.start_step >= stop_after_steps and st.global_step < total:
                raise TrainingInterrupted(f"stopped after {stop_after_steps} steps "
                                          f"(step {st.global_step})")

        def on_save(self, args, st, control, **kw):
            from ..io import write_json

            write_json(state_path, {"fingerprint": fingerprint,
                                    "seconds": previous_seconds + time.perf_counter() - t0})

    args = training_arguments(hp, checkpoint_dir, device)
    if hp.checkpoint_every:
        from ..io import write_json

        write_json(state_path, {"fingerprint": fingerprint, "seconds": previous_seconds})
    trainer = Trainer(model=model, args=args, train_dataset=PaddedDataset(train, hp.max_length),
                      data_collator=default_data_collator, callbacks=[_Bookkeeping()])
    if resume is not None:
        print(f"resumed from Trainer checkpoint {resume.name} ({total} steps in all)")
    trainer.train(resume_from_checkpoint=str(resume) if resume is not None else None)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    run_seconds = time.perf_counter() - t0
    done_steps = trainer.state.global_step
    resumed_from = int(resume.name.split("-")[1]) if resume is not None else None
    examples = sum(min(hp.batch_size, len(train) - ((s - 1) % steps_per_epoch) * hp.batch_size)
                   for s in range((resumed_from or 0) + 1, done_steps + 1))
    rows = _log_rows(trainer.state.log_history, len(train), hp.batch_size, steps_per_epoch)

    t1 = time.perf_counter()
    dev, n_dev = {}, {}
    for split in task.dev_splits:
        preds = predict(trainer, splits[split], task, hp.max_length)
        dev[split] = compute_metrics(task.metric, preds, splits[split].labels)
        n_dev[split] = len(splits[split])
    eval_seconds = time.perf_counter() - t1
    metrics = metrics_record(task, dev, n_dev, n_train=len(train), steps=done_steps,
                             epochs=hp.epochs, seconds=previous_seconds + run_seconds,
                             examples=examples, run_seconds=run_seconds, rows=rows,
                             resumed_from=resumed_from, eval_seconds=eval_seconds, device=device,
                             bf16=args.bf16)
    if tmp is not None:
        tmp.cleanup()
    return RunResult(metrics=metrics, log_rows=rows, model=trainer.model)
