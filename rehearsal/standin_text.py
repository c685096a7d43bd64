"""The stand-in hub's text: sentences from gensim's test corpus, the tokenizers' files, and
the datasets (``nyu-mll/glue``, PTB, WikiText-2) in the ``datasets`` offline cache layout.
Used by ``standin_hub.py``; rehearsal/README.md says what each stand-in reproduces."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np

SEED = 20261125

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




def _vocabularies(sentences: list[str]) -> dict[str, dict]:
    """Each tokenizer family's files (and ``size``): uncased English WordPiece (one vocab.txt
    for bert-base-uncased and prajjwal1/bert-small, as both ship Google's), cased Chinese,
    uncased German, and RoBERTa's byte-level BPE with fairseq's ``dict.txt``."""
    words_lower = [w.lower() for s in sentences for w in _words(s) if w.isalpha()]
    ascii_chars = "".join(sorted(set("abcdefghijklmnopqrstuvwxyz0123456789.,;:!?'\"()-$%&/")))
    head = ["[PAD]"] + [f"[unused{i}]" for i in range(5)] + ["[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    zh_head = (["[PAD]"] + [f"[unused{i}]" for i in range(1, 6)]
               + ["[UNK]", "[CLS]", "[SEP]", "[MASK]", "<S>", "<T>"])
    kits = {}
    for key, vocab, lowercase in (
            ("en", _wordpiece_vocab(words_lower, 300, head=head, chars=ascii_chars), True),
            ("zh", _wordpiece_vocab(words_lower, 60, head=zh_head, chars=ascii_chars + CJK), False),
            ("de", _wordpiece_vocab(GERMAN * 3, 200, head=head, chars=ascii_chars + "äöüß"), True)):
        kits[key] = {"size": len(vocab), "vocab.txt": "\n".join(vocab) + "\n",
                     "tokenizer.json": _bert_tokenizer_json(vocab, lowercase=lowercase)}

    bpe_tokens, merges, counts = _byte_level_bpe(sentences, 500)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for t in bpe_tokens:
        vocab.setdefault(t, len(vocab))
    k = 0
    while len(vocab) % 8:
        vocab[f"madeupword{k:04d}"] = len(vocab)
        k += 1
    vocab["<mask>"] = len(vocab)
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
    kits["bpe"] = {"size": len(vocab),
                   "vocab.json": json.dumps(vocab, ensure_ascii=False, separators=(",", ":")),
                   "merges.txt": "#version: 0.2\n" + "\n".join(merges) + "\n",
                   "tokenizer.json": _roberta_tokenizer_json(vocab, merges),
                   "dict.txt": "\n".join(dict_lines) + "\n"}
    return kits


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
