"""The two fine-tuning engines: the fast loop and Transformers' Trainer set up as run_glue.py.

Both write one schema; the run_glue engine resumes from its own checkpoints after a kill; with
``group_by_length: false`` the fast loop visits the Trainer's examples in the Trainer's order and
starts from the same classification head.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_glue_finetune import HP, manifest, run, toy  # noqa: F401  (toy: fixture)

from latentgeom.glue.data import load_cache
from latentgeom.glue.hparams import Hyperparameters
from latentgeom.glue.model import classification_model
from latentgeom.glue.sampler import epoch_batches
from latentgeom.glue.tasks import get_task

RUN_GLUE = {**HP, "engine": "run_glue"}


def _schema(d, prefix=""):
    """Every key path of a nested dict (values' types aside)."""
    out = set()
    for k, v in d.items():
        out.add(prefix + k)
        if isinstance(v, dict) and k not in ("dev", "n_dev", "hyperparameters", "versions"):
            out |= _schema(v, prefix + k + ".")
    return out


def test_both_engines_write_the_same_schema(toy, tmp_path):  # noqa: F811
    root, base = toy
    man = manifest(base)
    hp = HP  # 4 epochs: both engines learn the toy task
    fast = run(root, man, tmp_path / "fast", hp, scratch=tmp_path / "s")
    rg = run(root, man, tmp_path / "rg", {**hp, "engine": "run_glue"}, scratch=tmp_path / "s")
    assert _schema(fast) == _schema(rg)
    assert set(fast["dev"]["validation"]) == set(rg["dev"]["validation"])
    assert rg["hyperparameters"]["engine"] == "run_glue" and rg["precision"] == "fp32"
    assert rg["train"]["steps"] == fast["train"]["steps"] == 4 * 10
    assert rg["score"] >= 0.9, rg["dev"]  # it learns the separable toy task (chance 0.5)
    a = pd.read_csv(tmp_path / "fast" / "train_log.csv")
    b = pd.read_csv(tmp_path / "rg" / "train_log.csv")
    assert list(a.columns) == list(b.columns) and len(a) == len(b) == 40
    assert b["step"].tolist() == list(range(1, 41))
    assert b["examples"].sum() == 4 * 160 and np.isfinite(b["loss"]).all()
    assert b["learning_rate"].iloc[0] == a["learning_rate"].iloc[0] == 1e-3
    assert json.loads((tmp_path / "rg" / "metrics.json").read_text())["score"] == rg["score"]
    assert not (tmp_path / "s" / man["name"] / "sst2").exists()  # scratch removed


def test_fast_loop_matches_the_trainers_order_and_head(toy, tiny_bert):  # noqa: F811
    """group_by_length false: same examples in the same order, same starting head."""
    import torch
    from transformers import Trainer, TrainerCallback, default_data_collator

    from latentgeom.glue.run_glue import PaddedDataset, training_arguments

    root, base = toy
    task = get_task("sst2")
    _, splits = load_cache(root / "cache", task)
    train = splits["train"]
    hp = Hyperparameters(**{**HP, "epochs": 2, "batch_size": 24, "micro_batch_size": 8,
                            "group_by_length": False, "engine": "run_glue"})
    man = manifest(base, alpha=0.1)

    seen = []

    class Recording(PaddedDataset):
        def __getitem__(self, i):
            seen.append(int(i))
            return super().__getitem__(i)

    heads = {}

    class HeadAtStart(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kw):
            heads["trainer"] = {k: v.detach().clone() for k, v in
                                model.classifier.state_dict().items()}

    import tempfile

    torch.set_num_threads(2)
    model, _ = classification_model(man, task.num_labels, task.problem_type, seed=hp.seed)
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(model=model, args=training_arguments(hp, out, "cpu"),
                          train_dataset=Recording(train, hp.max_length),
                          data_collator=default_data_collator, callbacks=[HeadAtStart()])
        trainer.train()
    fast_order = np.concatenate([b for e in range(hp.epochs) for b in epoch_batches(
        train.lengths, hp.batch_size, hp.seed, e, group_by_length=False)]).tolist()
    assert len(seen) == 2 * len(train)
    assert seen == fast_order
    # the optimizer steps: consecutive runs of batch_size examples (the last one shorter)
    batches = epoch_batches(train.lengths, hp.batch_size, hp.seed, 0, group_by_length=False)
    assert [len(b) for b in batches] == [24] * 6 + [16]

    fresh, _ = classification_model(man, task.num_labels, task.problem_type, seed=hp.seed)
    for k, v in fresh.classifier.state_dict().items():
        assert torch.equal(v, heads["trainer"][k]), k
    other, _ = classification_model(man, task.num_labels, task.problem_type, seed=hp.seed + 1)
    assert not torch.equal(other.classifier.weight, heads["trainer"]["weight"])


def test_engine_is_a_setting_with_its_checks():
    assert Hyperparameters().engine == "fast"
    with pytest.raises(ValueError, match="engine must be fast or run_glue"):
        Hyperparameters(engine="trainer")
    with pytest.raises(ValueError, match="multiple of glue.micro_batch_size"):
        Hyperparameters(engine="run_glue", batch_size=32, micro_batch_size=5)
    Hyperparameters(engine="fast", batch_size=32, micro_batch_size=5)  # the fast loop splits


def test_rehearsal_check_compares_both_engines_schemas(tmp_path):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rehearsal"))
    from check import engine_problems

    config = {"glue": {"engine": "fast", "compare_engines": ["m"], "tasks": ["cola"]}}
    metrics = {"task": "cola", "score": 0.1, "dev": {"validation": {"score": 0.1}},
               "train": {"steps": 3}, "hyperparameters": {"engine": "fast"}}
    a, b = tmp_path / "glue/m/cola", tmp_path / "glue/engines/run_glue/m/cola"
    assert engine_problems(config, tmp_path) and "missing" in engine_problems(config, tmp_path)[0]
    for d, engine in ((a, "fast"), (b, "run_glue")):
        d.mkdir(parents=True)
        (d / "metrics.json").write_text(json.dumps(
            {**metrics, "hyperparameters": {"engine": engine}}))
        (d / "train_log.csv").write_text("step,epoch,loss\n1,1,0.5\n")
    assert engine_problems(config, tmp_path) == []
    (b / "metrics.json").write_text(json.dumps({**metrics, "train": {},
                                                "hyperparameters": {"engine": "run_glue"}}))
    found = engine_problems(config, tmp_path)
    assert len(found) == 1 and "train.steps" in found[0]


def test_without_dropout_both_engines_take_the_same_steps(toy):  # noqa: F811
    """The audit of issue 17, in one assertion: with every dropout at p = 0 and
    ``group_by_length: false``, the fast loop and the Trainer train the same model through the
    same optimizer steps (clipping at max_grad_norm, AdamW's settings, the linear schedule, the
    loss, the last short batch, the step count) to the same weights, step by step; what is left
    between the engines is padding and kernels (float rounding) and dropout's random masks."""
    import sys
    from pathlib import Path

    import torch

    from latentgeom.glue.run_glue import train_and_evaluate as trainer_engine
    from latentgeom.glue.train import train_and_evaluate as fast_engine

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from engines import without_dropout

    root, base = toy
    task = get_task("sst2")
    _, splits = load_cache(root / "cache", task)
    man = manifest(base, alpha=0.1)
    # lr 1e-2 so that clipping at 1.0 is active (checked below); 160 examples in batches of
    # 24: a short last batch of 16 in each of 2 epochs
    kw = {**HP, "learning_rate": 1e-2, "batch_size": 24, "epochs": 2, "group_by_length": False,
          "checkpoint_every": 0}
    torch.set_num_threads(2)
    out = {}
    for engine, fn in (("fast", fast_engine), ("run_glue", trainer_engine)):
        hp = Hyperparameters(**{**kw, "engine": engine})
        model, _ = classification_model(man, task.num_labels, task.problem_type, seed=hp.seed)
        out[engine] = fn(without_dropout(model), task, splits, hp, device="cpu")
    fast, rg = out["fast"], out["run_glue"]
    assert fast.metrics["train"]["steps"] == rg.metrics["train"]["steps"] == 2 * 7
    a, b = pd.DataFrame(fast.log_rows), pd.DataFrame(rg.log_rows)
    assert (a["grad_norm"] > 1.0).any()  # clipping was at work
    np.testing.assert_allclose(a["learning_rate"], b["learning_rate"], rtol=1e-6)
    np.testing.assert_allclose(a["loss"], b["loss"], rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(a["grad_norm"], b["grad_norm"], rtol=1e-3, atol=1e-4)
    pa = dict(fast.model.named_parameters())
    for n, p in rg.model.named_parameters():
        if n.endswith("key.bias"):
            # softmax is invariant to a key bias: its gradient is 0 but for float rounding,
            # which AdamW's normalisation turns into full-size steps of either sign
            continue
        torch.testing.assert_close(pa[n].detach(), p.detach(), rtol=1e-3, atol=1e-4, msg=n)
    assert fast.metrics["dev"] == rg.metrics["dev"]
    # and dropout's masks alone move them apart
    hp = Hyperparameters(**{**kw, "engine": "fast"})
    model, _ = classification_model(man, task.num_labels, task.problem_type, seed=hp.seed)
    with_dropout = fast_engine(model, task, splits, hp, device="cpu")
    assert not np.allclose(pd.DataFrame(with_dropout.log_rows)["loss"], a["loss"], atol=1e-3)
