"""Soft (differentiable) PP and PC_var: the hard measures as tau -> 0, gradcheck, GPU path."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from latentgeom import measures as hard  # noqa: E402
from latentgeom import softpp as sp  # noqa: E402

RNG = np.random.default_rng(0)


def _nearest(R, C):
    """Brute-force nearest codeword per row (independent of softpp: explicit differences)."""
    return np.argmin(((R[:, None, :] - C[None, :, :]) ** 2).sum(-1), axis=1)


def _pq_codes(X, C):
    M, _, dsub = C.shape
    return np.stack([_nearest(X[:, m * dsub:(m + 1) * dsub], C[m]) for m in range(M)], 1)


def _jacobi_icm(X, C, codes):
    """Each codebook's nearest codeword to x minus the other codebooks' chosen codewords."""
    M = C.shape[0]
    out = np.empty_like(codes)
    for m in range(M):
        rest = sum(C[k][codes[:, k]] for k in range(M) if k != m)
        out[:, m] = _nearest(X - rest, C[m])
    return out


def _icm_fixed_point(X, C, codes):
    """Gauss-Seidel ICM sweeps until no code changes (the energy falls at each change)."""
    codes = codes.copy()
    M = C.shape[0]
    for _ in range(1000):
        before = codes.copy()
        for m in range(M):
            rest = sum(C[k][codes[:, k]] for k in range(M) if k != m)
            codes[:, m] = _nearest(X - rest, C[m])
        if (codes == before).all():
            return codes
    raise AssertionError("ICM did not converge")


def _hard(codes, K, variant="paper"):
    return (hard.point_patchiness(codes, K, variant), hard.point_count_var(codes, K, variant))


def _soft(X, C, kind, tau, codes=None, variant="paper"):
    return (float(sp.soft_pp(X, C, kind, tau, codes, variant)),
            float(sp.soft_pc_var(X, C, kind, tau, codes, variant)))


def _pq_case(n=300, M=3, K=5, dsub=2):
    X = RNG.standard_normal((n, M * dsub)) * np.repeat([1.0, 2.0, 0.5], dsub)
    rows = X[RNG.choice(n, K, replace=False)]  # centroids on data points: every cell is used
    return X, rows.reshape(K, M, dsub).transpose(1, 0, 2).copy()


def _additive_case(n=300, M=3, K=5, d=4):
    return RNG.standard_normal((n, d)), RNG.standard_normal((M, K, d)) * 0.7


# ----------------------------------------------------------------------------- tau -> 0
@pytest.mark.parametrize("variant", ["paper", "authors"])
def test_product_tau_to_zero_is_hard_on_argmin_codes(variant):
    X, C = _pq_case()
    codes = _pq_codes(X, C)
    assert (codes.min(0) == 0).all() and (codes.max(0) == C.shape[1] - 1).all()  # authors' bins
    np.testing.assert_array_equal(sp.conditional_codes(X, C, "product"), codes)
    want = _hard(codes, C.shape[1], variant)
    got = _soft(X, C, "product", 1e-6, variant=variant)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # the limit is approached monotonically from a soft start
    gaps = [abs(_soft(X, C, "product", t, variant=variant)[0] - want[0])
            for t in (1.0, 0.3, 0.1, 0.03, 0.01)]
    assert all(a > b for a, b in zip(gaps, gaps[1:])) and gaps[0] > 1e-3


@pytest.mark.parametrize("variant", ["paper", "authors"])
def test_additive_tau_to_zero_is_hard_on_icm_fixed_point_codes(variant):
    X, C = _additive_case()
    K = C.shape[1]
    codes = _icm_fixed_point(X, C, RNG.integers(0, K, (len(X), C.shape[0])))
    assert sp.is_icm_fixed_point(X, C, "additive", codes).all()
    np.testing.assert_allclose(_soft(X, C, "additive", 1e-6, codes, variant),
                               _hard(codes, K, variant), rtol=1e-12)


def test_additive_tau_to_zero_is_hard_on_the_conditional_codes():
    X, C = _additive_case()
    K = C.shape[1]
    codes = RNG.integers(0, K, (len(X), C.shape[0]))  # far from a fixed point
    cond = _jacobi_icm(X, C, codes)
    np.testing.assert_array_equal(sp.conditional_codes(X, C, "additive", codes), cond)
    assert not sp.is_icm_fixed_point(X, C, "additive", codes).all()
    assert _hard(cond, K) != pytest.approx(_hard(codes, K))  # the distinction matters
    np.testing.assert_allclose(_soft(X, C, "additive", 1e-6, codes), _hard(cond, K), rtol=1e-12)


def test_real_quantizers_limit():
    """FAISS's PQ codes are the per-subspace argmin; LSQ++'s mostly ICM fixed points. In both
    cases tau -> 0 gives the hard measures of conditional_codes."""
    pytest.importorskip("faiss")
    from latentgeom.quantize import quantize

    X = (RNG.standard_normal((1000, 8)) * np.linspace(2, 0.5, 8)).astype(np.float32)
    for method, kind in (("pq", "product"), ("lsq", "additive")):
        q = quantize(X, method, M=2, nbits=4, seed=0, use_gpu=False)
        codes, C = q["codes"].astype(np.int64), q["codebooks"]
        cond = sp.conditional_codes(X, C, kind, codes)
        agree = (cond == codes).all(1).mean()
        assert agree > (0.999 if kind == "product" else 0.9), (kind, agree)
        np.testing.assert_allclose(_soft(X, C, kind, 1e-7, codes), _hard(cond, q["K"]),
                                   rtol=1e-9)


# ----------------------------------------------------------------------------- structure
def test_mass_conservation_and_uniform_limit():
    X, C = _pq_case(n=200)
    K = C.shape[1]
    counts = sp.soft_counts(X, C, "product", 0.5, block=37)  # several row blocks
    np.testing.assert_allclose(counts.sum(1).numpy(), 200.0)
    np.testing.assert_allclose(counts.numpy(), sp.soft_assignments(X, C, "product", 0.5)
                               .sum(0).numpy(), rtol=1e-12)
    pp, pc = _soft(X, C, "product", 1e9)  # tau -> inf: every cell gets n / K
    assert pp == pytest.approx(1 - K / 200, abs=1e-9)  # Eq. 3's 1 - 1/m for equal counts
    assert pc == pytest.approx(0.0, abs=1e-12)


def test_counts_formulas_match_hard_on_integer_counts():
    counts = RNG.integers(1, 30, (3, 6)).astype(np.float64)
    counts[:, -1] += 200 - counts.sum(1)  # every codebook holds the same n = 200 points
    t = torch.as_tensor(counts)
    for v in ("paper", "authors"):
        assert float(sp.pp_from_soft_counts(t, v)) == pytest.approx(
            hard.pp_from_counts(counts, 6, v), rel=1e-12)
        assert float(sp.pc_var_from_soft_counts(t, v)) == pytest.approx(
            hard.pc_var_from_counts(counts, 200, 6, v), rel=1e-12)


def test_gradcheck_float64():
    Xp, Cp = (RNG.standard_normal((8, 4)), RNG.standard_normal((2, 3, 2)))
    Xa, Ca = (RNG.standard_normal((8, 3)), RNG.standard_normal((2, 3, 3)))
    codes_a = RNG.integers(0, 3, (8, 2))
    for X, C, kind, codes in ((Xp, Cp, "product", None), (Xa, Ca, "additive", codes_a)):
        x = torch.tensor(X, requires_grad=True)
        c = torch.tensor(C, requires_grad=True)
        for f in (sp.soft_pp, sp.soft_pc_var):
            for v in ("paper", "authors"):
                assert torch.autograd.gradcheck(
                    lambda x, c, f=f, k=kind, b=codes, v=v: f(x, c, k, 0.7, b, v, block=5),
                    (x, c))


def test_gradient_ascent_raises_soft_pp():
    X, C = _pq_case(n=100)
    x = torch.tensor(X, requires_grad=True)
    before = sp.soft_pp(x, C, "product", 0.5)
    (g,) = torch.autograd.grad(before, x)
    after = sp.soft_pp(x.detach() + 0.05 * g / g.norm(), C, "product", 0.5)
    assert float(after) > float(before.detach())


def test_tau_rule_by_hand():
    # one codebook, centroids 0 and 1 on a line; points 0.1, 0.2, 0.9, 2.0
    X = np.array([[0.1], [0.2], [0.9], [2.0]])
    C = np.array([[[0.0], [1.0]]])
    # squared distances (to 0, to 1): (.01,.81) (.04,.64) (.81,.01) (4,1)
    # margins .80 .60 .80 3 -> median .80; nearest .01 .04 .01 1 -> median .025
    assert sp.tau_rule(X, C, "product") == pytest.approx(0.8)
    assert sp.tau_rule(X, C, "product", rule="nearest") == pytest.approx(0.025)
    # additive with M = 1 is the same residual (x itself)
    assert sp.tau_rule(X, C, "additive", np.zeros((4, 1), int)) == pytest.approx(0.8)


def test_bad_input_named():
    X, C = _pq_case(n=20)
    with pytest.raises(ValueError, match="kind"):
        sp.soft_pp(X, C, "lsq", 1.0)
    with pytest.raises(ValueError, match="tau"):
        sp.soft_pp(X, C, "product", 0.0)
    with pytest.raises(ValueError, match="sub-dimensions"):
        sp.soft_pp(X[:, :-1], C, "product", 1.0)
    with pytest.raises(ValueError, match="codes"):
        sp.soft_pp(X[:, :2], C[:, :, :2].repeat(1, 0), "additive", 1.0)
    with pytest.raises(ValueError, match="codes"):
        sp.soft_pp(X, C, "product", 1.0, codes=np.zeros((20, 2), int))
    with pytest.raises(ValueError, match="no points"):
        sp.soft_pp(X[:0], C, "product", 1.0)
    with pytest.raises(ValueError, match="variant"):
        sp.soft_pp(X, C, "product", 1.0, variant="mine")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_runs_on_the_gpu():
    X, C = _additive_case(n=500)
    codes = RNG.integers(0, C.shape[1], (500, C.shape[0]))
    x = torch.tensor(X, device="cuda", requires_grad=True)
    pp = sp.soft_pp(x, C, "additive", 0.5, codes)
    assert pp.device.type == "cuda"
    pp.backward()
    assert x.grad.device.type == "cuda"
    assert float(pp) == pytest.approx(float(sp.soft_pp(X, C, "additive", 0.5, codes)), rel=1e-10)
    assert sp.tau_rule(x, C, "additive", codes) == pytest.approx(
        sp.tau_rule(X, C, "additive", codes), rel=1e-10)


def test_benchmark_script_on_a_tiny_run(tmp_path, capsys):
    """benchmarks/softpp.py end to end on a hand-made results folder: its hard PP is the
    table's, its soft PP at tau0 is softpp's, and it writes its table and figure."""
    import importlib.util
    import json
    from pathlib import Path

    import pandas as pd

    from latentgeom.io import write_npy, write_npz

    spec = importlib.util.spec_from_file_location(
        "bench_softpp", Path(__file__).parents[1] / "benchmarks" / "softpp.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    res = tmp_path / "results"
    rows = []
    for i, alpha in enumerate([0.0, 0.1, 0.2, 0.5]):
        X = RNG.standard_normal((120, 4)) * (1 + alpha * np.arange(4))
        Cp = X[RNG.choice(120, 6, replace=False)].reshape(6, 2, 2).transpose(1, 0, 2).copy()
        Ca = RNG.standard_normal((2, 6, 4)) * 0.7
        qs = {"product": (_pq_codes(X, Cp), Cp),
              "additive": (_icm_fixed_point(X, Ca, np.zeros((120, 2), np.int64)), Ca)}
        d = res / "latent" / f"m{i}"
        d.mkdir(parents=True)
        write_npy(d / "embeddings.npy", X.astype(np.float32))
        row = {"model": f"m{i}", "architecture": "a", "kind": "perturbed", "alpha": alpha,
               "seed": 0, "glue_average": 80 - 10 * alpha}
        for name, (codes, C) in qs.items():
            write_npz(d / f"quantized_{name}.npz", codes=codes.astype(np.uint8),
                      codebooks=C.astype(np.float32),
                      meta=np.array(json.dumps({"kind": name})))
            row[f"{name}.PP"] = hard.point_patchiness(codes, 6)
        rows.append(row)
    (res / "tables").mkdir()
    pd.DataFrame(rows).to_csv(res / "tables" / "models.csv", index=False)
    out = tmp_path / "out"
    bench.main(["--results", str(res), "--out", str(out)])
    text = capsys.readouterr().out
    assert "max |diff| 0" in text and "r with glue_average" in text
    long = pd.read_csv(out / "softpp_models.csv")
    assert len(long) == 8 and (out / "softpp.png").stat().st_size > 0
    r = long.iloc[0]
    X = np.load(res / "latent" / r.model / "embeddings.npy")
    codes, C, kind = bench.read_quantizer(res / "latent" / r.model / f"quantized_{r.quantizer}.npz")
    assert r["soft_PP@1tau0"] == pytest.approx(float(sp.soft_pp(
        X.astype(np.float64), C, kind, sp.tau_rule(X.astype(np.float64), C, kind, codes), codes)))
    assert len(pd.read_csv(out / "softpp_r.csv")) == 2 * 5  # hard, 3 factors, nearest
    with pytest.raises(SystemExit, match="outside"):
        bench.main(["--results", str(res), "--out", str(res / "x")])


def test_finetune_example_moves_soft_pp(tiny_bert):
    """examples/softpp_finetune.py on a tiny BERT: the -lambda * softPP term raises the probe's
    soft PP above the lambda = 0 run's after the same steps from the same start."""
    import importlib.util
    from pathlib import Path

    pytest.importorskip("faiss")
    pytest.importorskip("gensim")
    spec = importlib.util.spec_from_file_location(
        "softpp_finetune", Path(__file__).parents[1] / "examples" / "softpp_finetune.py")
    ex = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ex)
    recs = ex.main(["--model", tiny_bert, "--steps", "3", "--lam", "10", "0", "--lr", "1e-3"])
    by = {(r["lambda"], r["step"]): r for r in recs}
    assert by[(10.0, 0)]["probe_soft_PP"] == by[(0.0, 0)]["probe_soft_PP"]  # same start
    assert by[(10.0, 3)]["probe_soft_PP"] > by[(0.0, 3)]["probe_soft_PP"]
    assert by[(10.0, 3)]["probe_soft_PP"] > by[(10.0, 0)]["probe_soft_PP"]


