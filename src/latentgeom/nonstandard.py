"""The non-standard models of Section 3.4, built from named recipes.

Recipes (config ``nonstandard.<name>.recipe``):

- ``embedding_swap`` (Zhang 2021, *Chinese*/*German*): ``source``'s encoder with its input
  (word) embeddings replaced by ``donor``'s, vocabulary and tokenizer of the donor.
- ``shuffle_embeddings`` (Zhang 2021, *Shuffle*): ``source`` with the rows of its input
  embedding matrix permuted (seeded), tokenizer unchanged, so every token id points at another
  token's vector.
- ``untrained`` (Zhang 2021, *Untrained*): a randomly initialised model of ``source``'s
  configuration (the config's own initialiser, N(0, ``initializer_range`` = 0.02)), seeded, with
  ``donor``'s (default: ``source``'s) pretrained input embeddings.
- ``pretrained`` (Alajrami & Aletras 2022): a ready model, used as it is, with the tokenizer named
  by ``tokenizer`` (e.g. ``roberta-base``).
- ``fairseq_roberta`` (Sinha et al. 2021): a fairseq RoBERTa checkpoint (``model.pt``) converted
  to the Transformers RoBERTa layout by :func:`fairseq_to_hf_roberta` (no fairseq dependency).

The file-level stage (:func:`latentgeom.stages.nonstandard_stage`) stores each model's weights
(``save_pretrained``) and writes the same manifest as perturbed models, with ``kind:
nonstandard``, the recipe, its sources, its tokenizer (:func:`tokenizer_source`) and the
weights' checksum.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .models import load_base, load_config

RECIPES = ("embedding_swap", "shuffle_embeddings", "untrained", "pretrained", "fairseq_roberta")


def _word_embeddings(model):
    return model.get_input_embeddings()


def swap_input_embeddings(model, donor) -> None:
    """Replace ``model``'s input (word) embeddings by a copy of ``donor``'s, in place.

    The vocabulary size follows the donor; hidden sizes must match.
    """
    import torch

    src = _word_embeddings(donor).weight.detach()
    if src.shape[1] != model.config.hidden_size:
        raise ValueError(f"embedding swap: donor hidden size {src.shape[1]} != model hidden size "
                         f"{model.config.hidden_size}")
    emb = torch.nn.Embedding(src.shape[0], src.shape[1],
                             padding_idx=_word_embeddings(donor).padding_idx)
    emb.weight.data.copy_(src)
    model.set_input_embeddings(emb)
    model.config.vocab_size = int(src.shape[0])
    for key in ("pad_token_id", "bos_token_id", "eos_token_id"):
        if hasattr(donor.config, key):
            setattr(model.config, key, getattr(donor.config, key))


def shuffle_input_embeddings(model, seed: int) -> np.ndarray:
    """Permute the rows of the input embedding matrix (seeded), in place; returns the permutation.

    Row ``i`` of the result is row ``perm[i]`` of the original.
    """
    import torch

    w = _word_embeddings(model).weight
    perm = np.random.default_rng(seed).permutation(w.shape[0])
    with torch.no_grad():
        w.copy_(w[torch.as_tensor(perm)].clone())
    return perm


def untrained_like(source_model, seed: int):
    """A freshly initialised model of ``source_model``'s configuration (its own initialiser)."""
    import torch
    from transformers import AutoModel

    torch.manual_seed(int(seed))
    model = AutoModel.from_config(source_model.config)
    model.eval()
    return model


