"""Build a tiny, offline stand-in of every Hugging Face artifact ``config/paper.yaml`` names.

    python rehearsal/standin_hub.py --out DIR

then, with ``HF_HOME=DIR HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1``, the
libraries' own, unchanged ``from_pretrained("<hub id>")`` and ``load_dataset("<hub id>",
"<config>")`` calls read it where a real run finds a populated cache; the three Sinha et al.
fairseq checkpoints are plain files under ``DIR/sinha/``. Nothing is downloaded; the build is
deterministic (two builds give the same bytes). Each stand-in keeps the real artifact's format
and quirks and only shrinks sizes: rehearsal/README.md lists what is reproduced and where it
was read. The models are one table, :data:`REPOS`; the text and datasets are in
``standin_text.py``.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import re
import shutil
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from standin_text import (
    GLUE,
    PTB_CONFIG,
    PTB_ID,
    SEED,
    WIKITEXT_CONFIGS,
    WIKITEXT_ID,
    _corpus_text,
    _sentences,
    _vocabularies,
    build_corpora,
    build_glue,
)

# Sizes of the stand-ins. BERT-base family shares one hidden size (embedding swaps).
BERT_BASE = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
BERT_SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
ROBERTA = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)

SINHA = ("roberta.base.orig", "roberta.base.shuffle.n1", "roberta.base.shuffle.corpus")
__all__ = ["GLUE", "MODEL_IDS", "REPOS", "SINHA", "build", "main", "offline_env"]


OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def offline_env(out: str | os.PathLike) -> dict[str, str]:
    """The environment variables that point the libraries at a stand-in built into ``out``."""
    return {"HF_HOME": str(Path(out).resolve()), **OFFLINE_ENV}



# ----------------------------------------------------------------------------- files
class Repo:
    """Files of one model repository, written into the hub-cache layout on :meth:`commit`."""

    def __init__(self, repo_id: str):
        self.repo_id = repo_id
        self.files: dict[str, bytes] = {}

    def add(self, name: str, data: bytes | str) -> None:
        self.files[name] = data.encode("utf-8") if isinstance(data, str) else data

    def add_json(self, name: str, obj, *, indent: int | None = 2, sort_keys: bool = True) -> None:
        self.add(name, json.dumps(obj, indent=indent, sort_keys=sort_keys, ensure_ascii=False)
                 + ("\n" if indent else ""))

    def commit(self, hub: Path) -> str:
        h = hashlib.sha1()
        for name in sorted(self.files):
            h.update(name.encode() + b"\0" + hashlib.sha256(self.files[name]).digest())
        sha = h.hexdigest()
        root = hub / ("models--" + self.repo_id.replace("/", "--"))
        (root / "refs").mkdir(parents=True, exist_ok=True)
        (root / "refs" / "main").write_text(sha)
        snap = root / "snapshots" / sha
        for name, data in sorted(self.files.items()):
            blob = root / "blobs" / hashlib.sha256(data).hexdigest()
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            target = snap / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(blob, target.parent), target)
        return sha


def _torch_bytes(state: dict) -> bytes:
    """A ``torch.save`` zip archive in memory (deterministic: no timestamps in the archive)."""
    import torch

    buf = io.BytesIO()
    torch.save(state, buf)
    return buf.getvalue()


def _safetensors_bytes(state: dict) -> bytes:
    from safetensors.torch import save

    return save({k: v.detach().contiguous().clone() for k, v in state.items()},
                metadata={"format": "pt"})


def _seeded(seed: int):
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


def _bert_pretraining_state(config_kwargs: dict, seed: int, *, gamma_beta: bool,
                            drop_decoder_bias: bool) -> OrderedDict:
    from transformers import BertConfig, BertForPreTraining

    _seeded(seed)
    model = BertForPreTraining(BertConfig(**config_kwargs)).eval()
    state = OrderedDict()
    for k, v in model.state_dict().items():
        if drop_decoder_bias and k == "cls.predictions.decoder.bias":
            continue
        if gamma_beta and ".LayerNorm." in k:
            k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias",
                                                                          "LayerNorm.beta")
        state[k] = v.detach().clone()
    return state


def _roberta_config(vocab_size: int, **extra) -> dict:
    cfg = {"architectures": ["RobertaForMaskedLM"], "attention_probs_dropout_prob": 0.1,
           "bos_token_id": 0, "eos_token_id": 2, "hidden_act": "gelu",
           "hidden_dropout_prob": 0.1, "initializer_range": 0.02, "layer_norm_eps": 1e-05,
           "max_position_embeddings": 514, "model_type": "roberta", "pad_token_id": 1,
           "type_vocab_size": 1, "vocab_size": vocab_size, **ROBERTA}
    cfg.update(extra)
    return cfg



# ----------------------------------------------------------------------------- models
@dataclass(frozen=True)
class RepoSpec:
    """One model repository (rehearsal/README.md: what it keeps of the real one)."""

    repo_id: str
    family: str              # config.json's fields: bert-small | bert-base | roberta
    tokenizer: str           # its vocabulary and tokenizer files: en | zh | de | bpe
    weights: str             # bert (BertForPreTraining keys) | roberta-mlm | roberta (no prefix)
    seed: int                # its weights are drawn with seed SEED + seed
    files: tuple[str, ...]   # the repository's files besides config.json, as its tree lists them
    config: dict = field(default_factory=dict)  # config.json's fields beyond the family's
    tokenizer_config: dict | None = None        # tokenizer_config.json, in this key order
    legacy_names: bool = False  # the 2018 TF conversion: LayerNorm gamma/beta, no decoder bias


_BIN, _ST = "pytorch_model.bin", "model.safetensors"
_BERT_FILES = (_BIN, _ST, "vocab.txt", "tokenizer.json", "tokenizer_config.json")
_AAJRAMI = {"classifier_dropout": None, "gradient_checkpointing": False,
            "position_embedding_type": "absolute", "torch_dtype": "float32",
            "transformers_version": "4.19.0", "use_cache": True}

#: Every model repository of the stand-in hub.
REPOS = (
    RepoSpec("prajjwal1/bert-small", "bert-small", "en", "bert", 1, (_BIN, "vocab.txt")),
    RepoSpec("bert-base-uncased", "bert-base", "en", "bert", 2, _BERT_FILES,
             config={"gradient_checkpointing": False, "position_embedding_type": "absolute",
                     "transformers_version": "4.6.0.dev0", "use_cache": True},
             tokenizer_config={"do_lower_case": True, "model_max_length": 512},
             legacy_names=True),
    RepoSpec("bert-base-chinese", "bert-base", "zh", "bert", 3, _BERT_FILES,
             config={"directionality": "bidi", "pooler_fc_size": BERT_BASE["hidden_size"],
                     "pooler_num_attention_heads": BERT_BASE["num_attention_heads"],
                     "pooler_num_fc_layers": 3, "pooler_size_per_head": 128,
                     "pooler_type": "first_token_transform"},
             tokenizer_config={"do_lower_case": False, "model_max_length": 512},
             legacy_names=True),
    RepoSpec("dbmdz/bert-base-german-uncased", "bert-base", "de", "bert", 4,
             (_BIN, _ST, "vocab.txt", "tokenizer_config.json"),
             tokenizer_config={"do_lower_case": True, "max_len": 512, "init_inputs": []}),
    RepoSpec("roberta-base", "roberta", "bpe", "roberta-mlm", 5,
             (_BIN, _ST, "vocab.json", "merges.txt", "tokenizer.json", "dict.txt",
              "tokenizer_config.json"), tokenizer_config={"model_max_length": 512}),
    *(RepoSpec(f"aajrami/bert-{name}-base", "roberta", "bpe", "roberta", 10 + j,
               (_BIN, "vocab.json", "merges.txt", "tokenizer_config.json"),
               config={"architectures": ["RobertaModel"], "_name_or_path": f"bert-{name}-base",
                       **_AAJRAMI},
               tokenizer_config={"model_max_length": 512, "tokenizer_class": "RobertaTokenizer"})
      for j, name in enumerate(("mlm", "fc", "ascii", "rand"))),
)
MODEL_IDS = tuple(spec.repo_id for spec in REPOS)


def _family_config(family: str, vocab_size: int) -> dict:
    if family == "bert-small":  # as published: no model_type, no architectures
        return {"hidden_size": BERT_SMALL["hidden_size"], "hidden_act": "gelu",
                "initializer_range": 0.02, "vocab_size": vocab_size, "hidden_dropout_prob": 0.1,
                "num_attention_heads": BERT_SMALL["num_attention_heads"], "type_vocab_size": 2,
                "max_position_embeddings": 512,
                "num_hidden_layers": BERT_SMALL["num_hidden_layers"],
                "intermediate_size": BERT_SMALL["intermediate_size"],
                "attention_probs_dropout_prob": 0.1}
    if family == "bert-base":
        return {"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1,
                "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "initializer_range": 0.02,
                "layer_norm_eps": 1e-12, "max_position_embeddings": 512, "model_type": "bert",
                "pad_token_id": 0, "type_vocab_size": 2, **BERT_BASE, "vocab_size": vocab_size}
    return _roberta_config(vocab_size)


def _weights(spec: RepoSpec, cfg: dict) -> OrderedDict:
    """The seeded state dict of one repository, under the real checkpoint's key names."""
    if spec.weights == "bert":
        return _bert_pretraining_state(_cfg_kwargs(cfg), SEED + spec.seed,
                                       gamma_beta=spec.legacy_names,
                                       drop_decoder_bias=spec.legacy_names)
    from transformers import RobertaConfig, RobertaForMaskedLM, RobertaModel

    _seeded(SEED + spec.seed)
    cls = RobertaForMaskedLM if spec.weights == "roberta-mlm" else RobertaModel
    model = cls(RobertaConfig(**_cfg_kwargs(cfg))).eval()
    state = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    if spec.weights == "roberta-mlm":
        assert not any(".pooler." in k for k in state), "roberta-base must ship without a pooler"
    return state


