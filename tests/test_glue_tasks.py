"""GLUE task registry and metric definitions on hand-computed cases."""
from __future__ import annotations

import math

import numpy as np
import pytest

from latentgeom.glue.tasks import (
    GLUE_TASKS,
    PAPER_TASKS,
    TaskError,
    compute_metrics,
    get_task,
    glue_average,
)


def test_registry_matches_the_paper():
    assert set(GLUE_TASKS) == {"cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte",
                               "wnli"}
    assert "wnli" not in PAPER_TASKS and len(PAPER_TASKS) == 8
    metric = {t: GLUE_TASKS[t].metric for t in GLUE_TASKS}
    assert metric == {"cola": "matthews", "sst2": "accuracy", "qnli": "accuracy",
                      "rte": "accuracy", "wnli": "accuracy", "mnli": "accuracy",
                      "mrpc": "acc_f1", "qqp": "acc_f1", "stsb": "pearson_spearman"}
    assert GLUE_TASKS["stsb"].is_regression and GLUE_TASKS["stsb"].num_labels == 1
    assert GLUE_TASKS["mnli"].num_labels == 3
    assert GLUE_TASKS["mnli"].dev_splits == ("validation_matched", "validation_mismatched")
    assert GLUE_TASKS["qqp"].text_columns == ("question1", "question2")
    assert GLUE_TASKS["qnli"].text_columns == ("question", "sentence")
    assert GLUE_TASKS["mnli"].text_columns == ("premise", "hypothesis")
    assert all(t.hub_config == t.name for t in GLUE_TASKS.values())


def test_unknown_task_is_a_clear_error():
    with pytest.raises(TaskError, match="unknown task 'glue9'.*cola"):
        get_task("glue9")
    assert get_task("SST-2").name == "sst2"


def test_accuracy_and_f1_by_hand():
    y = [1, 0, 1, 1, 0, 0]
    p = [1, 0, 0, 1, 1, 0]
    # 4 of 6 right; TP=2, FP=1, FN=1 -> precision 2/3, recall 2/3, F1 2/3.
    m = compute_metrics("acc_f1", p, y)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["f1"] == pytest.approx(2 / 3)
    assert m["score"] == pytest.approx((4 / 6 + 2 / 3) / 2)
    assert compute_metrics("accuracy", p, y)["score"] == pytest.approx(4 / 6)
    # F1 of the positive class only: all-negative predictions give 0, not an error.
    assert compute_metrics("acc_f1", [0] * 6, y)["f1"] == 0.0


def test_matthews_by_hand():
    y = [1, 1, 1, 0, 0, 0, 0, 0]
    p = [1, 1, 0, 1, 0, 0, 0, 0]
    tp, tn, fp, fn = 2, 4, 1, 1
    mcc = (tp * tn - fp * fn) / math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert compute_metrics("matthews", p, y)["score"] == pytest.approx(mcc)
    assert compute_metrics("matthews", y, y)["score"] == pytest.approx(1.0)
    assert compute_metrics("matthews", [0] * 8, y)["score"] == 0.0  # constant predictor


def test_pearson_spearman_by_hand():
    y = [1.0, 2.0, 3.0, 4.0]
    p = [1.0, 3.0, 2.0, 4.0]
    # Pearson: mean-centred x=(-1.5,-.5,.5,1.5), y'=(-1.5,.5,-.5,1.5): cov 4, var 5 -> 0.8.
    # Spearman: ranks equal the values: also 0.8.
    m = compute_metrics("pearson_spearman", p, y)
    assert m["pearson"] == pytest.approx(0.8)
    assert m["spearmanr"] == pytest.approx(0.8)
    assert m["score"] == pytest.approx(0.8)
    # Spearman differs from Pearson on a monotone non-linear map.
    m = compute_metrics("pearson_spearman", [1, 2, 3, 100], y)
    assert m["spearmanr"] == pytest.approx(1.0) and m["pearson"] < 0.9
    # A constant prediction has no correlation: score 0 (chance), components NaN.
    m = compute_metrics("pearson_spearman", [2.0] * 4, y)
    assert m["score"] == 0.0 and np.isnan(m["pearson"])


def test_glue_average():
    assert glue_average({"a": 0.5, "b": 1.0, "c": 0.0}, ["a", "b"]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="no score for task"):
        glue_average({"a": 0.5}, ["a", "b"])


def test_metric_input_checks():
    with pytest.raises(ValueError):
        compute_metrics("accuracy", [1, 0], [1])
    with pytest.raises(ValueError):
        compute_metrics("accuracy", [], [])
    with pytest.raises(TaskError):
        compute_metrics("bleu", [1], [1])
