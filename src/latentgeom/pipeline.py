"""The experiment grid: which models a configuration asks for, and their names.

Kept in the package (not the Snakefile) so that it is unit-tested and shared by the CLI.
"""

from __future__ import annotations

from typing import Any


def alpha_tag(alpha: float) -> str:
    """A filesystem-safe, exact tag for alpha: ``0.05 -> '0.05'``, ``1 -> '1'``."""
    return format(float(alpha), "g") if float(alpha) == float(format(float(alpha), "g")) \
        else repr(float(alpha))


def model_name(base: str, alpha: float, seed: int) -> str:
    """Name of a perturbed model, e.g. ``minilm_a0.05_s1``."""
    return f"{base}_a{alpha_tag(alpha)}_s{int(seed)}"


def latent_model_name(base: str, alpha: float, seed: int) -> str:
    """Name of a latent-noise model (``perturbation: latent``, docs/latent-noise.md), e.g.
    ``minilm_latent_a0.05_s1``; base names have no ``_``, so it never equals a weights name."""
    return f"{base}_latent_a{alpha_tag(alpha)}_s{int(seed)}"


def perturbed_models(config: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per perturbed model of the grid.

    For each base: every alpha in ``alphas`` (duplicates removed, sorted); all ``seeds`` where
    ``0 < alpha <= multi_seed_max_alpha``, else the first seed only (alpha = 0 is the unperturbed
    base whatever the seed, so it is built once). Then every ``(alpha, seed)`` of the explicit
    ``grid`` (a list of ``{alpha, seeds}``), for uneven replicate counts such as the published
    models' (e.g. triplicates up to 4%, one run above).
    """
    models_cfg = config["models"]
    scope = models_cfg.get("scope", "encoder_weights")
    out = []
    for base, spec in models_cfg["bases"].items():
        seeds = list(spec.get("seeds", [0]))
        max_multi = float(spec.get("multi_seed_max_alpha", 1.0))
        pairs = []
        alphas = sorted({float(a) for a in spec.get("alphas") or []})
        grid_alphas = {float(e["alpha"]) for e in spec.get("grid") or []}
        both = [a for a in alphas if a in grid_alphas]
        if both:
            raise ValueError(f"models.bases.{base}: alpha {both} is in both 'alphas' and 'grid' "
                             "(an override that adds 'alphas' to a config with a 'grid' merges "
                             "with it: set 'grid: []' beside your 'alphas' to replace it)")
        for alpha in alphas:
            if not 0.0 <= alpha <= 1.0:
                raise ValueError(f"models.bases.{base}.alphas: alpha must be in [0, 1], "
                                 f"got {alpha}")
            pairs += [(alpha, s) for s in (seeds if 0.0 < alpha <= max_multi else seeds[:1])]
        for i, entry in enumerate(spec.get("grid") or []):
            alpha = float(entry["alpha"])
            if not 0.0 <= alpha <= 1.0:
                raise ValueError(f"models.bases.{base}.grid[{i}].alpha: alpha must be in [0, 1], "
                                 f"got {alpha}")
            pairs += [(alpha, s) for s in entry.get("seeds", [0])]
        if not pairs:
            raise ValueError(f"models.bases.{base}: needs 'alphas' or 'grid'")
        if spec.get("perturbation", "weights") == "latent":  # docs/latent-noise.md
            out += _latent_records(config, base, spec, pairs, scope)
            continue
        for alpha, seed in pairs:
            out.append({
                "name": model_name(base, alpha, seed), "base_name": base,
                "source": spec["source"], "architecture": spec["architecture"],
                "kind": "perturbed", "alpha": alpha, "seed": int(seed), "scope": scope,
            })
    names = [m["name"] for m in out]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"models: duplicate model names {sorted(dupes)}")
    return out


def _latent_records(config, base, spec, pairs, scope) -> list[dict[str, Any]]:
    """The models of a ``perturbation: latent`` base: named by :func:`latent_model_name`, in the
    architecture group ``<architecture>+latent`` (so Table 2 and Figure 5 show them beside the
    weight-noise models), each with ``latent_ref``: the alpha = 0 model whose embeddings give
    sigma (the first alpha-0 pair; alpha 0 is the unperturbed base, so one is required)."""
    zero = [s for a, s in pairs if a == 0.0]
    if not zero:
        raise ValueError(f"models.bases.{base}: perturbation 'latent' needs alpha 0 in 'alphas' "
                         "or 'grid' (sigma is the base model's per-dimension std on the sample)")
    if int((config.get("embed") or {}).get("layer", -1)) == 0:
        raise ValueError(f"models.bases.{base}: perturbation 'latent' needs embed.layer != 0 "
                         "(the noise sits on a transformer block's output)")
    ref = latent_model_name(base, 0.0, zero[0])
    return [{"name": latent_model_name(base, alpha, seed), "base_name": base,
             "source": spec["source"], "architecture": f"{spec['architecture']}+latent",
             "kind": "perturbed", "alpha": alpha, "seed": int(seed), "scope": scope,
             "perturbation": "latent", "latent_ref": ref} for alpha, seed in pairs]


def nonstandard_models(config: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per non-standard model (Section 3.4) of ``config['nonstandard']``."""
    out = []
    for name, spec in (config.get("nonstandard") or {}).items():
        rec = {"name": name, "kind": "nonstandard", "alpha": None,
               "seed": int(spec.get("seed", 0)), "scope": "",
               "architecture": spec["architecture"], "recipe": spec["recipe"],
               "source": spec["source"], "donor": spec.get("donor"),
               "tokenizer": spec.get("tokenizer"), "checkpoint": spec.get("checkpoint")}
        out.append(rec)
    return out


def model_table(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every model of the experiment by name: perturbed, then non-standard."""
    models = perturbed_models(config) + nonstandard_models(config)
    table: dict[str, dict[str, Any]] = {}
    for m in models:
        if m["name"] in table:
            raise ValueError(f"model name {m['name']!r} is used twice (perturbed names are "
                             "<base>_a<alpha>_s<seed>; pick another non-standard name)")
        table[m["name"]] = m
    return table
