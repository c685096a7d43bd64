"""Uncertainty of the measures: a bootstrap over the sample's sequences (issue 13).

A replicate draws the sample's S sequences S times with replacement and keeps every token of
each drawn sequence (tokens of one sequence are never split: the rows of sequence ``s`` are
``offsets[s]:offsets[s + 1]`` of the latent matrix, from ``lengths`` in ``embeddings.json``).
The quantizers are **not retrained**: a replicate's codes are the chosen rows' codes and the
codebooks stay as trained, so the measures of a replicate are the measures of ``X[rows]`` with
``codes[rows]`` (rows repeated as often as their sequence was drawn).

The draws depend only on (``seed``, S, replicate index), never on the model: every model of a
run sees the same resampled sequences in replicate b, as all of them see the same sample, so a
statistic across models (Pearson r with the GLUE average) can be recomputed per replicate.

Cost. Recomputing every measure per replicate costs a full measures run each (seconds). A
replicate is a vector of integer weights over rows, and most measures are exact, cheap functions
of weighted sums: the covariance (EEE, IS), the cell counts (PP, PC_var, PC_kl), the per-row
reconstruction errors (RE, RS, RI); CD_var depends on the codebooks only (constant: zero-width
interval, by construction). Those are computed from the weights for every replicate. VRM (a sort
per principal axis) and PD_EEE (an eigendecomposition per cell) are recomputed exactly on the
materialised ``X[rows]`` for the first ``heavy`` replicates only (NaN in the others); their
intervals come from those ``heavy`` replicates.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np

from . import measures as ms
from .schema import QUANTIZED, SPREAD, SPREAD_GROUP, flat_columns

#: measure names recomputed on the materialised resample (the first ``heavy`` replicates)
HEAVY = ("VRM", "PD_EEE")


def sequence_offsets(lengths) -> np.ndarray:
    """Row offsets ``(S + 1,)`` of the sequences: rows of sequence s are offsets[s]:offsets[s+1]."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.ndim != 1 or lengths.size == 0 or (lengths < 1).any():
        raise ValueError("lengths: expected a non-empty list of positive token counts per "
                         "sequence (embeddings.json 'lengths')")
    return np.concatenate([[0], np.cumsum(lengths)])


def draw_counts(n_sequences: int, n: int, seed: int = 0) -> np.ndarray:
    """``(n, S)`` integer counts: how often each of the S sequences is drawn in each of ``n``
    replicates (S draws with replacement each). Depends only on (seed, S, n), so every model
    sees the same replicates."""
    if n_sequences < 1 or n < 0:
        raise ValueError(f"bootstrap: need >= 1 sequence and n >= 0, got {n_sequences}, {n}")
    gen = np.random.default_rng(seed)
    out = np.empty((n, n_sequences), dtype=np.int64)
    for b in range(n):
        out[b] = np.bincount(gen.integers(0, n_sequences, n_sequences), minlength=n_sequences)
    return out


def replicate_rows(counts: np.ndarray, lengths) -> np.ndarray:
    """The rows of one replicate: every row of each drawn sequence, once per draw (sequence
    order, tokens of a sequence contiguous and whole)."""
    offsets = sequence_offsets(lengths)
    seqs = np.repeat(np.arange(len(counts)), counts)
    if seqs.size == 0:
        return np.empty(0, dtype=np.int64)
    lens = np.diff(offsets)[seqs]
    starts = np.repeat(offsets[seqs], lens)
    within = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    return starts + within


def row_weights(counts: np.ndarray, lengths) -> np.ndarray:
    """Per-row multiplicity of one replicate: the count of the row's sequence."""
    return np.repeat(np.asarray(counts, dtype=np.int64), np.asarray(lengths, dtype=np.int64))


def percentile_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the finite values (NaN, NaN if none)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan")
    a = (1.0 - level) / 2.0
    lo, hi = np.quantile(v, [a, 1.0 - a])
    return float(lo), float(hi)


