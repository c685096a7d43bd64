"""The batches of each training epoch: seeded, optionally length-grouped, resumable."""

from __future__ import annotations

import numpy as np


def epoch_batches(lengths: np.ndarray, batch_size: int, seed: int, epoch: int,
                  group_by_length: bool) -> list[np.ndarray]:
    """The batches of one epoch, a pure function of (seed, epoch): resumable without state.

    Without ``group_by_length``: the order of the ``run_glue`` engine's sampler (Transformers'
    ``RandomSampler``, made seedable by accelerate: ``torch.randperm(n)`` under a generator
    seeded with ``seed + epoch``), cut into consecutive batches, as the Trainer cuts it.
    With ``group_by_length``, as Transformers' ``LengthGroupedSampler``: a random order from a
    generator seeded by ``(seed, epoch)``, mega-batches of 50 batches sorted by length, cut into
    batches, whose order is shuffled again (the Trainer's draws it from the global RNG instead).
    """
    import torch

    g = torch.Generator()
    n = len(lengths)
    if not group_by_length:
        g.manual_seed(int(seed) + int(epoch))
        perm = torch.randperm(n, generator=g).numpy()
        return [perm[i:i + batch_size] for i in range(0, n, batch_size)]
    g.manual_seed(int(seed) * 1_000_003 + int(epoch))
    perm = torch.randperm(n, generator=g).numpy()
    mega = 50 * batch_size
    batches = []
    for i in range(0, n, mega):
        chunk = perm[i:i + mega]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size))
    order = torch.randperm(len(batches), generator=g).numpy()
    return [batches[k] for k in order]