# ----------------------------------------------------------------------------- the softpp rule
def _run_folder(tmp_path, alphas=(0.0, 0.1, 0.2, 0.5, 0.8)):
    """Per model an embeddings.npy and PQ/additive quantizer files that record its SHA-256 (as
    the embed and quantize stages write them), and a models.csv with their hard PP."""
    import json

    import pandas as pd

    from latentgeom.integrity import sha256_file
    from latentgeom.io import write_npy, write_npz

    rows, files = [], {}
    for i, alpha in enumerate(alphas):
        X = RNG.standard_normal((120, 4)) * (1 + alpha * np.arange(4))
        Cp = X[RNG.choice(120, 6, replace=False)].reshape(6, 2, 2).transpose(1, 0, 2).copy()
        Ca = RNG.standard_normal((2, 6, 4)) * 0.7
        qs = {"additive": (_icm_fixed_point(X, Ca, np.zeros((120, 2), np.int64)), Ca),
              "product": (_pq_codes(X, Cp), Cp)}
        d = tmp_path / "latent" / f"m{i}"
        d.mkdir(parents=True)
        write_npy(d / "embeddings.npy", X.astype(np.float32))
        digest = sha256_file(d / "embeddings.npy")
        row = {"model": f"m{i}", "architecture": "a" if i % 2 == 0 else "b",
               "kind": "perturbed", "alpha": alpha, "seed": 0, "glue_average": 80 - 10 * alpha}
        for name, (codes, C) in qs.items():
            write_npz(d / f"quantized_{name}.npz", codes=codes.astype(np.uint8),
                      codebooks=C.astype(np.float32),
                      meta=np.array(json.dumps({"kind": name, "embeddings_sha256": digest})))
            row[f"{name}.PP"] = hard.point_patchiness(codes, 6)
            row[f"authors:{name}.PP"] = hard.point_patchiness(codes, 6, "authors")
        rows.append(row)
        files[f"m{i}"] = d
    rows.append({**rows[0], "model": "ns", "kind": "nonstandard", "alpha": None})
    files["ns"] = files["m0"]
    table = tmp_path / "models.csv"
    pd.DataFrame(rows).to_csv(table, index=False)
    return table, files


