"""FAISS quantizers behind one interface; decode in NumPy."""
from __future__ import annotations

import faiss
import numpy as np
import pytest

from latentgeom.measures import decode
from latentgeom.quantize import check_matrix, quantize, unpack_codes


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return (rng.standard_normal((1200, 16)) * np.linspace(3, 0.5, 16)).astype(np.float32)


@pytest.mark.parametrize("method,kind,dsub", [("lsq", "additive", 16), ("pq", "product", 4)])
def test_shapes_bounds_determinism(X, method, kind, dsub):
    a = quantize(X, method, M=4, nbits=6, seed=3, use_gpu=False)
    b = quantize(X, method, M=4, nbits=6, seed=3, use_gpu=False)
    assert a["codes"].shape == (1200, 4) and a["codebooks"].shape == (4, 64, dsub)
    assert a["codes"].max() < 64 and a["kind"] == kind
    np.testing.assert_array_equal(a["codes"], b["codes"])
    np.testing.assert_array_equal(a["codebooks"], b["codebooks"])
    # Quantization explains most of the variance.
    assert a["mse"] < 0.5 * float(np.sum(X.var(axis=0)))


def test_decode_matches_faiss(X):
    pq = faiss.ProductQuantizer(16, 4, 5)
    pq.train(X)
    packed = pq.compute_codes(X)
    codes = unpack_codes(packed, 4, 5)
    cb = faiss.vector_to_array(pq.centroids).reshape(4, 32, 4)
    np.testing.assert_allclose(decode(codes, cb, "product"), pq.decode(packed), atol=1e-5)
    lsq = faiss.LocalSearchQuantizer(16, 2, 4)
    lsq.train(X)
    packed = lsq.compute_codes(X)
    cb = faiss.vector_to_array(lsq.codebooks).reshape(2, 16, 16)
    np.testing.assert_allclose(decode(unpack_codes(packed, 2, 4), cb, "additive"),
                               lsq.decode(packed), atol=1e-4)


def test_decode_by_hand():
    cb = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)
    codes = np.array([[0, 2], [1, 0]])
    np.testing.assert_array_equal(decode(codes, cb, "product"), [[0, 1, 10, 11], [2, 3, 6, 7]])
    np.testing.assert_array_equal(decode(codes, cb, "additive"), [[10, 12], [8, 10]])


def test_bad_input():
    with pytest.raises(ValueError, match="2-D"):
        check_matrix(np.zeros(10))
    bad = np.zeros((300, 4), dtype=np.float32)
    bad[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        check_matrix(bad)
    with pytest.raises(ValueError, match="at least 256"):
        quantize(np.zeros((100, 8), np.float32), "pq", 4, 8)
    with pytest.raises(ValueError, match="divisible"):
        quantize(np.zeros((300, 10), np.float32), "pq", 4, 8)
    with pytest.raises(ValueError, match="method"):
        quantize(np.zeros((300, 8), np.float32), "kmeans", 4, 8)


def test_train_subsample(X):
    r = quantize(X, "pq", 4, 6, seed=0, train_size=500, use_gpu=False)
    assert r["train_rows"] == 500 and r["codes"].shape[0] == 1200


def test_gpu_fallback_on_cpu_only_machine(X):
    from latentgeom.quantize import gpu_available

    if gpu_available():
        pytest.skip("a GPU is present")
    r = quantize(X, "pq", 4, 6, seed=0, use_gpu="auto")
    assert r["gpu"] is False
    with pytest.raises(RuntimeError, match="no GPU"):
        quantize(X, "pq", 4, 6, seed=0, use_gpu=True)
