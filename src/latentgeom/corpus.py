"""Corpora, the latent-space sample (Section 3.2) and its representativeness statistics (Fig. 2).

Sources (``kind``):

- ``hub``: PTB + WikiText-2, every split, through ``datasets`` (the paper's corpus; see
  :data:`HUB_CORPORA` for the hub ids: ``datasets`` >= 4 refuses dataset scripts, so PTB is read
  from the hub's Parquet conversion and WikiText from ``Salesforce/wikitext``);
- ``files``: local text files, one sequence a line (``.bz2``/``.gz`` read transparently);
- ``list``: a ready list of sequences, one a line, used as the sample itself (for example the
  paper's own ``sample_sequences.txt``); ``n`` of them are drawn if the list is longer;
- ``packaged``: the offline demo corpus shipped in the ``gensim`` wheel: a shortened English
  Wikipedia dump (wiki markup removed, split into sentences) and the Lee news corpus.

Token counts follow the paper's footnote 1: scikit-learn's default unigram analyzer
(``CountVectorizer().build_analyzer()``: lower-cased, tokens matching ``(?u)\\b\\w\\w+\\b``).

Two sets of sampling rules (``sample.rules``):

- ``project``: every eligible line of every split pooled, deduplicated, ``min_tokens <= n <=
  max_tokens``, and ``n`` drawn without replacement (seeded); the text is kept as it is.
- ``authors``: the authors' ``explore/sample_build.py``, seeded: each draw picks one
  split uniformly (whatever its size), then one line; the line's tokens are those of
  scikit-learn's ``build_tokenizer()`` (case kept); it is kept when ``min_tokens < n <
  max_tokens`` (strict: the authors' ``3 < n < 50``) and stored as the space-joined tokens, so
  punctuation and one-character words are gone; draws repeat until ``n`` unique strings.
"""

from __future__ import annotations

import bz2
import gzip
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

#: scikit-learn's CountVectorizer default token_pattern.
TOKEN_RE = re.compile(r"(?u)\b\w\w+\b")
_WS_RE = re.compile(r"\s+")
_SENT_RE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


class CorpusError(ValueError):
    """A corpus that cannot give what the configuration asks for."""


def tokenize(text: str) -> list[str]:
    """Unigram tokens as scikit-learn's default analyzer makes them (paper, footnote 1)."""
    return TOKEN_RE.findall(text.lower())


def n_tokens(text: str) -> int:
    return len(TOKEN_RE.findall(text.lower()))


def normalize(text: str) -> str:
    """Collapse whitespace and strip; the unit of uniqueness is the normalised string."""
    return _WS_RE.sub(" ", text).strip()


def split_sentences(text: str) -> list[str]:
    """Split running text into sentences at ``. ! ?`` followed by a capital or digit."""
    out = []
    for para in re.split(r"\n\s*\n|\n", text):
        para = normalize(para)
        if para:
            out.extend(s for s in (normalize(x) for x in _SENT_RE.split(para)) if s)
    return out


def _open_text(path: Path):
    if path.suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8", errors="replace")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def read_lines(paths: Iterable[str | Path]) -> list[str]:
    """Lines of local text files, in order (missing files raise, naming the file)."""
    out = []
    for p in paths:
        p = Path(p).expanduser()
        if not p.is_file():
            raise CorpusError(f"sample.source.paths: corpus file {p} does not exist")
        with _open_text(p) as fh:
            out.extend(line.rstrip("\n") for line in fh)
    return out


def gensim_test_data() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError("sample.source: the packaged demo corpus needs the 'gensim' package "
                          "(pip install gensim)")
    return Path(list(spec.submodule_search_locations)[0]) / "test" / "test_data"


WIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"
NEWS_FILE = "lee_background.cor"


def _clean_wiki_sentence(s: str) -> str | None:
    s = normalize(s.replace("\'\'\'", "").replace("\'\'", ""))
    # Drop leftovers of tables, lists, templates and headings that filter_wiki keeps.
    if any(ch in s for ch in "|{}[]<>=*#_") or s.startswith(("Category:", "File:", "Image:")):
        return None
    if not s or sum(c.isalpha() for c in s) < 0.6 * len(s):
        return None
    return s


