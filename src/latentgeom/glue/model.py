"""The model that is fine-tuned: the encoder of a manifest with a fresh classification head."""

from __future__ import annotations

import random
from typing import Any

import numpy as np

from .data import GlueDataError, TokenizedSplit


def set_seed(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def classification_model(manifest: dict[str, Any], num_labels: int, problem_type: str, *,
                         seed: int = 42, verify: bool = True):
    """``AutoModelForSequenceClassification`` with the encoder of ``manifest`` and a fresh head.

    The config is the unperturbed base's (or, for a model with stored weights, the stored one);
    the encoder weights come from :func:`latentgeom.models.load_from_manifest` (perturbation
    rebuilt and checksum-verified, or stored weights loaded); the classification head is
    initialised under ``seed``; a config without a pad token id (a decoder) gets the
    tokenizer's. Returns ``(model, tokenizer)``.
    """
    from transformers import AutoModelForSequenceClassification

    from ..models import load_config, load_from_manifest

    encoder, tok = load_from_manifest(manifest, verify=verify)
    config_src = manifest["weights"] if manifest.get("weights") else manifest["base"]
    config = load_config(config_src, num_labels=num_labels, problem_type=problem_type)
    if getattr(config, "pad_token_id", None) is None:
        # A decoder's head reads the last token that is not padding: it needs the pad id that
        # the batches use (the tokenizer's, EOS when it had none: models.ensure_pad_token).
        if tok.pad_token_id is None:
            raise GlueDataError(f"model {manifest.get('name')!r}: neither its config nor its "
                                f"tokenizer ({type(tok).__name__}) has a pad or EOS token; "
                                "batches of examples cannot be padded")
        config.pad_token_id = int(tok.pad_token_id)
    set_seed(seed)
    model = AutoModelForSequenceClassification.from_config(config)
    missing, unexpected = model.base_model.load_state_dict(encoder.state_dict(), strict=False)
    bad_missing = [k for k in missing if not k.startswith("pooler.")]
    bad_unexpected = [k for k in unexpected if not k.startswith("pooler.")]
    if bad_missing or bad_unexpected:
        raise RuntimeError(f"model {manifest.get('name')!r}: encoder weights do not fit "
                           f"{type(model).__name__} (missing {bad_missing[:5]}, "
                           f"unexpected {bad_unexpected[:5]})")
    if missing:
        print(f"note: {len(missing)} pooler tensor(s) not in the encoder, freshly initialised")
    del encoder
    from ..latentnoise import apply_from_manifest  # latent noise (docs/latent-noise.md)
    apply_from_manifest(model, manifest)  # a no-op without a latent_noise record
    return model, tok


def check_vocabulary(model, meta: dict[str, Any], splits: dict[str, TokenizedSplit],
                     name: str) -> None:
    """The tokenizer's ids must index the model's input embeddings."""
    rows = model.get_input_embeddings().weight.shape[0]
    max_id = max(int(s.ids.max()) if s.ids.size else 0 for s in splits.values())
    if meta["vocab_size"] > rows or max_id >= rows:
        raise GlueDataError(
            f"model {name!r}: its input embeddings have {rows} rows but tokenizer "
            f"{meta['tokenizer']!r} has {meta['vocab_size']} tokens (largest id in the data "
            f"{max_id}): the vocabulary does not fit the tokenizer")



def drop_unused_inputs(model, splits: dict[str, TokenizedSplit]) -> list[str]:
    """Drop the cached token type ids when the model's ``forward`` takes none (DistilBERT,
    ModernBERT, Llama: a WordPiece tokenizer still writes them for sentence pairs). In place;
    returns the names of the inputs dropped."""
    import inspect

    if "token_type_ids" in inspect.signature(model.forward).parameters:
        return []
    dropped = []
    for split in splits.values():
        if split.token_type_ids is not None:
            split.token_type_ids = None
            dropped = ["token_type_ids"]
    return dropped
