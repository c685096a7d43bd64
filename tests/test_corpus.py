"""Sampling (Section 3.2) and representativeness statistics (Fig. 2)."""
from __future__ import annotations

import pytest

from latentgeom import corpus


def test_token_count_matches_scikit_learn():
    from sklearn.feature_extraction.text import CountVectorizer

    analyzer = CountVectorizer().build_analyzer()
    for s in ["The cat sat on a mat.", "N.Y. stocks fell 3.5% -- a record", "I a",
              "ünïcode wörds ok"]:
        assert corpus.tokenize(s) == analyzer(s)
        assert corpus.n_tokens(s) == len(analyzer(s))


def test_eligible_unique_and_bounds():
    seqs = ["one two three", "one  two three ", "aa bb", "a b c d e", " ", "",
            " ".join(["word"] * 50), " ".join(["word"] * 51)]
    pool = corpus.eligible(seqs, 3, 50)
    # duplicates (after whitespace normalisation) once; single letters are not tokens.
    assert pool == sorted(["one two three", " ".join(["word"] * 50)])


def test_draw_deterministic_and_errors():
    pool = [f"sentence number {i}" for i in range(100)]
    a = corpus.draw(pool, 10, seed=1)
    assert a == corpus.draw(pool, 10, seed=1)
    assert a != corpus.draw(pool, 10, seed=2)
    assert len(set(a)) == 10
    with pytest.raises(corpus.CorpusError, match="only 100 unique eligible"):
        corpus.draw(pool, 101, seed=0)


def test_files_and_list_sources(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("\n".join(f"this is sentence {i} here" for i in range(30)) + "\nshort\n")
    sample, pool = corpus.sample_sequences({"kind": "files", "paths": [str(f)]}, 5, seed=0)
    assert len(sample) == 5 and len(pool) == 30
    lst = tmp_path / "list.txt"
    lst.write_text("b b b\na a a\nb b b\n")
    sample, _ = corpus.sample_sequences({"kind": "list", "paths": [str(lst)]}, 10)
    assert sample == ["a a a", "b b b"]
    with pytest.raises(corpus.CorpusError, match="does not exist"):
        corpus.load_corpus({"kind": "files", "paths": [str(tmp_path / "nope.txt")]})
    with pytest.raises(corpus.CorpusError, match="kind"):
        corpus.load_corpus({"kind": "web"})


def test_paper_sample_as_list(published):
    seqs, pool = corpus.sample_sequences(
        {"kind": "list", "paths": [str(published / "sample_sequences.txt")]}, 5000)
    assert len(seqs) == 5000
    words = sum(len(s.split()) for s in seqs)
    assert words == 97283  # NOTES.md


def test_packaged_demo_corpus():
    raw = corpus.packaged_corpus()
    pool = corpus.eligible(raw)
    assert len(pool) > 15000
    assert all(3 <= corpus.n_tokens(s) <= 50 for s in pool[:1000])
    assert not any("[[" in s or "{{" in s for s in pool)


def test_representativeness_table():
    pool = [f"w{i % 37} w{(i * 7) % 11} w{i % 5} tail{i % 3}" for i in range(400)]
    table, summary = corpus.representativeness(pool, 100, n_samples=3, seed=0, top=50)
    assert set(table.statistic) == {"unigram", "bigram", "length"}
    assert set(table["sample"]) == {"corpus", "0", "1", "2"}
    corpus_uni = table[(table.statistic == "unigram") & (table["sample"] == "corpus")]
    assert corpus_uni.frequency.is_monotonic_decreasing
    length = table[(table.statistic == "length") & (table["sample"] == "corpus")]
    assert length.frequency.sum() == pytest.approx(1.0)
    assert len(summary) == 9 and (summary.js_divergence >= 0).all()
    assert (summary.js_divergence <= 1).all()


def test_authors_text_is_build_tokenizer_joined():
    from sklearn.feature_extraction.text import CountVectorizer

    tok = CountVectorizer().build_tokenizer()
    for line in [" the <unk> company said N % of its shares a b ", " = Valkyria Chronicles III = ",
                 "It 's a well @-@ known fact , isn't it ?", ""]:
        text, n = corpus.authors_text(line)
        assert text == " ".join(tok(line)) and n == len(tok(line))
    assert corpus.authors_text("Ab cD e")[0] == "Ab cD"  # case kept, 1-char words gone


def test_authors_rules_strict_bounds_split_uniform_and_seeded():
    import numpy as np

    # Split "big" has 1,000 eligible lines, "small" 10: a split is chosen uniformly whatever its
    # size, so about half of the draws come from "small" until its 10 lines are used up.
    big = [f"big{i} w1 w2 w3" for i in range(1000)]            # 4 tokens: eligible
    small = [f"small{i} x1 x2 x3 x4" for i in range(10)] + ["aa bb cc"] * 5  # 3 tokens: not
    splits = {"big": big, "small": small}
    sample, pool = corpus.authors_draw(splits, 40, min_tokens=3, max_tokens=50, seed=1)
    assert len(sample) == len(set(sample)) == 40 and sample == sorted(sample)
    assert "aa bb cc" not in pool and len(pool) == 1010
    # a draw uniform over all lines would give ~0.4 of them
    assert sum(s.startswith("small") for s in sample) >= 5
    assert corpus.authors_draw(splits, 40, seed=1) == (sample, pool)
    assert corpus.authors_draw(splits, 40, seed=2)[0] != sample
    # strict: 49 tokens in, 50 out
    n49, n50 = " ".join(["ww"] * 49), " ".join(["ww"] * 50)
    assert corpus.authors_draw({"a": [n49, n50, "aa bb cc dd"]}, 2, seed=0)[1] == sorted(
        [n49, "aa bb cc dd"])
    with pytest.raises(corpus.CorpusError, match="sample.n"):
        corpus.authors_draw(splits, 2000, seed=0)
    assert np.all([4 <= len(s.split()) <= 49 for s in sample])


def test_hub_corpus_names():
    assert corpus.hub_parts("ptb+wikitext2") == ["ptb", "wikitext2"]
    with pytest.raises(corpus.CorpusError, match="sample.source.name"):
        corpus.hub_parts("ptb+wiki")