def wiki_sentences(path: str | Path) -> list[str]:
    """Plain sentences of a MediaWiki XML dump: markup removed with gensim's ``filter_wiki``."""
    from gensim.corpora.wikicorpus import extract_pages, filter_wiki

    out = []
    with bz2.open(path, "rb") if str(path).endswith(".bz2") else open(path, "rb") as fh:
        for _title, text, _pageid in extract_pages(fh, filter_namespaces=("0",)):
            if not text or text.lstrip().lower().startswith("#redirect"):
                continue
            plain = filter_wiki(text)
            for s in split_sentences(plain):
                s = _clean_wiki_sentence(s)
                if s:
                    out.append(s)
    return out


def packaged_corpus(name: str = "gensim-demo") -> list[str]:
    """The offline demo corpus: Wikipedia excerpt + Lee news corpus from the gensim wheel."""
    if name != "gensim-demo":
        raise CorpusError(f"sample.source.name: unknown packaged corpus {name!r} "
                          "(known: 'gensim-demo')")
    root = gensim_test_data()
    sents = wiki_sentences(root / WIKI_FILE)
    for doc in read_lines([root / NEWS_FILE]):
        sents.extend(split_sentences(doc))
    return sents


#: The hub's corpora: key -> (dataset id, config, text column, revision). PTB's hub repository
#: still holds only a dataset script, which ``datasets`` >= 4 refuses: its Parquet conversion
#: (``refs/convert/parquet``, files ``penn_treebank/{split}/0000.parquet``) has the same splits
#: and ``sentence`` column; without a README there, ``datasets`` infers one config, ``default``,
#: so no config name is passed. ``wikitext`` now lives
#: under ``Salesforce/wikitext`` (Parquet); ``wikitext-2-v1`` is the tokenised text with
#: ``<unk>`` that the authors read through torchtext, ``wikitext-2-raw-v1`` the raw text.
HUB_CORPORA = {
    "ptb": ("ptb-text-only/ptb_text_only", None, "sentence", "refs/convert/parquet"),
    "wikitext2": ("Salesforce/wikitext", "wikitext-2-v1", "text", None),
    "wikitext2-raw": ("Salesforce/wikitext", "wikitext-2-raw-v1", "text", None),
}


def hub_parts(name: str) -> list[str]:
    """The :data:`HUB_CORPORA` keys of a ``+``-joined hub corpus name (``ptb+wikitext2``)."""
    parts = [p for p in str(name).split("+") if p]
    unknown = [p for p in parts if p not in HUB_CORPORA]
    if not parts or unknown:
        raise CorpusError(f"sample.source.name: unknown hub corpus {name!r}: expected a "
                          f"'+'-joined list of {sorted(HUB_CORPORA)} (e.g. 'ptb+wikitext2')")
    return parts


def load_hub_dataset(key: str):
    """One corpus of :data:`HUB_CORPORA` as a ``datasets.DatasetDict`` (hub or HF cache)."""
    from datasets import load_dataset

    repo, config, _column, revision = HUB_CORPORA[key]
    kwargs = {"revision": revision} if revision else {}
    return load_dataset(repo, config, **kwargs)


def hub_splits(name: str = "ptb+wikitext2") -> dict[str, list[str]]:
    """Lines of every split of the hub corpora, keyed ``<corpus>/<split>`` (the paper's six)."""
    out: dict[str, list[str]] = {}
    for key in hub_parts(name):
        ds = load_hub_dataset(key)
        column = HUB_CORPORA[key][2]
        for split in sorted(ds):
            if column not in ds[split].column_names:
                raise CorpusError(f"hub corpus {HUB_CORPORA[key][0]} ({split}): no column "
                                  f"{column!r} (has {ds[split].column_names})")
            out[f"{key}/{split}"] = list(ds[split][column])
    return out


def hub_corpus(name: str = "ptb+wikitext2") -> list[str]:
    """PTB + WikiText-2, every split, from the Hugging Face hub (the paper's corpus)."""
    return [line for lines in hub_splits(name).values() for line in lines]