def build_models(hub: Path, sentences: list[str]) -> dict[str, dict]:
    """Every repository of :data:`REPOS` into ``hub``: ``{repo id: {sha, vocab_size}}``, and
    ``_roberta``: roberta-base's config and ``dict.txt``, which the Sinha checkpoints share."""
    kits = _vocabularies(sentences)
    info: dict[str, dict] = {}
    for spec in REPOS:
        kit = kits[spec.tokenizer]
        cfg = {**_family_config(spec.family, kit["size"]), **spec.config}
        repo = Repo(spec.repo_id)
        if spec.family == "bert-small":
            repo.add("config.json", json.dumps(cfg))  # one line, as published
        else:
            repo.add_json("config.json", cfg)
        state = _weights(spec, cfg)
        for name in spec.files:
            if name == _BIN:
                repo.add(name, _torch_bytes(state))
            elif name == _ST:
                repo.add(name, _safetensors_bytes(state))
            elif name == "tokenizer_config.json":
                repo.add_json(name, spec.tokenizer_config, indent=None, sort_keys=False)
            else:
                repo.add(name, kit[name])
        info[spec.repo_id] = {"sha": repo.commit(hub), "vocab_size": kit["size"]}
        if spec.repo_id == "roberta-base":
            info["_roberta"] = {"config": cfg, "dict_txt": kit["dict.txt"]}
    return info


