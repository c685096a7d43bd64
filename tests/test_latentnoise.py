"""Latent-space noise (a forward hook): alpha 0 and 1, seeding, the embed and fine-tune paths."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")

from latentgeom import latentnoise as ln  # noqa: E402
from latentgeom.embed import embed_sequences  # noqa: E402

RNG = np.random.default_rng(0)
WORDS = "red green blue dog cat horse the a of and runs sleeps quickly".split()
SENTS = [" ".join(RNG.choice(WORDS, int(RNG.integers(3, 12)))) for _ in range(150)]


@pytest.fixture(scope="module")
def encoder(tiny_bert):
    from latentgeom.models import load_base

    return load_base(tiny_bert)


def _embed(model, tok, layer=-1, batch_size=16):
    return embed_sequences(model, tok, SENTS, layer=layer, batch_size=batch_size,
                           device="cpu", progress=False)[0]


def _hooked(model, tok, layer=-1, **kw):
    hook, handle = ln.attach(model, layer=layer, **kw)
    try:
        return _embed(model, tok, layer), hook
    finally:
        handle.remove()


def test_seed_and_sigma_helpers():
    assert ln.noise_seed(0, "m") == ln.noise_seed(0, "m")
    assert len({ln.noise_seed(0, "m"), ln.noise_seed(1, "m"), ln.noise_seed(0, "n")}) == 3
    X = RNG.standard_normal((5000, 6)) * np.arange(1, 7) + 3.0
    np.testing.assert_allclose(ln.dimension_std(X), X.std(axis=0), rtol=1e-10)
    with pytest.raises(ValueError, match="sigma"):
        ln.dimension_std(X[:1])
    with pytest.raises(ValueError, match="alpha"):
        ln.LatentNoise(1.5, np.ones(3), 0, "m")


def test_alpha_zero_leaves_the_embedding_unchanged(encoder):
    model, tok = encoder
    clean = _embed(model, tok)
    sigma = ln.dimension_std(clean)
    noisy, hook = _hooked(model, tok, alpha=0.0, sigma=sigma, seed=0, name="m")
    np.testing.assert_array_equal(noisy, clean)
    assert hook.draws > 0  # the hook ran (and drew the same numbers as any other alpha)
    np.testing.assert_array_equal(_embed(model, tok), clean)  # removed: gone


def test_alpha_one_is_sigma_scaled_noise(encoder):
    model, tok = encoder
    clean = _embed(model, tok)
    sigma = np.linspace(0.5, 3.0, clean.shape[1])  # any per-dimension scale
    noisy, _ = _hooked(model, tok, alpha=1.0, sigma=sigma, seed=3, name="m")
    n = len(noisy)
    assert n > 1000
    # per-dimension std = sigma (sampling error of a std ~ 1/sqrt(2n): 5 of those)
    np.testing.assert_allclose(noisy.std(axis=0), sigma, rtol=5 / np.sqrt(2 * n))
    np.testing.assert_allclose(noisy.mean(axis=0) / sigma, 0.0, atol=5 / np.sqrt(n))
    # nothing of the input is left
    r = [np.corrcoef(noisy[:, j], clean[:, j])[0, 1] for j in range(clean.shape[1])]
    assert np.max(np.abs(r)) < 5 / np.sqrt(n)


def test_intermediate_layer_is_the_formula_and_feeds_the_next_block(encoder):
    model, tok = encoder
    batch = tok(SENTS[:8], padding=True, return_tensors="pt")
    with torch.no_grad():
        clean = model(**batch, output_hidden_states=True).hidden_states
    sigma = clean[1][batch["attention_mask"].bool()].std(0).numpy()
    hook, handle = ln.attach(model, alpha=0.3, sigma=sigma, seed=5, name="m", layer=1)
    try:
        with torch.no_grad():
            noisy = model(**batch, output_hidden_states=True).hidden_states
    finally:
        handle.remove()
    eps = ln.LatentNoise(0.3, sigma, 5, "m").noise(clean[1].shape)  # the same stream
    want = 0.7 * clean[1] + 0.3 * (torch.as_tensor(sigma, dtype=torch.float32) * eps)
    torch.testing.assert_close(noisy[1], want)
    torch.testing.assert_close(noisy[0], clean[0])  # before the hooked block: untouched
    assert not torch.allclose(noisy[2], clean[2])  # after it: changed
    assert model.latentgeom_latent_noise == {"alpha": 0.3, "seed": 5, "model": "m", "layer": 1}


def test_same_seed_same_noise_other_seed_or_model_other_noise(encoder):
    model, tok = encoder
    sigma = np.ones(int(model.config.hidden_size))
    a, _ = _hooked(model, tok, alpha=0.5, sigma=sigma, seed=0, name="m")
    b, _ = _hooked(model, tok, alpha=0.5, sigma=sigma, seed=0, name="m")
    np.testing.assert_array_equal(a, b)
    c, _ = _hooked(model, tok, alpha=0.5, sigma=sigma, seed=1, name="m")
    d, _ = _hooked(model, tok, alpha=0.5, sigma=sigma, seed=0, name="m2")
    assert not np.allclose(a, c) and not np.allclose(a, d)


def test_layer_and_sigma_checked(encoder):
    model, _ = encoder
    n = int(model.config.num_hidden_layers)
    assert ln.block_for_layer(model, -1) == n - 1 and ln.block_for_layer(model, 1) == 0
    for bad in (0, n + 1, -n - 1):
        with pytest.raises(ValueError, match="layer"):
            ln.attach(model, alpha=0.1, sigma=np.ones(32), seed=0, name="m", layer=bad)
    with pytest.raises(ValueError, match="hidden size"):
        ln.attach(model, alpha=0.1, sigma=np.ones(7), seed=0, name="m")


def _toy(n, seed):
    rng = np.random.default_rng(seed)
    colours, animals = WORDS[:3], WORDS[3:6]
    rows = [(" ".join(rng.choice(animals if i % 2 else colours, int(rng.integers(3, 8)))),
             i % 2) for i in range(n)]
    return pd.DataFrame(rows, columns=["sentence", "label"])


def test_hook_is_active_in_fine_tuning(tmp_path, tiny_bert):
    """The fine-tune path (glue.model.classification_model + glue.train): the hook on the task
    model's encoder runs in training and in scoring; at alpha = 1 on the last layer the head
    sees only noise and stays at chance; without the hook the same run (the same toy task and
    settings as test_glue_finetune.py::test_tiny_model_learns_a_separable_task) learns it to
    >= 0.9. Here alpha = 0.5 still learns, alpha = 1 cannot."""
    from latentgeom.glue.data import build_cache, load_cache
    from latentgeom.glue.hparams import Hyperparameters
    from latentgeom.glue.model import classification_model
    from latentgeom.glue.tasks import get_task
    from latentgeom.glue.train import train_and_evaluate
    from latentgeom.models import make_manifest, perturbed_model

    (tmp_path / "data").mkdir()
    _toy(160, 0).to_csv(tmp_path / "data" / "train.csv", index=False)
    _toy(60, 1).to_csv(tmp_path / "data" / "validation.csv", index=False)
    base = f"path:{tiny_bert}"
    task = get_task("sst2")
    build_cache(task=task, source=tmp_path / "data", tokenizer_source=base,
                out_dir=tmp_path / "cache", max_length=32)
    enc, _, changed = perturbed_model(base, 0.0, 0)
    man = make_manifest(name="tiny", base=base, alpha=0.0, seed=0, scope="encoder_weights",
                        architecture="tiny", model=enc, changed=changed)
    hp = Hyperparameters.from_dict({"learning_rate": 1e-3, "batch_size": 16, "epochs": 4,
                                    "max_length": 32, "seed": 7})
    scores = {}
    for alpha in (0.5, 1.0):
        _, splits = load_cache(tmp_path / "cache", task)
        model, _ = classification_model(man, task.num_labels, task.problem_type, seed=7)
        hook, _ = ln.attach(model, alpha=alpha, sigma=np.ones(32), seed=0, name="tiny")
        res = train_and_evaluate(model, task, splits, hp, device="cpu")
        scores[alpha] = res.metrics["score"]
        assert hook.draws >= 4 * 10 + 1  # every training step and the dev pass
    assert scores[0.5] >= 0.9 and scores[1.0] <= 0.7, scores
    # the other engine (transformers' Trainer, as run_glue.py) runs the same hooked model
    from latentgeom.glue.run_glue import train_and_evaluate as run_glue_engine

    _, splits = load_cache(tmp_path / "cache", task)
    model, _ = classification_model(man, task.num_labels, task.problem_type, seed=7)
    hook, _ = ln.attach(model, alpha=1.0, sigma=np.ones(32), seed=0, name="tiny")
    one = Hyperparameters.from_dict({"learning_rate": 1e-3, "batch_size": 16, "epochs": 1,
                                     "max_length": 32, "seed": 7})
    res = run_glue_engine(model, task, splits, one, device="cpu")
    assert hook.draws >= 10 + 1 and res.metrics["score"] <= 0.7


def test_a_manifest_record_reaches_both_halves(tmp_path, tiny_bert):
    """A manifest with a latent_noise record: stages.embed_stage embeds the noisy model (at
    alpha = 1, per-dimension std sigma) and glue.model.classification_model carries the hook;
    without the record both are the plain model."""
    from latentgeom.glue.model import classification_model
    from latentgeom.io import read_npy, write_json
    from latentgeom.models import make_manifest, perturbed_model
    from latentgeom.stages import embed_stage

    base = f"path:{tiny_bert}"
    enc, _, changed = perturbed_model(base, 0.0, 0)
    plain = make_manifest(name="tiny", base=base, alpha=0.0, seed=0, scope="encoder_weights",
                          architecture="tiny", model=enc, changed=changed)
    sigma = np.linspace(0.5, 2.0, 32)
    noisy = dict(plain, name="tiny-latent", latent_noise=ln.latent_manifest_record(
        alpha=1.0, seed=0, sigma=sigma, layer=-1))
    (tmp_path / "seqs.txt").write_text("\n".join(SENTS) + "\n")
    out = {}
    for man in (plain, noisy):
        write_json(tmp_path / f"{man['name']}.json", man)
        embed_stage(manifest_path=str(tmp_path / f"{man['name']}.json"),
                    sequences_path=str(tmp_path / "seqs.txt"),
                    out_embeddings=str(tmp_path / f"{man['name']}.npy"),
                    out_meta=str(tmp_path / f"{man['name']}.meta.json"), batch_size=16,
                    device="cpu")
        out[man["name"]] = read_npy(tmp_path / f"{man['name']}.npy")
    n = len(out["tiny"])
    np.testing.assert_allclose(out["tiny-latent"].std(0), sigma, rtol=5 / np.sqrt(2 * n))
    assert not np.allclose(out["tiny"].std(0), sigma, rtol=0.2)
    m_plain, _ = classification_model(plain, 2, "single_label_classification")
    m_noisy, _ = classification_model(noisy, 2, "single_label_classification")
    assert not hasattr(m_plain, "latentgeom_latent_noise")
    assert m_noisy.latentgeom_latent_noise == {"alpha": 1.0, "seed": 0, "model": "tiny-latent",
                                               "layer": -1}
    with pytest.raises(ValueError, match="weight noise"):
        ln.apply_from_manifest(m_plain, dict(noisy, alpha=0.1))


def test_latent_manifest_from_base_embeddings(tmp_path, tiny_bert):
    """latent_manifest: sigma from the base's embeddings (file checked), weights the base's;
    the manifest then embeds as the noisy model (round trip through load + apply)."""
    from latentgeom.io import write_npy
    from latentgeom.models import load_from_manifest

    X = RNG.standard_normal((500, 32)).astype(np.float32) * 2.0
    write_npy(tmp_path / "base.npy", X)
    man = ln.latent_manifest(name="tiny_latent_a0.5_s0", base=f"path:{tiny_bert}", alpha=0.5,
                             seed=0, base_embeddings=str(tmp_path / "base.npy"))
    assert man["alpha"] == 0.0 and man["perturbation"] == "latent"
    np.testing.assert_allclose(man["latent_noise"]["sigma"], X.std(0), rtol=1e-5)
    rec = man["latent_noise"]
    assert rec["alpha"] == 0.5 and len(rec["sigma_from_sha256"]) == 64
    model, tok = load_from_manifest(man)  # checksum: the base's weights
    hook, _ = ln.apply_from_manifest(model, man)
    assert hook.alpha == 0.5 and hook.model == "tiny_latent_a0.5_s0"
    with pytest.raises(ValueError, match="columns"):
        write_npy(tmp_path / "bad.npy", X[:, :10])
        ln.latent_manifest(name="x", base=f"path:{tiny_bert}", alpha=0.5, seed=0,
                           base_embeddings=str(tmp_path / "bad.npy"))
