"""Figures are drawn from tables, and say what is missing instead of failing."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from latentgeom import plots


def _table(with_ns=True):
    rng = np.random.default_rng(1)
    rows = []
    for arch in ("small", "base"):
        for a in (0, 0.1, 0.5, 1.0):
            for s in (0, 1):
                rows.append({"model": f"{arch}_{a}_{s}", "architecture": arch,
                             "kind": "perturbed", "alpha": a, "seed": s,
                             "glue_average": 0.8 - 0.4 * a + 0.02 * rng.standard_normal(),
                             **{f"{g}.{m}": rng.random() for g in ("additive", "product")
                                for m in ("PP", "RS", "CD_var", "PD_EEE")},
                             "spread.EEE": rng.random(), "spread.IS": rng.random()})
    if with_ns:
        rows.append({**rows[0], "model": "weird", "kind": "nonstandard", "alpha": np.nan})
    return pd.DataFrame(rows)


def _repr():
    rows = []
    for sample in ("corpus", "0", "1"):
        for r in range(1, 30):
            rows.append(("unigram", sample, r, f"w{r}", 1 / r))
            rows.append(("bigram", sample, r, f"w{r} x", 0.5 / r))
        for L in range(3, 20):
            rows.append(("length", sample, L, str(L), 1 / 17))
    return pd.DataFrame(rows, columns=["statistic", "sample", "rank", "key", "frequency"])


def test_all_figures(tmp_path):
    paths = plots.make_figures(_table(), _repr(), tmp_path)
    assert len(paths) == 22
    for p in paths:
        head = p.read_bytes()[:8]
        assert head.startswith(b"\x89PNG") or head.startswith(b"%PDF")
        assert p.stat().st_size > 2000


def test_missing_data_is_said_not_failed(tmp_path, monkeypatch):
    from matplotlib.text import Text

    said: dict[str, list[str]] = {}  # every text drawn on each figure, as it is saved
    save = plots._save

    def recording_save(fig, path):
        said[Path(path).name] = [t.get_text() for t in fig.findobj(Text) if t.get_text()]
        return save(fig, path)

    monkeypatch.setattr(plots, "_save", recording_save)
    df = _table(with_ns=False).drop(columns=["additive.PD_EEE"])
    df = df[df.architecture == "small"]
    paths = plots.make_figures(df, None, tmp_path)
    assert sorted(p.name for p in paths) == sorted(f"figure{i}.{e}" for i in range(1, 12)
                                                   for e in ("png", "pdf"))
    for p in paths:  # every figure is still written, as a real PNG / PDF
        assert p.read_bytes()[:4] in (b"\x89PNG", b"%PDF")
    assert "no representativeness table" in said["figure2"]
    assert "no non-standard models in this configuration" in said["figure5"]
    assert "additive.PD_EEE: not in the table" in said["figure6"]  # the other panels are drawn
    assert sum("not in the table" in t for t in said["figure6"]) == 1
    assert "additive.PD_EEE: no regression (too few models)" in said["figure7"]
    # the measures that are there are plotted, and nothing is said about them
    assert not any("not in the table" in t for f in ("figure9", "figure10", "figure11")
                   for t in said[f])
    assert any("r = " in t for t in said["figure3"])


def test_seed_medians():
    df = _table()
    med = plots.seed_medians(df, ["glue_average"])
    assert len(med) == 8  # 2 architectures x 4 alphas
    g = df[(df.kind == "perturbed") & (df.architecture == "small") & (df.alpha == 0.1)]
    got = med[(med.architecture == "small") & (med.alpha == 0.1)].glue_average.item()
    assert got == np.median(g.glue_average)


def test_scatter_legend_gives_r_with_its_interval():
    import matplotlib.pyplot as plt
    from scipy import stats

    df = _table(with_ns=False)
    fig, ax = plt.subplots()
    plots.scatter_measure(ax, df, "additive.PP")
    labels = ax.get_legend_handles_labels()[1]
    plt.close(fig)
    small = df[df.architecture == "small"]
    res = stats.pearsonr(small["additive.PP"], small["glue_average"])
    ci = res.confidence_interval()
    assert (f"small (r = {res.statistic:.2f} [{ci.low:.2f}, {ci.high:.2f}], n = 8)"
            in labels)
