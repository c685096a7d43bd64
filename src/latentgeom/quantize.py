"""Quantizers of the latent space (Section 3.3.2): FAISS LSQ++ (additive) and product quantizer.

One interface for both, CPU or GPU: ``quantize(X, method, M, nbits, seed)`` returns the codes
(n, M) and codebooks (M, K, d_sub) — ``d_sub = d`` for the additive quantizer, whose codebooks
each span the whole space, ``d / M`` for the product quantizer. The reconstruction is a pure NumPy
function of those (``measures.decode``), so the measures never need FAISS.

On a GPU (``faiss-gpu``), LSQ++ encodes with FAISS's GPU ICM encoder and the product quantizer's
k-means assigns on a GPU flat index; without one, the same calls run on the CPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

METHODS = ("lsq", "pq")
#: The paper's names for the quantizers' measure groups.
KIND = {"lsq": "additive", "pq": "product"}


def check_matrix(X: np.ndarray, name: str = "X", min_rows: int = 1) -> np.ndarray:
    """A finite, 2-D float32 C-contiguous matrix with at least ``min_rows`` rows (one per
    centroid), or ValueError: :func:`latentgeom.measures.check_points`, cast for FAISS."""
    from .measures import check_points

    X = np.ascontiguousarray(check_points(X, name, min_rows=min_rows), dtype=np.float32)
    if not np.isfinite(X).all():  # finite float64 values beyond float32's range
        raise ValueError(f"{name}: contains values outside float32's range")
    return X


def gpu_available() -> bool:
    import faiss

    return hasattr(faiss, "get_num_gpus") and faiss.get_num_gpus() > 0


def _use_gpu(use_gpu: bool | str) -> bool:
    if use_gpu == "auto":
        return gpu_available()
    if use_gpu and not gpu_available():
        raise RuntimeError("quantize.use_gpu: true, but FAISS sees no GPU "
                           "(install faiss-gpu-cu12 and run on a GPU node, or use 'auto')")
    return bool(use_gpu)


def unpack_codes(packed: np.ndarray, M: int, nbits: int) -> np.ndarray:
    """FAISS packed codes (n, code_size) uint8 -> (n, M) integer codes (little-endian bits)."""
    packed = np.asarray(packed, dtype=np.uint8)
    if nbits == 8:
        return packed[:, :M].copy()
    bits = np.unpackbits(packed, axis=1, bitorder="little")[:, :M * nbits]
    bits = bits.reshape(len(packed), M, nbits).astype(np.uint32)
    codes = (bits << np.arange(nbits, dtype=np.uint32)).sum(axis=2)
    return codes.astype(np.uint16 if nbits > 8 else np.uint8)


def quantize(X: np.ndarray, method: str = "lsq", M: int = 4, nbits: int = 8, seed: int = 0,
             train_size: int | None = None, use_gpu: bool | str = "auto",
             verbose: bool = False) -> dict[str, Any]:
    """Train a quantizer on ``X`` (or a seeded subsample of ``train_size`` rows), encode every row.

    Returns ``{"codes": (n, M), "codebooks": (M, K, d_sub) float32, "method", "kind", "M",
    "nbits", "K", "train_rows", "gpu", "mse"}``; ``mse`` is the mean squared reconstruction
    error per row. Deterministic for a given seed on a given device.
    """
    import faiss

    if method not in METHODS:
        raise ValueError(f"quantize.method: expected one of {METHODS}, got {method!r}")
    if M < 1 or not 1 <= nbits <= 16:
        raise ValueError(f"quantize: need M >= 1 and 1 <= nbits <= 16, got M={M}, nbits={nbits}")
    K = 1 << nbits
    X = check_matrix(X, "embeddings", min_rows=K)
    n, d = X.shape
    if method == "pq" and d % M:
        raise ValueError(f"quantize: product quantizer needs d ({d}) divisible by M ({M})")
    train = X
    if train_size is not None and train_size < n:
        if train_size < K:
            raise ValueError(f"quantize.train_size: {train_size} rows < {K} centroids")
        idx = np.sort(np.random.default_rng(seed).choice(n, size=train_size, replace=False))
        train = X[idx]
    gpu = _use_gpu(use_gpu)
    if method == "lsq":
        q = faiss.LocalSearchQuantizer(d, M, nbits)
        q.random_seed = int(seed)
        q.verbose = verbose
        if gpu:
            q.icm_encoder_factory = faiss.GpuIcmEncoderFactory(faiss.get_num_gpus())
        q.train(train)
        codes = unpack_codes(q.compute_codes(X), M, nbits)
        codebooks = faiss.vector_to_array(q.codebooks).reshape(M, K, d)
    else:
        q = faiss.ProductQuantizer(d, M, nbits)
        q.cp.seed = int(seed)
        q.verbose = verbose
        if gpu:
            res = faiss.StandardGpuResources()
            q.assign_index = faiss.GpuIndexFlatL2(res, d // M)
        q.train(train)
        codes = unpack_codes(q.compute_codes(X), M, nbits)
        codebooks = faiss.vector_to_array(q.centroids).reshape(M, K, d // M)
    kind = KIND[method]
    from .measures import reconstruction_norms  # block-wise: no n x d float64 copy

    mse = float(np.mean(reconstruction_norms(X, codes, codebooks, kind) ** 2))
    return {"codes": codes, "codebooks": codebooks.astype(np.float32), "method": method,
            "kind": kind, "M": M, "nbits": nbits, "K": K, "train_rows": int(len(train)),
            "gpu": gpu, "mse": mse}

