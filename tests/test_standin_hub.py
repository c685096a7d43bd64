"""The stand-in hub (rehearsal/standin_hub.py): built once, then read back through the libraries'
own calls in a subprocess with the hub offline (HF environment variables are read at import
time, so they cannot be set inside this process after transformers/datasets are imported)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("gensim")
pytest.importorskip("omegaconf")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "rehearsal"))
import standin_hub  # noqa: E402

MODEL_IDS = standin_hub.MODEL_IDS
GLUE_CONFIGS = list(standin_hub.GLUE)


@pytest.fixture(scope="session")
def hub(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("standin") / "hf_home"
    standin_hub.build(out)
    return out


def run_offline(hub: Path, code: str, timeout: int = 300) -> dict:
    """Run ``code`` in a fresh interpreter with the hub offline; it must ``emit(obj)`` once."""
    prelude = textwrap.dedent("""
        import json, sys, warnings
        warnings.filterwarnings("ignore")
        def emit(obj):
            print("RESULT:" + json.dumps(obj, default=str))
    """)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HF_", "TRANSFORMERS_", "HUGGINGFACE_"))}
    env.update(standin_hub.offline_env(hub))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT:")]
    assert proc.returncode == 0 and lines, (
        f"offline subprocess failed (rc {proc.returncode}):\n{proc.stdout[-3000:]}\n"
        f"{proc.stderr[-6000:]}")
    return json.loads(lines[-1][len("RESULT:"):])


def snapshot(hub: Path, repo_id: str) -> Path:
    root = hub / "hub" / ("models--" + repo_id.replace("/", "--"))
    sha = (root / "refs" / "main").read_text()
    return root / "snapshots" / sha


# ----------------------------------------------------------------------------- layout
def test_hub_cache_layout(hub):
    for repo_id in MODEL_IDS:
        root = hub / "hub" / ("models--" + repo_id.replace("/", "--"))
        sha = (root / "refs" / "main").read_text()
        assert re.fullmatch(r"[0-9a-f]{40}", sha), f"{repo_id}: refs/main {sha!r}"
        snap = root / "snapshots" / sha
        files = sorted(p.name for p in snap.iterdir())
        assert "config.json" in files
        for p in snap.iterdir():  # relative symlinks into blobs/, as huggingface_hub writes
            assert p.is_symlink() and not os.path.isabs(os.readlink(p))
            assert p.resolve().parent == (root / "blobs").resolve()


def test_repo_files_match_the_real_repositories(hub):
    files = {r: sorted(p.name for p in snapshot(hub, r).iterdir()) for r in MODEL_IDS}
    assert files["prajjwal1/bert-small"] == ["config.json", "pytorch_model.bin", "vocab.txt"]
    assert files["roberta-base"] == ["config.json", "dict.txt", "merges.txt", "model.safetensors",
                                     "pytorch_model.bin", "tokenizer.json",
                                     "tokenizer_config.json", "vocab.json"]
    assert files["bert-base-uncased"] == ["config.json", "model.safetensors", "pytorch_model.bin",
                                          "tokenizer.json", "tokenizer_config.json", "vocab.txt"]
    for name in ("mlm", "fc", "ascii", "rand"):
        assert files[f"aajrami/bert-{name}-base"] == ["config.json", "merges.txt",
                                                      "pytorch_model.bin",
                                                      "tokenizer_config.json", "vocab.json"]
    cfg = json.loads((snapshot(hub, "prajjwal1/bert-small") / "config.json").read_text())
    assert "model_type" not in cfg and "architectures" not in cfg  # as published (286 bytes)
    cfg = json.loads((snapshot(hub, "aajrami/bert-fc-base") / "config.json").read_text())
    assert cfg["architectures"] == ["RobertaModel"] and cfg["model_type"] == "roberta"
    cfg = json.loads((snapshot(hub, "roberta-base") / "config.json").read_text())
    assert cfg["architectures"] == ["RobertaForMaskedLM"]
    assert (cfg["max_position_embeddings"], cfg["type_vocab_size"], cfg["pad_token_id"]) == (
        514, 1, 1)


def test_roberta_base_checkpoint_has_no_pooler(hub):
    import torch
    from safetensors.torch import load_file

    snap = snapshot(hub, "roberta-base")
    for state in (load_file(str(snap / "model.safetensors")),
                  torch.load(snap / "pytorch_model.bin", map_location="cpu", weights_only=True)):
        assert not any("pooler" in k for k in state)
        assert all(k.startswith(("roberta.", "lm_head.")) for k in state)
        assert "lm_head.dense.weight" in state
        assert "roberta.encoder.layer.0.attention.self.query.weight" in state
    aj = torch.load(snapshot(hub, "aajrami/bert-mlm-base") / "pytorch_model.bin",
                    map_location="cpu", weights_only=True)
    assert "pooler.dense.weight" in aj and not any(k.startswith("roberta.") for k in aj)


def test_bert_base_uncased_keeps_legacy_layernorm_names(hub):
    from safetensors.torch import load_file

    state = load_file(str(snapshot(hub, "bert-base-uncased") / "model.safetensors"))
    assert "bert.embeddings.LayerNorm.gamma" in state and "bert.embeddings.LayerNorm.beta" in state
    assert not any(k.endswith("LayerNorm.weight") for k in state)
    assert "cls.predictions.decoder.bias" not in state


# ----------------------------------------------------------------------------- models
MODELS_CODE = f"""
        import torch, transformers
        transformers.logging.set_verbosity_error()
        from transformers import (AutoConfig, AutoModel, AutoModelForSequenceClassification,
                                  AutoTokenizer)
        out = {{}}
        for rid in {list(MODEL_IDS)!r}:
            r = out[rid] = {{}}
            try:
                cfg = AutoConfig.from_pretrained(rid)
            except ValueError as e:
                r["config_error"] = str(e)
                continue
            tok = AutoTokenizer.from_pretrained(rid)
            model, info = AutoModel.from_pretrained(rid, output_loading_info=True)
            clf = AutoModelForSequenceClassification.from_pretrained(rid, num_labels=3)
            enc = tok("The quick brown fox.", "Zweiter Satz, 中文!", return_tensors="pt")
            with torch.no_grad():
                h = model(**enc).last_hidden_state
                logits = clf(**enc).logits
            r.update(model_type=cfg.model_type, config_cls=type(cfg).__name__,
                     model_cls=type(model).__name__, tok_cls=type(tok).__name__,
                     vocab_size=cfg.vocab_size, tok_len=len(tok),
                     emb_rows=model.get_input_embeddings().weight.shape[0],
                     hidden=cfg.hidden_size, shape=list(h.shape), logits=list(logits.shape),
                     finite=bool(torch.isfinite(h).all()),
                     missing=sorted(info["missing_keys"]),
                     ids=enc["input_ids"][0].tolist(), cls=tok.cls_token_id,
                     sep=tok.sep_token_id, pad=tok.pad_token_id,
                     toks=tok.tokenize("Straße HELLO 中国"))
        out_all["models"] = out
