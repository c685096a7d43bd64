"""Defaults live in the config schema (workflow/schemas/config.schema.yaml) only: the
fine-tuning dataclass and jobsize read theirs from it (latentgeom.defaults), and every default
still written elsewhere (argparse, stage keywords, config/README.md's tables) agrees with it."""
from __future__ import annotations

import inspect
import re
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from latentgeom import defaults, jobsize

REPO = Path(__file__).resolve().parents[1]
SCHEMA_FILE = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_the_package_reads_the_workflows_schema():
    assert defaults.PACKAGED.resolve() == SCHEMA_FILE.resolve()
    assert defaults.schema() == yaml.safe_load(SCHEMA_FILE.read_text())
    # shipped in a wheel too (a non-editable install has no workflow/ folder)
    assert '"config.schema.yaml"' in (REPO / "pyproject.toml").read_text()
    assert defaults.default("glue.tasks") == ["polarity", "wordsim", "adjacent", "shuffled"]
    assert defaults.node("quantize.quantizers.*.M")["default"] == 4
    with pytest.raises(KeyError, match="glue.adam_epsilon"):
        defaults.node("glue.adam_epsilon")
    assert defaults.setting({"glue": {"epochs": 7}}, "glue.epochs") == 7
    assert defaults.setting({"glue": {}}, "glue.epochs") == 3


def test_fine_tuning_settings_are_the_schemas():
    from latentgeom.glue import hparams

    glue = defaults.node("glue")["properties"]
    for f in fields(hparams.Hyperparameters):
        if f.name in hparams.NOT_IN_CONFIG:  # AdamW's, at run_glue's defaults (docstring)
            assert f.name not in glue
            continue
        assert f.default == glue[f.name]["default"], f.name
        assert type(f.default) is type(glue[f.name]["default"]), f.name
        assert hparams.choices(f.name) == (tuple(glue[f.name]["enum"])
                                           if "enum" in glue[f.name] else None), f.name
    assert hparams.NOT_IN_CONFIG == ("adam_beta1", "adam_beta2", "adam_epsilon")


@pytest.mark.parametrize("setting, bad, good", [
    ("max_length", 7, 8),           # the schema's lower bound (the dataclass had 1)
    ("max_length", 4097, 4096),
    ("learning_rate", 0.0, 1e-6),
    ("warmup_ratio", 1.0, 0.5),
    ("epochs", 0, 1),
    ("precision", "fp16", "bf16"),
    ("checkpoint_every", -1, 0),
    ("group_by_length", "yes", False),
])
def test_fine_tuning_bounds_are_the_schemas(setting, bad, good):
    from latentgeom.glue.hparams import Hyperparameters

    with pytest.raises(ValueError, match=rf"glue\.{setting} must be .*got {re.escape(repr(bad))}"):
        Hyperparameters(**{setting: bad})
    assert getattr(Hyperparameters(**{setting: good}), setting) == good


def test_jobsize_defaults_are_the_schemas():
    res = defaults.node("resources")["properties"]
    assert jobsize.HEADROOM == res["headroom"]["default"]
    assert jobsize.SETUP_MINUTES == res["setup_minutes"]["default"]
    assert jobsize.THROUGHPUT == {k: v["default"]
                                  for k, v in res["throughput"]["properties"].items()}
    # a partial config is sized with the schema's defaults (sample.n 5000, max_length null)
    assert jobsize.embedding_rows({}) == jobsize.embedding_rows(
        {"sample": {"n": 5000, "min_tokens": 3, "max_tokens": 50}})


