"""Noise in the latent space instead of the weights (the paper's Section 6 and Appendix B).

Eq. 1 perturbs the *weights*, ``W = (1 - alpha) W_O + alpha eps``. The latent-space counterpart
perturbs the *representation* h of one hidden layer, for every token of every forward pass:

    h'  =  (1 - alpha) h  +  alpha * sigma * eps,        eps ~ N(0, I) per token,

with ``sigma`` (d,) the base (unperturbed) model's per-dimension standard deviation of that layer
on the sample (:func:`dimension_std`), so at alpha = 1 the layer carries noise of the base
representation's per-dimension scale and nothing of the input. It is a forward hook on the
transformer block whose output is that hidden state (:func:`attach`): the same hook is attached
to the encoder that is embedded and to the classification model that is fine-tuned, so both
halves of the pipeline see the same model.

Choices (docs/latent-noise.md says why):

- layer: the hidden state the latent space is read from (``embed.layer``, -1 = last), i.e. the
  output of transformer block ``layer - 1``: ``hidden_states[layer]`` of a BERT/RoBERTa-style
  encoder, whose hidden states are its blocks' outputs. Layer 0 (the embedding output) is
  refused: noise there is noise on an embedding lookup table, which Eq. 1 already covers.
- fresh noise per forward pass (not a fixed vector per token): eps is drawn for every token each
  time the block runs, from one ``torch.Generator`` per hook seeded by (seed, model name)
  (:func:`noise_seed`), on the CPU (so CPU and GPU runs draw the same numbers) and moved to the
  hidden state's device. A run is reproducible for a given order of batches; alpha does not
  change which numbers are drawn (the same eps for every alpha of one seed and model).
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

PERTURBATIONS = ("weights", "latent")


def noise_seed(seed: int, model: str) -> int:
    """A 63-bit generator seed from (seed, model name): ``SeedSequence([seed, crc32(name)])``."""
    key = zlib.crc32(str(model).encode("utf-8"))
    return int(np.random.SeedSequence([int(seed), key]).generate_state(1, np.uint64)[0] >> 1)


def dimension_std(X) -> np.ndarray:
    """sigma: the per-dimension (column) standard deviation of the rows of X, float64, ddof 0
    (the spread of the base model's token vectors on the sample). Accumulated in row blocks."""
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"latent noise sigma: expected an (n >= 2, d) matrix of the base model's "
                         f"token vectors, got shape {X.shape}")
    s = np.zeros(X.shape[1])
    ss = np.zeros(X.shape[1])
    for i in range(0, len(X), 16384):
        b = X[i:i + 16384].astype(np.float64)
        s += b.sum(0)
        ss += (b * b).sum(0)
    mu = s / len(X)
    sigma = np.sqrt(np.clip(ss / len(X) - mu * mu, 0.0, None))
    if not np.isfinite(sigma).all():
        raise ValueError("latent noise sigma: the base model's token vectors hold NaN/Inf")
    return sigma


def check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not np.isfinite(alpha) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"latent noise alpha must be in [0, 1], got {alpha}")
    return alpha


def mix(h, alpha: float, sigma, eps):
    """``(1 - alpha) h + alpha sigma eps`` (torch; sigma broadcast over the last dimension)."""
    return (1.0 - alpha) * h + alpha * (sigma * eps)


def _blocks(model):
    """The model's stack of transformer blocks (an ``nn.ModuleList``)."""
    from .models import transformer_blocks

    stacks = transformer_blocks(model)
    if len(stacks) != 1:
        raise ValueError(f"{type(model).__name__}: latent noise needs one stack of transformer "
                         f"blocks, found {stacks}")
    return model.get_submodule(stacks[0])


def block_for_layer(model, layer: int) -> int:
    """Index of the block whose output is hidden state ``layer`` (negative from the end)."""
    n = len(_blocks(model))
    L = layer + n + 1 if layer < 0 else layer
    if not 1 <= L <= n:
        raise ValueError(f"latent noise layer: hidden states 1..{n} (or -{n}..-1) are block "
                         f"outputs, got {layer} (layer 0, the embeddings, is not supported)")
    return L - 1


class LatentNoise:
    """The forward hook: replaces a block's hidden-state output h by :func:`mix` of it."""

    def __init__(self, alpha: float, sigma, seed: int, model: str):
        import torch

        self.alpha = check_alpha(alpha)
        self.sigma = torch.as_tensor(np.asarray(sigma, dtype=np.float32))
        if self.sigma.ndim != 1 or not torch.isfinite(self.sigma).all() or (self.sigma < 0).any():
            raise ValueError("latent noise sigma: expected a 1-D vector of finite stds >= 0")
        self.seed, self.model = int(seed), str(model)
        self.generator = torch.Generator(device="cpu").manual_seed(noise_seed(seed, model))
        self.draws = 0  # forward passes so far

    def noise(self, shape) -> Any:
        """The next eps of ``shape`` (float32, CPU) from this hook's generator."""
        import torch

        self.draws += 1
        return torch.randn(tuple(shape), generator=self.generator, dtype=torch.float32)

    def __call__(self, module, args, output):
        import torch

        h = output[0] if isinstance(output, tuple) else output
        if not isinstance(h, torch.Tensor) or h.shape[-1] != len(self.sigma):
            raise RuntimeError(f"latent noise: the hooked block returned hidden states of shape "
                               f"{getattr(h, 'shape', None)}, expected last dimension "
                               f"{len(self.sigma)} (sigma's)")
        eps = self.noise(h.shape).to(device=h.device, dtype=h.dtype)
        new = mix(h, self.alpha, self.sigma.to(device=h.device, dtype=h.dtype), eps)
        return (new, *output[1:]) if isinstance(output, tuple) else new