"""


@pytest.fixture(scope="session")
def offline(hub) -> dict:
    """Everything read back through the libraries in ONE offline interpreter (imports are slow)."""
    code = "out_all = {}\n" + "\n".join(textwrap.dedent(c) for c in (
        MODELS_CODE, BERT_SMALL_CODE, GLUE_CODE, CORPORA_CODE,
        FAIRSEQ_CODE.replace("SINHA_DIR", repr(str(hub / "sinha"))))) + "\nemit(out_all)\n"
    return run_offline(hub, code)


def test_models_load_offline_with_the_auto_classes(offline):
    res = offline["models"]
    for rid in MODEL_IDS:
        r = res[rid]
        if rid == "prajjwal1/bert-small":
            continue
        assert r["vocab_size"] == r["tok_len"] == r["emb_rows"], (rid, r)
        assert r["finite"] and r["shape"][-1] == r["hidden"] and r["logits"][-1] == 3
        assert r["ids"][0] == r["cls"] and r["ids"][-1] == r["sep"]
    bert = [res[r] for r in ("bert-base-uncased", "bert-base-chinese",
                             "dbmdz/bert-base-german-uncased")]
    assert {r["model_type"] for r in bert} == {"bert"}
    assert len({r["hidden"] for r in bert}) == 1  # embeddings are swapped between them
    assert all(r["missing"] == [] for r in bert)  # gamma/beta renamed on load
    rob = [res[r] for r in MODEL_IDS if "roberta" in r or "aajrami" in r]
    assert {r["model_type"] for r in rob} == {"roberta"}
    assert len({r["vocab_size"] for r in rob}) == 1
    assert res["roberta-base"]["missing"] == ["pooler.dense.bias", "pooler.dense.weight"]
    assert res["aajrami/bert-mlm-base"]["missing"] == []
    assert (res["roberta-base"]["cls"], res["roberta-base"]["pad"],
            res["roberta-base"]["sep"]) == (0, 1, 2)
    # tokenizer kinds: uncased English, cased Chinese (CJK split per character), uncased German
    assert res["bert-base-uncased"]["toks"][:0] == [] and "hello" in "".join(
        res["bert-base-uncased"]["toks"]).replace("##", "")
    zh = res["bert-base-chinese"]["toks"]
    assert "中" in zh and "国" in zh and "hello" not in "".join(zh).replace("##", "")
    assert "straße" in res["dbmdz/bert-base-german-uncased"]["toks"]
    assert any(t.startswith("Ġ") for t in res["roberta-base"]["toks"])  # byte-level BPE
    # the real prajjwal1/bert-small config.json has no model_type: transformers 5 refuses it
    assert "model_type" in res["prajjwal1/bert-small"]["config_error"]


BERT_SMALL_CODE = """
        import transformers
        transformers.logging.set_verbosity_error()
        from transformers import AutoModel, AutoTokenizer, BertConfig
        cfg = BertConfig.from_pretrained("prajjwal1/bert-small")
        model, info = AutoModel.from_pretrained("prajjwal1/bert-small", config=cfg,
                                                output_loading_info=True)
        tok = AutoTokenizer.from_pretrained("prajjwal1/bert-small", config=cfg)
        out_all["bert_small"] = dict(model=type(model).__name__,
                  missing=sorted(info["missing_keys"]),
                  vocab=cfg.vocab_size, tok_len=len(tok), lower=tok.tokenize("HELLO"))
