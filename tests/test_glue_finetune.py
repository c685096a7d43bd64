"""Fine-tuning: a tiny model learns a toy task, resume-after-kill is exact, shared cache, bad
models, CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from latentgeom.glue.data import GlueDataError, build_cache
from latentgeom.glue.model import classification_model
from latentgeom.glue.sampler import epoch_batches
from latentgeom.glue.stages import finetune_stage as finetune
from latentgeom.glue.tasks import get_task
from latentgeom.glue.train import TrainingInterrupted

A = "red green blue yellow orange purple brown black white pink".split()
B = "dog cat horse cow sheep goat mouse bird fish duck".split()
HP = {"learning_rate": 1e-3, "batch_size": 16, "epochs": 4, "max_length": 32, "seed": 7}


def toy_frame(n, seed):
    """Label 1: a sentence of animal words; 0: colour words. Separable by any bag of tokens."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        y = i % 2
        words = rng.choice(B if y else A, size=int(rng.integers(3, 9)))
        rows.append((" ".join(words), y))
    return pd.DataFrame(rows, columns=["sentence", "label"])


@pytest.fixture(scope="module")
def toy(tmp_path_factory, tiny_bert):
    root = tmp_path_factory.mktemp("toy")
    (root / "data").mkdir()
    toy_frame(160, 0).to_csv(root / "data" / "train.csv", index=False)
    toy_frame(60, 1).to_csv(root / "data" / "validation.csv", index=False)
    base = f"path:{tiny_bert}"
    build_cache(task=get_task("sst2"), source=root / "data", tokenizer_source=base,
                out_dir=root / "cache", max_length=32)
    return root, base


def manifest(base, alpha=0.0, seed=0, name=None):
    """A perturbed model's manifest, with the checksum consumers verify."""
    from latentgeom.models import make_manifest, perturbed_model

    model, _, changed = perturbed_model(base, alpha, seed)
    return make_manifest(name=name or f"tiny_a{alpha}_s{seed}", base=base, alpha=alpha,
                         seed=seed, scope="encoder_weights", architecture="tiny", model=model,
                         changed=changed)


def run(root, man, out, hp=HP, **kw):
    return finetune(manifest=man, task="sst2", cache_dir=root / "cache",
                    out_metrics=out / "metrics.json", out_log=out / "train_log.csv",
                    hyperparameters=hp, threads=2, **kw)


def test_tiny_model_learns_a_separable_task(toy, tmp_path):
    root, base = toy
    m = run(root, manifest(base), tmp_path / "out", scratch=tmp_path / "scratch")
    assert m["score"] >= 0.9, m["dev"]  # chance is 0.5
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["score"] == m["score"] and saved["hyperparameters"]["learning_rate"] == 1e-3
    log = pd.read_csv(tmp_path / "out" / "train_log.csv")
    assert len(log) == m["train"]["steps"] == 4 * 10
    assert log["loss"].iloc[-5:].mean() < log["loss"].iloc[:5].mean()
    assert not (tmp_path / "scratch" / m["model"] / "sst2").exists()  # cleaned on success


@pytest.mark.parametrize("engine, checkpoints", [
    ("fast", "*/checkpoint.pt"),         # the fast loop's one checkpoint file
    ("run_glue", "*/checkpoint-6"),      # the Trainer's own folder (save_total_limit=1)
])
def test_resume_after_kill_gives_the_same_result(toy, tmp_path, engine, checkpoints):
    """Both engines: a kill loses only the steps since the last checkpoint, and the resumed run
    equals the uninterrupted one exactly (dev scores and the whole train log)."""
    root, base = toy
    hp = {**HP, "engine": engine, "epochs": 2, "checkpoint_every": 3}
    man = manifest(base, alpha=0.05)
    full = run(root, man, tmp_path / "full", hp, scratch=tmp_path / "s1")
    # "Kill" after 7 steps: the last checkpoint is at step 6, step 7's work is lost.
    with pytest.raises(TrainingInterrupted):
        run(root, man, tmp_path / "resumed", hp, scratch=tmp_path / "s2", stop_after_steps=7)
    assert not (tmp_path / "resumed" / "metrics.json").exists()
    kept = list((tmp_path / "s2" / man["name"] / "sst2").glob("*/checkpoint*"))
    assert len(kept) == 1 and kept[0].match(checkpoints)
    resumed = run(root, man, tmp_path / "resumed", hp, scratch=tmp_path / "s2")
    assert resumed["train"]["resumed_from_step"] == 6
    assert resumed["dev"] == full["dev"]  # exactly, on the CPU
    a = pd.read_csv(tmp_path / "full" / "train_log.csv")
    b = pd.read_csv(tmp_path / "resumed" / "train_log.csv")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


def test_checkpoint_of_other_settings_is_not_resumed(toy, tmp_path):
    root, base = toy
    hp = {**HP, "epochs": 1, "checkpoint_every": 2}
    man = manifest(base)
    with pytest.raises(TrainingInterrupted):
        run(root, man, tmp_path / "o", hp, scratch=tmp_path / "s", stop_after_steps=3)
    m = run(root, man, tmp_path / "o", {**hp, "learning_rate": 5e-4}, scratch=tmp_path / "s")
    assert m["train"]["resumed_from_step"] is None