#: argparse flags whose default is a config key's: (command, dest) -> key.
CLI_DEFAULTS = {
    ("perturb", "scope"): "models.scope",
    ("sample", "rules"): "sample.rules", ("sample", "n"): "sample.n",
    ("sample", "min_tokens"): "sample.min_tokens", ("sample", "max_tokens"): "sample.max_tokens",
    ("sample", "seed"): "sample.seed", ("sample", "n_stats"): "sample.representativeness_samples",
    ("embed", "layer"): "embed.layer", ("embed", "batch_size"): "embed.batch_size",
    ("embed", "max_length"): "embed.max_length", ("embed", "device"): "embed.device",
    ("quantize", "M"): "quantize.quantizers.*.M",
    ("quantize", "nbits"): "quantize.quantizers.*.nbits",
    ("quantize", "seed"): "quantize.seed", ("quantize", "train_size"): "quantize.train_size",
    ("quantize", "gpu"): "quantize.use_gpu",
    ("measures", "M"): "quantize.quantizers.*.M",
    ("measures", "nbits"): "quantize.quantizers.*.nbits",
    ("measures", "train_size"): "quantize.train_size", ("measures", "gpu"): "quantize.use_gpu",
    ("measures", "seed"): "measures.seed",
    ("glue-data", "seed"): "glue.minibench.seed",
    ("finetune", "device"): "glue.device",
    ("predict", "device"): "embed.device",
}


def test_command_line_defaults_agree_with_the_schema():
    from latentgeom.cli import build_parser

    commands = build_parser()._subparsers._group_actions[0].choices
    wrong = {}
    for (command, dest), key in CLI_DEFAULTS.items():
        action = next(a for a in commands[command]._actions if a.dest == dest)
        if action.default != defaults.default(key):
            wrong[f"{command} --{dest}"] = (action.default, key, defaults.default(key))
    assert not wrong, wrong
    # the fine-tuning flags default to None: the dataclass's (the schema's) default applies
    finetune = {a.dest: a for a in commands["finetune"]._actions}
    from latentgeom.glue.hparams import KEYS, Hyperparameters

    for k in KEYS:
        assert finetune[k].default is None and f"default: {getattr(Hyperparameters, k)}" \
            in finetune[k].help, k


#: stage keyword defaults that are a config key's: (module, function, keyword) -> key.
STAGE_DEFAULTS = {
    ("stages", "perturb_stage", "scope"): "models.scope",
    ("stages", "perturb_stage", "store_weights"): "models.store_weights",
    ("stages", "nonstandard_stage", "seed"): "nonstandard.*.seed",
    **{("stages", "sample_stage", k): f"sample.{v}" for k, v in
       {"n": "n", "min_tokens": "min_tokens", "max_tokens": "max_tokens", "seed": "seed",
        "n_stats": "representativeness_samples", "rules": "rules"}.items()},
    **{("stages", f, k): f"embed.{k}" for f in ("embed_stage", "embed_layers_stage")
       for k in ("batch_size", "max_length", "device")},
    ("stages", "embed_stage", "layer"): "embed.layer",
    **{("stages", "quantize_stage", k): f"quantize.{k}" for k in ("seed", "train_size",
                                                                  "use_gpu")},
    ("stages", "measures_stage", "seed"): "measures.seed",
    ("stages", "sensitivity_measures_stage", "seed"): "measures.seed",
    ("stages", "bootstrap_stage", "measure_seed"): "measures.seed",
    **{("stages", "bootstrap_stage", k): f"measures.bootstrap.{k}" for k in ("seed", "level",
                                                                             "heavy")},
    **{("stages", f, "variant"): "measures.variant" for f in
       ("uncertainty_stage", "sensitivity_analysis_stage", "layers_analysis_stage")},
    ("glue.stages", "minibench_stage", "seed"): "glue.minibench.seed",
    ("glue.stages", "finetune_stage", "device"): "glue.device",
}


def test_stage_keyword_defaults_agree_with_the_schema():
    import importlib

    wrong = {}
    for (module, func, kw), key in STAGE_DEFAULTS.items():
        fn = getattr(importlib.import_module(f"latentgeom.{module}"), func)
        got = inspect.signature(fn).parameters[kw].default
        if got != defaults.default(key):
            wrong[f"{func}({kw}=)"] = (got, key, defaults.default(key))
    assert not wrong, wrong


def test_config_readme_tables_agree_with_the_schema():
    rows = re.findall(r"^\| `([\w.<>]+)` \| `([^`|]*)` \|", (REPO / "config/README.md").read_text(),
                      flags=re.M)
    assert len(rows) > 60
    wrong = {}
    for key, text in rows:
        want = defaults.default(re.sub(r"<[^>]+>", "*", key))
        if yaml.safe_load(text) != want:
            wrong[key] = (text, want)
    assert not wrong, f"config/README.md's default differs from the schema's: {wrong}"
