"""Build a tiny, offline stand-in of every Hugging Face artifact ``config/paper.yaml`` names.

Run ``python rehearsal/standin_hub.py --out DIR``; then, with

    HF_HOME=DIR HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TRANSFORMERS_OFFLINE=1

the libraries' own, unchanged calls read the stand-in exactly where a real run would find a
populated cache: ``AutoModel/AutoTokenizer/AutoConfig/AutoModelForSequenceClassification
.from_pretrained("<hub id>")`` and ``datasets.load_dataset("<hub id>", "<config>")``. The three
Sinha et al. fairseq checkpoints are plain files under ``DIR/sinha/``. Nothing is downloaded:
text comes from ``gensim``'s test corpus (``lee_background.cor``, installed with the ``test``
extra) and from word lists written here; weights are seeded random numbers. The build is
deterministic: two builds give the same bytes (snapshot shas are hashes of the content).

Every stand-in keeps the real artifact's *format and quirks* and only shrinks sizes (hidden 32
or 48, 2 layers, vocabularies of a few hundred tokens). What is reproduced, and where it was
read (2026-11-25, through the project's search tool; nothing below is copied):

Layout (``huggingface_hub`` / ``datasets`` offline resolution)
    * Models: ``$HF_HOME/hub/models--<org>--<name>/{blobs,refs/main,snapshots/<sha>/}``, the
      snapshot files being relative symlinks into ``blobs/`` and ``refs/main`` holding the sha
      without a newline, as ``hf_hub_download`` writes them (``shared/reference/HUB-OFFLINE.md``).
    * Datasets: offline, ``datasets`` 5.2 (the version in ``.venv``) never reads the hub-cache
      snapshot layout; ``load_dataset(id, config)`` falls back to
      ``CachedDatasetModuleFactory`` -> ``packaged_modules/cache/cache.py::_find_hash_in_cache``,
      which globs ``$HF_DATASETS_CACHE/<org>___<snake_case(name)>/<config>/<version>/<hash>/``
      (``HF_DATASETS_CACHE`` defaults to ``$HF_HOME/datasets``), requires
      ``dataset_info.json["config_name"] == <config>``, and reads the splits listed there from
      ``<name>-<split>.arrow`` (Arrow IPC *stream* files, the features in the schema metadata).
      Read in ``.venv/lib/python3.11/site-packages/datasets/{load.py,packaged_modules/cache}``.

Models (``config.json`` contents from the published files; sizes shrunk)
    * ``prajjwal1/bert-small``: repo = ``config.json`` (286 bytes, one line, **no
      ``model_type`` and no ``architectures``**), ``pytorch_model.bin``, ``vocab.txt``; no
      tokenizer_config, no safetensors (repo tree at c670d7a/0ec5f86, config at 15f0ef9a).
      Transformers 5.x no longer guesses the model type from the repo name: **AutoConfig /
      AutoModel / AutoTokenizer on this id fail** ("Should have a `model_type` key"), as they
      would on the real repo; ``BertConfig``/``BertModel``/``BertTokenizer.from_pretrained``
      work. Weights: ``BertForPreTraining`` keys (``bert.*``, ``cls.*``), ``weight``/``bias``.
      Uncased WordPiece.
    * ``bert-base-uncased``: ``architectures: [BertForMaskedLM]``, ``model_type: bert``;
      ``tokenizer_config.json`` ``{"do_lower_case": true, "model_max_length": 512}``,
      ``vocab.txt``, ``tokenizer.json``, ``model.safetensors`` and ``pytorch_model.bin``. Its
      checkpoint keeps the 2018 TF-converted LayerNorm names ``LayerNorm.gamma``/``.beta`` and
      has no ``cls.predictions.decoder.bias`` (transformers issue #11809); transformers renames
      gamma/beta on load. Vocabulary starts ``[PAD]``, ``[unused0..]``, then
      ``[UNK] [CLS] [SEP] [MASK]`` (ids not 0..3).
    * ``bert-base-chinese``: ``BertForMaskedLM`` with the legacy pooler fields
      (``directionality: bidi``, ``pooler_fc_size``, ``pooler_num_attention_heads``,
      ``pooler_num_fc_layers``, ``pooler_size_per_head``, ``pooler_type``); **cased**
      (``do_lower_case: false``) WordPiece whose vocabulary is mostly single CJK characters
      (BertTokenizer splits CJK characters, ``tokenize_chinese_chars``). gamma/beta as
      bert-base-uncased (same 2018 conversion; assumed, not re-read).
    * ``dbmdz/bert-base-german-uncased``: uncased German WordPiece (umlauts kept),
      ``tokenizer_config.json`` = ``{"do_lower_case": true, "max_len": 512, "init_inputs": []}``
      (the legacy ``max_len`` key, read at 26dd62c); real vocabulary 31,102.
    * The three BERT-base stand-ins share one hidden size (the project swaps input embeddings
      between them); ``bert-base-uncased`` keeps ``BertConfig()``'s defaults except sizes.
    * ``roberta-base``: ``config.json`` of 481 bytes with ``architectures:
      [RobertaForMaskedLM]``, ``layer_norm_eps 1e-05``, ``max_position_embeddings 514``,
      ``type_vocab_size 1``, ``pad 1 / bos 0 / eos 2``; files ``config.json dict.txt merges.txt
      vocab.json tokenizer.json tokenizer_config.json model.safetensors pytorch_model.bin``
      (tree a7bf058). Weights are masked-LM keys ``roberta.*`` + ``lm_head.*`` and **no
      ``roberta.pooler.*``**, so ``AutoModel.from_pretrained`` initialises the pooler at random.
      Byte-level BPE (``vocab.json`` + ``merges.txt`` with ``#version: 0.2``), ids
      ``<s>=0 <pad>=1 </s>=2 <unk>=3``, ``madeupword000N`` fillers up to a multiple of 8,
      ``<mask>`` last (as fairseq's dictionary gives 50,265 = 50,264 + 1).
    * ``aajrami/bert-{mlm,fc,ascii,rand}-base``: ``config.json`` with ``architectures:
      [RobertaModel]``, ``model_type: roberta``, ``vocab_size`` = roberta-base's,
      ``transformers_version 4.19.0`` (read at bert-fc-base and bert-rand-base main); weights
      are a ``RobertaModel`` state dict (no prefix, pooler included) in ``pytorch_model.bin``
      (tag "PyTorch", no safetensors); tokenizer files ``vocab.json`` + ``merges.txt``
      (commit "add tokenizer") + ``tokenizer_config.json``, the RoBERTa BPE (the project uses
      roberta-base's tokenizer for them, NOTES.md). The exact tokenizer_config content was not
      readable; ours names the RoBERTa tokenizer.

Datasets
    * ``nyu-mll/glue`` (parquet repo, README at bcdcba7): configs cola, sst2, mrpc, qqp, stsb,
      mnli, qnli, rte, wnli with the real columns (cola/sst2 ``sentence``; mrpc/stsb/rte/wnli
      ``sentence1, sentence2``; qqp ``question1, question2``; mnli ``premise, hypothesis``; qnli
      ``question, sentence``; then ``label``, ``idx`` int32), ClassLabel names as in the README
      (cola unacceptable/acceptable; sst2 negative/positive; mrpc not_equivalent/equivalent; qqp
      not_duplicate/duplicate; mnli entailment/neutral/contradiction; qnli and rte
      entailment/not_entailment; **wnli not_entailment/entailment**), stsb label ``float32``,
      test labels -1, mnli splits train, validation_matched, validation_mismatched,
      test_matched, test_mismatched. SST-2 sentences are lower-case with a trailing space, as in
      the real data.
    * PTB: ``ptb-text-only/ptb_text_only`` is still a *script* dataset (``ptb_text_only.py`` on
      main; microsoft/Olive PR #1958: "datasets>=4.0.0 doesn't support that anymore"), so
      ``load_dataset("ptb_text_only")`` raises "Dataset scripts are no longer supported" on the
      installed datasets 5.2. Its parquet export lives at revision ``refs/convert/parquet``
      (``penn_treebank/{train,validation,test}/0000.parquet``, parquet-converter commit
      6003d54). That branch has no README, so datasets 5.2 infers one config, ``default``
      (checked by loading a local folder of the same layout: asking for ``penn_treebank``
      raises "BuilderConfig 'penn_treebank' not found. Available: ['default']"); the
      ``HubDatasetModuleFactoryWithParquetExport`` that once named configs after the script's
      is defined but no longer used in 5.2. The stand-in is laid as
      ``ptb-text-only___ptb_text_only/default/0.0.0/<hash>/`` so that
      ``load_dataset("ptb-text-only/ptb_text_only", revision="refs/convert/parquet")`` (and the
      same without ``revision``) works offline. Column ``sentence`` (string); text is
      lower-case, numbers are ``N``, rare words ``<unk>``, no punctuation but ``'s``/``n't``
      tokens and ``$``/``&`` (tensorflow-datasets catalogue of ptb_text_only; README at
      d29c6b6: config ``penn_treebank``, 42,068 / 3,370 / 3,761 rows).
    * WikiText-2: ``Salesforce/wikitext`` (parquet; the short id ``wikitext`` is a redirect on
      the hub, and offline the cache is keyed by the id the call uses), configs
      ``wikitext-2-raw-v1`` and ``wikitext-2-v1`` (non-raw, with ``<unk>``), column ``text``,
      splits train/validation/test (36.7k / 3.76k / 4.36k rows; dataset viewer). Rows are
      lines: ``""`` between paragraphs, headings `` = Title = \\n`` /
      `` = = Section = = \\n``, paragraphs starting with a space and ending with ``\\n``,
      tokens separated by spaces, ``@-@`` ``@,@`` ``@.@`` inside hyphenated words and numbers.
      The stand-in's paragraphs are 1-3 sentences (real ones are often longer) so that the
      sampler's 4-49 token window finds lines.

Sinha et al. fairseq checkpoints (``DIR/sinha/roberta.base.{orig,shuffle.n1,shuffle.corpus}``)
    ``model.pt`` as ``fairseq/checkpoint_utils.py::save_state`` writes it: a dict with ``cfg``
    (an ``omegaconf.DictConfig`` of the hydra config groups, so ``torch.load(...,
    weights_only=False)`` needs ``omegaconf`` importable), ``args: None``, ``model``,
    ``optimizer_history`` (criterion/optimizer names, ``lr_scheduler_state``,
    ``num_updates``), ``extra_state`` (``train_iterator``, ``val_loss``, ``best``) and
    ``last_optimizer_state``. Model keys are fairseq's RoBERTa names (``RobertaEncoder`` over a
    ``TransformerEncoder``): ``encoder.sentence_encoder.{embed_tokens, embed_positions,
    layernorm_embedding, version}``, ``...layers.N.self_attn.{k,v,q,out}_proj``,
    ``self_attn_layer_norm``, ``fc1``, ``fc2``, ``final_layer_norm`` and
    ``encoder.lm_head.{dense, layer_norm, weight, bias}``; learned positions with
    ``padding_idx = 1`` (positions start at 2), post-LayerNorm layers. ``dict.txt`` lines are
    ``<symbol> <count>``; the four specials and ``<mask>`` are not in the file. Sizes equal the
    roberta-base stand-in's, because the project converts them with roberta-base's config.
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
from collections import Counter, OrderedDict
from pathlib import Path

import numpy as np

SEED = 20261125

# Sizes of the stand-ins. BERT-base family shares one hidden size (embedding swaps).
BERT_BASE = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)
BERT_SMALL = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
ROBERTA = dict(hidden_size=48, num_hidden_layers=2, num_attention_heads=4, intermediate_size=96)

MODEL_IDS = ("prajjwal1/bert-small", "bert-base-uncased", "roberta-base", "bert-base-chinese",
             "dbmdz/bert-base-german-uncased", "aajrami/bert-mlm-base", "aajrami/bert-fc-base",
             "aajrami/bert-ascii-base", "aajrami/bert-rand-base")
SINHA = ("roberta.base.orig", "roberta.base.shuffle.n1", "roberta.base.shuffle.corpus")

GLUE = {  # config: (text columns, label names or None for float, splits)
    "cola": (("sentence",), ["unacceptable", "acceptable"]),
    "sst2": (("sentence",), ["negative", "positive"]),
    "mrpc": (("sentence1", "sentence2"), ["not_equivalent", "equivalent"]),
    "qqp": (("question1", "question2"), ["not_duplicate", "duplicate"]),
    "stsb": (("sentence1", "sentence2"), None),
    "mnli": (("premise", "hypothesis"), ["entailment", "neutral", "contradiction"]),
    "qnli": (("question", "sentence"), ["entailment", "not_entailment"]),
    "rte": (("sentence1", "sentence2"), ["entailment", "not_entailment"]),
    "wnli": (("sentence1", "sentence2"), ["not_entailment", "entailment"]),
}
GLUE_SPLITS = {"mnli": ("train", "validation_matched", "validation_mismatched", "test_matched",
                        "test_mismatched")}
SPLIT_ROWS = {"train": 96, "validation": 40, "test": 40}

PTB_ID = "ptb-text-only/ptb_text_only"
PTB_CONFIG = "default"          # what datasets infers for revision refs/convert/parquet
WIKITEXT_ID = "Salesforce/wikitext"
WIKITEXT_CONFIGS = ("wikitext-2-raw-v1", "wikitext-2-v1")

OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def offline_env(out: str | os.PathLike) -> dict[str, str]:
    """The environment variables that point the libraries at a stand-in built into ``out``."""
    return {"HF_HOME": str(Path(out).resolve()), **OFFLINE_ENV}


# ----------------------------------------------------------------------------- text
def _corpus_text() -> str:
    import gensim

    path = Path(gensim.__file__).parent / "test" / "test_data" / "lee_background.cor"
    if not path.is_file():
        raise FileNotFoundError(f"stand-in hub: {path} not found (pip install gensim)")
    return path.read_text(encoding="utf-8", errors="replace")


def _sentences(text: str) -> list[str]:
    out = []
    for para in text.splitlines():
        for s in re.split(r"(?<=[.!?])\s+", para.strip()):
            s = s.strip()
            if 5 <= len(s.split()) <= 40:
                out.append(s)
    return out


def _words(s: str) -> list[str]:
    return re.findall(r"[A-Za-z]+(?:'[a-z]+)?|\d+(?:[.,:]\d+)*|[^\sA-Za-z\d]", s)


GERMAN = ("der die das und ist nicht ein eine mit von zu auf für über unter straße größe "
          "mädchen junge haus stadt land zeit jahr tag nacht wasser feuer wind regen schön "
          "gut schlecht groß klein neu alt heute morgen gestern immer nie oft bald hier dort "
          "arbeit schule kinder frau mann welt leben liebe frage antwort regierung bericht "
          "zeitung wirtschaft politik brücke bäume vögel fluss berg wald öffentlich müssen "
          "können würde hätte gegenüber zwischen während wegen trotz ohne gegen durch").split()
CJK = ("的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自"
       "之年过发后作里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些"
       "主样理心她本前开但因只从想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正"
       "业外将两高间由问很最重并物手应战向头文体政美相见被利什二等产或新己制身果加西斯月话合回"
       "特代内信表化老给世位次度门任常先海通教儿原东声提立及比员解水名真论处走义各入几口认条平"
       "系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务做接必场件计管期市直德资命")


# ----------------------------------------------------------------------------- tokenizers
def _wordpiece_vocab(words: list[str], n_words: int, *, head: list[str], chars: str) -> list[str]:
    """A WordPiece vocabulary: ``head`` tokens, every character (bare and ``##``), and the most
    frequent words (ties broken alphabetically), so every word can be segmented."""
    vocab = list(head)
    seen = set(vocab)
    for c in chars:
        for t in (c, "##" + c):
            if t not in seen:
                vocab.append(t)
                seen.add(t)
    counts = Counter(words)
    for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) >= n_words + len(head) + 2 * len(chars):
            break
        if w not in seen and len(w) > 1:
            vocab.append(w)
            seen.add(w)
    return vocab


def _bert_tokenizer_json(vocab: list[str], lowercase: bool) -> str:
    from tokenizers import (
        AddedToken,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )

    ids = {t: i for i, t in enumerate(vocab)}
    tok = Tokenizer(models.WordPiece(vocab=ids, unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None, lowercase=lowercase)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])])
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")])
    return tok.to_str(pretty=True)


def _byte_level_bpe(texts: list[str], n_merges: int):
    """Train a small byte-level BPE; returns (vocab list in id order, merges, counts)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=256 + n_merges, min_frequency=2, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=[])
    tok.train_from_iterator(texts, trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    bpe_vocab = sorted(model["vocab"].items(), key=lambda kv: kv[1])
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    # token frequencies for dict.txt (count of each token in the encoded corpus)
    counts: Counter = Counter()
    for enc in tok.encode_batch(texts):
        counts.update(enc.tokens)
    return [t for t, _ in bpe_vocab], merges, counts


def _roberta_tokenizer_json(vocab: dict[str, int], merges: list[str]) -> str:
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors

    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges],
                               continuing_subword_prefix="", end_of_word_suffix="",
                               fuse_unk=False))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0),
                                                      trim_offsets=True, add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken("<s>", special=True), AddedToken("<pad>", special=True),
                            AddedToken("</s>", special=True), AddedToken("<unk>", special=True),
                            AddedToken("<mask>", special=True, lstrip=True)])
    return tok.to_str(pretty=True)


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
def build_models(hub: Path, sentences: list[str]) -> dict[str, dict]:
    from transformers import RobertaConfig, RobertaForMaskedLM, RobertaModel

    info: dict[str, dict] = {}
    words_lower = [w.lower() for s in sentences for w in _words(s) if w.isalpha()]
    ascii_chars = "".join(sorted(set("abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"()-$%&/")))

    # English uncased WordPiece (bert-base-uncased, prajjwal1/bert-small: same vocabulary file,
    # as both use Google's uncased vocab.txt)
    head = ["[PAD]"] + [f"[unused{i}]" for i in range(5)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    en_vocab = _wordpiece_vocab(words_lower, 300, head=head, chars=ascii_chars)
    en_vocab_txt = "\n".join(en_vocab) + "\n"

    # --- prajjwal1/bert-small
    repo = Repo("prajjwal1/bert-small")
    small_cfg = {"hidden_size": BERT_SMALL["hidden_size"], "hidden_act": "gelu",
                 "initializer_range": 0.02, "vocab_size": len(en_vocab),
                 "hidden_dropout_prob": 0.1,
                 "num_attention_heads": BERT_SMALL["num_attention_heads"], "type_vocab_size": 2,
                 "max_position_embeddings": 512,
                 "num_hidden_layers": BERT_SMALL["num_hidden_layers"],
                 "intermediate_size": BERT_SMALL["intermediate_size"],
                 "attention_probs_dropout_prob": 0.1}
    repo.add("config.json", json.dumps(small_cfg))  # one line, no model_type: as published
    state = _bert_pretraining_state({k: v for k, v in small_cfg.items()}, SEED + 1,
                                    gamma_beta=False, drop_decoder_bias=False)
    repo.add("pytorch_model.bin", _torch_bytes(state))
    repo.add("vocab.txt", en_vocab_txt)
    info[repo.repo_id] = {"sha": repo.commit(hub), "vocab_size": len(en_vocab)}

    # --- BERT-base family
    bert_base_common = {"architectures": ["BertForMaskedLM"], "attention_probs_dropout_prob": 0.1,
                        "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                        "initializer_range": 0.02, "layer_norm_eps": 1e-12,
                        "max_position_embeddings": 512, "model_type": "bert", "pad_token_id": 0,
                        "type_vocab_size": 2, **BERT_BASE}

    repo = Repo("bert-base-uncased")
    cfg = {**bert_base_common, "gradient_checkpointing": False,
           "position_embedding_type": "absolute", "transformers_version": "4.6.0.dev0",
           "use_cache": True, "vocab_size": len(en_vocab)}
    repo.add_json("config.json", cfg)
    state = _bert_pretraining_state(_cfg_kwargs(cfg), SEED + 2, gamma_beta=True,
                                    drop_decoder_bias=True)
    repo.add("pytorch_model.bin", _torch_bytes(state))
    repo.add("model.safetensors", _safetensors_bytes(state))
    repo.add("vocab.txt", en_vocab_txt)
    repo.add("tokenizer.json", _bert_tokenizer_json(en_vocab, lowercase=True))
    repo.add_json("tokenizer_config.json", {"do_lower_case": True, "model_max_length": 512},
                  indent=None, sort_keys=False)
    info[repo.repo_id] = {"sha": repo.commit(hub), "vocab_size": len(en_vocab)}

    repo = Repo("bert-base-chinese")
    zh_head = (["[PAD]"] + [f"[unused{i}]" for i in range(1, 6)]
               + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "<S>", "<T>"])
    zh_vocab = _wordpiece_vocab(words_lower, 60, head=zh_head, chars=ascii_chars + CJK)
    cfg = {**bert_base_common, "directionality": "bidi", "pooler_fc_size": BERT_BASE["hidden_size"],
           "pooler_num_attention_heads": BERT_BASE["num_attention_heads"],
           "pooler_num_fc_layers": 3, "pooler_size_per_head": 128,
           "pooler_type": "first_token_transform", "vocab_size": len(zh_vocab)}
    repo.add_json("config.json", cfg)
    state = _bert_pretraining_state(_cfg_kwargs(cfg), SEED + 3, gamma_beta=True,
                                    drop_decoder_bias=True)
    repo.add("pytorch_model.bin", _torch_bytes(state))
    repo.add("model.safetensors", _safetensors_bytes(state))
    repo.add("vocab.txt", "\n".join(zh_vocab) + "\n")
    repo.add("tokenizer.json", _bert_tokenizer_json(zh_vocab, lowercase=False))
    repo.add_json("tokenizer_config.json", {"do_lower_case": False, "model_max_length": 512},
                  indent=None, sort_keys=False)
    info[repo.repo_id] = {"sha": repo.commit(hub), "vocab_size": len(zh_vocab)}

    repo = Repo("dbmdz/bert-base-german-uncased")
    de_vocab = _wordpiece_vocab(GERMAN * 3, 200, head=head,
                                chars=ascii_chars + "äöüß")
    cfg = {**bert_base_common, "vocab_size": len(de_vocab)}
    repo.add_json("config.json", cfg)
    state = _bert_pretraining_state(_cfg_kwargs(cfg), SEED + 4, gamma_beta=False,
                                    drop_decoder_bias=False)
    repo.add("pytorch_model.bin", _torch_bytes(state))
    repo.add("model.safetensors", _safetensors_bytes(state))
    repo.add("vocab.txt", "\n".join(de_vocab) + "\n")
    repo.add_json("tokenizer_config.json", {"do_lower_case": True, "max_len": 512,
                                            "init_inputs": []}, indent=None, sort_keys=False)
    info[repo.repo_id] = {"sha": repo.commit(hub), "vocab_size": len(de_vocab)}

    # --- RoBERTa byte-level BPE
    bpe_tokens, merges, counts = _byte_level_bpe(sentences, 500)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for t in bpe_tokens:
        vocab.setdefault(t, len(vocab))
    k = 0
    while len(vocab) % 8:
        vocab[f"madeupword{k:04d}"] = len(vocab)
        k += 1
    vocab["<mask>"] = len(vocab)
    rb_vocab_size = len(vocab)
    vocab_json = json.dumps(vocab, ensure_ascii=False, separators=(",", ":"))
    merges_txt = "#version: 0.2\n" + "\n".join(merges) + "\n"
    tokenizer_json = _roberta_tokenizer_json(vocab, merges)
    # fairseq dict.txt: one "<symbol> <count>" line per id from 4 to <mask> (exclusive), the
    # symbol being the GPT-2 BPE id (here the token's rank in the raw BPE vocabulary)
    raw_rank = {t: i for i, t in enumerate(bpe_tokens)}
    dict_lines = []
    for t, i in sorted(vocab.items(), key=lambda kv: kv[1]):
        if i < 4 or t == "<mask>":
            continue
        if t.startswith("madeupword"):
            dict_lines.append(f"{t} 0")
        else:
            dict_lines.append(f"{raw_rank[t]} {max(counts.get(t, 0), 1)}")
    dict_txt = "\n".join(dict_lines) + "\n"

    repo = Repo("roberta-base")
    rcfg = _roberta_config(rb_vocab_size)
    repo.add_json("config.json", rcfg)
    _seeded(SEED + 5)
    mlm = RobertaForMaskedLM(RobertaConfig(**_cfg_kwargs(rcfg))).eval()
    state = OrderedDict((k, v.detach().clone()) for k, v in mlm.state_dict().items())
    assert not any(".pooler." in k for k in state), "roberta-base must ship without a pooler"
    repo.add("pytorch_model.bin", _torch_bytes(state))
    repo.add("model.safetensors", _safetensors_bytes(state))
    repo.add("vocab.json", vocab_json)
    repo.add("merges.txt", merges_txt)
    repo.add("tokenizer.json", tokenizer_json)
    repo.add("dict.txt", dict_txt)
    repo.add_json("tokenizer_config.json", {"model_max_length": 512}, indent=None)
    info[repo.repo_id] = {"sha": repo.commit(hub), "vocab_size": rb_vocab_size}

    for j, name in enumerate(("mlm", "fc", "ascii", "rand")):
        repo = Repo(f"aajrami/bert-{name}-base")
        acfg = _roberta_config(rb_vocab_size, architectures=["RobertaModel"],
                               _name_or_path=f"bert-{name}-base", classifier_dropout=None,
                               gradient_checkpointing=False,
                               position_embedding_type="absolute", torch_dtype="float32",
                               transformers_version="4.19.0", use_cache=True)
        repo.add_json("config.json", acfg)
        _seeded(SEED + 10 + j)
        m = RobertaModel(RobertaConfig(**_cfg_kwargs(acfg))).eval()
        state = OrderedDict((k, v.detach().clone()) for k, v in m.state_dict().items())
        repo.add("pytorch_model.bin", _torch_bytes(state))
        repo.add("vocab.json", vocab_json)
        repo.add("merges.txt", merges_txt)
        repo.add_json("tokenizer_config.json", {"tokenizer_class": "RobertaTokenizer",
                                                "model_max_length": 512}, indent=None)
        info[repo.repo_id] = {"sha": repo.commit(hub), "vocab_size": rb_vocab_size}

    info["_roberta"] = {"config": rcfg, "dict_txt": dict_txt}
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


# ----------------------------------------------------------------------------- datasets
def _write_dataset(root: Path, repo_id: str, config: str, splits: dict[str, dict], features,
                   builder_name: str = "parquet") -> Path:
    import datasets
    from datasets.arrow_writer import ArrowWriter

    org_name = repo_id.split("/")
    name = org_name[-1]
    from datasets.naming import camelcase_to_snakecase

    rel = "___".join(org_name[:-1] + [camelcase_to_snakecase(name)])
    h = hashlib.sha1(json.dumps([repo_id, config, splits], sort_keys=True,
                                ensure_ascii=False).encode()).hexdigest()
    folder = root / rel / config / "0.0.0" / h
    folder.mkdir(parents=True, exist_ok=True)
    split_dict = datasets.SplitDict(dataset_name=name)
    for split, columns in splits.items():
        with ArrowWriter(features=features, path=str(folder / f"{name}-{split}.arrow")) as w:
            w.write_batch(columns)
            n, nbytes = w.finalize()
        split_dict.add(datasets.SplitInfo(name=split, num_bytes=nbytes, num_examples=n,
                                          dataset_name=name))
    info = datasets.DatasetInfo(features=features, builder_name=builder_name,
                                dataset_name=name, config_name=config, version="0.0.0",
                                splits=split_dict)
    info.dataset_size = sum(s.num_bytes for s in split_dict.values())
    info.size_in_bytes = info.dataset_size
    with open(folder / "dataset_info.json", "wb") as f:
        info._dump_info(f, pretty_print=True)
    return folder


def build_glue(root: Path, sentences: list[str]) -> list[str]:
    import datasets

    built = []
    for ci, (config, (cols, names)) in enumerate(GLUE.items()):
        rng = np.random.default_rng(SEED + 1000 + ci)
        label_feature = (datasets.Value("float32") if names is None
                         else datasets.ClassLabel(names=names))
        feats = datasets.Features({**{c: datasets.Value("string") for c in cols},
                                   "label": label_feature, "idx": datasets.Value("int32")})
        splits = {}
        for split in GLUE_SPLITS.get(config, ("train", "validation", "test")):
            n = SPLIT_ROWS[split.split("_")[0]]
            picks = rng.integers(0, len(sentences), size=(n, len(cols)))
            columns = {c: [_glue_text(config, c, sentences[i]) for i in picks[:, j]]
                       for j, c in enumerate(cols)}
            first = columns[cols[0]]
            if split.startswith("test"):
                labels = [-1.0 if names is None else -1] * n
            elif names is None:
                labels = [float(np.float32(round(min(5.0, len(t.split()) / 6.0), 3)))
                          for t in first]
            else:  # a learnable rule: label from the first text's length class
                labels = [int(len(t.split()) * 7 // 11) % len(names) for t in first]
            columns["label"] = labels
            columns["idx"] = list(range(n))
            splits[split] = columns
        _write_dataset(root, "nyu-mll/glue", config, splits, feats)
        built.append(config)
    return built


def _glue_text(config: str, column: str, s: str) -> str:
    if config == "sst2":  # lower-case, tokenised, trailing space (as the real SST-2 rows)
        return " ".join(w.lower() for w in _words(s)) + " "
    if column.startswith("question"):
        return s.rstrip(".!") + "?"
    return s


def _ptb_line(s: str, rare: set[str]) -> str:
    toks = []
    for w in _words(s):
        lw = w.lower()
        if re.fullmatch(r"\d+(?:[.,:]\d+)*", lw):
            toks.append("N")
        elif lw in ("$", "&"):
            toks.append(lw)
        elif re.fullmatch(r"[a-z]+(?:'[a-z]+)?", lw):
            if lw.endswith("'s"):
                toks.extend([lw[:-2], "'s"] if lw[:-2] not in rare else ["<unk>", "'s"])
            elif lw.endswith("n't"):
                toks.extend([lw[:-3], "n't"])
            else:
                toks.append("<unk>" if lw in rare else lw)
    return " ".join(toks)


def _wikitext_tokens(s: str) -> str:
    s = re.sub(r"(\w)-(\w)", r"\1 @-@ \2", s)
    s = re.sub(r"(\d),(\d)", r"\1 @,@ \2", s)
    s = re.sub(r"(\d)\.(\d)", r"\1 @.@ \2", s)
    s = re.sub(r"(?<!@)([,;:!?()\"])(?!@)", r" \1 ", s)
    s = re.sub(r"\.(\s|$)", r" .\1", s)
    s = re.sub(r"'s\b", " 's", s)
    return " ".join(s.split())


def build_corpora(root: Path, sentences: list[str]) -> dict[str, list[str]]:
    import datasets

    counts = Counter(w.lower() for s in sentences for w in _words(s))
    rare = {w for w, c in counts.items() if c == 1}
    rng = np.random.default_rng(SEED + 2000)
    order = rng.permutation(len(sentences))
    # PTB: one sentence a row
    ptb_feats = datasets.Features({"sentence": datasets.Value("string")})
    ptb_rows = [line for line in (_ptb_line(sentences[i], rare) for i in order[:400]) if line]
    ptb = {"train": ptb_rows[:160], "validation": ptb_rows[160:220], "test": ptb_rows[220:280]}
    _write_dataset(root, PTB_ID, PTB_CONFIG, {k: {"sentence": v} for k, v in ptb.items()},
                   ptb_feats)

    # WikiText-2: articles of headings and paragraphs, one line a row
    wt_feats = datasets.Features({"text": datasets.Value("string")})
    rest = [sentences[i] for i in order[400:]]
    raw_splits: dict[str, list[str]] = {}
    pos = 0
    for split, n_articles in (("train", 8), ("validation", 3), ("test", 3)):
        rows: list[str] = []
        for a in range(n_articles):
            caps = [w for w in _words(rest[pos]) if w[:1].isupper() and w.isalpha()]
            title = " ".join(caps[:3]) if len(caps) >= 2 else f"Article {split} {a}"
            rows += ["", f" = {title.strip()} = \n", ""]
            pos += 1
            for sec in range(3):
                if sec:
                    rows += [f" = = Section {sec} = = \n", ""]
                for _ in range(2):  # paragraphs of 1-3 sentences (real ones are often longer)
                    k = int(rng.integers(1, 4))
                    para = " ".join(_wikitext_tokens(rest[pos + j]) for j in range(k))
                    pos += k
                    rows += [f" {para} \n", ""]
        raw_splits[split] = rows
    # the non-raw version maps words outside the corpus vocabulary to <unk> (~3% of tokens in
    # the real data): here words seen once in the whole source corpus
    rare_raw = {w for r in (t for rows in raw_splits.values() for t in rows) for w in r.split()
                if w.lower() in rare and re.fullmatch(r"[A-Za-z]+", w)}
    for config in WIKITEXT_CONFIGS:
        splits = {}
        for split, rows in raw_splits.items():
            if config == "wikitext-2-v1":  # non-raw: rare words become <unk>
                rows = [r if r in ("",) or r.lstrip().startswith("=") else
                        " " + " ".join("<unk>" if t in rare_raw else t for t in r.split()) + " \n"
                        for r in rows]
            splits[split] = {"text": rows}
        _write_dataset(root, WIKITEXT_ID, config, splits, wt_feats)
    return {"ptb": list(ptb), "wikitext": list(raw_splits)}


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
