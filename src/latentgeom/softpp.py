"""Differentiable Point Patchiness and PC_var on soft assignments (the paper's Section 6, last
paragraph: "existing quantization methods are non-differentiable").

The hard measures (:func:`latentgeom.measures.point_patchiness`, Eq. 3, and
:func:`latentgeom.measures.point_count_var`, Eqs. 12-13) count the points in each of the M x K
cells of a quantizer. Here each point spreads one unit of mass over the K cells of every
codebook,

    p_im(j) = softmax_j( -||r_im - c_mj||^2 / tau ),        counts[m, j] = sum_i p_im(j),

and PP / PC_var are computed from those real-valued counts with the same formulas. The mass of
each codebook still sums to n, so Eq. 3's mean density m = n / K is unchanged; only the variance
of the counts (PP) and the odds ratios (PC_var) become smooth functions of the points and the
codewords. Everything is torch: gradients flow to ``X`` and to ``codebooks``; the computation
runs on the device of ``X``.

What ``r_im`` is (the soft assignment of each quantizer kind)
-------------------------------------------------------------
Both kinds use the same rule: **the conditional of codebook m given the other codebooks' codes
under the quantizer's reconstruction energy** ``E(b) = ||x - x'(b)||^2``, at temperature tau.

- product (PQ): codebook m only sees its own sub-vector, so ``r_im`` is columns
  ``m*d_sub:(m+1)*d_sub`` of x_i; the other codebooks do not enter and no codes are needed.
  As tau -> 0, p_im is one-hot on the nearest sub-centroid: exactly the PQ code (FAISS's
  ``compute_codes`` assigns each sub-vector to its nearest centroid).
- additive (LSQ++): every codeword spans all d dimensions and x' is their sum, so the energy does
  not separate. ``r_im = x_i - sum_{m' != m} c_{m', b_im'}`` is the residual after the *other*
  codebooks' chosen codewords (``codes``, usually the quantizer's own); then
  ``E(b with b_m = j) = ||r_im - c_mj||^2``, and p_im is the Gibbs conditional
  ``P(b_m = j | b_-m, x)`` of the LSQ energy. Its tau -> 0 limit is ICM's update of codebook m
  (LSQ++'s encoder runs ICM sweeps): :func:`conditional_codes`. "The same codes" therefore means:
  the soft measures at tau -> 0 equal the hard measures of ``conditional_codes(X, codebooks,
  codes)``, which are ``codes`` themselves wherever ``codes`` is an ICM fixed point (no single
  codebook's code can be changed to lower the error; :func:`is_icm_fixed_point`).
  Why not the alternatives: a softmax of x against each additive codebook directly ignores the
  other codebooks' contributions and its tau -> 0 limit is no LSQ code at all; a fully soft
  (mean-field) residual has no closed-form tau -> 0 limit (it needs a fixed-point iteration
  that may land elsewhere than the quantizer's codes). The other codebooks' codes are held
  fixed (not differentiated): they are discrete; gradients reach x and all codewords.

Temperature
-----------
tau sets how soft the assignment is in units of squared distance. :func:`tau_rule` gives a
data-scaled choice per quantizer: ``"margin"`` (default) the median over points and codebooks of
the gap between the second-nearest and the nearest squared distance (a typical point then puts
e^-1 of its nearest cell's weight on the runner-up), ``"nearest"`` the median squared distance to
the nearest centroid (softer or sharper than the margin rule depending on the quantizer: for an
additive quantizer the residual's nearest distance is the reconstruction error, often small).
"""

from __future__ import annotations

import numpy as np

KINDS = ("additive", "product")
VARIANTS = ("paper", "authors")
TAU_RULES = ("margin", "nearest")


def _torch():
    import torch

    return torch


