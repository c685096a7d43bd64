"""The GLUE task registry and its metrics.

Each task names its ``nyu-mll/glue`` config, text columns, label count (1 = regression), the dev
split(s) it is scored on and the score the paper used (from the authors' scripts; docs/glue.md):

========  ==============================  ============================
task      score                           dev split(s)
========  ==============================  ============================
cola      Matthews correlation            validation
sst2      accuracy                        validation
mrpc      mean of accuracy and F1         validation
qqp       mean of accuracy and F1         validation
stsb      mean of Pearson and Spearman    validation
mnli      accuracy (matched)              validation_matched (+ mismatched, reported)
qnli      accuracy                        validation
rte       accuracy                        validation
wnli      accuracy                        validation
========  ==============================  ============================

The GLUE average is the mean of the scores over the configured tasks (the paper: the 8 without
WNLI). The metrics are the scikit-learn / SciPy calls of the GLUE definitions (those of
``evaluate.load("glue", ...)``, which fetches its code from the hub at run time):
``matthews_corrcoef``, ``accuracy_score``, ``f1_score`` (binary, positive class 1),
``scipy.stats.pearsonr`` and ``spearmanr``.

The registry also holds the offline mini-benchmark (``latentgeom.glue.minibench``): four proxy
tasks in the same schema, built from data the ``gensim`` wheel ships. They are *not* GLUE.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Score functions by name (see :func:`compute_metrics`).
METRICS = ("matthews", "accuracy", "acc_f1", "pearson_spearman")

#: The paper's GLUE average: the 8 tasks without WNLI (Devlin et al. 2018).
PAPER_TASKS = ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte")


class TaskError(ValueError):
    """An unknown task name or an invalid task definition."""


@dataclass(frozen=True)
class Task:
    """One downstream task.

    ``num_labels == 1`` means regression (STS-B): labels are floats, the head has one output and
    the loss is the mean squared error. ``dev_splits[0]`` is the split the score is taken on;
    further dev splits (MNLI mismatched) are evaluated and reported too.
    """

    name: str
    text_columns: tuple[str, ...]
    num_labels: int
    metric: str
    dev_splits: tuple[str, ...] = ("validation",)
    hub_config: str | None = None
    label_column: str = "label"
    train_split: str = "train"
    label_range: tuple[float, float] | None = None
    description: str = ""
    train_size: int | None = field(default=None, compare=False)

    def __post_init__(self):
        if self.metric not in METRICS:
            raise TaskError(f"task {self.name!r}: metric must be one of {METRICS}")
        if not 1 <= len(self.text_columns) <= 2:
            raise TaskError(f"task {self.name!r}: one or two text columns")
        if self.num_labels < 1:
            raise TaskError(f"task {self.name!r}: num_labels must be >= 1")

    @property
    def is_regression(self) -> bool:
        return self.num_labels == 1

    @property
    def problem_type(self) -> str:
        return "regression" if self.is_regression else "single_label_classification"

    @property
    def splits(self) -> tuple[str, ...]:
        """Every split a run needs: train then the dev split(s)."""
        return (self.train_split, *self.dev_splits)

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.text_columns, self.label_column)


GLUE_TASKS: dict[str, Task] = {t.name: t for t in (
    Task("cola", ("sentence",), 2, "matthews", hub_config="cola", train_size=8551,
         description="acceptability (single sentence)"),
    Task("sst2", ("sentence",), 2, "accuracy", hub_config="sst2", train_size=67349,
         description="sentiment (single sentence)"),
    Task("mrpc", ("sentence1", "sentence2"), 2, "acc_f1", hub_config="mrpc", train_size=3668,
         description="paraphrase (pair)"),
    Task("qqp", ("question1", "question2"), 2, "acc_f1", hub_config="qqp", train_size=363846,
         description="question paraphrase (pair)"),
    Task("stsb", ("sentence1", "sentence2"), 1, "pearson_spearman", hub_config="stsb",
         label_range=(0.0, 5.0), train_size=5749, description="similarity (pair regression)"),
    Task("mnli", ("premise", "hypothesis"), 3, "accuracy", hub_config="mnli",
         dev_splits=("validation_matched", "validation_mismatched"), train_size=392702,
         description="inference (pair, 3 classes)"),
    Task("qnli", ("question", "sentence"), 2, "accuracy", hub_config="qnli", train_size=104743,
         description="question-answer entailment (pair)"),
    Task("rte", ("sentence1", "sentence2"), 2, "accuracy", hub_config="rte", train_size=2490,
         description="entailment (pair)"),
    Task("wnli", ("sentence1", "sentence2"), 2, "accuracy", hub_config="wnli", train_size=635,
         description="coreference inference (pair)"),
)}

#: The offline proxy tasks built by :mod:`latentgeom.glue.minibench` (GLUE schema, not GLUE).
MINI_TASKS: dict[str, Task] = {t.name: t for t in (
    Task("polarity", ("sentence",), 2, "accuracy",
         description="SST-like: movie-review sentence polarity (Pang & Lee, gensim test data)"),
    Task("wordsim", ("sentence1", "sentence2"), 1, "pearson_spearman", label_range=(0.0, 5.0),
         description="STS-B-like: human word-pair similarity (SimLex-999 + WordSim-353), 0-5"),
    Task("adjacent", ("sentence1", "sentence2"), 2, "acc_f1",
         description="QNLI/MRPC-like: are two sentences consecutive in one news article?"),
    Task("shuffled", ("sentence",), 2, "matthews",
         description="CoLA-like: original (1) vs. word-order-shuffled (0) sentence"),
)}

TASKS: dict[str, Task] = {**GLUE_TASKS, **MINI_TASKS}


def get_task(name: str) -> Task:
    """The registered task ``name`` (case-insensitive); a clear error listing the known ones."""
    key = str(name).lower().replace("-", "")
    aliases = {"sst": "sst2", "stsb": "stsb", "mnlim": "mnli", "mnlimatched": "mnli"}
    key = aliases.get(key, key)
    if key not in TASKS:
        raise TaskError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[key]


# --------------------------------------------------------------------------- metrics


def _check(preds, labels) -> tuple[np.ndarray, np.ndarray]:
    p, y = np.asarray(preds), np.asarray(labels)
    if p.shape != y.shape or p.ndim != 1:
        raise ValueError(f"predictions {p.shape} and labels {y.shape} must be 1-D of one length")
    if p.size == 0:
        raise ValueError("no predictions to score")
    return p, y


def accuracy(preds: Sequence, labels: Sequence) -> float:
    """Fraction of exact matches (``sklearn.metrics.accuracy_score``)."""
    from sklearn.metrics import accuracy_score

    p, y = _check(preds, labels)
    return float(accuracy_score(y, p))


def f1(preds: Sequence, labels: Sequence) -> float:
    """Binary F1 of the positive class 1 (``sklearn.metrics.f1_score``; 0 when undefined)."""
    from sklearn.metrics import f1_score

    p, y = _check(preds, labels)
    return float(f1_score(y, p, pos_label=1, average="binary", zero_division=0))


def matthews(preds: Sequence, labels: Sequence) -> float:
    """Matthews correlation (``sklearn.metrics.matthews_corrcoef``; 0 for a constant predictor)."""
    from sklearn.metrics import matthews_corrcoef

    p, y = _check(preds, labels)
    return float(matthews_corrcoef(y, p))


def _correlation(fn, preds: Sequence, labels: Sequence) -> float:
    p, y = _check(preds, labels)
    p, y = p.astype(np.float64), y.astype(np.float64)
    if np.ptp(p) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(fn(p, y)[0])


def pearson(preds: Sequence, labels: Sequence) -> float:
    """Pearson r (``scipy.stats.pearsonr``); NaN when either side is constant."""
    from scipy.stats import pearsonr

    return _correlation(pearsonr, preds, labels)


def spearman(preds: Sequence, labels: Sequence) -> float:
    """Spearman rho (``scipy.stats.spearmanr``); NaN when either side is constant."""
    from scipy.stats import spearmanr

    return _correlation(spearmanr, preds, labels)


def compute_metrics(metric: str, preds: Sequence, labels: Sequence) -> dict[str, float]:
    """Every component of ``metric`` and the task ``score`` (GLUE definitions).

    - ``matthews``: ``{"matthews_correlation", "score"}``;
    - ``accuracy``: ``{"accuracy", "score"}``;
    - ``acc_f1``: ``{"accuracy", "f1", "score" = (accuracy + f1) / 2}`` (MRPC, QQP);
    - ``pearson_spearman``: ``{"pearson", "spearmanr", "score" = (pearson + spearmanr) / 2}``
      (STS-B). A constant prediction has no correlation: its score is taken as 0, not NaN, so
      that a collapsed model counts as chance in the average (the components stay NaN).
    """
    if metric == "matthews":
        m = matthews(preds, labels)
        return {"matthews_correlation": m, "score": m}
    if metric == "accuracy":
        a = accuracy(preds, labels)
        return {"accuracy": a, "score": a}
    if metric == "acc_f1":
        a, f = accuracy(preds, labels), f1(preds, labels)
        return {"accuracy": a, "f1": f, "score": (a + f) / 2}
    if metric == "pearson_spearman":
        r, s = pearson(preds, labels), spearman(preds, labels)
        score = (r + s) / 2 if np.isfinite(r) and np.isfinite(s) else 0.0
        return {"pearson": r, "spearmanr": s, "score": float(score)}
    raise TaskError(f"unknown metric {metric!r}; known: {METRICS}")


def glue_average(scores: dict[str, float], tasks: Sequence[str] | None = None) -> float:
    """Mean of the task scores over ``tasks`` (default: every task in ``scores``).

    Raises if a task asked for has no score, so a missing task is never silently averaged out.
    """
    tasks = list(tasks) if tasks is not None else list(scores)
    if not tasks:
        raise ValueError("no tasks to average")
    missing = [t for t in tasks if t not in scores]
    if missing:
        raise ValueError(f"GLUE average: no score for task(s) {missing}")
    return float(np.mean([float(scores[t]) for t in tasks]))
