"""Input checks of the measures: every public function checks its arguments here, once, and
raises ``ValueError`` naming the argument and what was expected; the internal helpers they
call trust what they get."""

from __future__ import annotations

import numpy as np

from ..schema import VARIANTS


def check_variant(variant: str) -> str:
    """``variant`` if it is one of :data:`~latentgeom.schema.VARIANTS`, else ValueError."""
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    return variant


def check_points(X, name: str = "X", min_rows: int = 2) -> np.ndarray:
    """A finite 2-D float array with at least ``min_rows`` rows (float32 kept, else float64)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D matrix (rows = points), got {X.ndim}-D "
                         f"shape {X.shape}")
    if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
        raise ValueError(f"{name}: expected a numeric matrix, got dtype {X.dtype}")
    if X.shape[0] < min_rows:
        raise ValueError(f"{name}: {X.shape[0]} rows, at least {min_rows} needed")
    if X.shape[1] < 1:
        raise ValueError(f"{name}: no columns")
    if X.dtype != np.float32:
        X = X.astype(np.float64, copy=False)
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return X


def check_codes(codes, K: int, n: int | None = None, M: int | None = None) -> np.ndarray:
    """``codes`` as an (n, M) ``intp`` array of centroid indices in [0, K), else ValueError
    (``n``, ``M``: the expected rows and codebooks, when known)."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or (n is not None and codes.shape[0] != n) or (
            M is not None and codes.shape[1] != M):
        want = f"({'n' if n is None else n}, {'M' if M is None else M})"
        raise ValueError(f"codes: expected shape {want} (rows of X, codebooks), "
                         f"got {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        raise ValueError(f"codes: expected integers, got dtype {codes.dtype}")
    K = int(K)
    if K < 1:
        raise ValueError(f"K: expected at least 1 centroid per codebook, got {K}")
    if codes.size and (codes.min() < 0 or codes.max() >= K):
        raise ValueError(f"codes: values must be in [0, {K}), got [{codes.min()}, {codes.max()}]")
    return codes.astype(np.intp, copy=False)


def check_counts(counts, K: int | None = None) -> np.ndarray:
    """``counts`` as an (M, K) array of finite, non-negative cell counts (weights allowed)."""
    counts = np.asarray(counts)
    if counts.ndim != 2 or (K is not None and counts.shape[1] != K):
        raise ValueError(f"counts: expected (M, {'K' if K is None else K}) cell counts, "
                         f"got shape {counts.shape}")
    if not (np.issubdtype(counts.dtype, np.number) and np.isfinite(counts).all()
            and (counts >= 0).all()):
        raise ValueError("counts: expected finite, non-negative numbers")
    return counts


def check_codebooks(codebooks, kind: str, d: int | None = None) -> np.ndarray:
    """``codebooks`` as an (M, K, d_sub) float64 array that fits ``kind`` (and X's width
    ``d`` when given): additive codewords span all d columns, product ones d / M each."""
    codebooks = np.asarray(codebooks, dtype=np.float64)
    if codebooks.ndim != 3:
        raise ValueError(f"codebooks: expected shape (M, K, d_sub), got {codebooks.shape}")
    M, _, dsub = codebooks.shape
    if kind not in ("additive", "product"):
        raise ValueError(f"kind: expected 'additive' or 'product', got {kind!r}")
    if d is not None and kind == "additive" and dsub != d:
        raise ValueError(f"codebooks: additive codewords must have d = {d} dims, got {dsub}")
    if d is not None and kind == "product" and dsub * M != d:
        raise ValueError(f"codebooks: product sub-dimensions {M} x {dsub} != d = {d}")
    return codebooks


def check_quantization(X, codes, codebooks, kind: str):
    """Validate a quantization of ``X``; returns ``(X, codes as intp, codebooks float64)``."""
    codebooks = np.asarray(codebooks, dtype=np.float64)
    if codebooks.ndim != 3:
        raise ValueError(f"codebooks: expected shape (M, K, d_sub), got {codebooks.shape}")
    M, K, _ = codebooks.shape
    X = check_points(X, "X", min_rows=K)
    codes = check_codes(codes, K, X.shape[0], M)
    return X, codes, check_codebooks(codebooks, kind, X.shape[1])


def check_cells(X, codes, kind: str, K: int | None):
    """Checked ``(X, codes, K)`` for the per-cell measures (``K`` default: max code + 1)."""
    X = check_points(X, "X", min_rows=1)
    codes = np.asarray(codes)
    if K is None and codes.size and np.issubdtype(codes.dtype, np.integer):
        K = int(codes.max()) + 1
    codes = check_codes(codes, 1 if K is None else K, X.shape[0])
    if kind not in ("additive", "product"):
        raise ValueError(f"kind: expected 'additive' or 'product', got {kind!r}")
    if kind == "product" and X.shape[1] % codes.shape[1]:
        raise ValueError(f"codes: {codes.shape[1]} product codebooks do not split "
                         f"d = {X.shape[1]} columns")
    return X, codes, int(K)


def check_decodable(X, codes, codebooks, kind: str):
    """``(X, codes, codebooks)`` checked for decoding X's rows: X 2-D (values not read),
    codebooks fitting ``kind`` and X's width, codes (n, M) in [0, K)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D matrix (rows = points), got shape {X.shape}")
    codebooks = check_codebooks(codebooks, kind, X.shape[1])
    M, K, _ = codebooks.shape
    return X, check_codes(codes, K, X.shape[0], M), codebooks


def check_reconstruction(X, Xrec):
    """``(X, Xrec)`` as arrays of one 2-D shape (a matrix and its reconstruction)."""
    X, Xrec = np.asarray(X), np.asarray(Xrec)
    if X.ndim != 2 or Xrec.shape != X.shape:
        raise ValueError(f"Xrec: expected the shape of X {X.shape} (a 2-D matrix), "
                         f"got {Xrec.shape}")
    return X, Xrec