# ----------------------------------------------------------------------------- fairseq
_FS_LAYER = {
    "self_attn.q_proj": "attention.self.query",
    "self_attn.k_proj": "attention.self.key",
    "self_attn.v_proj": "attention.self.value",
    "self_attn.out_proj": "attention.output.dense",
    "self_attn_layer_norm": "attention.output.LayerNorm",
    "fc1": "intermediate.dense",
    "fc2": "output.dense",
    "final_layer_norm": "output.LayerNorm",
}
_FS_EMB = {
    "embed_tokens.weight": "embeddings.word_embeddings.weight",
    "embed_positions.weight": "embeddings.position_embeddings.weight",
    "emb_layer_norm.weight": "embeddings.LayerNorm.weight",
    "emb_layer_norm.bias": "embeddings.LayerNorm.bias",
    "layernorm_embedding.weight": "embeddings.LayerNorm.weight",
    "layernorm_embedding.bias": "embeddings.LayerNorm.bias",
}


def fairseq_to_hf_roberta(state: dict[str, Any]) -> dict[str, Any]:
    """Map a fairseq RoBERTa state dict to Transformers ``RobertaModel`` keys.

    Handles the ``encoder.sentence_encoder.`` (fairseq ≤ 0.9) and ``decoder.sentence_encoder.``
    prefixes, the separate q/k/v projections and the older fused ``in_proj_weight``. The LM head
    (``*.lm_head.*``) is dropped; RoBERTa's single token-type embedding is zeros (fairseq has none).
    """
    import torch

    prefixes = ("encoder.sentence_encoder.", "decoder.sentence_encoder.", "sentence_encoder.")
    out: dict[str, Any] = {}
    for key, val in state.items():
        p = next((p for p in prefixes if key.startswith(p)), None)
        if p is None:
            continue  # lm head, version counters, ...
        rest = key[len(p):]
        if rest in _FS_EMB:
            out[_FS_EMB[rest]] = val
            continue
        rest = re.sub(r"in_proj_(weight|bias)$", r"in_proj.\1", rest)
        m = re.match(r"layers\.(\d+)\.(.+)\.(weight|bias)$", rest)
        if not m:
            continue
        i, mod, kind = m.groups()
        if mod == "self_attn.in_proj":  # fused q, k, v
            q, k, v = torch.chunk(val, 3, dim=0)
            for name, t in zip(("query", "key", "value"), (q, k, v)):
                out[f"encoder.layer.{i}.attention.self.{name}.{kind}"] = t
            continue
        if mod not in _FS_LAYER:
            raise KeyError(f"fairseq checkpoint: unknown parameter {key!r}")
        out[f"encoder.layer.{i}.{_FS_LAYER[mod]}.{kind}"] = val
    if "embeddings.word_embeddings.weight" not in out:
        raise KeyError("fairseq checkpoint: no sentence_encoder.embed_tokens.weight found")
    return out


def hf_to_fairseq_roberta(state: dict[str, Any], prefix: str = "encoder.sentence_encoder.",
                          fused_qkv: bool = False) -> dict[str, Any]:
    """The inverse key mapping (Transformers ``RobertaModel`` -> fairseq), for tests and export."""
    import torch

    inv_layer = {v: k for k, v in _FS_LAYER.items()}
    inv_emb = {"embeddings.word_embeddings.weight": "embed_tokens.weight",
               "embeddings.position_embeddings.weight": "embed_positions.weight",
               "embeddings.LayerNorm.weight": "emb_layer_norm.weight",
               "embeddings.LayerNorm.bias": "emb_layer_norm.bias"}
    out: dict[str, Any] = {}
    for key, val in state.items():
        if key in inv_emb:
            out[prefix + inv_emb[key]] = val
            continue
        m = re.match(r"encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$", key)
        if m and m.group(2) in inv_layer:
            i, mod, kind = m.groups()
            out[f"{prefix}layers.{i}.{inv_layer[mod]}.{kind}"] = val
    if fused_qkv:
        for i in sorted({int(k.split(".")[3]) for k in out if ".layers." in k}):
            for kind in ("weight", "bias"):
                parts = [out.pop(f"{prefix}layers.{i}.self_attn.{x}_proj.{kind}")
                         for x in "qkv"]
                out[f"{prefix}layers.{i}.self_attn.in_proj_{kind}"] = torch.cat(parts, 0)
    out["encoder.lm_head.bias"] = torch.zeros(1)  # present in real checkpoints; dropped
    return out