def test_soft_pp_summary_limits_and_variants():
    """The rule's per-quantizer record: tau0 is tau_rule's, soft PP at f x tau0 is soft_pp's
    under each definition, a tiny factor gives the hard PP of the limit codes, which are the
    stored codes' on ICM-fixed-point (additive) and argmin (product) codes."""
    X, C = _pq_case()
    codes = _pq_codes(X, C)
    K = C.shape[1]
    s = sp.soft_pp_summary(X, C, "product", codes, factors=(1e-7, 1.0))
    tau0 = sp.tau_rule(X, C, "product", codes)
    assert s["tau0"] == tau0 and s["icm_fixed"] == 1.0
    for v in ("paper", "authors"):
        assert s[v]["hard_PP"] == s[v]["hard_PP_limit"] == hard.point_patchiness(codes, K, v)
        assert s[v]["soft_PP@1e-07tau0"] == pytest.approx(s[v]["hard_PP"], rel=1e-12)
        assert s[v]["soft_PP@1tau0"] == pytest.approx(
            float(sp.soft_pp(X, C, "product", tau0, codes, v)), rel=1e-12)
    Xa, Ca = _additive_case()
    raw = RNG.integers(0, Ca.shape[1], (len(Xa), Ca.shape[0]))
    s = sp.soft_pp_summary(Xa, Ca, "additive", raw, factors=(1e-7,))
    cond = sp.conditional_codes(Xa, Ca, "additive", raw)
    assert s["icm_fixed"] == pytest.approx((cond == raw).all(1).mean()) and s["icm_fixed"] < 1
    assert s["paper"]["hard_PP"] == hard.point_patchiness(raw, Ca.shape[1])
    assert s["paper"]["hard_PP_limit"] == hard.point_patchiness(cond, Ca.shape[1])
    assert s["paper"]["soft_PP@1e-07tau0"] == pytest.approx(s["paper"]["hard_PP_limit"],
                                                             rel=1e-9)


