"""The sizes of a process's thread pools, recorded by the stages and applied again by predict.

Token vectors (torch's matrix products), LSQ codebooks (FAISS's OpenMP loops and BLAS) and
several measures (NumPy's BLAS) change in their last bits with the number of threads that
computed them, and LSQ's local search and the entropy estimates carry such a difference on to
the measures' third digit. A Snakemake job runs with every pool at the job's ``threads``
(``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS`` are set for its script; the
embed stage also calls ``torch.set_num_threads``), so the pools' sizes are part of what
produced an artifact: :func:`thread_counts` records them, :func:`pinned` runs a block under the
same sizes (``latentgeom predict``, to measure a model exactly as its reference run did).
"""
from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping

#: the kinds of pool recorded: torch's intra-op threads, OpenMP's, BLAS's
KINDS = ("torch", "openmp", "blas")


def _pools() -> dict[str, int]:
    """Largest ``num_threads`` per threadpoolctl API (``openmp``, ``blas``) loaded now."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - scikit-learn (a dependency) brings it
        return {}
    out: dict[str, int] = {}
    for pool in threadpool_info():
        api = pool.get("user_api")
        if api in ("openmp", "blas"):
            out[api] = max(out.get(api, 0), int(pool["num_threads"]))
    return out


def thread_counts() -> dict[str, int | None]:
    """``{"torch": …, "openmp": …, "blas": …}``: this process's pool sizes now (``None`` for a
    library not loaded; torch's only when torch has been imported)."""
    torch = sys.modules.get("torch")
    pools = _pools()
    return {"torch": int(torch.get_num_threads()) if torch is not None else None,
            "openmp": pools.get("openmp"), "blas": pools.get("blas")}


@contextlib.contextmanager
def pinned(counts: Mapping[str, int | None] | None) -> Iterator[None]:
    """Run the block with the pools at ``counts`` (as :func:`thread_counts` gives them; a
    ``None`` or missing kind is left as it is), restored afterwards. Import the libraries
    (torch, faiss) first: threadpoolctl sets only the pools loaded when the block starts."""
    counts = dict(counts or {})
    limits = {k: int(counts[k]) for k in ("openmp", "blas") if counts.get(k)}
    n_torch = counts.get("torch")
    with contextlib.ExitStack() as stack:
        if limits:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=limits))
        if n_torch:
            import torch

            saved = torch.get_num_threads()
            torch.set_num_threads(int(n_torch))
            stack.callback(torch.set_num_threads, saved)
        yield
