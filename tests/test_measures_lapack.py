"""The GIL-free LAPACK eigenvalue drivers of the per-cell spectra (PD_EEE, Eq. 7): the same
eigenvalues bit for bit as the NumPy / SciPy calls they replace, and the GIL really released."""

import threading
import time

import numpy as np
import pytest
import scipy.linalg

from latentgeom.measures import centroids, lapack


def _matrices(seed: int = 3, count: int = 60):
    """Symmetric Gram / scatter matrices of 1 .. 150 points, some only nearly symmetric
    (the drivers must read the triangle NumPy / f2py read), some rank-deficient."""
    rng = np.random.default_rng(seed)
    out = []
    for t in range(count):
        n = int(rng.integers(1, 150))
        A = rng.standard_normal((int(rng.integers(1, n + 40)), n))
        G = A.T @ A
        if t % 3 == 0:
            G = G + 1e-3 * rng.standard_normal(G.shape)
        out.append(G)
    return out


def test_gil_free_drivers_are_set_up():
    assert lapack.available()


def test_eigvalsh64_equals_numpy_eigvalsh_bit_for_bit():
    for G in _matrices():
        want = np.linalg.eigvalsh(G)
        got = lapack.eigvalsh64(G)  # a C-ordered G: copied, not overwritten
        assert np.array_equal(got, want)
        F = np.asfortranarray(G)
        assert np.array_equal(lapack.eigvalsh64(F), want)  # overwritten in place
        assert np.array_equal(lapack.eigvalsh64(G, gil_free=False), want)
    assert lapack.eigvalsh64(np.zeros((0, 0))).shape == (0,)


def test_eigvalsh32_equals_scipy_evd_bit_for_bit_and_float64_closely():
    for G in _matrices(4):
        G32 = G.astype(np.float32)
        want = scipy.linalg.eigvalsh(G32, driver="evd")
        got, info = lapack.eigvalsh32(G32)
        assert info == 0 and got.dtype == np.float32
        assert np.array_equal(got, want)
        assert np.array_equal(lapack.eigvalsh32(G32, gil_free=False)[0], want)
        ref = np.linalg.eigvalsh(G32.astype(np.float64))
        assert np.abs(got - ref).max() <= 1e-5 * max(np.abs(ref).max(), 1e-30)


def test_drivers_reject_a_non_square_matrix():
    with pytest.raises(ValueError, match="square"):
        lapack.eigvalsh64(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="square"):
        lapack.eigvalsh32(np.zeros(3, np.float32))


def test_centred_products_are_exactly_symmetric():
    # _spectrum and _authors_cell_eee hand LAPACK G.T as G's Fortran-ordered self: that is
    # G only if NumPy's A @ A.T / A.T @ A is exactly symmetric (one syrk, triangle copied)
    rng = np.random.default_rng(0)
    for k, q in [(5, 40), (40, 5), (300, 96), (97, 384)]:
        for dtype in (np.float32, np.float64):
            G = centroids._centred_product(rng.standard_normal((k, q)).astype(dtype))
            assert np.array_equal(G, G.T)


def _share_beside(call) -> float:
    """The share of its solo speed at which a pure-Python loop in this thread runs while
    ``call()`` runs in another thread: near 0 when the call holds the GIL throughout."""
    def spin(until) -> int:
        count = 0
        while not until():
            count += 1
        return count

    t0 = time.perf_counter()
    solo = spin(lambda: time.perf_counter() - t0 > 0.2) / (time.perf_counter() - t0)
    done = threading.Event()
    t = threading.Thread(target=lambda: (call(), done.set()))
    t0 = time.perf_counter()
    t.start()
    count = spin(done.is_set)
    elapsed = time.perf_counter() - t0
    t.join()
    return count / elapsed / solo


def test_eigvalsh64_releases_the_gil():
    # while LAPACK runs in one thread, a Python loop in another keeps running; beside a C
    # call known to hold the GIL throughout (sorting a list) it stops
    from latentgeom.measures.compute import _blas_threads

    rng = np.random.default_rng(1)
    A = rng.standard_normal((1300, 1200))
    G = A.T @ A
    items = rng.random(2_000_000).tolist()
    with _blas_threads(1):
        lapack.eigvalsh64(G[:10, :10])  # set-up outside the timed call
        free = _share_beside(lambda: [lapack.eigvalsh64(G) for _ in range(2)])
    held = _share_beside(lambda: sorted(items))
    assert free > 0.2 and free > 10 * held, (free, held)


def test_centred_float64_is_the_float64_copy_centred_bit_for_bit():
    """The LSQ++ cells' one-pass conversion and centring equals converting, then centring
    (so the paper variant's per-cell spectra keep their bits)."""
    rng = np.random.default_rng(7)
    for n in (2, 5, 383, 700, 3917):
        P = (rng.standard_normal((n, 384)) * 3 + rng.standard_normal(384) * 10)
        P = P.astype(np.float32)
        P64 = P.astype(np.float64)
        want = P64 - P64.mean(axis=0)
        got = centroids._centred_float64(P, np.empty((n, 384)))
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(centroids._product(got), centroids._product(want))