def test_softpp_stage_and_analysis(tmp_path):
    """softpp_stage per model (fingerprints checked, both definitions) and
    softpp_analysis_stage: r of soft with hard PP and with the GLUE average per architecture
    group and pooled, equal to scipy's on the same numbers; a stale model table is refused."""
    import json

    import pandas as pd
    from scipy import stats

    from latentgeom.integrity import FingerprintError
    from latentgeom.stages import softpp_analysis_stage, softpp_stage

    table, files = _run_folder(tmp_path)
    outs = []
    for model, d in files.items():
        out = tmp_path / "softpp" / f"{model}.json"
        softpp_stage(embeddings_path=str(d / "embeddings.npy"),
                     quantized_paths=[str(d / "quantized_additive.npz"),
                                      str(d / "quantized_product.npz")],
                     out_path=str(out), model=model, factors=[0.1, 1.0], threads=1)
        outs.append(str(out))
    rec = json.loads(Path(outs[0]).read_text())
    assert set(rec["softpp"]) == {"additive", "product"}
    assert rec["provenance"]["embeddings_sha256"] and rec["provenance"]["config"]["factors"] \
        == [0.1, 1.0]
    assert rec["softpp"]["additive"]["icm_fixed"] == 1.0
    res = softpp_analysis_stage(softpp_paths=outs, table_path=str(table),
                                out_table=str(tmp_path / "a" / "softpp.csv"),
                                out_figure=str(tmp_path / "f" / "softpp.png"))
    assert (tmp_path / "f" / "softpp.png").stat().st_size > 1000
    assert (tmp_path / "f" / "softpp.pdf").is_file()
    assert set(res.scope) == {"a", "b", "pooled"} and set(res.quantizer) == {"additive",
                                                                              "product"}
    assert set(res.measure) == {"hard_PP", "soft_PP@0.1tau0", "soft_PP@1tau0"}
    row = res[(res.quantizer == "product") & (res.scope == "pooled")
              & (res.measure == "soft_PP@1tau0")].iloc[0]
    models = pd.read_csv(table).query("kind == 'perturbed'")
    soft = [json.loads(Path(p).read_text())["softpp"]["product"]["paper"]["soft_PP@1tau0"]
            for p in outs if Path(p).stem in set(models.model)]
    assert row.n == 5
    assert row.r_with_glue == pytest.approx(stats.pearsonr(soft, models.glue_average)[0])
    assert row.r_with_hard_PP == pytest.approx(stats.pearsonr(soft, models["product.PP"])[0])
    hard_row = res[(res.quantizer == "product") & (res.scope == "pooled")
                   & (res.measure == "hard_PP")].iloc[0]
    assert hard_row.r_with_hard_PP == pytest.approx(1.0)
    # a model table whose PP is not the stored codes' (another quantizer file): refused
    bad = pd.read_csv(table)
    bad.loc[bad.model == "m2", "additive.PP"] += 0.5
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match=r"m2.*additive\.PP"):
        softpp_analysis_stage(softpp_paths=outs, table_path=str(tmp_path / "bad.csv"),
                              out_table=str(tmp_path / "x.csv"), out_figure=str(tmp_path / "x"))
    assert not (tmp_path / "x.csv").exists()
    # a quantizer file not built from the matrix beside it: refused before any work
    d = files["m1"]
    other = files["m2"] / "quantized_product.npz"
    with pytest.raises(FingerprintError, match="quantized_product"):
        softpp_stage(embeddings_path=str(d / "embeddings.npy"), quantized_paths=[str(other)],
                     out_path=str(tmp_path / "y.json"), model="m1")
    assert not (tmp_path / "y.json").exists()
    with pytest.raises(ValueError, match="factors"):
        softpp_stage(embeddings_path=str(d / "embeddings.npy"),
                     quantized_paths=[str(d / "quantized_product.npz")],
                     out_path=str(tmp_path / "y.json"), factors=[0.0])
