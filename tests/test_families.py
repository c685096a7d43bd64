"""Every model family through the per-model chain: the structural perturbation scope
(``block_weights``), embedding, quantization, measures and fine-tuning on a proxy task, on tiny
random-initialised models of eight families (conftest.build_tiny_family)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import DECODERS, FAMILIES

from latentgeom import embed, models
from latentgeom.glue.data import build_cache, load_cache
from latentgeom.glue.model import classification_model, drop_unused_inputs
from latentgeom.glue.stages import finetune_stage, minibench_stage
from latentgeom.glue.tasks import get_task
from latentgeom.stages import embed_stage, measures_stage, perturb_stage, quantize_stage

#: Tensors that ``block_weights`` perturbs in a 2-block model, per block, counted by hand from
#: each family's layer: attention q/k/v/out + 2 feed-forward maps + 2 LayerNorms (BERT-like);
#: DistilBERT the same under other names; ModernBERT fused Wqkv, Wo, Wi, Wo, mlp_norm and an
#: attn_norm except in block 0 (an Identity there); GPT-2 c_attn, c_proj, c_fc, c_proj, ln_1,
#: ln_2; Llama q/k/v/o, gate/up/down and two RMSNorms.
EXPECTED_PERTURBED = {"bert": 16, "roberta": 16, "xlm-roberta": 16, "distilbert": 16, "electra": 16,
                      "deberta-v2": 16, "modernbert": 11, "gpt2": 12, "llama": 18}
SEQUENCES = [
    "the film was good", "a dog and a cat were in the story",
    "alpha beta gamma", "his first movie was awful but the second one was great",
    "red", "green blue yellow horse cow",
] * 8


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_roberta", "minilm_dir"])
def test_block_weights_is_encoder_weights_for_bert_and_roberta(request, fixture):
    """Same tensors, same noise, same checksum as the paper's name-based scope."""
    path = request.getfixturevalue(fixture)
    model, _ = models.load_base(path, with_tokenizer=False)
    names = models.scope_names(model, "block_weights")
    assert names == models.scope_names(model, "encoder_weights")
    assert names == [n for n in model.state_dict() if models.is_perturbed(n)]
    state = model.state_dict()
    a, changed_a = models.perturb_state_dict(state, 0.05, 3, "encoder_weights")
    b, changed_b = models.perturb_state_dict(state, 0.05, 3, "block_weights", names=names)
    assert changed_a == changed_b == names
    assert models.state_checksum(a) == models.state_checksum(b)
    assert models.state_checksum(a) != models.state_checksum(state)


def test_structural_scope_needs_the_model(tiny_bert):
    state = models.load_base(tiny_bert, with_tokenizer=False)[0].state_dict()
    with pytest.raises(ValueError, match="scope_names"):
        models.perturb_state_dict(state, 0.1, 0, "block_weights")
    with pytest.raises(ValueError, match="module tree"):
        models.is_perturbed("encoder.layer.0.output.dense.weight", "block_weights")
    with pytest.raises(ValueError, match="no stack of transformer blocks"):
        models.transformer_blocks(torch.nn.Sequential(torch.nn.Linear(2, 2)))


def test_deberta_position_projections_are_perturbed_when_not_shared():
    from transformers import DebertaV2Config, DebertaV2Model

    model = DebertaV2Model(DebertaV2Config(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, relative_attention=True, pos_att_type=["p2c", "c2p"],
        share_att_key=False))
    names = models.block_weight_names(model)
    assert {f"encoder.layer.0.attention.self.{p}.weight" for p in ("pos_key_proj",
                                                                    "pos_query_proj")} <= set(names)
    assert len(names) == 10 and not any("rel_embeddings" in n for n in names)


def test_no_weight_decay_on_biases_and_norm_gains_of_every_family():
    from latentgeom.glue.train import decays

    kept = ["bert.encoder.layer.0.attention.output.LayerNorm.weight",
            "distilbert.transformer.layer.0.sa_layer_norm.weight", "transformer.h.0.ln_1.weight",
            "transformer.ln_f.weight", "model.layers.0.input_layernorm.weight",
            "model.norm.weight", "model.layers.1.attn_norm.weight", "classifier.bias",
            "deberta.encoder.LayerNorm.weight"]
    decayed = ["bert.encoder.layer.0.attention.self.query.weight", "transformer.h.0.attn.c_attn"
               ".weight", "model.layers.0.mlp.down_proj.weight", "score.weight",
               "bert.embeddings.word_embeddings.weight", "model.layers.0.attn.Wqkv.weight"]
    assert not any(decays(n) for n in kept) and all(decays(n) for n in decayed)