def _cfg_kwargs(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items()
            if k not in ("architectures", "model_type", "_name_or_path", "transformers_version")}


# ----------------------------------------------------------------------------- fairseq
def _fairseq_cfg(rcfg: dict, name: str):
    from omegaconf import OmegaConf

    h = rcfg["hidden_size"]
    cfg = {
        "_name": None,
        "common": {"_name": None, "no_progress_bar": False, "log_interval": 100,
                   "log_format": "json", "seed": 1, "cpu": False, "fp16": True,
                   "fp16_init_scale": 128, "memory_efficient_fp16": False},
        "common_eval": {"_name": None, "path": None, "quiet": False},
        "distributed_training": {"_name": None, "distributed_world_size": 32,
                                 "distributed_backend": "nccl", "ddp_backend": "c10d"},
        "dataset": {"_name": None, "num_workers": 1, "max_tokens": None, "batch_size": 16,
                    "required_batch_size_multiple": 8, "valid_subset": "valid"},
        "optimization": {"_name": None, "max_epoch": 0, "max_update": 100000,
                         "clip_norm": 0.0, "update_freq": [16], "lr": [0.0006]},
        "checkpoint": {"_name": None, "save_dir": f"checkpoints/{name}",
                       "restore_file": "checkpoint_last.pt", "no_save_optimizer_state": False,
                       "best_checkpoint_metric": "loss", "maximize_best_checkpoint_metric": False},
        "bmuf": {"_name": None, "block_lr": 1.0},
        "generation": {"_name": None, "beam": 5},
        "eval_lm": {"_name": None, "output_word_probs": False},
        "interactive": {"_name": None, "buffer_size": 0},
        "model": {"_name": "roberta", "arch": "roberta_base",
                  "encoder_layers": rcfg["num_hidden_layers"],
                  "encoder_embed_dim": h, "encoder_ffn_embed_dim": rcfg["intermediate_size"],
                  "encoder_attention_heads": rcfg["num_attention_heads"],
                  "activation_fn": "gelu", "pooler_activation_fn": "tanh", "dropout": 0.1,
                  "attention_dropout": 0.1, "activation_dropout": 0.0,
                  "max_positions": rcfg["max_position_embeddings"] - 2,
                  "untie_weights_roberta": False, "encoder_learned_pos": True,
                  "encoder_normalize_before": False},
        "task": {"_name": "masked_lm", "data": f"data-bin/{name}", "sample_break_mode": "complete",
                 "tokens_per_sample": 512, "mask_prob": 0.15, "leave_unmasked_prob": 0.1,
                 "random_token_prob": 0.1, "seed": 1},
        "criterion": {"_name": "masked_lm", "tpu": False},
        "optimizer": {"_name": "adam", "adam_betas": "(0.9,0.98)", "adam_eps": 1e-06,
                      "weight_decay": 0.01, "lr": [0.0006]},
        "lr_scheduler": {"_name": "polynomial_decay", "warmup_updates": 24000,
                         "end_learning_rate": 0.0, "total_num_update": 100000, "lr": [0.0006]},
        "scoring": {"_name": "bleu"},
        "bpe": {"_name": "gpt2", "gpt2_encoder_json": "encoder.json",
                "gpt2_vocab_bpe": "vocab.bpe"},
        "tokenizer": None,
    }
    return OmegaConf.create(cfg)


