"""Perturbation (Eq. 1), sources and manifests."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from latentgeom import models


def _state(path):
    m, _ = models.load_base(path, with_tokenizer=False)
    return m.state_dict()


def test_alpha_zero_is_identity(tiny_bert):
    base = _state(tiny_bert)
    new, changed = models.perturb_state_dict(base, 0.0, seed=3)
    assert changed, "alpha=0 still reports the tensors in scope"
    for k in base:
        assert torch.equal(base[k], new[k])


@pytest.mark.parametrize("fixture", ["tiny_bert", "tiny_roberta"])
def test_only_encoder_weights_change(request, fixture):
    base = _state(request.getfixturevalue(fixture))
    new, changed = models.perturb_state_dict(base, 0.3, seed=1)
    assert changed
    for k in base:
        differs = not torch.equal(base[k], new[k])
        in_scope = k.startswith("encoder.") and k.endswith("weight")
        assert differs == in_scope, k
    # LayerNorm gains are perturbed; biases, embeddings and pooler are not.
    assert any("LayerNorm.weight" in k for k in changed)
    assert not any(k.endswith("bias") or k.startswith(("embeddings", "pooler")) for k in changed)


def test_scope_names_with_prefixes():
    assert models.is_perturbed("roberta.encoder.layer.0.attention.self.query.weight")
    assert models.is_perturbed("bert.encoder.layer.3.output.LayerNorm.weight")
    assert not models.is_perturbed("roberta.encoder.layer.0.attention.self.query.bias")
    assert models.is_perturbed("encoder.layer.0.output.dense.bias", "encoder_all")
    assert not models.is_perturbed("bert.embeddings.word_embeddings.weight", "encoder_all")
    assert not models.is_perturbed("pooler.dense.weight")
    with pytest.raises(ValueError, match="scope"):
        models.is_perturbed("encoder.x.weight", "everything")


def test_same_seed_same_bytes_different_seed_differs(tiny_bert):
    base = _state(tiny_bert)
    a, _ = models.perturb_state_dict(base, 0.05, seed=7)
    b, _ = models.perturb_state_dict(base, 0.05, seed=7)
    c, _ = models.perturb_state_dict(base, 0.05, seed=8)
    assert models.state_checksum(a) == models.state_checksum(b)
    assert models.state_checksum(a) != models.state_checksum(c)
    k = "encoder.layer.0.attention.self.query.weight"
    assert a[k].numpy().tobytes() == b[k].numpy().tobytes()


def test_noise_independent_of_prefix_and_order():
    e1 = models.noise("encoder.layer.1.output.dense.weight", (4, 5), seed=2)
    e2 = models.noise("bert.encoder.layer.1.output.dense.weight", (4, 5), seed=2)
    np.testing.assert_array_equal(e1, e2)
    assert e1.dtype == np.float32
    # A pinned value: the stream must not change across machines or releases.
    assert models.noise("encoder.w", (1,), seed=0)[0] == np.float32(
        np.random.Generator(np.random.PCG64(np.random.SeedSequence(
            [0, __import__("zlib").crc32(b"encoder.w")]))).standard_normal(1, dtype=np.float32)[0])


def test_equation_1_exact(tiny_bert):
    base = _state(tiny_bert)
    k = "encoder.layer.1.intermediate.dense.weight"
    new, _ = models.perturb_state_dict(base, 0.25, seed=5)
    w = base[k].numpy()
    eps = models.noise(k, w.shape, 5)
    expected = np.float32(0.75) * w + np.float32(0.25) * eps
    np.testing.assert_array_equal(new[k].numpy(), expected)


def test_alpha_one_is_standard_normal(minilm_dir):
    base = _state(minilm_dir)
    new, changed = models.perturb_state_dict(base, 1.0, seed=0)
    vals = np.concatenate([new[k].numpy().ravel() for k in changed])
    assert vals.size > 1_000_000
    assert abs(vals.mean()) < 0.01
    assert abs(vals.std() - 1.0) < 0.01
    # Kurtosis of a normal: 3.
    z = (vals - vals.mean()) / vals.std()
    assert abs(np.mean(z ** 4) - 3.0) < 0.05


def test_bad_alpha_and_sources(tmp_path):
    with pytest.raises(ValueError, match="alpha"):
        models.check_alpha(1.5)
    with pytest.raises(ValueError, match="alpha"):
        models.check_alpha(float("nan"))
    with pytest.raises(models.SourceError, match="does not exist"):
        models.resolve_source(str(tmp_path / "nope"))
    with pytest.raises(models.SourceError, match="does not exist"):
        models.resolve_source("path:missing/model")
    with pytest.raises(models.SourceError, match="not installed"):
        models.resolve_source("packaged:no-such-package-xyz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(models.SourceError, match="config.json"):
        models.resolve_source(str(tmp_path / "empty"))
    assert models.resolve_source("hub:bert-base-uncased") == "bert-base-uncased"
    assert models.resolve_source("prajjwal1/bert-small") == "prajjwal1/bert-small"


def test_manifest_rebuild_and_verify(tiny_bert, tmp_path):
    from latentgeom.stages import perturb_stage

    man = perturb_stage(name="t", manifest_path=str(tmp_path / "m.json"), base=tiny_bert,
                        alpha=0.2, seed=1, architecture="tiny")
    assert man["n_perturbed_parameters"] > 0 and len(man["checksum"]) == 64
    model, tok = models.load_from_manifest(man)
    assert models.state_checksum(model.state_dict()) == man["checksum"]
    bad = dict(man, seed=2)
    with pytest.raises(RuntimeError, match="checksum"):
        models.load_from_manifest(bad)
    # Stored weights give the same model.
    man2 = perturb_stage(name="t", manifest_path=str(tmp_path / "m2.json"), base=tiny_bert,
                         alpha=0.2, seed=1, store_weights=True, weights_dir=str(tmp_path / "w"))
    assert man2["checksum"] == man["checksum"]
    m2, _ = models.load_from_manifest(man2)
    assert models.state_checksum(m2.state_dict()) == man["checksum"]


def _save_without_pooler(src: str, dest) -> str:
    """A checkpoint that, like the real ``roberta-base``, ships no pooler weights."""
    from safetensors.torch import save_file
    from transformers import AutoModel

    m = AutoModel.from_pretrained(src)
    m.config.save_pretrained(dest)
    sd = {k: v.contiguous() for k, v in m.state_dict().items() if not k.startswith("pooler.")}
    save_file(sd, str(dest / "model.safetensors"))
    return str(dest)


_PERTURB_IN_CHILD = """
import json, sys
from latentgeom import models
model, _, changed = models.perturbed_model(sys.argv[1], float(sys.argv[2]), 0)
print(json.dumps(models.make_manifest(name="x", base=sys.argv[1], alpha=float(sys.argv[2]),
      seed=0, scope="encoder_weights", architecture="a", model=model, changed=changed)))