"""


def test_bert_small_loads_with_an_explicit_config_class(offline):
    res = offline["bert_small"]
    assert res["model"] == "BertModel" and res["missing"] == []
    assert res["vocab"] == res["tok_len"] and res["lower"][0].islower()


# ----------------------------------------------------------------------------- datasets
GLUE_CODE = f"""
        import datasets
        datasets.logging.set_verbosity_error()
        out = {{}}
        for cfg in {GLUE_CONFIGS!r}:
            ds = datasets.load_dataset("nyu-mll/glue", cfg)
            out[cfg] = {{s: dict(n=len(d), cols=d.column_names,
                                 feats={{k: repr(v) for k, v in d.features.items()}},
                                 labels=sorted(set(d["label"])))
                        for s, d in ds.items()}}
        out_all["glue"] = out
"""


def test_glue_configs_load_offline(offline):
    res = offline["glue"]
    cols = {"cola": ["sentence"], "sst2": ["sentence"], "mrpc": ["sentence1", "sentence2"],
            "qqp": ["question1", "question2"], "stsb": ["sentence1", "sentence2"],
            "mnli": ["premise", "hypothesis"], "qnli": ["question", "sentence"],
            "rte": ["sentence1", "sentence2"], "wnli": ["sentence1", "sentence2"]}
    names = {"cola": ["unacceptable", "acceptable"], "sst2": ["negative", "positive"],
             "mrpc": ["not_equivalent", "equivalent"], "qqp": ["not_duplicate", "duplicate"],
             "mnli": ["entailment", "neutral", "contradiction"],
             "qnli": ["entailment", "not_entailment"], "rte": ["entailment", "not_entailment"],
             "wnli": ["not_entailment", "entailment"]}
    for cfg, splits in res.items():
        want = (["train", "validation_matched", "validation_mismatched", "test_matched",
                 "test_mismatched"] if cfg == "mnli" else ["train", "validation", "test"])
        assert list(splits) == want, cfg
        for split, s in splits.items():
            assert s["cols"] == cols[cfg] + ["label", "idx"], (cfg, split)
            assert s["n"] > 0
            assert s["feats"]["idx"] == "Value('int32')"
            if cfg == "stsb":
                assert s["feats"]["label"] == "Value('float32')"
            else:
                assert s["feats"]["label"] == f"ClassLabel(names={names[cfg]!r})"
            if split.startswith("test"):
                assert s["labels"] == [-1]
            else:
                assert min(s["labels"]) >= 0 and -1 not in s["labels"]


CORPORA_CODE = """
        import datasets
        datasets.logging.set_verbosity_error()
        ptb = datasets.load_dataset("ptb-text-only/ptb_text_only",
                                    revision="refs/convert/parquet")
        out = {"ptb": {s: dict(cols=d.column_names, feats=repr(d.features),
                               rows=list(d["sentence"]))
                       for s, d in ptb.items()}}
        for cfg in ("wikitext-2-raw-v1", "wikitext-2-v1"):
            wt = datasets.load_dataset("Salesforce/wikitext", cfg)
            out[cfg] = {s: dict(cols=d.column_names, rows=list(d["text"])) for s, d in wt.items()}
        out_all["corpora"] = out
