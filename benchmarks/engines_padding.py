"""How many tokens each engine pushes through the model per training example: the ceiling on
the fast loop's speed-up over the ``run_glue`` engine that padding alone sets.

    .venv/bin/python benchmarks/engines_padding.py [--sizes demo 600:300] [--seeds 1 2 3 4 5]

Both engines run the same model on the same examples with the same (fused) AdamW; they differ
in the tokens a batch holds. The ``run_glue`` engine pads every example to ``max_length``
(128, as ``run_glue.py --pad_to_max_length`` does); the fast loop pads each batch to its
longest example, in length-grouped batches (``fast``) or in the ``run_glue`` engine's order
(``fast-nogroup``). For each proxy task and size, built exactly as ``benchmarks/engines.py``
builds them (the mini-benchmark, the MiniLM tokenizer's cache), and each seed's three epochs of
batches (:func:`latentgeom.glue.sampler.epoch_batches`), this prints the tokens per training
example each engine computes, and their ratio: what the fast loop would gain if a step's cost
were proportional to its tokens. Self-attention grows with the square of the length, which a
second ratio (of the summed squared batch lengths) bounds from above. For the classification
tasks it also prints whether length says anything about the label (their correlation over the
training split) and how one-class the batches are (the mean share of a batch's majority label),
grouped and not: length grouping must not hand the model label-sorted batches. Nothing is
trained: a few seconds.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import engines  # noqa: E402


def batches(lengths: np.ndarray, batch_size: int, seeds, epochs: int, group_by_length: bool):
    """Every training batch (index array) of every seed's ``epochs`` epochs, as the fast loop
    draws them (:func:`latentgeom.glue.sampler.epoch_batches`)."""
    from latentgeom.glue.sampler import epoch_batches

    for seed in seeds:
        for e in range(epochs):
            yield from epoch_batches(lengths, batch_size, seed, e, group_by_length)


def padded_tokens(lengths: np.ndarray, batch_size: int, seeds, epochs: int,
                  group_by_length: bool) -> tuple[float, float]:
    """(tokens, squared tokens) per training example over :func:`batches`, each batch padded to
    its longest member (every seed trains on the same number of examples, so this is also the
    mean over the seeds)."""
    t = s = 0
    for b in batches(lengths, batch_size, seeds, epochs, group_by_length):
        m = int(lengths[b].max())
        t += m * len(b)
        s += m * m * len(b)
    n = len(seeds) * epochs * len(lengths)
    return t / n, s / n


def majority_share(lengths: np.ndarray, labels: np.ndarray, batch_size: int, seeds, epochs: int,
                   group_by_length: bool) -> float:
    """The mean over :func:`batches` of the share of a batch's most common label."""
    return float(np.mean([np.bincount(labels[b]).max() / len(b)
                          for b in batches(lengths, batch_size, seeds, epochs, group_by_length)]))


def main() -> None:
    from latentgeom.glue.data import build_cache, load_cache
    from latentgeom.glue.minibench import build_minibench
    from latentgeom.glue.tasks import get_task

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", nargs="+", default=engines.TASKS)
    ap.add_argument("--sizes", nargs="+", default=["demo", "600:300"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    a = ap.parse_args()
    glue = engines.config_glue()
    hp = engines.common_hparams(glue)
    bs, epochs, L = hp["batch_size"], hp["epochs"], glue["max_length"]
    print(f"# batch {bs}, {epochs} epochs, run_glue pads to {L}; seeds {a.seeds}\n")
    print("| task (train) | mean length | run_glue tokens/ex | fast-nogroup tokens/ex | "
          "fast tokens/ex | run_glue / fast, tokens | run_glue / fast, tokens² | "
          "r(length, label) | majority share, fast / fast-nogroup |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for size in a.sizes:
            for tname in a.tasks:
                task = get_task(tname)
                ntr, ndv = engines.parse_size(size, tname, glue)
                data, cache = Path(tmp) / f"d_{size}_{tname}", Path(tmp) / f"c_{size}_{tname}"
                try:
                    build_minibench(data, tasks=[tname], sizes={tname: [ntr, ndv]},
                                    seed=glue["minibench"]["seed"])
                except ValueError:  # polarity has 200 examples in all
                    continue
                build_cache(task=task, source=data, tokenizer_source=engines.MINILM,
                            out_dir=cache, max_length=L)
                _, splits = load_cache(cache, task)
                lengths = splits[task.train_split].lengths
                nog, _ = padded_tokens(lengths, bs, a.seeds, epochs, False)
                grp, grp_sq = padded_tokens(lengths, bs, a.seeds, epochs, True)
                label = "—", "—"
                if task.num_labels > 1:
                    y = np.asarray(splits[task.train_split].labels).astype(np.int64)
                    label = (f"{np.corrcoef(lengths, y)[0, 1]:+.3f}",
                             f"{majority_share(lengths, y, bs, a.seeds, epochs, True):.3f} / "
                             f"{majority_share(lengths, y, bs, a.seeds, epochs, False):.3f}")
                print(f"| {tname} ({ntr}) | {lengths.mean():.1f} | {L} | {nog:.1f} | "
                      f"{grp:.1f} | {L / grp:.2f}× | {L * L / grp_sq:.2f}× | {label[0]} | "
                      f"{label[1]} |", flush=True)


if __name__ == "__main__":
    main()