def _fairseq_state(rcfg: dict, seed: int) -> OrderedDict:
    """Fairseq RoBERTa keys for a seeded tiny encoder + LM head (built from a HF RoBERTa)."""
    import torch
    from transformers import RobertaConfig, RobertaModel

    try:
        from latentgeom.nonstandard import hf_to_fairseq_roberta
    except ImportError:  # run from a checkout without `pip install -e .`
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
        from latentgeom.nonstandard import hf_to_fairseq_roberta

    _seeded(seed)
    hf = RobertaModel(RobertaConfig(**_cfg_kwargs(rcfg)), add_pooling_layer=False).eval()
    hf_state = hf.state_dict()
    hf_state["embeddings.token_type_embeddings.weight"] = torch.zeros_like(
        hf_state["embeddings.token_type_embeddings.weight"])  # fairseq has no token types
    fs = hf_to_fairseq_roberta(hf_state)
    fs.pop("encoder.lm_head.bias", None)
    pre = "encoder.sentence_encoder."
    state = OrderedDict()
    state[pre + "version"] = torch.tensor([3.0])
    for k in sorted(fs, key=_fairseq_order):
        state[k.replace("emb_layer_norm", "layernorm_embedding")] = fs[k].detach().clone()
    h, v = rcfg["hidden_size"], rcfg["vocab_size"]
    g = torch.Generator().manual_seed(seed + 7)
    state["encoder.lm_head.weight"] = state[pre + "embed_tokens.weight"]  # tied, as in fairseq
    state["encoder.lm_head.bias"] = torch.zeros(v)
    state["encoder.lm_head.dense.weight"] = torch.randn(h, h, generator=g) * 0.02
    state["encoder.lm_head.dense.bias"] = torch.zeros(h)
    state["encoder.lm_head.layer_norm.weight"] = torch.ones(h)
    state["encoder.lm_head.layer_norm.bias"] = torch.zeros(h)
    return state