def attach(model, *, alpha: float, sigma, seed: int, name: str, layer: int = -1):
    """Register :class:`LatentNoise` on the block whose output is hidden state ``layer`` of
    ``model`` (an encoder or a task model around one). Returns ``(hook, handle)``;
    ``handle.remove()`` detaches it. The hook is registered first among the block's forward
    hooks, so transformers' own hidden-state recorders (5.x) record the noisy state (tested:
    ``hidden_states[layer]`` is the mixed one). The model records the setting in
    ``model.latentgeom_latent_noise``."""
    block = _blocks(model)[block_for_layer(model, layer)]
    hook = LatentNoise(alpha, sigma, seed, name)
    if len(hook.sigma) != int(model.config.hidden_size):
        raise ValueError(f"latent noise sigma: {len(hook.sigma)} values for a model of hidden "
                         f"size {model.config.hidden_size}")
    handle = block.register_forward_hook(hook, prepend=True)  # before any output recorder
    model.latentgeom_latent_noise = {"alpha": hook.alpha, "seed": hook.seed, "model": name,
                                     "layer": int(layer)}
    return hook, handle


# ----------------------------------------------------------------------------- manifests
def table_fields(manifest: dict) -> dict:
    """What a latent-noise manifest changes in a table row: ``alpha`` is the latent one (the
    manifest's own ``alpha`` is Eq. 1's, 0) and ``perturbation`` is ``latent``; ``{}`` for any
    other manifest (tables add the column only when a latent model is in them, so a
    weights-only run's tables stay byte-identical)."""
    if manifest.get("perturbation") != "latent":
        return {}
    rec = manifest.get("latent_noise") or {}
    return {"alpha": float(manifest.get("latent_alpha", rec.get("alpha", 0.0))),
            "perturbation": "latent"}


def mark_perturbation(df):
    """The tables' ``perturbation`` column, after ``seed``: ``weights`` where a row has none,
    when any row is ``latent``; ``df`` unchanged otherwise."""
    if "perturbation" not in df.columns:
        return df
    df["perturbation"] = df["perturbation"].fillna("weights")
    cols = [c for c in df.columns if c != "perturbation"]
    at = cols.index("seed") + 1 if "seed" in cols else len(cols)
    return df[cols[:at] + ["perturbation"] + cols[at:]]


def latent_manifest_record(*, alpha: float, seed: int, sigma, layer: int = -1) -> dict:
    """The ``latent_noise`` record of a model manifest: the model is the manifest's weights
    (the base's, unperturbed: the manifest's own ``alpha`` is Eq. 1's and stays 0) with this
    hook on ``layer``; sigma is stored as a list so the manifest alone rebuilds the model."""
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.ndim != 1 or not np.isfinite(sigma).all() or (sigma < 0).any():
        raise ValueError("latent noise sigma: expected a 1-D vector of finite stds >= 0")
    return {"alpha": check_alpha(alpha), "seed": int(seed), "layer": int(layer),
            "sigma": [float(s) for s in sigma]}


def apply_from_manifest(model, manifest: dict):
    """Attach the hook a manifest's ``latent_noise`` record describes (seeded by the record's
    seed and the manifest's ``name``); ``None`` when the manifest has no such record. Called
    wherever a model is built from a manifest (embedding, fine-tuning), so both see it."""
    rec = manifest.get("latent_noise")
    if not rec:
        return None
    missing = [k for k in ("alpha", "seed", "layer", "sigma") if k not in rec]
    if missing:
        raise ValueError(f"manifest of {manifest.get('name')!r}: latent_noise record lacks "
                         f"{missing}")
    if float(manifest.get("alpha") or 0.0) != 0.0:
        raise ValueError(f"manifest of {manifest.get('name')!r}: latent noise on top of Eq. 1's "
                         f"weight noise (alpha {manifest.get('alpha')}) is not a defined model")
    return attach(model, alpha=rec["alpha"], sigma=rec["sigma"], seed=rec["seed"],
                  name=str(manifest.get("name")), layer=rec["layer"])


def latent_manifest(*, name: str, base: str, alpha: float, seed: int, base_embeddings: str,
                    layer: int = -1, architecture: str = "",
                    scope: str = "encoder_weights") -> dict:
    """The manifest of a latent-noise model (what a perturb step for ``perturbation: latent``
    writes): the base's unperturbed weights (Eq. 1's alpha 0, checksum-verified like any
    manifest), ``"perturbation": "latent"``, and the :func:`latent_manifest_record` with sigma
    = :func:`dimension_std` of ``base_embeddings`` (the base model's token vectors of ``layer``
    on the sample, checked against their ``embeddings.json``; its SHA-256 is recorded)."""
    from . import models
    from .integrity import check_embeddings
    from .io import read_npy

    digest = check_embeddings(base_embeddings)
    X = read_npy(base_embeddings, mmap=True)
    model, _, changed = models.perturbed_model(base, 0.0, seed, scope)
    if X.shape[1] != int(model.config.hidden_size):
        raise ValueError(f"{base_embeddings}: {X.shape[1]} columns, but {base} has hidden size "
                         f"{model.config.hidden_size} (embeddings of another model?)")
    rec = latent_manifest_record(alpha=alpha, seed=seed, sigma=dimension_std(X), layer=layer)
    rec["sigma_from_sha256"] = digest
    block_for_layer(model, layer)  # refuses a layer the hook cannot sit on, before writing
    return models.make_manifest(name=name, base=base, alpha=0.0, seed=seed, scope=scope,
                                architecture=architecture or name, model=model,
                                changed=changed,
                                extra={"perturbation": "latent", "latent_noise": rec})
