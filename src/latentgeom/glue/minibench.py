"""The offline mini-benchmark: four GLUE-schema proxy tasks from data the ``gensim`` wheel ships.

A *proxy* benchmark, not GLUE: it covers GLUE's task types so the default pipeline runs offline
in minutes, and its scores fall with the perturbation like GLUE's do.

=========  ==================  ==========================================================  ========
task       GLUE analogue       data (``gensim/test/test_data/``)                           score
=========  ==================  ==========================================================  ========
polarity   SST-2               ``pang_lee_polarity.cor``: 200 movie-review sentences,      accuracy
                               human polarity labels (the source SST was built from)
wordsim    STS-B               ``simlex999.txt`` + ``wordsim353.tsv``: human similarity    Pearson/
                               of word pairs (0-10, rescaled to STS-B's 0-5)               Spearman
adjacent   QNLI / MRPC         ``lee_background.cor`` news articles: are two sentences     acc/F1
                               consecutive in one article (1) or from two articles (0)?
shuffled   CoLA                ``lee_background.cor`` sentences: original (1) or words     Matthews
                               shuffled (0)
=========  ==================  ==========================================================  ========

Splits are fixed by ``seed`` and disjoint: polarity and wordsim split examples (word pairs
unordered and de-duplicated across the two lists), adjacent and shuffled split *articles*, so no
sentence of a dev example occurs in training. Classes are balanced in every split.
"""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np

#: (train, dev) examples per task; chosen for the 15-minute default budget (README).
DEFAULT_SIZES: dict[str, tuple[int, int]] = {
    "polarity": (120, 80),
    "wordsim": (240, 160),
    "adjacent": (120, 100),
    "shuffled": (150, 120),
}
TASK_NAMES = tuple(DEFAULT_SIZES)
MIN_WORDS, MAX_WORDS = 5, 40
#: adjacent pairs two sentences: shorter ones keep its examples as cheap as the others.
MAX_PAIR_WORDS = 25


def _rng(seed: int, task: str) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(
        [int(seed), zlib.crc32(task.encode())])))


def _data_dir() -> Path:
    from ..corpus import gensim_test_data

    return gensim_test_data()


def _check_sizes(task: str, n_train: int, n_dev: int, available: int) -> None:
    if n_train < 2 or n_dev < 2:
        raise ValueError(f"glue.minibench.sizes.{task}: need at least 2 train and 2 dev examples")
    if n_train + n_dev > available:
        raise ValueError(f"glue.minibench.sizes.{task}: {n_train} + {n_dev} examples asked for, "
                         f"only {available} available")


def polarity(n_train: int, n_dev: int, seed: int):
    import pandas as pd

    lines = _decode((_data_dir() / "pang_lee_polarity.cor").read_bytes()).splitlines()
    by_label: dict[int, list[str]] = {0: [], 1: []}
    seen = set()
    for line in lines:
        tag, _, text = line.strip().partition(" ")
        text = text.strip()
        if not text or text in seen:
            continue
        seen.add(text)
        by_label[{"__label__neg": 0, "__label__pos": 1}[tag]].append(text)
    per = min(len(v) for v in by_label.values())
    _check_sizes("polarity", n_train, n_dev, 2 * per)
    rng = _rng(seed, "polarity")
    train, dev = [], []
    for label, texts in by_label.items():
        texts = [texts[i] for i in rng.permutation(len(texts))]
        nd, nt = n_dev // 2 + (label and n_dev % 2), n_train // 2 + (label and n_train % 2)
        dev += [(t, label) for t in texts[:nd]]
        train += [(t, label) for t in texts[nd:nd + nt]]
    frames = []
    for rows in (train, dev):
        rows = [rows[i] for i in rng.permutation(len(rows))]
        frames.append(pd.DataFrame({"sentence": [r[0] for r in rows],
                                    "label": [r[1] for r in rows]}))
    return frames


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:  # pang_lee_polarity.cor is Windows-1252
        return raw.decode("cp1252", errors="replace")


def _read_pairs(path: Path) -> list[tuple[str, str, float]]:
    out = []
    for line in _decode(path.read_bytes()).splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        a, b, score = line.split("\t")[:3]
        out.append((a.strip().lower(), b.strip().lower(), float(score)))
    return out


def wordsim(n_train: int, n_dev: int, seed: int):
    import pandas as pd

    pairs, seen = [], set()
    for fname in ("simlex999.txt", "wordsim353.tsv"):
        for a, b, score in _read_pairs(_data_dir() / fname):
            key = tuple(sorted((a, b)))
            if key in seen:
                continue
            seen.add(key)
            pairs.append((a, b, round(min(max(score, 0.0), 10.0) / 2.0, 4)))
    _check_sizes("wordsim", n_train, n_dev, len(pairs))
    rng = _rng(seed, "wordsim")
    pairs = [pairs[i] for i in rng.permutation(len(pairs))]
    dev, train = pairs[:n_dev], pairs[n_dev:n_dev + n_train]
    return [pd.DataFrame({"sentence1": [p[0] for p in rows], "sentence2": [p[1] for p in rows],
                          "label": [p[2] for p in rows]}) for rows in (train, dev)]


def _articles() -> list[list[str]]:
    """Sentences of each Lee news article (5-40 words each, consecutive order kept)."""
    from ..corpus import read_lines, split_sentences

    docs = []
    for doc in read_lines([_data_dir() / "lee_background.cor"]):
        docs.append([s for s in split_sentences(doc)])
    return docs


