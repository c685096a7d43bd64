"""Stages of the models half (rules of ``workflow/rules/models.smk``): perturbed models (Eq. 1)
and the non-standard ones (Section 3.4), each written as a manifest."""

from __future__ import annotations

from typing import Any

from ..io import write_json
from ..provenance import say


def perturb_stage(*, name: str, manifest_path: str, base: str, alpha: float, seed: int,
                  scope: str = "encoder_weights", architecture: str = "",
                  kind: str = "perturbed", store_weights: bool = False,
                  weights_dir: str | None = None) -> dict[str, Any]:
    """Build a perturbed model (Eq. 1) and write its manifest (+ weights if ``store_weights``)."""
    from .. import models

    alpha = models.check_alpha(alpha)
    models.resolve_source(base)  # fails fast on a missing path/package
    say(f"perturb {name}: base={base} alpha={alpha} seed={seed} scope={scope}")
    model, tok, changed = models.perturbed_model(base, alpha, seed, scope)
    weights = None
    if store_weights:
        if not weights_dir:
            raise ValueError("perturb: store_weights needs a weights_dir")
        model.save_pretrained(weights_dir)
        tok.save_pretrained(weights_dir)
        weights = str(weights_dir)
    man = models.make_manifest(name=name, base=base, alpha=alpha, seed=seed, scope=scope,
                               architecture=architecture or name, kind=kind, model=model,
                               changed=changed, weights=weights)
    write_json(manifest_path, man)
    say(f"{len(changed)} tensors ({man['n_perturbed_parameters']:,} parameters) perturbed; "
        f"checksum {man['checksum'][:16]}")
    return man


def perturb_latent_stage(*, name: str, manifest_path: str, base: str, alpha: float, seed: int,
                         layer: int = -1, scope: str = "encoder_weights", architecture: str = "",
                         base_embeddings=None) -> dict[str, Any]:
    """A latent-noise model's manifest (rule perturb_latent, docs/latent-noise.md): with
    ``base_embeddings`` (the base's alpha = 0 embeddings of the sample) the base's weights and
    the hook's record (:func:`latentnoise.latent_manifest`); without them (the alpha = 0 model
    they come from; at alpha 0 the hook is the identity, bit for bit) the base's weights marked
    ``"perturbation": "latent"``. Both record the latent alpha as ``latent_alpha``."""
    from .. import latentnoise, models

    if isinstance(base_embeddings, (list, tuple)):
        base_embeddings = base_embeddings[0] if base_embeddings else None
    alpha = latentnoise.check_alpha(alpha)
    models.resolve_source(base)
    say(f"perturb_latent {name}: base={base} alpha={alpha} seed={seed} layer={layer}")
    if base_embeddings is None:
        if alpha != 0.0:
            raise ValueError(f"perturb_latent {name}: latent alpha {alpha} needs the base "
                             "model's embeddings (sigma)")
        model, _, changed = models.perturbed_model(base, 0.0, seed, scope)
        man = models.make_manifest(name=name, base=base, alpha=0.0, seed=seed, scope=scope,
                                   architecture=architecture or name, model=model,
                                   changed=changed, extra={"perturbation": "latent"})
    else:
        man = latentnoise.latent_manifest(name=name, base=base, alpha=alpha, seed=seed,
                                          base_embeddings=str(base_embeddings), layer=layer,
                                          architecture=architecture, scope=scope)
    man["latent_alpha"] = alpha
    write_json(manifest_path, man)
    say(f"checksum {man['checksum'][:16]} (the base's weights)")
    return man


def nonstandard_stage(*, name: str, manifest_path: str, weights_dir: str, recipe: str,
                      architecture: str, source: str, donor: str | None = None,
                      tokenizer: str | None = None, seed: int = 0,
                      checkpoint: str | None = None) -> dict[str, Any]:
    """Build a non-standard model (Section 3.4, :mod:`latentgeom.nonstandard`), save its weights
    and tokenizer, and write its manifest."""
    from .. import models, nonstandard

    for s in filter(None, (source, donor, tokenizer)):
        models.resolve_source(s)  # fail fast on missing local paths
    model, tok_source = nonstandard.build(recipe, source=source, donor=donor,
                                          tokenizer=tokenizer, seed=seed, checkpoint=checkpoint)
    tok = models.load_tokenizer(tok_source)
    vocab = model.get_input_embeddings().weight.shape[0]
    if len(tok) > vocab:
        raise ValueError(f"nonstandard {name}: tokenizer {tok_source!r} has {len(tok)} tokens but "
                         f"the model's input embeddings have {vocab} rows")
    model.save_pretrained(weights_dir)
    tok.save_pretrained(weights_dir)
    man = models.make_manifest(name=name, base=source, alpha=None, seed=seed, scope="",
                               architecture=architecture, kind="nonstandard", model=model,
                               weights=str(weights_dir),
                               extra={"recipe": recipe, "donor": donor, "tokenizer": tok_source,
                                      "checkpoint": checkpoint})
    write_json(manifest_path, man)
    return man