def test_one_cache_serves_several_models(toy, tmp_path):
    root, base = toy
    before = {p: p.stat().st_mtime_ns for p in (root / "cache").iterdir()}
    hp = {**HP, "epochs": 1}
    scores = [run(root, manifest(base, alpha=a), tmp_path / str(a), hp,
                  scratch=tmp_path / "s")["dev"] for a in (0.0, 0.5)]
    assert {p: p.stat().st_mtime_ns for p in (root / "cache").iterdir()} == before
    assert len(scores) == 2


def test_head_is_fresh_and_encoder_is_the_perturbed_one(tiny_bert):
    from latentgeom.models import load_from_manifest

    man = manifest(f"path:{tiny_bert}", alpha=0.3, seed=1)
    model, _ = classification_model(man, 3, "single_label_classification", seed=5)
    enc, _ = load_from_manifest(man)
    ref = enc.state_dict()
    for k, v in model.base_model.state_dict().items():
        assert np.array_equal(v.numpy(), ref[k].numpy()), k
    assert model.classifier.out_features == 3
    again, _ = classification_model(man, 3, "single_label_classification", seed=5)
    assert np.array_equal(model.classifier.weight.detach().numpy(),
                          again.classifier.weight.detach().numpy())


def test_vocabulary_that_does_not_fit_is_an_error_before_training(toy, tmp_path, minilm_dir):
    from transformers import AutoTokenizer, BertConfig, BertModel

    root, _ = toy
    small = tmp_path / "small_vocab"
    BertModel(BertConfig(vocab_size=500, hidden_size=32, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=64)).save_pretrained(small)
    AutoTokenizer.from_pretrained(minilm_dir).save_pretrained(small)
    with pytest.raises(GlueDataError, match="does not fit"):
        run(root, manifest(f"path:{small}"), tmp_path / "out", scratch=tmp_path / "s")
    assert not (tmp_path / "out").exists()


def test_unknown_task_and_bad_settings_fail_first(toy, tmp_path):
    root, base = toy
    with pytest.raises(ValueError, match="unknown task"):
        finetune(manifest=manifest(base), task="nope", cache_dir=root / "cache",
                 out_metrics=tmp_path / "m.json", out_log=tmp_path / "l.csv")
    with pytest.raises(ValueError, match="unknown fine-tuning setting"):
        run(root, manifest(base), tmp_path / "o", {"lr": 1e-3})
    with pytest.raises(GlueDataError, match="max_length"):
        run(root, manifest(base), tmp_path / "o", {**HP, "max_length": 64})
    assert not (tmp_path / "o").exists()


def test_epoch_batches_cover_every_example_once():
    lengths = np.random.default_rng(0).integers(3, 60, size=203)
    for group in (True, False):
        b = epoch_batches(lengths, 16, seed=1, epoch=2, group_by_length=group)
        assert len(b) == 13 and sorted(np.concatenate(b).tolist()) == list(range(203))
        again = epoch_batches(lengths, 16, seed=1, epoch=2, group_by_length=group)
        assert all(np.array_equal(x, y) for x, y in zip(b, again))
    grouped = epoch_batches(lengths, 16, seed=1, epoch=2, group_by_length=True)
    spread = np.mean([np.ptp(lengths[x]) for x in grouped])
    assert spread < 0.5 * np.ptp(lengths)  # length-grouped: little padding


def test_cli_finetune_runs_alone(toy, tmp_path, tiny_bert):
    from latentgeom.cli import main

    root, _ = toy
    rc = main(["finetune", "--model", tiny_bert, "--task", "sst2", "--data", str(root / "data"),
               "--out", str(tmp_path / "cli"), "--epochs", "1", "--max-length", "32",
               "--learning-rate", "1e-3", "--batch-size", "16", "--scratch",
               str(tmp_path / "s"), "--threads", "2"])
    assert rc == 0
    m = json.loads((tmp_path / "cli" / "metrics.json").read_text())
    assert m["task"] == "sst2" and 0 <= m["score"] <= 1
    assert main(["finetune", "--model", tiny_bert, "--task", "nope", "--data", "hub",
                 "--out", str(tmp_path / "x")]) == 2


def test_one_list_of_settings_for_dataclass_rule_params_and_cli_flags():
    from dataclasses import fields

    from latentgeom.cli import build_parser
    from latentgeom.glue.hparams import KEYS, Hyperparameters, from_config

    assert KEYS == tuple(f.name for f in fields(Hyperparameters))
    glue = {**{k: None for k in KEYS}, "device": "cpu", "scratch": None, "tasks": ["cola"]}
    assert list(from_config(glue)) == list(KEYS)  # only settings, in the dataclass's order
    finetune = build_parser()._subparsers._group_actions[0].choices["finetune"]
    dests = {a.dest for a in finetune._actions}
    assert set(KEYS) <= dests
    args = finetune.parse_args(["--model", "m", "--task", "t", "--data", "d", "--out", "o",
                                "--no-group-by-length", "--precision", "fp32",
                                "--adam-epsilon", "1e-6", "--micro-batch-size", "4"])
    hp = {k: getattr(args, k) for k in KEYS if getattr(args, k) is not None}
    assert hp == {"group_by_length": False, "precision": "fp32", "adam_epsilon": 1e-6,
                  "micro_batch_size": 4}
    Hyperparameters.from_dict(hp)  # every flag is a valid setting
