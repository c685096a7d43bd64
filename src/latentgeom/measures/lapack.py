"""LAPACK's symmetric eigenvalue drivers, called without holding Python's GIL.

PD_EEE (Eq. 7) needs the covariance spectrum of every cell: 2 x 1,024 small symmetric
eigenproblems for the paper's M = 4, K = 256, shared by worker threads. Here the LAPACK
routines SciPy links (its ``cython_lapack`` function pointers) are called through
:mod:`ctypes`, which releases the GIL for the call, with per-thread workspace.

:func:`eigvalsh64` gives ``np.linalg.eigvalsh``'s eigenvalues bit for bit (``dsyevd``, jobz
``N``, lower triangle, LAPACK's own workspace size: the call NumPy makes; tested against
NumPy, whose bundled OpenBLAS is a separate build). :func:`eigvalsh32` is ``ssyevd`` set up
the same way, as ``scipy.linalg.eigvalsh(G, driver="evd")`` computes it. When the function
pointers cannot be had (:func:`available` false) both fall back to NumPy's and SciPy's calls.
"""

from __future__ import annotations

import threading

import numpy as np

_lock = threading.Lock()
_funcs: dict[str, object] = {}


def _function(name: str, n_pointers: int, n_chars: int):
    """The ctypes function for ``scipy.linalg.cython_lapack``'s ``name``: ``n_chars``
    character arguments, then ``n_pointers`` pointers (every LAPACK argument is passed by
    reference); None when SciPy does not export it."""
    import ctypes

    with _lock:
        if name not in _funcs:
            try:
                from scipy.linalg import cython_lapack

                cap = cython_lapack.__pyx_capi__[name]
                get_name = ctypes.pythonapi.PyCapsule_GetName
                get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
                get_ptr = ctypes.pythonapi.PyCapsule_GetPointer
                get_ptr.restype = ctypes.c_void_p
                get_ptr.argtypes = [ctypes.py_object, ctypes.c_char_p]
                ptr = get_ptr(cap, get_name(cap))
                proto = ctypes.CFUNCTYPE(None, *([ctypes.c_char_p] * n_chars
                                                 + [ctypes.c_void_p] * n_pointers))
                _funcs[name] = proto(ptr)  # CFUNCTYPE (not PYFUNCTYPE): the GIL is released
            except (ImportError, KeyError, AttributeError, ValueError):  # pragma: no cover
                _funcs[name] = None
    return _funcs[name]


def _ints(*values: int):
    import ctypes

    return [ctypes.c_int(v) for v in values]


def _addr(*objs) -> list[int]:
    import ctypes

    return [ctypes.addressof(o) for o in objs]


def _syevd(dtype):
    return _function("ssyevd" if np.dtype(dtype) == np.float32 else "dsyevd", 9, 2)


def available() -> bool:
    """Whether both GIL-free drivers could be set up (else the GIL-holding fallbacks run)."""
    return _syevd(np.float32) is not None and _syevd(np.float64) is not None


class _Buffers(threading.local):
    """Per-thread workspace, grown as needed and reused across calls."""

    def get(self, key: str, size: int, dtype) -> np.ndarray:
        buf = self.__dict__.get(key)
        if buf is None or buf.size < size:
            buf = self.__dict__[key] = np.empty(max(size, 1), dtype)
        return buf[:max(size, 1)]


_buffers = _Buffers()


def _square(G: np.ndarray, dtype) -> np.ndarray:
    """G as the Fortran-ordered ``dtype`` array LAPACK reads: G itself when it already is one
    and writeable (then overwritten), else a copy (as NumPy and f2py make one)."""
    G = np.asarray(G)
    if G.ndim != 2 or G.shape[0] != G.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {G.shape}")
    if G.dtype != dtype or not G.flags.f_contiguous or not G.flags.writeable:
        G = np.array(G, dtype=dtype, order="F")
    return G