def _split_articles(docs: list[list[str]], rng: np.random.Generator, dev_fraction: float):
    order = rng.permutation(len(docs))
    n_dev = int(round(dev_fraction * len(docs)))
    return [docs[i] for i in order[n_dev:]], [docs[i] for i in order[:n_dev]]


def _ok(s: str) -> bool:
    return MIN_WORDS <= len(s.split()) <= MAX_WORDS


def _adjacent_rows(docs: list[list[str]], n: int, rng: np.random.Generator, part: str):
    def ok(s):
        return MIN_WORDS <= len(s.split()) <= MAX_PAIR_WORDS

    pos = [(a, b) for d in docs for a, b in zip(d, d[1:]) if ok(a) and ok(b)]
    n_pos, n_neg = n - n // 2, n // 2
    if len(pos) < n_pos:
        raise ValueError(f"glue.minibench.sizes.adjacent: {part} split asks for {n_pos} "
                         f"positive pairs, only {len(pos)} available")
    pos = [pos[i] for i in rng.choice(len(pos), n_pos, replace=False)]
    sents = [(k, s) for k, d in enumerate(docs) for s in d if ok(s)]
    neg = []
    firsts = [(k, s) for k, d in enumerate(docs) for s in d[:-1] if ok(s)]
    for i in rng.choice(len(firsts), n_neg, replace=len(firsts) < n_neg):
        k, a = firsts[i]
        while True:
            k2, b = sents[int(rng.integers(len(sents)))]
            if k2 != k:
                break
        neg.append((a, b))
    rows = [(a, b, 1) for a, b in pos] + [(a, b, 0) for a, b in neg]
    return [rows[i] for i in rng.permutation(len(rows))]


def adjacent(n_train: int, n_dev: int, seed: int):
    import pandas as pd

    rng = _rng(seed, "adjacent")
    train_docs, dev_docs = _split_articles(_articles(), rng, 0.4)
    frames = []
    for docs, n, part in ((train_docs, n_train, "train"), (dev_docs, n_dev, "dev")):
        _check_sizes("adjacent", n, 2, 10**9)
        rows = _adjacent_rows(docs, n, rng, part)
        frames.append(pd.DataFrame({"sentence1": [r[0] for r in rows],
                                    "sentence2": [r[1] for r in rows],
                                    "label": [r[2] for r in rows]}))
    return frames


def shuffle_words(sentence: str, rng: np.random.Generator) -> str:
    """The sentence's words in a random order (never the original); final punctuation kept."""
    end = sentence[-1] if sentence[-1] in ".!?" else ""
    words = (sentence[:-1] if end else sentence).split()
    if len(set(words)) < 2:
        raise ValueError(f"cannot shuffle {sentence!r}")
    while True:
        perm = rng.permutation(len(words))
        out = [words[i] for i in perm]
        if out != words:
            return " ".join(out) + end


def shuffled(n_train: int, n_dev: int, seed: int):
    import pandas as pd

    rng = _rng(seed, "shuffled")
    train_docs, dev_docs = _split_articles(_articles(), rng, 0.4)
    frames = []
    for docs, n, part in ((train_docs, n_train, "train"), (dev_docs, n_dev, "dev")):
        sents = sorted({s for d in docs for s in d if _ok(s) and len(set(s.split())) > 2})
        if len(sents) < n:
            raise ValueError(f"glue.minibench.sizes.shuffled: {part} split asks for {n} "
                             f"sentences, only {len(sents)} available")
        chosen = [sents[i] for i in rng.choice(len(sents), n, replace=False)]
        labels = np.zeros(n, dtype=np.int64)
        labels[rng.permutation(n)[: n - n // 2]] = 1
        texts = [s if y else shuffle_words(s, rng) for s, y in zip(chosen, labels)]
        frames.append(pd.DataFrame({"sentence": texts, "label": labels}))
    return frames


BUILDERS = {"polarity": polarity, "wordsim": wordsim, "adjacent": adjacent,
            "shuffled": shuffled}


def build_task(task: str, n_train: int, n_dev: int, seed: int = 0):
    """``(train, validation)`` DataFrames of one mini-benchmark task (GLUE schema + ``idx``)."""
    if task not in BUILDERS:
        raise ValueError(f"unknown mini-benchmark task {task!r}; known: {list(BUILDERS)}")
    frames = BUILDERS[task](int(n_train), int(n_dev), int(seed))
    for f in frames:
        f.insert(len(f.columns), "idx", np.arange(len(f)))
    return frames


def build_minibench(out_dir: str | Path, *, tasks: list[str] | None = None,
                    sizes: dict[str, Any] | None = None, seed: int = 0) -> dict[str, Any]:
    """Write ``out_dir/{task}/{train,validation}.csv`` for each task; return a summary."""
    from ..io import write_csv, write_json

    out_dir = Path(out_dir)
    tasks = list(tasks or TASK_NAMES)
    sizes = {**DEFAULT_SIZES, **{k: tuple(v) for k, v in (sizes or {}).items()}}
    built = {t: build_task(t, *sizes[t], seed=seed) for t in tasks}  # all checks before writing
    info: dict[str, Any] = {"seed": seed, "tasks": {}}
    for t, (train, dev) in built.items():
        write_csv(out_dir / t / "train.csv", train)
        write_csv(out_dir / t / "validation.csv", dev)
        info["tasks"][t] = {"train": len(train), "validation": len(dev),
                            "label_mean": {"train": float(train["label"].mean()),
                                           "validation": float(dev["label"].mean())}}
    write_json(out_dir / "minibench.json", info)
    return info