def test_decoder_gets_eos_as_pad(tiny_family):
    for family in DECODERS:
        tok = models.load_tokenizer(tiny_family(family))
        assert tok.pad_token is not None and tok.pad_token == tok.eos_token


@pytest.fixture(scope="module")
def proxy_data(tmp_path_factory):
    """The mini-benchmark's sentence-pair task (adjacent: QNLI/MRPC-like), tiny."""
    root = tmp_path_factory.mktemp("proxy")
    minibench_stage(root, tasks=["adjacent"], sizes={"adjacent": [24, 16]}, seed=0)
    return root


@pytest.mark.parametrize("family", FAMILIES)
def test_family_perturb_embed_quantize_measure_finetune(family, tiny_family, proxy_data,
                                                        tmp_path):
    base = f"path:{tiny_family(family)}"
    # --- perturb (block_weights): exactly the blocks' linear maps and norm gains
    man = perturb_stage(name=f"{family}_a0.3_s1", manifest_path=str(tmp_path / "man.json"),
                        base=base, alpha=0.3, seed=1, scope="block_weights", architecture=family)
    orig, tok = models.load_base(base)
    stacks = models.transformer_blocks(orig)
    assert len(stacks) == 1
    assert len(orig.get_submodule(stacks[0])) == orig.config.num_hidden_layers == 2
    changed = man["perturbed_tensors"]
    assert len(changed) == EXPECTED_PERTURBED[family]
    assert all(n.startswith(f"{stacks[0]}.") and n.endswith(".weight") for n in changed)
    rebuilt, _ = models.load_from_manifest(man)  # checksum verified
    before, after = orig.state_dict(), rebuilt.state_dict()
    for k in before:
        assert torch.equal(before[k], after[k]) == (k not in changed), k
    assert not any("emb" in n or "bias" in n for n in changed)

    # --- embed: every non-padding token of the last layer, batched = one at a time
    seqs = tmp_path / "seqs.txt"
    seqs.write_text("\n".join(SEQUENCES) + "\n")
    X = embed_stage(manifest_path=str(tmp_path / "man.json"), sequences_path=str(seqs),
                    out_embeddings=str(tmp_path / "X.npy"), out_meta=str(tmp_path / "X.json"),
                    batch_size=5, device="cpu")
    lengths = [len(ids) for ids in tok(SEQUENCES)["input_ids"]]
    assert X.shape == (sum(lengths), rebuilt.config.hidden_size)
    X1, len1 = embed.embed_sequences(rebuilt, tok, SEQUENCES, batch_size=1, device="cpu",
                                     progress=False)
    np.testing.assert_allclose(X, X1, atol=2e-5, rtol=1e-4)
    assert len1.tolist() == lengths
    # tokens of the same sequence alone in a batch of one: the first sequence's rows
    ids = torch.tensor([tok(SEQUENCES[0])["input_ids"]])
    with torch.inference_mode():
        h = rebuilt(input_ids=ids, output_hidden_states=True).hidden_states[-1][0].numpy()
    np.testing.assert_allclose(X[:lengths[0]], h, atol=2e-5, rtol=1e-4)

    # --- quantize and measure (both quantizer kinds)
    qpaths = []
    for qname, spec in {"additive": {"method": "lsq", "M": 2, "nbits": 4},
                        "product": {"method": "pq", "M": 2, "nbits": 4}}.items():
        qpaths.append(str(tmp_path / f"quantized_{qname}.npz"))
        quantize_stage(embeddings_path=str(tmp_path / "X.npy"), out_path=qpaths[-1], spec=spec,
                       use_gpu=False, threads=1)
    res = measures_stage(embeddings_path=str(tmp_path / "X.npy"), quantized_paths=qpaths,
                         out_path=str(tmp_path / "measures.json"))
    for group in ("spread", "additive", "product"):
        assert res[group] and all(np.isfinite(v) for v in res[group].values()), (group, res)

    # --- fine-tune on the proxy task (a sentence-pair task)
    task = get_task("adjacent")
    cache = tmp_path / "cache"
    meta = build_cache(task=task, source=proxy_data, tokenizer_source=base, out_dir=cache,
                       max_length=96)
    assert meta["pad_token_id"] == tok.pad_token_id is not None
    model, _ = classification_model(man, task.num_labels, task.problem_type, seed=0)
    assert model.config.pad_token_id == tok.pad_token_id
    if family in DECODERS:
        assert tok.pad_token_id == tok.eos_token_id
    # the head of a padded batch (the cache's pad id, right padding, as training pads) gives
    # each example's logits as if it were alone
    _, splits = load_cache(cache, task)
    drop_unused_inputs(model, splits)
    dev = splits["validation"]
    a, b = (dev.ids[dev.offsets[i]:dev.offsets[i] + n] for i, n in ((0, 11), (1, 29)))
    ids = torch.full((2, 29), meta["pad_token_id"], dtype=torch.long)
    ids[0, :11], ids[1] = torch.as_tensor(a), torch.as_tensor(b)
    mask = (torch.arange(29) < torch.tensor([[11], [29]])).long()
    model.eval()
    with torch.inference_mode():
        both = model(input_ids=ids, attention_mask=mask).logits
        for row, x in enumerate((a, b)):
            alone = model(input_ids=torch.as_tensor(x)[None]).logits[0]
            torch.testing.assert_close(both[row], alone, atol=1e-5, rtol=1e-4)
    out = tmp_path / "ft"
    metrics = finetune_stage(manifest=man, task="adjacent", cache_dir=cache,
                             out_metrics=out / "metrics.json", out_log=out / "log.csv",
                             hyperparameters={"epochs": 1, "batch_size": 8, "max_length": 96,
                                              "learning_rate": 1e-3, "checkpoint_every": 0},
                             scratch=tmp_path / "scratch", device="cpu", threads=1)
    assert metrics["train"]["steps"] == 3 and 0.0 <= metrics["score"] <= 1.0
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["manifest"]["scope"] == "block_weights"
    losses = np.loadtxt(out / "log.csv", delimiter=",", skiprows=1, usecols=2, ndmin=1)
    assert len(losses) == 3 and np.isfinite(losses).all()


