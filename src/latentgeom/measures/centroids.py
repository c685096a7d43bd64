"""The centroid measures of Section 3.3.2 / Appendix A.2 (Eqs. 6-7): CD_var, from the
distance of each centroid to its nearest neighbour, and PD_EEE, from the spread (EEE, Eq. 2)
of the points in each cell. The rules here are the pieces; :mod:`latentgeom.measures.table`
says which each definition uses."""

from __future__ import annotations

import numpy as np

from .checks import check_cells, check_variant
from .compute import _run_threads, _workers, tunable
from .lapack import available as lapack_available
from .lapack import eigvalsh32, eigvalsh64
from .spread import _eee_authors_unrounded, eee_authors_from_eigenvalues, eee_from_eigenvalues


def nearest_centroid_distances(codebooks) -> np.ndarray:
    """(M, K): L2 distance from each centroid to the nearest *other* centroid of its codebook
    (exact; K x K distances per codebook)."""
    C = np.asarray(codebooks, dtype=np.float64)
    if C.ndim != 3:
        raise ValueError(f"codebooks: expected shape (M, K, d_sub), got {C.shape}")
    sq = np.einsum("mkd,mkd->mk", C, C)
    D2 = sq[:, :, None] + sq[:, None, :] - 2.0 * np.einsum("mkd,mld->mkl", C, C)
    K = C.shape[1]
    D2[:, np.arange(K), np.arange(K)] = np.inf
    return np.sqrt(np.clip(D2.min(axis=2), 0.0, None))


def _normalised_var(r: np.ndarray, ddof: int) -> float:
    mx = r.max()
    rho = r / mx if mx > 0 else np.zeros_like(r)
    return float(rho.var(ddof=ddof))


def cd_var_paper(nearest) -> float:
    """CD_var (Eq. 6) from the (M, K) nearest-centroid distances: the sample variance (ddof 1,
    the ``mk - 1`` of Eq. 6) of ``rho_i`` = distance / the largest distance over all M x K
    centroids (so rho in [0, 1]); 0 if all centroids coincide."""
    return _normalised_var(np.ravel(nearest), 1)


def cd_var_authors(nearest) -> float:
    """The authors' CD_var: the **squared** distances (FAISS ``IndexFlatL2``'s) pooled over
    codebooks, over their maximum, ``np.var`` (ddof 0); 0 if all centroids coincide."""
    return _normalised_var(np.ravel(nearest) ** 2, 0)