def load_splits(source: dict) -> dict[str, list[str]]:
    """The raw lines of a configured source by split: hub splits, one split per file, or one."""
    kind = source.get("kind")
    if kind == "hub":
        return hub_splits(source.get("name", "ptb+wikitext2"))
    if kind == "files":
        paths = source.get("paths")
        if not paths:
            raise CorpusError("sample.source.paths: kind 'files' needs a list of files")
        return {str(p): read_lines([p]) for p in paths}
    return {"all": load_corpus(source)}


def load_corpus(source: dict) -> list[str]:
    """All raw sequences of a configured source (``sample.source``)."""
    kind = source.get("kind")
    if kind == "packaged":
        return packaged_corpus(source.get("name", "gensim-demo"))
    if kind == "hub":
        return hub_corpus(source.get("name", "ptb+wikitext2"))
    if kind in ("files", "list"):
        paths = source.get("paths")
        if not paths:
            raise CorpusError(f"sample.source.paths: kind {kind!r} needs a list of files")
        return read_lines(paths)
    raise CorpusError(f"sample.source.kind: expected packaged, hub, files or list, got {kind!r}")


def eligible(sequences: Iterable[str], min_tokens: int = 3, max_tokens: int = 50) -> list[str]:
    """Unique normalised sequences with ``min_tokens <= n_tokens <= max_tokens``, sorted.

    Sorting makes the pool independent of the corpus order, so a seeded draw is reproducible.
    """
    if min_tokens > max_tokens:
        raise CorpusError(f"sample: min_tokens ({min_tokens}) > max_tokens ({max_tokens})")
    pool = set()
    for s in sequences:
        s = normalize(s)
        if s and min_tokens <= n_tokens(s) <= max_tokens:
            pool.add(s)
    return sorted(pool)


def draw(pool: Sequence[str], n: int, seed: int) -> list[str]:
    """``n`` distinct sequences of ``pool`` drawn without replacement (seeded), in pool order."""
    if n > len(pool):
        raise CorpusError(f"sample.n: asked for {n} sequences, but the corpus has only "
                          f"{len(pool)} unique eligible sequences")
    idx = np.random.default_rng(seed).choice(len(pool), size=n, replace=False)
    return [pool[i] for i in np.sort(idx)]


RULES = ("project", "authors")


def authors_text(text: str) -> tuple[str, int]:
    """A line as the authors stored it: ``" ".join(build_tokenizer()(text))`` (case kept)."""
    tokens = TOKEN_RE.findall(text)
    return " ".join(tokens), len(tokens)


def authors_draw(splits: dict[str, Sequence[str]], n: int, *, min_tokens: int = 3,
                 max_tokens: int = 50, seed: int = 0) -> tuple[list[str], list[str]]:
    """The authors' sampling rule (docs/paper-run.md), seeded: ``(sample, pool)``, both sorted.

    Each draw picks a split uniformly, then a line of it uniformly; the line's
    :func:`authors_text` is kept when ``min_tokens < n_tokens < max_tokens`` (strict); draws repeat
    until ``n`` unique strings. ``pool`` is every eligible string of every split.
    """
    if min_tokens >= max_tokens - 1:
        raise CorpusError(f"sample: with the authors' strict rule min_tokens < n < max_tokens, "
                          f"min_tokens ({min_tokens}) and max_tokens ({max_tokens}) admit nothing")
    names = sorted(k for k, v in splits.items() if len(v))
    if not names:
        raise CorpusError("sample.source: the corpus has no lines")
    texts, ok = {}, {}
    for k in names:
        pairs = [authors_text(line) for line in splits[k]]
        texts[k] = [t for t, _ in pairs]
        ok[k] = np.array([min_tokens < c < max_tokens for _, c in pairs], dtype=bool)
    pool = sorted({t for k in names for t, good in zip(texts[k], ok[k]) if good})
    if n > len(pool):
        raise CorpusError(f"sample.n: asked for {n} sequences, but the corpus has only "
                          f"{len(pool)} unique eligible sequences (authors' rules)")
    rng = np.random.default_rng(seed)
    sizes = np.array([len(splits[k]) for k in names])
    chosen: set[str] = set()
    while len(chosen) < n:
        which = rng.integers(len(names), size=4096)
        rows = np.floor(rng.random(4096) * sizes[which]).astype(np.int64)
        for w, r in zip(which, rows):
            k = names[w]
            if ok[k][r]:
                chosen.add(texts[k][r])
                if len(chosen) == n:
                    break
    return sorted(chosen), pool


