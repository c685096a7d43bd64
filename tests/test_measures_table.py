"""The measures package's shape (issue 18): one table of rules per definition, shared by the
measures stage and the bootstrap; inputs checked at every public entry; one schema module."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from latentgeom import analysis, bootstrap, plots, schema, sensitivity
from latentgeom import measures as M

RNG = np.random.default_rng(18)


def _data(n=400, d=8, Mq=2, K=8):
    X = RNG.standard_normal((n, d)) @ RNG.standard_normal((d, d))
    X[3:9] = X[0]  # duplicates: the authors' per-cell unique rows differ from the paper's
    q = {}
    for name, kind, dsub in (("additive", "additive", d), ("product", "product", d // Mq)):
        codes = RNG.integers(0, K, size=(n, Mq))
        codes[:K] = np.arange(K)[:, None]
        q[name] = (codes, RNG.standard_normal((Mq, K, dsub)), kind)
    return X, q


def test_each_definition_is_one_table_of_every_measure():
    assert set(M.METHODS) == set(schema.VARIANTS)
    for table in M.METHODS.values():
        assert list(table) == list(schema.SPREAD + schema.QUANTIZED)
        assert all(callable(rule) for rule in table.values())


def test_bootstrap_with_unit_weights_equals_the_measures_stage():
    X, q = _data()
    stage = M.measure_variants(X, q, seed=5)
    prep = bootstrap._Prepared(X, q, M.VARIANTS)
    fast = bootstrap.fast_measures(prep, np.ones(len(X)), seed=5)
    assert list(fast) == list(stage)
    for v in stage:
        assert list(fast[v]) == list(stage[v])
        for group, vals in stage[v].items():
            assert list(fast[v][group]) == list(vals)
            for name, x in vals.items():
                y = fast[v][group][name]
                if name in bootstrap.HEAVY:
                    assert np.isnan(y), (v, group, name)
                elif name in ("EEE", "IS", "RE"):  # covariance / sum of squares by weights
                    assert y == pytest.approx(x, rel=1e-12, abs=1e-15), (v, group, name)
                else:  # the same inputs, the same rule: the same bits
                    assert y == x, (v, group, name)


def test_stage_and_bootstrap_read_the_same_rule(monkeypatch):
    # Replacing one rule of one definition changes that measure in both, and nothing else.
    X, q = _data(n=200)
    monkeypatch.setitem(M.AUTHORS, "PC_kl", lambda inputs: 42.0 + inputs.K)
    monkeypatch.setitem(M.PAPER, "EEE", lambda inputs: -1.0)
    stage = M.measure_variants(X, q)
    fast = bootstrap.fast_measures(bootstrap._Prepared(X, q, M.VARIANTS), np.ones(len(X)))
    for res in (stage, fast):
        assert res["authors"]["additive"]["PC_kl"] == res["authors"]["product"]["PC_kl"] == 50.0
        assert res["paper"]["spread"]["EEE"] == -1.0
        assert res["paper"]["additive"]["PC_kl"] != 50.0
        assert res["authors"]["spread"]["EEE"] != -1.0
    assert M.eee(X) == -1.0 and M.point_count_kl(q["product"][0], 8, "authors") == 50.0


def _code_calls(X, codes, cb, kind, K):
    """Every public function that takes codes, called with ``codes``."""
    return {
        "cell_counts": lambda: M.cell_counts(codes, K),
        "authors_counts": lambda: M.authors_counts(codes, K),
        "odds_ratios": lambda: M.odds_ratios(codes, K),
        "point_patchiness": lambda: M.point_patchiness(codes, K),
        "point_count_var": lambda: M.point_count_var(codes, K, "authors"),
        "point_count_kl": lambda: M.point_count_kl(codes, K),
        "cell_eee_values": lambda: M.cell_eee_values(X, codes, kind, K=K),
        "cell_eee": lambda: M.cell_eee(X, codes, kind, "authors", K),
        "decode": lambda: M.decode(codes, cb, kind),
        "reconstruction_norms": lambda: M.reconstruction_norms(X, codes, cb, kind),
        "quantized_measures": lambda: M.quantized_measures(X, codes, cb, kind),
        "quantized_variants": lambda: M.quantized_variants(X, codes, cb, kind),
        "measure_variants": lambda: M.measure_variants(X, {"q": (codes, cb, kind)}),
        "all_measures": lambda: M.all_measures(X, {"q": (codes, cb, kind)}),
    }


@pytest.mark.parametrize("bad", ["too_big", "negative", "float"])
def test_out_of_range_codes_raise_at_every_public_entry(bad):
    n, d, Mq, K = 60, 4, 2, 4
    X = RNG.standard_normal((n, d))
    cb = RNG.standard_normal((Mq, K, d // Mq))
    codes = RNG.integers(0, K, size=(n, Mq))
    wrong = {"too_big": codes + np.eye(n, Mq, dtype=int) * K, "negative": codes - 1,
             "float": codes.astype(float)}[bad]
    msg = r"codes: values must be in \[0, 4\)" if bad != "float" else "codes: expected integers"
    for call in _code_calls(X, codes, cb, "product", K).values():
        call()  # the valid codes pass
    missed = {}
    for name, call in _code_calls(X, wrong, cb, "product", K).items():
        try:
            call()
            missed[name] = "no error"
        except ValueError as e:
            if not re.search(msg, str(e)):
                missed[name] = str(e)
    assert not missed


def test_a_code_of_the_next_codebook_is_not_counted_there():
    # codes[:, 0] == K once: the flat index K * 0 + K would land in codebook 1's first cell
    codes = np.array([[0, 0], [1, 1], [2, 0], [0, 1]])
    with pytest.raises(ValueError, match=r"codes: values must be in \[0, 2\), got \[0, 2\]"):
        M.cell_counts(codes, 2)
    np.testing.assert_array_equal(M.cell_counts(codes, 3), [[2, 1, 1], [2, 2, 0]])


def test_shape_errors_name_the_argument():
    X = RNG.standard_normal((20, 4))
    codes = RNG.integers(0, 4, size=(20, 2))
    cb = RNG.standard_normal((2, 4, 2))
    with pytest.raises(ValueError, match=r"codes: expected shape \(20, 2\)"):
        M.reconstruction_norms(X, codes[:10], cb, "product")
    with pytest.raises(ValueError, match="codes: expected shape"):
        M.cell_counts(codes[:, 0], 4)
    with pytest.raises(ValueError, match="codebooks: product sub-dimensions"):
        M.reconstruction_norms(X[:, :3], codes, cb, "product")
    with pytest.raises(ValueError, match="kind"):
        M.decode(codes, cb, "residual")
    with pytest.raises(ValueError, match="Xrec: expected the shape of X"):
        M.reconstruction_error(X, X[:5])
    with pytest.raises(ValueError, match="codes: 2 product codebooks do not split d = 3"):
        M.cell_eee_values(X[:, :3], codes, "product", K=4)
    counts = M.cell_counts(codes, 4)
    with pytest.raises(ValueError, match=r"counts: expected \(M, 5\) cell counts"):
        M.pp_from_counts(counts, 5)
    with pytest.raises(ValueError, match="counts: expected finite, non-negative"):
        M.pc_var_from_counts(counts - 3, 20, 4, "authors")
    with pytest.raises(ValueError, match="counts: expected"):
        M.histogram_counts(counts[0])
    with pytest.raises(ValueError, match="Z: expected a 2-D matrix"):
        M.vasicek_entropy(X[:, 0])
    with pytest.raises(ValueError, match="uniform reference"):
        M.uniform_reference_histograms(0, 2, 4)


def test_column_names_have_one_home():
    assert analysis.AUTHORS is schema.AUTHORS and analysis.VARIANTS is schema.VARIANTS
    assert analysis.QUANTIZED is schema.QUANTIZED is M.QUANTIZED_KEYS
    assert analysis.SPREAD is schema.SPREAD is M.SPREAD_KEYS
    assert analysis.GROUP_ORDER is schema.GROUP_ORDER and analysis.CI is schema.CI
    assert analysis.PAPER_NAMES is schema.PAPER_NAMES
    assert M.VARIANTS is schema.VARIANTS and sensitivity.QUANTIZED is schema.QUANTIZED
    assert plots.GROUP_ORDER is schema.GROUP_ORDER
    assert bootstrap.flat_names({"paper": {"spread": {"EEE": 1}}, "authors": {"a": {"PP": 2}}}) \
        == {"spread.EEE": 1.0, "authors:a.PP": 2.0}
    assert schema.order(["spread.IS", "product.RS", "x.Y", "additive.PD_EEE", "additive.PP",
                         "spread.EEE"]) == ["additive.PP", "additive.PD_EEE", "product.RS",
                                            "spread.EEE", "spread.IS", "x.Y"]


def test_measures_modules_stay_small():
    root = Path(M.__file__).parent
    sizes = {f.name: len(f.read_text().splitlines()) for f in root.glob("*.py")}
    assert len(sizes) >= 6 and max(sizes.values()) < 450, sizes
