"""Where the fast loop's training time goes: batch building, forward, backward, clipping and the
optimizer step, timed per step (CPU, synchronous), for each AdamW kernel of
:func:`latentgeom.glue.train.adamw`: ``fused`` (the fast loop's since 2 December 2026, the
``Trainer``'s default), ``plain`` (the fast loop's before) and ``foreach`` (with clipping's
``foreach`` too), whose weights it also compares with the first variant's (0.0: the same
computation).

The fast loop's own steps (:mod:`latentgeom.glue.train`), re-timed section by section: the
MiniLM-L6 of ``benchmarks/engines.py`` at alpha 0, seed 1, the default config's settings (batch 16,
lr 3e-4, 3 epochs, length-grouped batches), one proxy task of the mini-benchmark.

    .venv/bin/python benchmarks/engines_profile.py shuffled 200 100 plain,foreach,plain,fused
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    import engines as E
    import torch
    from transformers import get_linear_schedule_with_warmup

    from latentgeom.glue.data import build_cache, load_cache
    from latentgeom.glue.minibench import build_minibench
    from latentgeom.glue.model import classification_model
    from latentgeom.glue.sampler import epoch_batches
    from latentgeom.glue.tasks import get_task
    from latentgeom.glue.train import adamw

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("task")
    ap.add_argument("n_train", type=int)
    ap.add_argument("n_dev", type=int)
    ap.add_argument("variants", nargs="?", default="plain,foreach,plain,fused")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    glue = E.config_glue()
    task = get_task(a.task)
    tmp = Path(tempfile.mkdtemp())
    build_minibench(tmp / "d", tasks=[a.task], sizes={a.task: [a.n_train, a.n_dev]},
                    seed=glue["minibench"]["seed"])
    build_cache(task=task, source=tmp / "d", tokenizer_source=E.MINILM, out_dir=tmp / "c",
                max_length=glue["max_length"])
    _, splits = load_cache(tmp / "c", task)
    train = splits[task.train_split]
    manifest = E.manifests([0.0])[0.0]
    bs, epochs = glue["batch_size"], glue["epochs"]
    common = E.common_hparams(glue)
    ref = None
    for var in a.variants.split(","):
        foreach = True if var == "foreach" else None
        model, _ = classification_model(manifest, task.num_labels, task.problem_type, seed=1,
                                        verify=False)
        model.train()
        hp, _ = E.variant_hparams(common, 1, "fast")
        opt = adamw(model, hp, kernel=var)
        total = math.ceil(len(train) / bs) * epochs
        sched = get_linear_schedule_with_warmup(opt, 0, total)
        t = dict.fromkeys(("batch", "forward", "backward", "clip", "optimizer"), 0.0)
        t0, examples = time.perf_counter(), 0
        for epoch in range(epochs):
            for idx in epoch_batches(train.lengths, bs, 1, epoch, glue["group_by_length"]):
                c0 = time.perf_counter()
                batch = train.batch(idx)
                c1 = time.perf_counter()
                out = model(**batch)
                c2 = time.perf_counter()
                out.loss.backward()
                c3 = time.perf_counter()
                torch.nn.utils.clip_grad_norm_(model.parameters(), glue["max_grad_norm"],
                                               foreach=foreach)
                c4 = time.perf_counter()
                opt.step()
                sched.step()
                opt.zero_grad(set_to_none=True)
                c5 = time.perf_counter()
                for k, x, y in zip(t, (c0, c1, c2, c3, c4), (c1, c2, c3, c4, c5)):
                    t[k] += y - x
                examples += len(idx)
        wall = time.perf_counter() - t0
        state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        ref = state if ref is None else ref
        diff = max(float((state[k] - ref[k]).abs().max()) for k in ref
                   if state[k].is_floating_point())
        parts = ", ".join(f"{k} {v:.2f} s ({v / wall:.0%})" for k, v in t.items())
        print(f"{var}: {a.task} {a.n_train}: {wall:.2f} s, {examples / wall:.1f} ex/s; {parts}; "
              f"max |weights - first variant's| {diff:g}", flush=True)


if __name__ == "__main__":
    main()
