"""benchmarks/engines.py: its arms (the engines and the diagnostics of issue 17) and its table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import engines  # noqa: E402

COMMON = {"batch_size": 16, "learning_rate": 3e-4, "epochs": 3, "group_by_length": True}


@pytest.mark.parametrize("arm, engine, grouped, dropout", [
    ("fast", "fast", True, True), ("run_glue", "run_glue", True, True),
    ("fast-nogroup", "fast", False, True), ("fast-nogroup-nodropout", "fast", False, False),
    ("run_glue-nodropout", "run_glue", True, False)])
def test_each_arm_switches_what_its_name_says(arm, engine, grouped, dropout):
    hp, on = engines.variant_hparams(COMMON, 5, arm)
    assert (hp.engine, hp.group_by_length, on, hp.seed) == (engine, grouped, dropout, 5)
    assert (hp.batch_size, hp.learning_rate, hp.epochs) == (16, 3e-4, 3)


def test_without_dropout_makes_training_mode_deterministic():
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Dropout(0.5),
                              torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(8, 2)))
    net.train()
    x = torch.randn(4, 8)
    assert not torch.equal(net(x), net(x))  # dropout at work
    assert engines.without_dropout(net) is net
    assert all(m.p == 0.0 for m in net.modules() if isinstance(m, torch.nn.Dropout))
    assert net.training and torch.equal(net(x), net(x))
    net.eval()
    torch.testing.assert_close(net(x), net[2][1](net[0](x)))


def test_table_pairs_arms_by_seed_and_flags_an_interval_excluding_zero():
    rows = []
    for seed, (a, b) in enumerate([(0.5, 0.6), (0.5, 0.65), (0.55, 0.7), (0.5, 0.62)], 1):
        for arm, score in (("run_glue", a), ("fast", b)):
            rows.append({"task": "polarity", "n_train": 120, "n_dev": 80, "alpha": 0.05,
                         "seed": seed, "engine": arm, "score": score, "ex_per_s": 10.0})
    rows.append({**rows[0], "seed": 9})  # run_glue alone at seed 9: not paired
    out = engines.table(rows)
    line = next(x for x in out.splitlines() if x.startswith("| polarity"))
    cells = [c.strip() for c in line.split("|")[1:-1]]
    assert cells[1:5] == ["0.05", "4", "0.512 ± 0.025", "0.642 ± 0.043"]
    assert cells[5].startswith("+0.130") and cells[5].endswith("*")
    assert "4 paired runs" in out


def test_chance_counts_count_exact_chance_scores_per_arm_and_test_them():
    rows = [{"task": "polarity", "n_train": 120, "n_dev": 80, "alpha": 0.05, "seed": i,
             "engine": arm, "score": 0.5 if i < k else 0.6, "ex_per_s": 1.0}
            for arm, k in (("run_glue", 9), ("fast", 1), ("fast-nogroup", 9)) for i in range(10)]
    rows.append({**rows[0], "task": "wordsim"})  # other tasks are not counted
    out = engines.chance_counts(rows).splitlines()
    assert out[2:] == [
        "| polarity (120/80) | 0.05 | fast | 10 | 1 | 0.10 | 0.00 |",
        "| polarity (120/80) | 0.05 | run_glue | 10 | 9 | 0.90 |  |",
        "| polarity (120/80) | 0.05 | fast-nogroup | 10 | 9 | 0.90 | 1.00 |"]


def test_chance_counts_pool_over_the_alphas_each_arm_ran_at():
    rows = [{"task": "polarity", "n_train": 120, "n_dev": 80, "alpha": a, "seed": i,
             "engine": arm, "score": 0.5 if i < k else 0.6, "ex_per_s": 1.0}
            for a, arms in ((0.025, (("run_glue", 2), ("fast", 0))),
                            (0.05, (("run_glue", 3), ("fast", 1), ("fast-nogroup", 3))))
            for arm, k in arms for i in range(4)]
    out = engines.chance_counts(rows).splitlines()
    assert out[-3:] == [
        "| polarity (120/80) | 0.025, 0.05 | fast | 8 | 1 | 0.12 | 0.12 |",
        "| polarity (120/80) | 0.025, 0.05 | run_glue | 8 | 5 | 0.62 |  |",
        "| polarity (120/80) | 0.05 | fast-nogroup | 4 | 3 | 0.75 | 1.00 |"]
