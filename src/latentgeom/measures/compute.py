"""What the measure families share: worker threads, BLAS pinning, float64 row blocks of a
float32 matrix, and the covariance (column means, sample covariance, its eigenvalues)."""

from __future__ import annotations

import sys

import numpy as np

from .checks import check_points


def tunable(name: str):
    """A tunable of the package (:data:`ROW_BLOCK`, ``PROJECTION_CHUNK_BYTES``) as set on
    ``latentgeom.measures``, so that setting it there (or a test's monkeypatch) takes effect."""
    return getattr(sys.modules[__package__], name)


def _workers(workers: int | None) -> int:
    import os

    if workers:
        return max(1, int(workers))
    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:  # pragma: no cover (not Linux)
        return max(1, min(4, os.cpu_count() or 1))


#: rows of a float32 matrix converted to float64 at a time (a reused, cache-sized buffer)
ROW_BLOCK = 2048


def _float64_blocks(X: np.ndarray, block: int | None = None):
    """``(start, rows as float64)`` for consecutive row blocks of X. A float64 X is yielded
    whole; any other X is converted block by block into ONE reused buffer (so no float64 copy
    of the matrix is ever held; each yielded block is overwritten by the next)."""
    if X.dtype == np.float64:
        yield 0, X
        return
    block = block or tunable("ROW_BLOCK")
    buf = np.empty((min(block, len(X)), X.shape[1]))
    for i in range(0, len(X), block):
        b = buf[:min(block, len(X) - i)]
        np.copyto(b, X[i:i + block])
        yield i, b


def _scatter(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column sums and the uncentred scatter ``X^T X`` of the rows of X, in float64. For a
    float32 X in row blocks of float64 (each product of two float32 values is exact in
    float64, so only the summation order differs from a float64 copy's)."""
    s = np.zeros(X.shape[1])
    S = np.zeros((X.shape[1], X.shape[1]))
    for _, b in _float64_blocks(X):
        if b is X:
            return X.sum(axis=0), X.T @ X
        s += b.sum(axis=0)
        S += b.T @ b  # one symmetric rank-k update (numpy calls BLAS syrk for b.T @ b)
    return s, S


def _covariance(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and sample covariance of the rows of X, float64, from X^T X (no centred
    copy of X, no float64 copy of a float32 X)."""
    s, S = _scatter(X)
    mu = s / X.shape[0]
    return mu, (S - X.shape[0] * np.outer(mu, mu)) / (X.shape[0] - 1)


def _covariance_eigenvalues(X: np.ndarray, pad: bool = True) -> np.ndarray:
    """Eigenvalues (descending, >= 0) of the covariance of the rows of X, in float64.

    With fewer rows than columns they come from the n x n Gram matrix (same non-zero
    spectrum): ``pad=True`` appends d - n zeros (d values, Eq. 2), ``pad=False`` keeps the
    n values sklearn's ``PCA()`` reports (min(n, d) components, the authors' EEE)."""
    if X.shape[0] < X.shape[1]:  # Gram trick: same non-zero spectrum, smaller matrix
        Xc = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
        lam = _symmetric_eigen(Xc @ Xc.T) / (X.shape[0] - 1)
        if pad:
            lam = np.concatenate([np.zeros(X.shape[1] - X.shape[0]), lam])
    else:
        lam = _symmetric_eigen(_covariance(X)[1])
    return np.clip(lam[::-1], 0.0, None)


def _symmetric_eigen(A: np.ndarray, vectors: bool = False):
    """``np.linalg.eigvalsh(A)``, or ``np.linalg.eigh(A)`` with ``vectors``, on one BLAS
    thread: LAPACK's results change with the BLAS thread count (above all the eigenvectors of
    numerically null axes, such as LayerNorm's), so the same matrix gives the same bits on any
    machine."""
    with _blas_threads(1):
        return np.linalg.eigh(A) if vectors else np.linalg.eigvalsh(A)


def _blas_threads(k: int):
    """A context pinning BLAS to ``k`` threads (threadpoolctl; a no-op without it)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        from contextlib import nullcontext

        return nullcontext()
    return threadpool_limits(limits=k, user_api="blas")


def _run_threads(n_tasks: int, job, workers: int) -> None:
    """``job(i)`` for i = 0 .. n_tasks - 1 in that order of start, on ``workers`` threads that
    each take the next task when done (BLAS pinned to one thread each, also with one worker:
    these are many small products, where BLAS threads on loaded cores wait on each other)."""
    import itertools
    import threading

    if n_tasks <= 1:
        for i in range(n_tasks):
            job(i)
        return
    if workers == 1:
        with _blas_threads(1):
            for i in range(n_tasks):
                job(i)
        return
    counter = itertools.count()
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            for i in iter(counter.__next__, None):
                if i >= n_tasks or errors:
                    return
                job(i)
        except BaseException as e:  # noqa: BLE001 (re-raised in the caller's thread)
            errors.append(e)

    with _blas_threads(1):
        threads = [threading.Thread(target=loop) for _ in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]



def covariance_eigenvalues(X, pad: bool = True) -> np.ndarray:
    """Eigenvalues (descending, >= 0) of the covariance of the rows of X, float64: d values
    (zeros appended when n < d, Eq. 2's spectrum) or, with ``pad=False``, the min(n, d) that
    sklearn's ``PCA()`` reports (the authors' EEE)."""
    return _covariance_eigenvalues(check_points(X), pad)