# ----------------------------------------------------------------------------- fast replicate
class _Prepared:
    """What every replicate of one latent matrix shares: float64 X, per-row squared norms, and
    per quantizer the flattened codes, per-row reconstruction errors and the nearest-centroid
    distances (the codebooks are not retrained, so CD_var is the same in every replicate)."""

    def __init__(self, X: np.ndarray, quantized: Mapping[str, tuple], variants):
        self.X = np.asarray(X)
        self.X64 = self.X.astype(np.float64, copy=False)
        self.variants = variants
        self.sq = np.einsum("ij,ij->i", self.X64, self.X64)
        self.q = {}
        for name, (codes, codebooks, kind) in quantized.items():
            X_, codes, codebooks = ms.check_quantization(self.X, codes, codebooks, kind)
            M, K, _ = codebooks.shape
            e = ms.reconstruction_norms(self.X, codes, codebooks, kind)
            flat = (codes + (np.arange(M) * K)[None, :]).ravel()
            self.q[name] = dict(M=M, K=K, e=e, flat=flat,
                                nearest=ms.nearest_centroid_distances(codebooks))


def replicate_covariances(X, lengths, counts: np.ndarray, chunk: int | None = None):
    """``(b, d, d)`` sample covariances (ddof 1) of the resamples given by ``counts`` (b, S),
    from per-sequence scatter matrices: ``sum_s c_s X_s^T X_s``, so the cost is one pass over
    the rows plus a (b, S) x (S, d^2) product, not b passes over the rows. Sequences are taken
    in chunks of ``chunk`` (default: about 64 MB of scatter matrices at a time)."""
    X = np.asarray(X)
    d = X.shape[1]
    offsets = sequence_offsets(lengths)
    S = len(offsets) - 1
    counts = np.asarray(counts, dtype=np.float64).reshape(-1, S)
    chunk = chunk or max(1, (8 << 20) // (d * d))
    acc = np.zeros((len(counts), d * d))
    s1 = np.zeros((len(counts), d))
    for a in range(0, S, chunk):
        b = min(S, a + chunk)
        G = np.empty((b - a, d * d))
        sums = np.empty((b - a, d))
        for i, s in enumerate(range(a, b)):
            Xs = X[offsets[s]:offsets[s + 1]].astype(np.float64)
            G[i] = (Xs.T @ Xs).ravel()
            sums[i] = Xs.sum(axis=0)
        acc += counts[:, a:b] @ G
        s1 += counts[:, a:b] @ sums
    N = counts @ np.diff(offsets).astype(np.float64)  # rows per resample
    mu = s1 / N[:, None]
    C = acc.reshape(-1, d, d) - N[:, None, None] * mu[:, :, None] * mu[:, None, :]
    return C / (N - 1)[:, None, None]


def fast_measures(prep: _Prepared, w: np.ndarray, seed: int = 0,
                  cov: np.ndarray | None = None) -> dict[str, dict]:
    """Every measure except VRM and PD_EEE (NaN) of the resample with per-row weights ``w``,
    exactly as :func:`latentgeom.measures.measure_variants` of ``X[rows]`` with
    ``codes[rows]`` would give them (to float rounding): ``{variant: {group: {name: value}}}``.
    The inputs of the measures (covariance spectrum, cell counts, error norms) come from the
    weights; the rules are the measures stage's own (:data:`latentgeom.measures.METHODS`).
    ``cov``: the resample's covariance when already known (:func:`replicate_covariances`)."""
    w = np.asarray(w, dtype=np.float64)
    N = float(w.sum())
    X = prep.X64
    d = X.shape[1]
    if cov is None:
        mu = (w @ X) / N
        cov = ((X * w[:, None]).T @ X - N * np.outer(mu, mu)) / (N - 1)
    lam = np.clip(np.linalg.eigvalsh(cov)[::-1], 0.0, None)
    wi = w.astype(np.int64)
    lam_sklearn = None
    if "authors" in prep.variants:  # fewer rows than dims: the materialised rows' Gram spectrum
        lam_sklearn = lam if N >= d else ms.covariance_eigenvalues(
            prep.X[np.repeat(np.arange(len(w)), wi)], pad=False)
    inputs = {SPREAD_GROUP: ms.SpreadInputs(n=N, d=d, lam=lam, lam_sklearn=lam_sklearn)}
    for name, q in prep.q.items():
        M, K = q["M"], q["K"]
        counts = np.bincount(q["flat"], weights=np.repeat(w, M), minlength=M * K).reshape(M, K)
        e = q["e"]
        se2 = float(np.sum(w * e * e))
        inputs[name] = ms.QuantizedInputs(
            counts={v: ms.COUNTS[v](counts) for v in prep.variants}, K=K, n=N,
            errors=np.repeat(e, wi),  # the resample's error norms (1-D: cheap)
            error_ss=se2, sum_squares=float(np.sum(w * prep.sq)) if se2 else 0.0,
            nearest=q["nearest"], seed=seed)
    return {v: {g: ms.evaluate(v, SPREAD if g == SPREAD_GROUP else QUANTIZED, x, skip=HEAVY)
                for g, x in inputs.items()} for v in prep.variants}


#: ``{variant: {group: {name: v}}}`` -> the table's columns (:func:`latentgeom.schema.flat_columns`)
flat_names = flat_columns


def bootstrap_measures(X, quantized: Mapping[str, tuple], lengths, n: int, seed: int = 0,
                       heavy: int = 10, measure_seed: int = 0, variants=ms.VARIANTS,
                       workers: int | None = None, progress=None) -> tuple[list[str], np.ndarray]:
    """``(columns, values)``: ``values[b, j]`` is measure ``columns[j]`` on replicate b
    (``n`` replicates of :func:`draw_counts` with ``seed``). VRM and PD_EEE are NaN after the
    first ``heavy`` replicates (see the module docstring); ``measure_seed`` seeds the authors'
    random references as in the measures job."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover (a dependency of scikit-learn; optional here)
        from contextlib import nullcontext

        def threadpool_limits(**_):
            return nullcontext()

    X = ms.check_points(X)
    lengths = np.asarray(lengths, dtype=np.int64)
    if int(lengths.sum()) != X.shape[0]:
        raise ValueError(f"bootstrap: the sequences' token counts sum to {int(lengths.sum())}, "
                         f"but the latent matrix has {X.shape[0]} rows (embeddings.json and "
                         "embeddings.npy of different runs?)")
    variants = tuple(variants)
    prep = _Prepared(X, quantized, variants)
    draws = draw_counts(len(lengths), n, seed)
    cols: list[str] | None = None
    values = None
    t0 = time.time()
    block, covs = 64, None
    for b in range(n):
        if b < heavy:
            rows = replicate_rows(draws[b], lengths)
            sub = {k: (np.asarray(c)[rows], cb, kind) for k, (c, cb, kind) in quantized.items()}
            res = ms.measure_variants(X[rows], sub, variants, seed=measure_seed,
                                      workers=workers)
        else:
            # BLAS on one thread: these are many small products, which threads only slow down
            with threadpool_limits(limits=1, user_api="blas"):
                if (b - heavy) % block == 0:  # the next block of replicates' covariances
                    covs = replicate_covariances(prep.X, lengths, draws[b:b + block])
                res = fast_measures(prep, row_weights(draws[b], lengths), measure_seed,
                                    cov=covs[(b - heavy) % block])
        flat = flat_names(res)
        if cols is None:
            cols = list(flat)
            values = np.full((n, len(cols)), np.nan)
        values[b] = [flat[c] for c in cols]
        if progress and (b + 1) % max(1, n // 10) == 0:
            progress(f"bootstrap: {b + 1}/{n} replicates in {time.time() - t0:.1f}s")
    if cols is None:  # n = 0
        cols = list(flat_names(fast_measures(prep, np.ones(X.shape[0]), measure_seed)))
        values = np.empty((0, len(cols)))
    return cols, values


def intervals(columns: list[str], values: np.ndarray, level: float = 0.95) -> dict:
    """``{"interval": {col: [lo, hi]}, "n_finite": {col: k}}`` from the replicate matrix."""
    iv, nf = {}, {}
    for j, c in enumerate(columns):
        iv[c] = list(percentile_interval(values[:, j], level))
        nf[c] = int(np.isfinite(values[:, j]).sum())
    return {"interval": iv, "n_finite": nf}


def read_replicates(path: str) -> tuple[list[str], np.ndarray]:
    from .io import read_npz

    z = read_npz(path, ["columns", "values"])
    return [str(c) for c in z["columns"]], z["values"]