def load_fairseq_roberta(checkpoint: str | Path, config_source: str = "hub:roberta-base"):
    """A Transformers ``RobertaModel`` from a fairseq ``model.pt`` (config from ``config_source``,
    e.g. roberta-base's: Sinha et al.'s models are RoBERTa-base sized)."""
    import torch
    from transformers import RobertaModel

    path = Path(checkpoint).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"fairseq checkpoint {path} does not exist")
    try:
        # fairseq pickles its ``cfg`` as an omegaconf DictConfig: unpickling needs omegaconf.
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(f"fairseq checkpoint {path}: unpickling needs {exc.name!r} "
                                  f"(pip install {exc.name})") from exc
    state = ckpt.get("model", ckpt)
    config = load_config(config_source)
    model = RobertaModel(config, add_pooling_layer=False)
    mapped = fairseq_to_hf_roberta(state)
    tt = model.embeddings.token_type_embeddings.weight
    mapped.setdefault("embeddings.token_type_embeddings.weight", torch.zeros_like(tt))
    missing, unexpected = model.load_state_dict(mapped, strict=False)
    missing = [k for k in missing if not k.startswith("pooler.")]
    if missing or unexpected:
        raise KeyError(f"fairseq checkpoint {path}: missing {missing[:5]}, "
                       f"unexpected {unexpected[:5]}")
    model.eval()
    return model


# ----------------------------------------------------------------------------- recipes
def tokenizer_source(recipe: str | None, *, source: str, donor: str | None = None,
                     tokenizer: str | None = None) -> str:
    """The tokenizer a model is used (and fine-tuned) with: the one named by ``tokenizer``, else
    the donor's for the recipes that take the donor's embeddings (``embedding_swap``,
    ``untrained``), else ``source``'s. ``recipe`` None: a perturbed (or ready) model."""
    if tokenizer:
        return tokenizer
    if recipe in ("embedding_swap", "untrained") and donor:
        return donor
    return source


def model_tokenizer(model: dict[str, Any]) -> str:
    """:func:`tokenizer_source` of a model of the grid (``source``) or of a manifest (``base``;
    a non-standard model's manifest names the ``tokenizer`` its builder chose)."""
    return tokenizer_source(model.get("recipe"), source=model.get("source") or model["base"],
                            donor=model.get("donor"), tokenizer=model.get("tokenizer"))


def build(recipe: str, *, source: str, donor: str | None = None, tokenizer: str | None = None,
          seed: int = 0, checkpoint: str | None = None):
    """Build a non-standard model: ``(model, tokenizer_source)``."""
    if recipe not in RECIPES:
        raise ValueError(f"nonstandard recipe must be one of {RECIPES}, got {recipe!r}")
    tok = tokenizer_source(recipe, source=source, donor=donor, tokenizer=tokenizer)
    if recipe == "fairseq_roberta":
        if not checkpoint:
            raise ValueError("nonstandard recipe fairseq_roberta needs 'checkpoint'")
        return load_fairseq_roberta(checkpoint, source), tok
    model, _ = load_base(source, with_tokenizer=False)
    if recipe == "pretrained":
        return model, tok
    if recipe == "shuffle_embeddings":
        shuffle_input_embeddings(model, seed)
        return model, tok
    if recipe == "embedding_swap":
        if not donor:
            raise ValueError("nonstandard recipe embedding_swap needs 'donor'")
        donor_model, _ = load_base(donor, with_tokenizer=False)
        swap_input_embeddings(model, donor_model)
        return model, tok
    # untrained
    donor_model = model if donor in (None, source) else load_base(donor, with_tokenizer=False)[0]
    fresh = untrained_like(model, seed)
    swap_input_embeddings(fresh, donor_model)
    return fresh, tok