"""


def test_ptb_and_wikitext_load_offline_in_their_schema(offline):
    res = offline["corpora"]
    assert list(res["ptb"]) == ["train", "validation", "test"]
    ptb_rows = [r for s in res["ptb"].values() for r in s["rows"]]
    assert all(s["cols"] == ["sentence"] for s in res["ptb"].values())
    for r in ptb_rows:  # lower-case words, N for numbers, no digits or punctuation marks
        words = [t for t in r.split() if t not in ("N", "<unk>")]
        assert all(t == t.lower() for t in words) and not re.search(r"\d|[,.;:!?]", r), r
    joined = " ".join(ptb_rows).split()
    assert "<unk>" in joined and "N" in joined and "'s" in joined
    for cfg in ("wikitext-2-raw-v1", "wikitext-2-v1"):
        assert list(res[cfg]) == ["train", "validation", "test"]
        rows = [r for s in res[cfg].values() for r in s["rows"]]
        assert all(s["cols"] == ["text"] for s in res[cfg].values())
        assert "" in rows
        assert any(re.fullmatch(r" = [^=].* = \n", r) for r in rows)
        assert any(re.fullmatch(r" = = .* = = \n", r) for r in rows)
        body = [r for r in rows if r and not r.lstrip().startswith("=")]
        assert all(r.startswith(" ") and r.endswith(" \n") for r in body)
        text = "".join(rows)
        assert " @-@ " in text and (" @,@ " in text or " @.@ " in text)
    assert "<unk>" not in "".join(r for s in res["wikitext-2-raw-v1"].values() for r in s["rows"])
    assert "<unk>" in "".join(r for s in res["wikitext-2-v1"].values() for r in s["rows"])


# ----------------------------------------------------------------------------- fairseq
def _fairseq_forward(state: dict, tokens, *, heads: int, pad: int = 1, eps: float = 1e-5):
    """RoBERTa as fairseq runs it, in plain torch ops on fairseq's parameter names: learned
    positions offset by padding_idx + 1, embedding LayerNorm, post-LN layers (attention, then
    GELU feed-forward), padded positions zeroed after the embeddings."""
    import torch
    import torch.nn.functional as F

    p = "encoder.sentence_encoder."
    w = {k[len(p):]: v.float() for k, v in state.items() if k.startswith(p)}
    d = w["embed_tokens.weight"].shape[1]
    mask = tokens.ne(pad)
    positions = torch.cumsum(mask, dim=1) * mask + pad
    x = F.embedding(tokens, w["embed_tokens.weight"]) + F.embedding(positions,
                                                                    w["embed_positions.weight"])
    x = F.layer_norm(x, (d,), w["layernorm_embedding.weight"], w["layernorm_embedding.bias"], eps)
    x = x * mask.unsqueeze(-1).to(x.dtype)
    n_layers = 1 + max(int(m.group(1)) for k in w if (m := re.match(r"layers\.(\d+)\.", k)))
    b, t, hd = tokens.shape[0], tokens.shape[1], d // heads

    def lin(y, name):
        return F.linear(y, w[name + ".weight"], w[name + ".bias"])

    for i in range(n_layers):
        L = f"layers.{i}."
        q = lin(x, L + "self_attn.q_proj") * hd ** -0.5
        k, v = lin(x, L + "self_attn.k_proj"), lin(x, L + "self_attn.v_proj")
        q, k, v = (z.view(b, t, heads, hd).transpose(1, 2) for z in (q, k, v))
        scores = q @ k.transpose(-1, -2)
        scores = scores.masked_fill(~mask[:, None, None, :], float("-inf"))
        attn = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, d)
        x = F.layer_norm(x + lin(attn, L + "self_attn.out_proj"), (d,),
                         w[L + "self_attn_layer_norm.weight"], w[L + "self_attn_layer_norm.bias"],
                         eps)
        ff = lin(F.gelu(lin(x, L + "fc1")), L + "fc2")
        x = F.layer_norm(x + ff, (d,), w[L + "final_layer_norm.weight"],
                         w[L + "final_layer_norm.bias"], eps)
    return x


def test_fairseq_checkpoints_have_fairseqs_layout(hub):
    import torch
    from omegaconf import DictConfig

    for name in standin_hub.SINHA:
        folder = hub / "sinha" / name
        ckpt = torch.load(folder / "model.pt", map_location="cpu", weights_only=False)
        assert {"cfg", "args", "model", "optimizer_history", "extra_state",
                "last_optimizer_state"} <= set(ckpt)
        assert isinstance(ckpt["cfg"], DictConfig) and ckpt["args"] is None
        assert ckpt["cfg"].model.arch == "roberta_base"
        assert ckpt["cfg"].checkpoint.no_save_optimizer_state is False
        assert {"criterion_name", "optimizer_name", "lr_scheduler_state",
                "num_updates"} <= set(ckpt["optimizer_history"][-1])
        assert "train_iterator" in ckpt["extra_state"]
        keys = set(ckpt["model"])
        pre = "encoder.sentence_encoder."
        for k in ("embed_tokens.weight", "embed_positions.weight", "layernorm_embedding.weight",
                  "layers.0.self_attn.k_proj.weight", "layers.0.self_attn.q_proj.bias",
                  "layers.0.self_attn.out_proj.weight", "layers.1.self_attn_layer_norm.bias",
                  "layers.1.fc1.weight", "layers.1.fc2.bias", "layers.1.final_layer_norm.weight"):
            assert pre + k in keys, k
        assert {"encoder.lm_head.weight", "encoder.lm_head.bias", "encoder.lm_head.dense.weight",
                "encoder.lm_head.layer_norm.weight"} <= keys
        emb = ckpt["model"][pre + "embed_tokens.weight"]
        lines = (folder / "dict.txt").read_text(encoding="utf-8").splitlines()
        assert all(re.fullmatch(r"\S+ \d+", ln) for ln in lines)
        assert emb.shape[0] == len(lines) + 5  # <s> <pad> </s> <unk> first, <mask> last
        assert ckpt["model"][pre + "embed_positions.weight"].shape[0] == 514
    roberta_vocab = json.loads((snapshot(hub, "roberta-base") / "config.json").read_text())
    assert emb.shape[0] == roberta_vocab["vocab_size"]


def test_fairseq_checkpoint_needs_omegaconf(hub):
    path = hub / "sinha" / standin_hub.SINHA[0] / "model.pt"
    code = textwrap.dedent(f"""
        import sys, torch
        sys.modules["omegaconf"] = None  # as on a machine without omegaconf
        try:
            torch.load({str(path)!r}, map_location="cpu", weights_only=False)
        except ImportError:
            print("NEEDS_OMEGACONF")
        try:
            torch.load({str(path)!r}, map_location="cpu", weights_only=True)
        except Exception:
            print("NOT_WEIGHTS_ONLY")
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120).stdout
    assert "NEEDS_OMEGACONF" in out and "NOT_WEIGHTS_ONLY" in out


