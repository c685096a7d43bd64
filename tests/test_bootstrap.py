"""The bootstrap over sequences (latentgeom.bootstrap) and r under resampled measures."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from latentgeom import bootstrap as bs
from latentgeom import measures as ms


def _quantized(X, rng, M=2, K=8):
    """A product and an additive quantization of X with random codebooks (no FAISS)."""
    n, d = X.shape
    out = {}
    for name, kind, dsub in (("additive", "additive", d), ("product", "product", d // M)):
        codes = rng.integers(0, K, size=(n, M))
        codes[:K, :] = np.arange(K)[:, None]  # every code used: histogram bins = codes
        out[name] = (codes, rng.standard_normal((M, K, dsub)), kind)
    return out


def test_replicate_rows_keep_sequences_whole():
    lengths = np.array([3, 1, 4, 2])
    offsets = bs.sequence_offsets(lengths)
    counts = np.array([0, 2, 1, 1])
    rows = bs.replicate_rows(counts, lengths)
    assert len(rows) == int(counts @ lengths)
    # the rows are whole sequences, each as often as it was drawn
    expect = np.concatenate([np.arange(offsets[s], offsets[s + 1])
                             for s in np.repeat(np.arange(4), counts)])
    assert np.array_equal(rows, expect)
    w = bs.row_weights(counts, lengths)
    assert np.array_equal(np.bincount(rows, minlength=lengths.sum()), w)


def test_draws_are_the_same_for_every_model():
    a, b = bs.draw_counts(50, 7, seed=3), bs.draw_counts(50, 7, seed=3)
    assert np.array_equal(a, b) and a.shape == (7, 50)
    assert (a.sum(axis=1) == 50).all()
    assert not np.array_equal(a, bs.draw_counts(50, 7, seed=4))


def test_fast_path_equals_recomputing_on_the_resample():
    rng = np.random.default_rng(0)
    lengths = rng.integers(2, 9, size=60)
    X = rng.standard_normal((lengths.sum(), 8)) @ rng.standard_normal((8, 12))
    q = _quantized(X, rng)
    prep = bs._Prepared(X, q, ms.VARIANTS)
    draws = bs.draw_counts(len(lengths), 3, seed=1)
    covs = bs.replicate_covariances(X, lengths, draws, chunk=7)
    for b in range(3):
        rows = bs.replicate_rows(draws[b], lengths)
        exact = bs.flat_names(ms.measure_variants(
            X[rows], {k: (c[rows], cb, kd) for k, (c, cb, kd) in q.items()}))
        fast = bs.flat_names(bs.fast_measures(prep, bs.row_weights(draws[b], lengths),
                                              cov=covs[b]))
        assert set(fast) == set(exact)
        for col, v in fast.items():
            if col.split(".")[-1] in bs.HEAVY:
                assert np.isnan(v), col
            else:
                assert v == pytest.approx(exact[col], rel=1e-9, abs=1e-12), col


def test_identical_sequences_give_zero_width_intervals():
    rng = np.random.default_rng(1)
    seq = rng.standard_normal((5, 6))
    S = 40
    X = np.tile(seq, (S, 1))
    lengths = np.full(S, 5)
    # identical sequences have identical codes too (one quantizer encodes them all)
    q = {k: (np.tile(c, (S, 1)), cb, kd)
         for k, (c, cb, kd) in _quantized(seq, rng, M=2, K=4).items()}
    cols, values = bs.bootstrap_measures(X, q, lengths, n=12, seed=0, heavy=3)
    assert values.shape == (12, len(cols))
    iv = bs.intervals(cols, values, 0.95)["interval"]
    # every resample is the same multiset of rows: every measure is the same on every replicate
    for col in cols:
        lo, hi = iv[col]
        if np.isfinite(lo):
            assert hi - lo <= 1e-9 * max(1.0, abs(lo)), (col, lo, hi)
    heavy = [j for j, c in enumerate(cols) if c.split(".")[-1] in bs.HEAVY]
    assert np.isfinite(values[:3, heavy]).all() and np.isnan(values[3:, heavy]).all()


def test_resampled_sample_gives_intervals_around_the_estimate():
    rng = np.random.default_rng(2)
    lengths = rng.integers(2, 9, size=80)
    X = rng.standard_normal((lengths.sum(), 6)) * np.linspace(3, 0.5, 6)
    q = _quantized(X, rng, M=2, K=8)
    cols, values = bs.bootstrap_measures(X, q, lengths, n=40, seed=0, heavy=0)
    full = bs.flat_names(ms.measure_variants(X, q))
    iv = bs.intervals(cols, values, 0.9)
    lo, hi = iv["interval"]["spread.EEE"]
    assert lo < hi and lo - 0.05 < full["spread.EEE"] < hi + 0.05
    assert iv["n_finite"]["spread.EEE"] == 40 and iv["n_finite"]["spread.VRM"] == 0
    # the codebooks are reused: CD_var cannot vary
    assert np.ptp(values[:, cols.index("additive.CD_var")]) == 0


def test_lengths_must_match_the_matrix():
    X = np.random.default_rng(0).standard_normal((10, 4))
    with pytest.raises(ValueError, match="token counts sum to 9"):
        bs.bootstrap_measures(X, {}, [4, 5], n=2)
    with pytest.raises(ValueError, match="positive token counts"):
        bs.sequence_offsets([3, 0])


def test_r_under_bootstrap_and_survival():
    from latentgeom.analysis import pearson_under_bootstrap

    rng = np.random.default_rng(3)
    glue = np.linspace(0.9, 0.3, 6)
    df = pd.DataFrame({"model": [f"m{i}" for i in range(6)] + ["ns"],
                       "architecture": "a", "kind": ["perturbed"] * 6 + ["nonstandard"],
                       "alpha": list(np.linspace(0, 1, 6)) + [np.nan],
                       "glue_average": list(glue) + [0.5],
                       "spread.EEE": list(-glue) + [0.0], "spread.IS": list(rng.random(7))})
    cols = ["spread.EEE", "spread.IS"]
    reps = {}
    for i, m in enumerate(df.model):
        base = df.loc[i, cols].to_numpy(dtype=float)
        reps[m] = (cols, base + 0.01 * rng.standard_normal((30, 2)))
    out = pearson_under_bootstrap(df, reps, level=0.95)
    assert len(out) == 2 and set(out.columns) >= {"measure", "architecture", "r", "r_lo",
                                                   "r_hi", "survives", "replicates"}
    eee = out.set_index("measure").loc["spread.EEE"]
    assert eee.r == pytest.approx(-1.0) and eee.r_hi < 0 and bool(eee.survives)
    assert eee.replicates == 30 and eee.n == 6
    with pytest.raises(ValueError, match="missing"):
        pearson_under_bootstrap(df, {k: v for k, v in reps.items() if k != "m0"})


def test_error_bars_from_intervals():
    from latentgeom.plots import error_bar_lengths

    err = error_bar_lengths([1.0, 2.0, 3.0], [0.5, np.nan, 3.5], [1.5, 2.5, 4.0])
    assert err.shape == (2, 3)
    assert np.allclose(err, [[0.5, 0.0, 0.0], [0.5, 0.5, 1.0]])