def _as_points(X):
    """X as a 2-D floating torch tensor (a NumPy array becomes float64 on the CPU)."""
    torch = _torch()
    if not isinstance(X, torch.Tensor):
        X = torch.as_tensor(np.asarray(X, dtype=np.float64))
    if X.ndim != 2:
        raise ValueError(f"X: expected a 2-D matrix (rows = points), got shape {tuple(X.shape)}")
    if X.shape[0] < 1 or X.shape[1] < 1:
        raise ValueError(f"X: no points (shape {tuple(X.shape)})")
    if not X.dtype.is_floating_point:
        raise ValueError(f"X: expected a floating dtype, got {X.dtype}")
    return X


def _check(X, codebooks, kind: str, codes):
    """``(X, codebooks, codes)`` as tensors on X's device and dtype (codes: int64 or None),
    or ValueError naming the argument."""
    torch = _torch()
    X = _as_points(X)
    C = codebooks if isinstance(codebooks, torch.Tensor) else torch.as_tensor(
        np.asarray(codebooks, dtype=np.float64))
    C = C.to(device=X.device, dtype=X.dtype)
    if C.ndim != 3:
        raise ValueError(f"codebooks: expected shape (M, K, d_sub), got {tuple(C.shape)}")
    M, K, dsub = C.shape
    n, d = X.shape
    if kind == "product":
        if M * dsub != d:
            raise ValueError(f"codebooks: product sub-dimensions {M} x {dsub} != d = {d}")
    elif kind == "additive":
        if dsub != d:
            raise ValueError(f"codebooks: additive codewords must have d = {d} dims, got {dsub}")
        if codes is None:
            raise ValueError("codes: the additive kind needs the (n, M) codes of the other "
                             "codebooks (the quantizer's own codes)")
    else:
        raise ValueError(f"kind: expected one of {KINDS}, got {kind!r}")
    if codes is not None:
        codes = torch.as_tensor(np.asarray(codes) if not isinstance(codes, torch.Tensor)
                                else codes).to(device=X.device, dtype=torch.int64)
        if tuple(codes.shape) != (n, M):
            raise ValueError(f"codes: expected shape ({n}, {M}), got {tuple(codes.shape)}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= K):
            raise ValueError(f"codes: values must be in [0, {K})")
    if not 2 <= K:
        raise ValueError(f"codebooks: need K >= 2 centroids, got {K}")
    return X, C, codes


def _residuals(X, C, kind: str, codes, m: int):
    """``r_im`` of codebook m for the rows of X (see the module docstring)."""
    torch = _torch()
    M, _, dsub = C.shape
    if kind == "product":
        return X[:, m * dsub:(m + 1) * dsub]
    others = [C[k][codes[:, k]] for k in range(M) if k != m]
    return X - torch.stack(others).sum(0) if others else X


def _logits(r, Cm, tau: float):
    """``-||r - c_j||^2 / tau`` up to a per-row constant (``||r||^2``, which softmax ignores)."""
    return (2.0 * (r @ Cm.T) - (Cm * Cm).sum(1)) / tau


def _check_tau(tau) -> float:
    tau = float(tau)
    if not np.isfinite(tau) or tau <= 0:
        raise ValueError(f"tau: expected a positive temperature, got {tau}")
    return tau


def soft_assignments(X, codebooks, kind: str, tau: float, codes=None):
    """(n, M, K) soft assignments ``p_im(j)`` (rows sum to 1 over j); see the module docstring.
    Holds an (n, M, K) tensor: for large n use :func:`soft_counts` (row blocks)."""
    torch = _torch()
    tau = _check_tau(tau)
    X, C, codes = _check(X, codebooks, kind, codes)
    return torch.stack([torch.softmax(_logits(_residuals(X, C, kind, codes, m), C[m], tau), -1)
                        for m in range(C.shape[0])], 1)


def soft_counts(X, codebooks, kind: str, tau: float, codes=None, block: int = 8192):
    """(M, K) soft cell counts ``sum_i p_im(j)``, accumulated over row blocks of ``block`` rows
    (each block holds an (block, K) tensor per codebook); differentiable in X and codebooks."""
    tau = _check_tau(tau)
    X, C, codes = _check(X, codebooks, kind, codes)
    M = C.shape[0]
    torch = _torch()
    total = None
    for xb, cb in _row_blocks(X, codes, block):
        part = torch.stack([torch.softmax(_logits(_residuals(xb, C, kind, cb, m), C[m], tau),
                                          -1).sum(0) for m in range(M)])
        total = part if total is None else total + part
    return total


def _check_variant(variant: str) -> str:
    if variant not in VARIANTS:
        raise ValueError(f"variant: expected one of {VARIANTS}, got {variant!r}")
    return variant


def pp_from_soft_counts(counts, variant: str = "paper"):
    """Eq. 3 on (M, K) counts (torch, real-valued): ``PP = (m + (V/m - 1)) / m``, m the mean and
    V the population variance of the M x K counts; ``variant="authors"``: m = sum / K (their
    pooled histograms). The torch twin of :func:`latentgeom.measures.pp_from_counts`."""
    _check_variant(variant)
    c = counts.reshape(-1)
    K = counts.shape[-1]
    m = c.sum() / K if variant == "authors" else c.mean()
    V = c.var(unbiased=False)
    return (m + (V / m - 1.0)) / m


def pc_var_from_soft_counts(counts, variant: str = "paper"):
    """Eqs. 12-13 on (M, K) counts (torch): odds ``O = (K-1) c / (1-c)`` of each cell's share c
    of its codebook, ``sum (O - mean O)^2 / (M (K-1))``; ``variant="authors"``: the mean over
    codebooks of each codebook's population variance of O. Soft shares are < 1, so the result
    is finite (a hard cell holding every point gives +inf). The torch twin of
    :func:`latentgeom.measures.pc_var_from_counts`."""
    _check_variant(variant)
    M, K = counts.shape
    share = counts / counts.sum(1, keepdim=True)
    O = (K - 1) * share / (1.0 - share)
    if variant == "authors":
        return O.var(1, unbiased=False).mean()
    return ((O - O.mean()) ** 2).sum() / (M * (K - 1))


def soft_pp(X, codebooks, kind: str, tau: float, codes=None, variant: str = "paper",
            block: int = 8192):
    """Soft Point Patchiness: Eq. 3 on :func:`soft_counts` (a 0-d tensor, differentiable)."""
    return pp_from_soft_counts(soft_counts(X, codebooks, kind, tau, codes, block), variant)


def soft_pc_var(X, codebooks, kind: str, tau: float, codes=None, variant: str = "paper",
                block: int = 8192):
    """Soft PC_var: Eqs. 12-13 on :func:`soft_counts` (a 0-d tensor, differentiable)."""
    return pc_var_from_soft_counts(soft_counts(X, codebooks, kind, tau, codes, block), variant)


# ----------------------------------------------------------------------------- hard limit, tau
def _sq_distances(r, Cm):
    """(rows, K) squared distances ``||r - c_j||^2`` (clipped at 0)."""
    return ((r * r).sum(1, keepdim=True) - 2.0 * (r @ Cm.T) + (Cm * Cm).sum(1)).clamp_min(0.0)


def _row_blocks(X, codes, block: int):
    """``(X[i:i + block], codes[i:i + block] or None)`` for each block of rows."""
    for i in range(0, X.shape[0], block):
        yield X[i:i + block], None if codes is None else codes[i:i + block]


def conditional_codes(X, codebooks, kind: str, codes=None, block: int = 8192) -> np.ndarray:
    """(n, M) the tau -> 0 limit of :func:`soft_assignments`: for each codebook m, the nearest
    codeword to ``r_im`` with the other codebooks' ``codes`` held fixed (all codebooks updated
    from the same input codes, not one after another). Product: the nearest sub-centroid (the PQ
    code). Additive: one ICM update per codebook; equal to ``codes`` where they are an ICM fixed
    point."""
    torch = _torch()
    X, C, codes = _check(X, codebooks, kind, codes)
    out = []
    with torch.no_grad():
        for xb, cb in _row_blocks(X, codes, block):
            out.append(torch.stack([_logits(_residuals(xb, C, kind, cb, m), C[m], 1.0).argmax(1)
                                    for m in range(C.shape[0])], 1))
    return torch.cat(out).cpu().numpy()


def is_icm_fixed_point(X, codebooks, kind: str, codes) -> np.ndarray:
    """(n,) bool: rows whose codes :func:`conditional_codes` leaves unchanged."""
    return (conditional_codes(X, codebooks, kind, codes) == np.asarray(codes)).all(1)


def tau_rule(X, codebooks, kind: str, codes=None, rule: str = "margin",
             block: int = 8192) -> float:
    """A data-scaled temperature for one quantizer (the module docstring, "Temperature"):
    ``"margin"``: median over (point, codebook) of (second-nearest - nearest) squared distance
    of ``r_im`` to codebook m; ``"nearest"``: median nearest squared distance. A positive float
    (the smallest positive value found if the median is 0)."""
    torch = _torch()
    if rule not in TAU_RULES:
        raise ValueError(f"rule: expected one of {TAU_RULES}, got {rule!r}")
    X, C, codes = _check(X, codebooks, kind, codes)
    vals = []
    with torch.no_grad():
        for xb, cb in _row_blocks(X, codes, block):
            for m in range(C.shape[0]):
                two = _sq_distances(_residuals(xb, C, kind, cb, m), C[m]).topk(
                    2, dim=1, largest=False).values
                vals.append(two[:, 1] - two[:, 0] if rule == "margin" else two[:, 0])
    v = torch.cat(vals).double().cpu().numpy()
    tau = float(np.median(v))
    if tau <= 0:
        pos = v[v > 0]
        if not len(pos):
            raise ValueError("tau_rule: every point sits on (or ties between) centroids; "
                             "choose tau explicitly")
        tau = float(pos.min())
    return tau


# ----------------------------------------------------------------------------- one model, as run
def soft_pp_summary(X, codebooks, kind: str, codes, factors=(0.1, 1.0),
                    rule: str = "margin") -> dict:
    """One quantizer of one model as the ``softpp`` rule reports it (no gradients):
    ``tau0`` (:func:`tau_rule` with ``rule``), ``icm_fixed`` (the share of rows whose codes are
    their own tau -> 0 limit :func:`conditional_codes`: 1 for the product kind) and, per
    definition (``"paper"``, ``"authors"``): ``hard_PP`` (Eq. 3 of the stored ``codes``,
    :func:`latentgeom.measures.point_patchiness`), ``hard_PP_limit`` (Eq. 3 of the limit codes,
    soft PP's tau -> 0 value; ``hard_PP`` for the product kind) and ``soft_PP@<f>tau0``
    (:func:`pp_from_soft_counts` of :func:`soft_counts` at ``f x tau0``, for each ``f`` of
    ``factors``; the counts are computed once per factor for both definitions)."""
    from .measures import point_patchiness

    torch = _torch()
    X = _as_points(X)  # once (a NumPy matrix becomes float64), not per pass
    K = int(np.shape(codebooks)[1])
    codes = np.asarray(codes, dtype=np.int64)
    with torch.no_grad():
        tau0 = tau_rule(X, codebooks, kind, codes, rule=rule)
        limit = conditional_codes(X, codebooks, kind, codes)
        out = {"tau0": tau0, "icm_fixed": float((limit == codes).all(1).mean())}
        out.update({v: {"hard_PP": float(point_patchiness(codes, K, v)),
                        "hard_PP_limit": float(point_patchiness(limit, K, v))}
                    for v in VARIANTS})
        for f in factors:
            counts = soft_counts(X, codebooks, kind, float(f) * tau0, codes)
            for v in VARIANTS:
                out[v][f"soft_PP@{float(f):g}tau0"] = float(pp_from_soft_counts(counts, v))
    return out