@pytest.mark.slow
def test_dag_on_an_encoder_and_a_decoder(tmp_path, tiny_family, tiny_bert):
    """The whole DAG (perturb, sample, embed, quantize, measures, a proxy task's fine-tuning,
    tables, statistics, figures) on a tiny ModernBERT and a tiny Llama side by side, under the
    structural scope (two models each: few jobs, as each job's start-up dominates)."""
    import pandas as pd
    import yaml
    from test_workflow import planned, smk, tiny_config

    cfg_path = tiny_config(tmp_path, tiny_bert)
    cfg = yaml.safe_load(cfg_path.read_text())
    enc, dec = f"path:{tiny_family('modernbert')}", f"path:{tiny_family('llama')}"
    cfg["models"]["scope"] = "block_weights"
    cfg["models"]["bases"] = {
        "enc": {"source": enc, "architecture": "modernbert", "alphas": [0.0, 0.3]},
        "dec": {"source": dec, "architecture": "llama", "alphas": [0.0, 0.3]}}
    cfg["nonstandard"] = {"dec-shuffle": {"recipe": "shuffle_embeddings", "architecture": "llama",
                                          "source": dec, "seed": 0}}
    cfg["glue"]["tasks"] = ["polarity"]
    cfg["predict"] = {"models": {"card": {"source": "dec-shuffle"}}}  # a model of the run
    cfg_path.write_text(yaml.safe_dump(cfg))
    smk("--cores", "2", "--directory", str(tmp_path), "--configfile", str(cfg_path))
    res = tmp_path / "results"
    models_ = pd.read_csv(res / "tables/models.csv").set_index("model")
    assert sorted(models_.index) == ["dec-shuffle", "dec_a0.3_s0", "dec_a0_s0", "enc_a0.3_s0",
                                     "enc_a0_s0"]
    assert set(models_.architecture) == {"modernbert", "llama"}
    for col in ("spread.EEE", "additive.PP", "product.PD_EEE", "glue.polarity", "glue_average"):
        assert models_[col].notna().all(), col
    for name, n in (("enc_a0.3_s0", 11), ("dec_a0.3_s0", 18)):
        man = json.loads((res / f"models/{name}/manifest.json").read_text())
        assert man["scope"] == "block_weights" and len(man["perturbed_tensors"]) == n
    emb = json.loads((res / "latent/dec_a0_s0/embeddings.json").read_text())
    sample = (res / "sample/sequences.txt").read_text().splitlines()
    tok = models.load_tokenizer(dec)
    assert emb["lengths"] == [len(t) for t in tok(sample)["input_ids"]]  # every token, no pad
    t2 = pd.read_csv(res / "analysis/table2.csv")
    assert {"r_modernbert", "r_llama"} <= set(t2.columns)
    assert planned("--directory", str(tmp_path), "--configfile", str(cfg_path)) == {}
    check_predict(res, models_, t2)