FAIRSEQ_CODE = f"""
        import torch
        from latentgeom.nonstandard import load_fairseq_roberta
        out = {{}}
        tokens = torch.tensor([[0, 31, 57, 102, 250, 2, 1, 1], [0, 9, 400, 77, 18, 64, 311, 2]])
        mask = tokens.ne(1).long()
        for name in {list(standin_hub.SINHA)!r}:
            model = load_fairseq_roberta(SINHA_DIR + "/" + name + "/model.pt",
                                         "hub:roberta-base")
            with torch.no_grad():
                h = model(input_ids=tokens, attention_mask=mask).last_hidden_state
            out[name] = dict(h=h.tolist(), heads=model.config.num_attention_heads,
                             eps=model.config.layer_norm_eps)
        out_all["fairseq"] = dict(out=out, tokens=tokens.tolist())
"""


def test_fairseq_conversion_matches_an_independent_forward_pass(hub, offline):
    import torch

    res = offline["fairseq"]
    tokens = torch.tensor(res["tokens"])
    keep = tokens.ne(1)
    outs = []
    for name in standin_hub.SINHA:
        state = torch.load(hub / "sinha" / name / "model.pt", map_location="cpu",
                           weights_only=False)["model"]
        r = res["out"][name]
        with torch.no_grad():
            ref = _fairseq_forward(state, tokens, heads=r["heads"], eps=r["eps"])
        hf = torch.tensor(r["h"])
        torch.testing.assert_close(hf[keep], ref[keep], atol=1e-5, rtol=0)
        outs.append(hf[keep])
    assert not torch.allclose(outs[0], outs[1])  # three distinct checkpoints