def row_hashes(X, block: int = 2048, workers: int | None = None) -> np.ndarray:
    """A 64-bit hash of each row's exact bit pattern (-0.0 read as 0.0): equal rows always get
    equal hashes, so a cell whose hashes are all distinct has no duplicate rows. Row blocks
    on ``workers`` threads (each row's hash is the same whatever the split)."""
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D matrix (rows = points), got shape {X.shape}")
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    utype = np.uint32 if X.dtype == np.float32 else np.uint64
    mult = np.random.default_rng(0x5EED).integers(1, 2 ** 62, X.shape[1], dtype=np.uint64) | 1
    out = np.empty(X.shape[0], dtype=np.uint64)

    def job(b: int) -> None:
        i = b * block
        bits = (np.ascontiguousarray(X[i:i + block]) + X.dtype.type(0)).view(utype)
        with np.errstate(over="ignore"):
            out[i:i + block] = (bits.astype(np.uint64) * mult).sum(axis=1, dtype=np.uint64)

    _run_threads(-(-X.shape[0] // block), job, _workers(workers))
    return out


def _centred_product(P: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """The k x k Gram or the q x q scatter matrix of the centred rows of P (k x q), whichever
    is smaller, in P's dtype; exactly symmetric (NumPy computes ``A @ A.T`` with one BLAS
    ``syrk`` and copies the triangle), so its transpose is itself. ``overwrite``: centre P
    in place (P must then be a float64 array the caller no longer needs)."""
    mean = P.mean(axis=0)
    if overwrite:
        P -= mean
    else:
        P = P - mean
    return _product(P)


def _product(C: np.ndarray) -> np.ndarray:
    """The Gram ``C C^T`` or the scatter ``C^T C`` of centred rows C, whichever is smaller."""
    return C @ C.T if C.shape[0] < C.shape[1] else C.T @ C


def _centred_float64(P: np.ndarray, out: np.ndarray) -> np.ndarray:
    """The rows of a float32 P centred, in float64, written to ``out`` in one pass: bit for
    bit ``P64 - P64.mean(axis=0)`` of ``P64 = P.astype(np.float64)`` (each float32 value is
    exact in float64 and NumPy sums axis 0 in the same order; tested)."""
    return np.subtract(P, P.mean(axis=0, dtype=np.float64), out=out)


def _spectrum(G: np.ndarray, k: int) -> np.ndarray:
    """Covariance eigenvalues (descending, >= 0) of k points from their centred product G
    (exactly symmetric, overwritten): ``np.linalg.eigvalsh(G)`` bit for bit, without holding
    the GIL (:func:`~latentgeom.measures.lapack.eigvalsh64`; ``G.T`` is G's Fortran-ordered
    self)."""
    return np.clip(eigvalsh64(G.T)[::-1] / (k - 1), 0.0, None)


def _cell_spectrum(P: np.ndarray, overwrite: bool = False) -> np.ndarray:
    """Covariance eigenvalues (descending, >= 0) of the rows of P: min(k, q) values, from the
    k x k Gram matrix or the q x q scatter matrix, whichever is smaller (see
    :func:`_centred_product` for ``overwrite``)."""
    return _spectrum(_centred_product(P, overwrite), P.shape[0])


#: the authors' per-cell EEE is rounded to 4 decimals: a cell's value from its float32
#: spectrum is kept when it lies farther than this from a rounding boundary, otherwise the
#: cell is recomputed in float64. On the 2,048 cells of MiniLM's 116,667 token vectors (LSQ++
#: and PQ, M = 4, K = 256) the float32 (``ssyevd``) and float64 values differ by at most
#: 1.4e-7 (median 1.2e-8): the margin is 14 times that; 3.8% of cells are recomputed
#: (``benchmarks/measures.py --margin-check``). An empirical margin, not a proven bound.
AUTHORS_FLOAT32_MARGIN = 2e-6


def _rounds_like_float64(value: float, margin: float) -> bool:
    """True when every number within ``margin`` of ``value`` rounds to 4 decimals as
    ``value`` does (and is positive: no -0.0), i.e. a float64 value that close to it rounds
    to the same bits."""
    if not (np.isfinite(value) and value > margin):
        return False
    frac = value * 1e4 - np.floor(value * 1e4)
    return abs(frac - 0.5) > margin * 1e4


def _authors_cell_eee_float32(P: np.ndarray) -> float | None:
    """The authors' unrounded EEE of a cell's k distinct points P (k x q, not modified) from
    float32 arithmetic: the points centred in float32 (an error d in the mean only adds
    k d d^T: second order), their Gram or scatter matrix and its eigenvalues in float32
    (:func:`~latentgeom.measures.lapack.eigvalsh32`); None where LAPACK fails."""
    k = P.shape[0]
    if P.dtype == np.float32:
        C = P - np.ones(k, np.float32) @ P / np.float32(k)
    else:
        C = (P - P.mean(axis=0)).astype(np.float32)
    G = _product(C)
    w, info = eigvalsh32(G.T)  # G is exactly symmetric: G.T is G, Fortran-ordered
    if info != 0:
        return None
    return float(_eee_authors_unrounded(np.clip(w[::-1].astype(np.float64) / (k - 1),
                                                0.0, None)))


def _authors_cell_eee(P: np.ndarray, as_float64=None, margin: float | None = None) -> float:
    """The authors' (rounded) EEE of a cell's k distinct points P (k x q, float32 or
    float64; not modified), equal to ``eee_authors_from_eigenvalues(_cell_spectrum(P64))`` of
    their float64 copy bit for bit, but cheaper: the points are centred in float32, their Gram
    or scatter matrix and its eigenvalues computed in float32 (LAPACK ``ssyevd``, eigenvalues
    only, without holding the GIL), and the float64 spectrum computed only where the value
    from the float32 one lies within :data:`AUTHORS_FLOAT32_MARGIN` of a 4-decimal rounding
    boundary. ``as_float64(P)``: a float64 copy of P that may be overwritten (default
    ``P.astype(np.float64)``)."""
    margin = tunable("AUTHORS_FLOAT32_MARGIN") if margin is None else margin
    value = _authors_cell_eee_float32(P)
    if value is not None and _rounds_like_float64(value, margin):
        return float(np.round(value, 4))
    P64 = as_float64(P) if as_float64 is not None else P.astype(np.float64)
    if P64 is P:
        P64 = P.copy()
    return float(eee_authors_from_eigenvalues(_cell_spectrum(P64, overwrite=True)))


def _has_duplicate_hashes(h: np.ndarray) -> bool:
    """Whether two of a cell's row hashes are equal (then two of its rows may be equal: the
    cell gets the exact ``np.unique``)."""
    s = np.sort(h)
    return bool(np.any(s[1:] == s[:-1]))


def _cell_order(codes_m: np.ndarray, K: int) -> np.ndarray:
    """The rows of one codebook's codes sorted by cell, stably (rows of a cell in row order):
    ``np.argsort(codes_m, kind="stable")``, computed on the narrowest unsigned type that holds
    K codes (NumPy radix-sorts 8- and 16-bit keys; a stable order is unique, so it is the same
    permutation)."""
    if K <= 1 << 8:
        codes_m = codes_m.astype(np.uint8)
    elif K <= 1 << 16:
        codes_m = codes_m.astype(np.uint16)
    return np.argsort(codes_m, kind="stable")


def _cell_eee_variants(X, codes, kind: str, K: int, variants, hashes=None,
                       workers: int | None = None) -> dict[str, np.ndarray]:
    """EEE of each cell, (M, K) per variant, NaN for skipped cells.

    paper: the cell's points (PQ: the sub-vectors of codebook m's subspace; LSQ++: the full
    vectors), cells with < 2 points or no variance skipped, Eq. 2 over d_sub eigenvalues (zeros
    appended when the cell has fewer points than dimensions). authors: the full d-dimensional
    vectors for both kinds, duplicates dropped (``np.unique(axis=0)``), cells with <= 1 point
    skipped, :func:`eee_authors_from_eigenvalues` over the cell's min(n_cell, d) eigenvalues.
    Where both variants see the same points (LSQ++, no duplicates) one eigendecomposition
    serves both. Cells run on ``workers`` threads, biggest first, with BLAS pinned to one
    thread each; each thread gathers its cells' rows into its own reused float64 buffer (no
    allocation per cell beyond the small Gram/scatter matrix).
    """
    import threading

    X = np.asarray(X)
    codes = np.asarray(codes, dtype=np.intp)
    M = codes.shape[1]
    d = X.shape[1]
    dsub = d // M if kind == "product" else d
    out = {v: np.full((M, K), np.nan) for v in variants}
    paper, authors = "paper" in variants, "authors" in variants
    if authors and hashes is None:
        hashes = row_hashes(X)
    lapack_available()  # SciPy's LAPACK loaded before BLAS is pinned for the cell threads

    tasks = []
    for m in range(M):
        order = _cell_order(codes[:, m], K)
        counts = np.bincount(codes[:, m], minlength=K)
        starts = np.concatenate([[0], np.cumsum(counts)])
        for j in np.flatnonzero(counts >= 2):
            tasks.append((m, j, order[starts[j]:starts[j + 1]]))
    if not tasks:
        return out
    tasks.sort(key=lambda t: -len(t[2]))  # big cells first: better balance across threads
    biggest = len(tasks[0][2])
    local = threading.local()

    def gather(idx: np.ndarray) -> np.ndarray:
        """The cell's rows in X's dtype, in this thread's buffer (overwritten by its next
        cell)."""
        if not hasattr(local, "raw"):
            local.raw = np.empty((biggest, d), X.dtype)
            local.buf = None if X.dtype == np.float64 else np.empty((biggest, d))
        return np.take(X, idx, axis=0, out=local.raw[:len(idx)])

    def as_float64(rows: np.ndarray) -> np.ndarray:
        """``rows`` as float64 in this thread's second buffer (``rows`` itself if float64)."""
        if local.buf is None:
            return rows
        np.copyto(local.buf[:len(rows)], rows)
        return local.buf[:len(rows)]

    def job(i: int) -> None:
        m, j, idx = tasks[i]
        raw = gather(idx)
        dup = authors and _has_duplicate_hashes(hashes[idx])
        unique = np.unique(raw, axis=0) if dup else None  # before any centring
        lam_full = None
        if paper:
            if kind == "additive":
                if raw.dtype == np.float64:
                    lam = _cell_spectrum(raw, overwrite=True)
                else:  # converted and centred in one pass, into this thread's buffer
                    lam = _spectrum(_product(_centred_float64(raw, local.buf[:len(raw)])),
                                    len(raw))
                if unique is None:
                    lam_full = lam
            else:  # only codebook m's columns, as float64
                sub = raw[:, m * dsub:(m + 1) * dsub].astype(np.float64)
                lam = _cell_spectrum(sub, overwrite=True)
            if len(lam) < dsub:
                lam = np.concatenate([lam, np.zeros(dsub - len(lam))])
            out["paper"][m, j] = eee_from_eigenvalues(lam)
        if authors:
            pts = raw if unique is None else unique
            if len(pts) <= 1:
                return
            if lam_full is not None:  # the paper's float64 spectrum of the same points
                out["authors"][m, j] = eee_authors_from_eigenvalues(lam_full)
            else:
                out["authors"][m, j] = _authors_cell_eee(pts, as_float64)

    _run_threads(len(tasks), job, _workers(workers))
    return out


def cell_eee_values(X, codes, kind: str, variant: str = "paper",
                    K: int | None = None) -> np.ndarray:
    """EEE (Eq. 2) of the points assigned to each centroid, (M, K), NaN for skipped cells.

    Product quantizer: the sub-vectors of codebook m's subspace; additive: the full vectors.
    Cells with fewer than 2 points, or with no variance (identical points), are skipped (NaN):
    Eq. 2 is undefined there. ``variant="authors"``: the full vectors for both kinds,
    duplicate vectors dropped inside each cell first, the authors' EEE over min(n_cell, d)
    eigenvalues (see :func:`_cell_eee_variants`). Per cell, the covariance's eigenvalues come
    from a d x d scatter matrix or the smaller Gram matrix when the cell has fewer points than
    dimensions. ``K`` is the number of centroids per codebook (default: max code + 1).
    """
    check_variant(variant)
    X, codes, K = check_cells(X, codes, kind, K)
    return _cell_eee_variants(X, codes, kind, K, (variant,))[variant]


def mean_finite(vals: np.ndarray) -> float:
    """PD_EEE (Eq. 7) from the per-cell EEE values: their mean over the cells that have one
    (NaN if none)."""
    ok = vals[np.isfinite(vals)]
    return float(ok.mean()) if ok.size else float("nan")


def cell_eee(X, codes, kind: str, variant: str = "paper", K: int | None = None) -> float:
    """PD_EEE (Eq. 7): mean EEE of the points in each cell over all M x K cells that have one
    (see :func:`cell_eee_values`); NaN if no cell qualifies. ``variant="authors"``: the mean over
    all kept cells of all codebooks of their (rounded) per-cell EEE."""
    return mean_finite(cell_eee_values(X, codes, kind, variant, K))