def check_predict(res, models_, t2):
    """latentgeom predict on a finished run: a leave-one-out reference reproduces the analysis'
    measures and predictions of the model left out; a mismatched request is refused."""
    import pandas as pd

    from latentgeom.predict import ReferenceError, predict

    loo = res / "tables/models_loo.csv"
    models_.drop(index="dec-shuffle").reset_index().to_csv(loo, index=False)
    card = predict("dec-shuffle", loo, device="cpu")
    assert card["architecture"] == "llama" and card["architecture_in_reference"]
    assert card["execution"]["as_reference"], card["execution"]["notes"]
    assert card["reference"]["variant"] == "paper"
    preds = pd.read_csv(res / "analysis/predictions.csv")
    preds = preds[preds.model == "dec-shuffle"].set_index("measure")
    rows = {r["measure"]: r for r in card["measures"]}
    assert set(rows) == set(preds.index) == set(t2.measure)
    for m, r in rows.items():
        want = models_.loc["dec-shuffle", m]
        if np.isfinite(want):  # the run's path, settings and thread counts: its values
            assert r["value"] == want, m
        if np.isfinite(preds.loc[m, "predicted"]):
            assert r["predicted"] == pytest.approx(preds.loc[m, "predicted"], rel=1e-9), m
            assert r["pi_low"] < r["predicted"] < r["pi_high"], m
        assert r["lm_mse"] is None  # the reference left out its only non-standard model
    assert card["reference_models"] == {"perturbed": 4, "nonstandard": 0,
                                        "architectures": ["llama", "modernbert"]}
    # the rule's card (this run's own table as reference): the same predictions, and the run's
    # LM MSE on its non-standard model
    rule_card = json.loads((res / "predict/card.json").read_text())
    assert [r["predicted"] for r in rule_card["measures"]] == \
        [r["predicted"] for r in card["measures"]]
    lm = t2.set_index("measure")["lm_mse"]
    for r in rule_card["measures"]:
        assert r["lm_mse"] == (pytest.approx(lm[r["measure"]]) if np.isfinite(lm[r["measure"]])
                               else None), r["measure"]
    assert "| measure |" in (res / "predict/card.md").read_text()
    # a mismatch is refused before any model is loaded
    other = res.parent / "other.txt"
    other.write_text("another sample\n")
    with pytest.raises(ReferenceError, match="not the one reference"):
        predict("dec-shuffle", loo, sequences=other)
    with pytest.raises(ReferenceError, match="quantizer 'product'"):
        predict("dec-shuffle", loo, quantizers={"product": {"method": "pq", "M": 4, "nbits": 4}})
    with pytest.raises(ReferenceError, match="variant"):
        predict("dec-shuffle", loo, variant="authors")


def test_families_config_plans_every_family(tmp_path):
    """config/families.yaml is a valid override that adds one base per family (hub ids)."""
    import yaml
    from test_workflow import REPO, planned

    fam = yaml.safe_load((REPO / "config/families.yaml").read_text())
    bases = fam["models"]["bases"]
    assert fam["models"]["scope"] == "block_weights"
    assert all(b["source"].startswith("hub:") for b in bases.values())
    assert set(FAMILIES) - {"deberta-v2"} <= {b["architecture"] for b in bases.values()}
    assert "hub:microsoft/deberta-v3-base" in {b["source"] for b in bases.values()}
    jobs = planned("--directory", str(tmp_path), "--configfile",
                   str(REPO / "config/config.yaml"), str(REPO / "config/families.yaml"))
    from latentgeom.pipeline import model_table

    default = yaml.safe_load((REPO / "config/config.yaml").read_text())
    n_new = sum(len(b["alphas"]) for b in bases.values())
    assert jobs["perturb"] == len([m for m in model_table(default).values()
                                   if m["kind"] == "perturbed"]) + n_new