# ----------------------------------------------------------------------------- build
def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): (os.readlink(p) if p.is_symlink()
                                       else hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(root.rglob("*"))
            if (p.is_file() or p.is_symlink()) and not p.name.endswith(".lock")}  # reader locks


def test_build_is_deterministic_and_refuses_a_non_empty_folder(hub, tmp_path):
    again = tmp_path / "again"
    standin_hub.build(again)
    assert _tree_digest(again) == _tree_digest(hub)
    with pytest.raises(FileExistsError):
        standin_hub.build(again)
    assert standin_hub.main(["--out", str(again), "--force"]) == 0


# ----------------------------------------------------------------------------- the project
def test_the_projects_loaders_read_every_paper_source_offline(hub):
    """The project's own loading code, unchanged, on every hub id config/paper.yaml names."""
    sinha = hub / "sinha" / "roberta.base.orig" / "model.pt"
    res = run_offline(hub, f"""
        from latentgeom import corpus, models, nonstandard
        from latentgeom.glue.data import load_split_frames
        from latentgeom.glue.tasks import get_task
        splits = corpus.hub_splits("ptb+wikitext2")
        out = dict(splits={{k: len(v) for k, v in splits.items()}})
        sample, pool = corpus.sample_sequences(dict(kind="hub", name="ptb+wikitext2"), 30,
                                               rules="authors")
        out["sample"] = sample
        out["models"] = dict()
        for src in ["hub:prajjwal1/bert-small", "hub:bert-base-uncased", "hub:roberta-base",
                    "hub:bert-base-chinese", "hub:dbmdz/bert-base-german-uncased",
                    "hub:aajrami/bert-mlm-base"]:
            m, tok = models.load_base(src)
            out["models"][src] = [m.config.model_type, len(tok), m.latentgeom_initialised]
        m, _ = nonstandard.build("fairseq_roberta", source="hub:roberta-base",
                                 checkpoint="{sinha}")
        out["sinha"] = m.config.model_type
        frames = {{t: load_split_frames(get_task(t), "hub") for t in ["cola", "stsb", "mnli"]}}
        out["glue"] = {{t: {{s: list(f.columns) for s, f in fr.items()}}
                       for t, fr in frames.items()}}
        emit(out)
    """)
    assert set(res["splits"]) == {"ptb/train", "ptb/validation", "ptb/test", "wikitext2/train",
                                  "wikitext2/validation", "wikitext2/test"}
    assert len(res["sample"]) == 30 and all(3 < len(s.split()) < 50 for s in res["sample"])
    assert all(re.fullmatch(r"[\w ]+", s) for s in res["sample"])  # build_tokenizer text
    assert res["models"]["hub:prajjwal1/bert-small"][0] == "bert"
    assert res["models"]["hub:roberta-base"][2] == ["pooler.dense.bias", "pooler.dense.weight"]
    assert res["sinha"] == "roberta"
    assert res["glue"]["mnli"]["validation_matched"] == ["premise", "hypothesis", "label"]


def test_perturbed_roberta_base_checksum_is_stable_across_processes(hub):
    code = """
        from latentgeom import models
        m, _, ch = models.perturbed_model("hub:roberta-base", 0.05, 1)
        man = models.make_manifest(name="r", base="hub:roberta-base", alpha=0.05, seed=1,
                                   scope="encoder_weights", architecture="roberta", model=m,
                                   changed=ch)
        models.load_from_manifest(man)   # verifies
        emit(man["checksum"])
    """
    assert run_offline(hub, code) == run_offline(hub, code)
