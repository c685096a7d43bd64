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