def sample_sequences(source: dict, n: int, *, min_tokens: int = 3, max_tokens: int = 50,
                     seed: int = 0, rules: str = "project") -> tuple[list[str], list[str]]:
    """The latent-space sample: ``(sample, pool)`` (Section 3.2), by ``rules`` (module doc).

    A ``list`` source is the sample itself: its lines are used as they are (deduplicated), and
    ``n`` of them drawn only if there are more.
    """
    if rules not in RULES:
        raise CorpusError(f"sample.rules: expected one of {RULES}, got {rules!r}")
    if source.get("kind") == "list":
        raw = load_corpus(source)
        pool = sorted({normalize(s) for s in raw if normalize(s)})
        if not pool:
            raise CorpusError(f"sample.source.paths: {source.get('paths')} hold no sequences")
        return (pool if n >= len(pool) else draw(pool, n, seed)), pool
    if rules == "authors":
        return authors_draw(load_splits(source), n, min_tokens=min_tokens,
                            max_tokens=max_tokens, seed=seed)
    pool = eligible(load_corpus(source), min_tokens, max_tokens)
    return draw(pool, n, seed), pool


# ----------------------------------------------------------------------------- Figure 2
def _freqs(counter: Counter) -> dict:
    total = sum(counter.values())
    return {k: v / total for k, v in counter.items()} if total else {}


def ngram_counts(sequences: Iterable[str]) -> tuple[Counter, Counter, Counter]:
    """Unigram, bigram and length (in tokens) counts of a list of sequences."""
    uni, bi, length = Counter(), Counter(), Counter()
    for s in sequences:
        toks = tokenize(s)
        uni.update(toks)
        bi.update(zip(toks, toks[1:]))
        length[len(toks)] += 1
    return uni, bi, length


def representativeness(pool: Sequence[str], n: int, n_samples: int = 10, seed: int = 0,
                       top: int = 2000):
    """Figure 2's statistics: unigram, bigram and length distributions of ``n_samples``
    independent samples of size ``n`` (seeds ``seed + 1 …``) against the whole corpus.

    Returns a long DataFrame with columns ``statistic`` (unigram | bigram | length), ``sample``
    (``corpus`` or the sample index), ``rank`` (by corpus frequency; length: the length),
    ``key`` and ``frequency`` (relative), restricted to the ``top`` most frequent corpus n-grams,
    and a summary DataFrame with the Jensen-Shannon divergence (base 2, over the full
    distributions) of each sample from the corpus, per statistic.
    """
    import pandas as pd
    from scipy.spatial.distance import jensenshannon

    corpus = [_freqs(c) for c in ngram_counts(pool)]
    names = ("unigram", "bigram", "length")
    rows = []
    ranks = []
    for stat, freq in zip(names, corpus):
        if stat == "length":
            keys = sorted(freq)
        else:
            keys = sorted(freq, key=lambda k: (-freq[k], str(k)))[:top]
        ranks.append(keys)
        for r, k in enumerate(keys, 1):
            rows.append((stat, "corpus", k if stat == "length" else r, _key(k), freq[k]))
    summary = []
    m = min(n, len(pool))
    for i in range(n_samples):
        sample = draw(pool, m, seed + 1 + i)
        for stat, keys, cf, sf in zip(names, ranks, corpus,
                                      (_freqs(c) for c in ngram_counts(sample))):
            for r, k in enumerate(keys, 1):
                rows.append((stat, str(i), k if stat == "length" else r, _key(k), sf.get(k, 0.0)))
            support = sorted(set(cf) | set(sf), key=str)
            js = jensenshannon([cf.get(k, 0.0) for k in support],
                               [sf.get(k, 0.0) for k in support], base=2)
            summary.append((stat, str(i), float(js)))
    table = pd.DataFrame(rows, columns=["statistic", "sample", "rank", "key", "frequency"])
    summ = pd.DataFrame(summary, columns=["statistic", "sample", "js_divergence"])
    return table, summ


def _key(k) -> str:
    return " ".join(k) if isinstance(k, tuple) else str(k)
