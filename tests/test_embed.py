"""Embedding: batched + length-sorted equals one sequence at a time."""
from __future__ import annotations

import numpy as np
import pytest

from latentgeom import embed, models

SEQS = ["A short one.", "This sentence is a good deal longer than the first one, with commas.",
        "Mid length sentence here.", "x", "Another sentence of moderate size for the batch."]


@pytest.fixture(scope="module")
def tiny(tiny_bert):
    return models.load_base(tiny_bert)


def test_batched_equals_one_at_a_time(tiny):
    model, tok = tiny
    X1, l1 = embed.embed_sequences(model, tok, SEQS, batch_size=1, progress=False)
    X4, l4 = embed.embed_sequences(model, tok, SEQS, batch_size=4, progress=False)
    np.testing.assert_array_equal(l1, l4)
    np.testing.assert_allclose(X1, X4, atol=2e-5, rtol=1e-4)
    assert X1.dtype == np.float32 and X1.shape == (l1.sum(), model.config.hidden_size)


def test_rows_are_every_token_incl_special(tiny):
    model, tok = tiny
    X, lengths = embed.embed_sequences(model, tok, SEQS, batch_size=8, progress=False)
    ids = tok(SEQS)["input_ids"]
    assert lengths.tolist() == [len(x) for x in ids]
    assert ids[0][0] == tok.cls_token_id and ids[0][-1] == tok.sep_token_id
    # The first row of sequence 2 equals running it alone through the model.
    import torch

    with torch.inference_mode():
        h = model(**tok(SEQS[2], return_tensors="pt")).last_hidden_state[0].numpy()
    start = int(lengths[:2].sum())
    np.testing.assert_allclose(X[start:start + lengths[2]], h, atol=2e-5, rtol=1e-4)


def test_layer_choice_and_errors(tiny):
    model, tok = tiny
    X0, _ = embed.embed_sequences(model, tok, SEQS[:2], layer=0, progress=False)
    Xl, _ = embed.embed_sequences(model, tok, SEQS[:2], layer=-1, progress=False)
    assert not np.allclose(X0, Xl)
    with pytest.raises(ValueError, match="layer"):
        embed.embed_sequences(model, tok, SEQS, layer=10, progress=False)
    with pytest.raises(ValueError, match="no sequences"):
        embed.embed_sequences(model, tok, [], progress=False)


def test_truncation(tiny):
    model, tok = tiny
    long = " ".join(["word"] * 400)
    _, lengths = embed.embed_sequences(model, tok, [long], progress=False)
    assert lengths[0] == model.config.max_position_embeddings - 3