def eigvalsh32(G: np.ndarray, gil_free: bool = True) -> tuple[np.ndarray, int]:
    """``(eigenvalues ascending, info)`` of the symmetric float32 matrix G: LAPACK ``ssyevd``,
    eigenvalues only, the lower triangle, with the workspace LAPACK asks for (so ``ssytrd``
    reduces in blocks: faster than ``ssyevr`` at SciPy's default ``lwork = 26 n``), as
    ``scipy.linalg.eigvalsh(G, driver="evd")`` computes them. G is overwritten when it is a
    writeable Fortran-ordered float32 array (pass ``S.T`` for a C-ordered, exactly symmetric
    S, e.g. NumPy's ``C.T @ C``, to spare the copy). ``gil_free=False``: SciPy's call."""
    G = _square(G, np.float32)
    f = _syevd(np.float32) if gil_free else None
    if f is None:
        import scipy.linalg

        try:
            return scipy.linalg.eigvalsh(G, driver="evd", overwrite_a=True,
                                         check_finite=False), 0
        except np.linalg.LinAlgError:  # pragma: no cover (LAPACK did not converge)
            return np.full(G.shape[0], np.nan, np.float32), 1
    return _call_syevd(f, G, np.float32)


def _call_syevd(f, G: np.ndarray, dtype) -> tuple[np.ndarray, int]:
    """``?syevd`` (jobz N, uplo L) of the Fortran-ordered G in this thread's workspace."""
    n = G.shape[0]
    w = np.empty(n, dtype)
    if n == 0:
        return w, 0
    lw, liw = _syevd_workspace(f, n, dtype)
    work = _buffers.get(f"work_{np.dtype(dtype).char}", lw, dtype)
    iwork = _buffers.get("iwork", liw, np.intc)
    n_, lda, lwork, liwork, info = _ints(n, n, lw, liw, 0)
    f(b"N", b"L", *_addr(n_), G.ctypes.data, *_addr(lda), w.ctypes.data, work.ctypes.data,
      *_addr(lwork), iwork.ctypes.data, *_addr(liwork, info))
    return w, info.value


_workspace: dict[tuple[str, int], tuple[int, int]] = {}


def _syevd_workspace(f, n: int, dtype) -> tuple[int, int]:
    """LAPACK's own workspace sizes for ``?syevd`` (jobz N) of order n, from a workspace
    query (NumPy's ``eigvalsh`` makes the same one), cached per type and n."""
    key = (np.dtype(dtype).char, n)
    if key not in _workspace:
        a, w, wq = np.zeros(1, dtype), np.zeros(1, dtype), np.zeros(1, dtype)
        iq = np.zeros(1, np.intc)
        n_, lda, lwork, liwork, info = _ints(n, max(n, 1), -1, -1, 0)
        f(b"N", b"L", *_addr(n_), a.ctypes.data, *_addr(lda), w.ctypes.data, wq.ctypes.data,
          *_addr(lwork), iq.ctypes.data, *_addr(liwork, info))
        _workspace[key] = (max(int(wq[0]), 2 * n + 1), max(int(iq[0]), 1))
    return _workspace[key]


def eigvalsh64(G: np.ndarray, gil_free: bool = True) -> np.ndarray:
    """Eigenvalues (ascending) of the symmetric float64 matrix G, as ``np.linalg.eigvalsh(G)``
    computes them (LAPACK ``dsyevd``, jobz ``N``, the lower triangle, the workspace LAPACK
    asks for). G is overwritten when it is a writeable Fortran-ordered float64 array (see
    :func:`eigvalsh32`). Raises ``np.linalg.LinAlgError`` when LAPACK does not converge, as
    NumPy does. ``gil_free=False``: NumPy's call."""
    G = _square(G, np.float64)
    f = _syevd(np.float64) if gil_free else None
    if f is None:
        return np.linalg.eigvalsh(G)
    w, info = _call_syevd(f, G, np.float64)
    if info != 0:
        raise np.linalg.LinAlgError(f"Eigenvalues did not converge (dsyevd info {info})")
    return w