"""


@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_checkpoint_without_pooler_has_a_stable_checksum(tmp_path, tiny_roberta, alpha):
    """roberta-base has no pooler weights: AutoModel initialises one at random. The manifest's
    checksum must not depend on it, across processes, and the rebuild must verify."""
    import json
    import subprocess
    import sys

    src = _save_without_pooler(tiny_roberta, tmp_path)
    runs = [json.loads(subprocess.run([sys.executable, "-c", _PERTURB_IN_CHILD, src, str(alpha)],
                                      check=True, capture_output=True, text=True).stdout)
            for _ in range(2)]
    assert runs[0]["checksum"] == runs[1]["checksum"]
    assert sorted(runs[0]["initialised_tensors"]) == ["pooler.dense.bias", "pooler.dense.weight"]
    model, _ = models.load_from_manifest(runs[0])  # would raise on a checksum mismatch
    assert not any(k.startswith("pooler.") for k in runs[0]["perturbed_tensors"])


def test_manifest_without_checksum_is_an_error(tiny_bert):
    man = models.make_manifest(name="x", base=tiny_bert, alpha=0.0, seed=0,
                               scope="encoder_weights", architecture="a")
    with pytest.raises(ValueError, match="no checksum"):
        models.load_from_manifest(man)


def test_config_without_model_type_is_typed_by_its_name(tmp_path, tiny_bert):
    """The real prajjwal1/bert-small config.json has no model_type: Transformers 5 refuses it
    (AutoConfig), 4.x guessed 'bert' from the name. load_base/load_tokenizer must still load it."""
    import json
    import shutil

    from transformers import AutoConfig

    dest = tmp_path / "prajjwal1-bert-small"
    shutil.copytree(tiny_bert, dest)
    cfg = json.loads((dest / "config.json").read_text())
    cfg.pop("model_type", None), cfg.pop("architectures", None)
    (dest / "config.json").write_text(json.dumps(cfg))
    for f in ("tokenizer_config.json",):
        if (dest / f).exists():
            tc = json.loads((dest / f).read_text())
            tc.pop("tokenizer_class", None)
            (dest / f).write_text(json.dumps(tc))
    with pytest.raises(ValueError, match="model_type"):
        AutoConfig.from_pretrained(str(dest))
    model, tok = models.load_base(str(dest))
    assert model.config.model_type == "bert" and tok("a test")["input_ids"]