def _fairseq_order(k: str):
    m = re.search(r"layers\.(\d+)\.", k)
    return (1, int(m.group(1)), k) if m else (0, 0, k)


def build_sinha(out: Path, rcfg: dict, dict_txt: str) -> dict[str, str]:
    import torch

    paths = {}
    for j, name in enumerate(SINHA):
        folder = out / "sinha" / name
        folder.mkdir(parents=True, exist_ok=True)
        state = _fairseq_state(rcfg, SEED + 100 + j)
        n_params = len([k for k in state if not k.endswith("version")])
        ckpt = {
            "cfg": _fairseq_cfg(rcfg, name),
            "args": None,
            "model": state,
            "optimizer_history": [{"criterion_name": "MaskedLmLoss",
                                   "optimizer_name": "FairseqAdam",
                                   "lr_scheduler_state": {"best": 1.9 + 0.1 * j},
                                   "num_updates": 100000}],
            "extra_state": {"epoch": 40, "val_loss": 1.9 + 0.1 * j, "best": 1.9 + 0.1 * j,
                            "train_iterator": {"epoch": 40, "iterations_in_epoch": 2500,
                                               "shuffle": True},
                            "metrics": {}, "previous_training_time": 86400.0},
            "last_optimizer_state": {"state": {}, "param_groups": [
                {"lr": 0.0, "betas": (0.9, 0.98), "eps": 1e-06, "weight_decay": 0.01,
                 "amsgrad": False, "params": list(range(n_params))}]},
        }
        torch.save(ckpt, folder / "model.pt")
        (folder / "dict.txt").write_text(dict_txt, encoding="utf-8")
        paths[name] = str(folder / "model.pt")
    return paths



# ----------------------------------------------------------------------------- main
def build(out: str | os.PathLike, *, force: bool = False) -> dict:
    """Build the stand-in into ``out`` (an empty or absent folder, or any folder with force)."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"stand-in hub: {out} is not empty (use --force)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    hub, ds_root = out / "hub", out / "datasets"
    sentences = _sentences(_corpus_text())
    models = build_models(hub, sentences)
    rb = models.pop("_roberta")
    sinha = build_sinha(out, rb["config"], rb["dict_txt"])
    glue = build_glue(ds_root, sentences)
    build_corpora(ds_root, sentences)
    manifest = {
        "env": {k: (v if k != "HF_HOME" else "<this folder>") for k, v in offline_env(out).items()},
        "models": models,
        "sinha_checkpoints": {k: str(Path(v).relative_to(out)) for k, v in sinha.items()},
        "datasets": {"nyu-mll/glue": glue, PTB_ID: {"config": PTB_CONFIG,
                                                     "revision": "refs/convert/parquet"},
                     WIKITEXT_ID: list(WIKITEXT_CONFIGS)},
    }
    (out / "standin.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="folder to become HF_HOME (created)")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out")
    a = p.parse_args(argv)
    build(a.out, force=a.force)
    env = " ".join(f"{k}={v}" for k, v in offline_env(a.out).items())
    print(f"stand-in hub built in {a.out}\nuse: {env}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
