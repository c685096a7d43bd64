"""Non-standard model recipes (Section 3.4) and the fairseq -> Transformers converter."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latentgeom import models, nonstandard, stages


def _emb(m):
    return m.get_input_embeddings().weight.detach().numpy()


def test_shuffle_embeddings(tiny_bert):
    base, _ = models.load_base(tiny_bert, with_tokenizer=False)
    model, tok = nonstandard.build("shuffle_embeddings", source=tiny_bert, seed=3)
    perm = np.random.default_rng(3).permutation(_emb(base).shape[0])
    np.testing.assert_array_equal(_emb(model), _emb(base)[perm])
    assert tok == tiny_bert
    # Everything else is unchanged.
    sb, sm = base.state_dict(), model.state_dict()
    for k in sb:
        if k != "embeddings.word_embeddings.weight":
            assert torch.equal(sb[k], sm[k]), k
    again, _ = nonstandard.build("shuffle_embeddings", source=tiny_bert, seed=3)
    assert models.state_checksum(again.state_dict()) == models.state_checksum(sm)
    other, _ = nonstandard.build("shuffle_embeddings", source=tiny_bert, seed=4)
    assert models.state_checksum(other.state_dict()) != models.state_checksum(sm)


def test_untrained_with_pretrained_embeddings(tiny_bert):
    base, _ = models.load_base(tiny_bert, with_tokenizer=False)
    a, _ = nonstandard.build("untrained", source=tiny_bert, seed=1)
    b, _ = nonstandard.build("untrained", source=tiny_bert, seed=1)
    c, _ = nonstandard.build("untrained", source=tiny_bert, seed=2)
    np.testing.assert_array_equal(_emb(a), _emb(base))
    k = "encoder.layer.0.attention.self.query.weight"
    assert torch.equal(a.state_dict()[k], b.state_dict()[k])
    assert not torch.equal(a.state_dict()[k], c.state_dict()[k])
    assert not torch.equal(a.state_dict()[k], base.state_dict()[k])
    # The config's own initialiser: N(0, initializer_range).
    w = a.state_dict()[k].numpy()
    assert abs(w.std() - base.config.initializer_range) < 0.2 * base.config.initializer_range


def _tiny_with_vocab(path, vocab, seed):
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    m = BertModel(BertConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2,
                             num_attention_heads=2, intermediate_size=64))
    m.save_pretrained(path)
    return str(path)


def test_embedding_swap_different_vocabularies(tmp_path, tiny_bert):
    src = _tiny_with_vocab(tmp_path / "foreign", 500, seed=5)  # a "Chinese" model
    donor, _ = models.load_base(tiny_bert, with_tokenizer=False)  # the "English" one
    foreign, _ = models.load_base(src, with_tokenizer=False)
    model, tok = nonstandard.build("embedding_swap", source=src, donor=tiny_bert)
    assert tok == tiny_bert
    assert model.config.vocab_size == donor.config.vocab_size != 500
    np.testing.assert_array_equal(_emb(model), _emb(donor))
    k = "encoder.layer.1.output.dense.weight"
    assert torch.equal(model.state_dict()[k], foreign.state_dict()[k])
    # The swapped model runs on the donor's token ids.
    out = model(input_ids=torch.tensor([[101, 2000, 29000, 102]])).last_hidden_state
    assert out.shape == (1, 4, 32)


def test_build_stage_manifest_roundtrip(tmp_path, tiny_bert):
    man = stages.nonstandard_stage(name="shuf", manifest_path=str(tmp_path / "m.json"),
                                   weights_dir=str(tmp_path / "w"), recipe="shuffle_embeddings",
                                   architecture="tiny", source=tiny_bert, seed=0)
    assert man["kind"] == "nonstandard" and man["recipe"] == "shuffle_embeddings"
    model, tok = models.load_from_manifest(man)
    assert models.state_checksum(model.state_dict()) == man["checksum"]
    assert tok("hello world")["input_ids"][0] == tok.cls_token_id
    with pytest.raises(ValueError, match="recipe"):
        nonstandard.build("lottery", source=tiny_bert)


@pytest.mark.parametrize("fused", [False, True])
def test_fairseq_roundtrip(tmp_path, tiny_roberta, fused):
    from transformers import RobertaModel

    ref = RobertaModel.from_pretrained(tiny_roberta, add_pooling_layer=False).eval()
    with torch.no_grad():  # fairseq RoBERTa has no token types; converted models use zeros
        ref.embeddings.token_type_embeddings.weight.zero_()
    fs = nonstandard.hf_to_fairseq_roberta(ref.state_dict(), fused_qkv=fused)
    assert not any(k.startswith("embeddings.") for k in fs)
    assert any(".self_attn." in k for k in fs)
    ckpt = tmp_path / "model.pt"
    torch.save({"model": fs, "args": None}, ckpt)
    conv = nonstandard.load_fairseq_roberta(ckpt, config_source=tiny_roberta)
    ids = torch.tensor([[0, 100, 200, 300, 2], [0, 5, 6, 2, 1]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0]])
    with torch.inference_mode():
        a = ref(input_ids=ids, attention_mask=mask).last_hidden_state
        b = conv(input_ids=ids, attention_mask=mask).last_hidden_state
    torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_fairseq_errors(tmp_path, tiny_roberta):
    with pytest.raises(FileNotFoundError):
        nonstandard.load_fairseq_roberta(tmp_path / "missing.pt", tiny_roberta)
    with pytest.raises(KeyError, match="unknown parameter"):
        nonstandard.fairseq_to_hf_roberta(
            {"encoder.sentence_encoder.layers.0.weird.weight": torch.zeros(1),
             "encoder.sentence_encoder.embed_tokens.weight": torch.zeros(3, 2)})


@pytest.mark.parametrize("recipe, donor, tokenizer, expected", [
    (None, None, None, "src"),                       # perturbed: its base's
    ("shuffle_embeddings", None, None, "src"),
    ("shuffle_embeddings", "don", None, "src"),      # donor unused by the recipe
    ("embedding_swap", "don", None, "don"),
    ("untrained", None, None, "src"),
    ("untrained", "don", None, "don"),
    ("pretrained", None, "tok", "tok"),
    ("fairseq_roberta", None, None, "src"),
    ("embedding_swap", "don", "tok", "tok"),
])
def test_one_tokenizer_choice_for_builder_planner_and_finetuning(recipe, donor, tokenizer,
                                                                 expected):
    assert nonstandard.tokenizer_source(recipe, source="src", donor=donor,
                                        tokenizer=tokenizer) == expected
    grid = {"kind": "perturbed" if recipe is None else "nonstandard", "source": "src"}
    if recipe:
        grid.update(recipe=recipe, donor=donor, tokenizer=tokenizer)
    assert nonstandard.model_tokenizer(grid) == expected
    # the manifest the builder writes names its choice; a perturbed one names its base
    manifest = {"base": "src"} if recipe is None else {"base": "src", "recipe": recipe,
                                                       "donor": donor, "tokenizer": expected}
    assert nonstandard.model_tokenizer(manifest) == expected
