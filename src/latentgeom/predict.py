"""``latentgeom predict``: one model's geometry and its GLUE average predicted from a reference.

A *reference* is a finished run's ``tables/models.csv`` inside its results folder. Everything
that makes a measure value comparable is read from that run's provenance, never assumed:

- the sample: ``sample/sequences.txt`` (its SHA-256 recorded in the card);
- embedding: ``embed.layer``, ``batch_size`` and ``max_length`` of ``latent/*/embeddings.json``;
- each quantizer (a measure group such as ``additive``): method, M, nbits, seed and train size
  of ``latent/*/quantized_<name>.npz``;
- the measures' seed (``measures/*.json``) and the primary definition (``analysis/table2.csv``'s
  ``variant``; the config's ``measures.variant``);
- where the table has ``geometry.*`` columns (``geometry.enabled``), the other geometry's settings
  (``measures/geometry/*.json``): the card then has those measures too.

Every model of the reference must agree on these, and whatever the caller pins (a sample file,
quantizer settings, a variant) must equal them: a mismatch is refused before any model is
loaded. The model is then embedded, quantized and measured exactly as the reference's models
were (:mod:`latentgeom.embed`, :mod:`latentgeom.quantize`, :mod:`latentgeom.measures`), and each
measure's OLS fit of the reference (``glue_average ~ measure + architecture`` on its perturbed
models, Section 4; without the architecture term when the model's architecture is not among
them) gives a prediction with its 95% prediction interval. The card also carries, per measure,
where the value falls in the reference's range (extrapolation flagged), the reference's Pearson
r per architecture and its LM MSE on the non-standard models, so that a weak predictor is not
mistaken for a strong one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from . import schema
from .analysis import TARGET, measure_columns
from .geometry import DEFAULTS as GEOMETRY_DEFAULTS  # the other geometry's settings
from .io import read_csv, read_json, read_npz
from .predict_card import card_markdown, make_card, write_card


class ReferenceError(ValueError):
    """A reference that cannot be used, or that does not match what the caller asked for."""


def _one(values: dict[str, Any], what: str, table: Path) -> Any:
    """The single value every reference model has for ``what``; refuse if they differ."""
    distinct = {json.dumps(v, sort_keys=True): m for m, v in values.items()}
    if len(distinct) > 1:
        (a, ma), (b, mb) = list(distinct.items())[:2]
        raise ReferenceError(f"reference {table}: its models disagree on {what} ({ma}: {a}, "
                             f"{mb}: {b}); a prediction needs one setting")
    if not distinct:
        raise ReferenceError(f"reference {table}: no model has {what} in its provenance")
    return json.loads(next(iter(distinct)))


def common_execution(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The pools and devices most of the reference's models were computed with (a run resumed
    with other ``--cores`` mixes them): what a new model is measured with."""
    from collections import Counter

    keys = Counter(json.dumps(r, sort_keys=True) for r in runs.values())
    if not keys:
        return {"embed": None, "quantize": {}, "measures": None, "device": None, "gpu": {}}
    return json.loads(keys.most_common(1)[0][0])


def read_reference(table: str | Path) -> tuple[Any, dict[str, Any]]:
    """``(models table, settings)`` of a reference run (see the module docstring)."""
    from .integrity import sha256_file

    table = Path(table)
    if not table.is_file():
        raise ReferenceError(f"reference {table} does not exist")
    df = read_csv(table)
    for c in ("model", "architecture", "kind", TARGET):
        if c not in df.columns:
            raise ReferenceError(f"reference {table}: missing column {c!r} (expected a run's "
                                 "tables/models.csv)")
    results = table.resolve().parent.parent
    sequences = results / "sample" / "sequences.txt"
    if not sequences.is_file():
        raise ReferenceError(f"reference {table}: its run's sample {sequences} is missing (the "
                             "reference must sit in its results folder, tables/models.csv)")
    groups = sorted({c.removeprefix(schema.AUTHORS).split(".", 1)[0] for c in
                     measure_columns(df, None)} - {schema.SPREAD_GROUP, "geometry"})
    embed, quant, mseed, gset = {}, {g: {} for g in groups}, {}, {}
    runs: dict[str, dict[str, Any]] = {}  # per model: the pools and devices that computed it
    for name in df["model"].astype(str):
        latent = results / "latent" / name
        run = runs[name] = {"embed": None, "quantize": {}, "measures": None, "device": None,
                            "gpu": {}}
        if (latent / "embeddings.json").is_file():
            meta = read_json(latent / "embeddings.json")
            embed[name] = {k: meta["config"].get(k) for k in ("layer", "batch_size",
                                                              "max_length")}
            run.update(embed=meta.get("threads"), device=meta.get("device"))
        for g in groups:
            q = latent / f"quantized_{g}.npz"
            if q.is_file():
                meta = json.loads(str(read_npz(q, ["meta"])["meta"]))
                cfg = meta["config"]
                quant[g][name] = {"spec": {k: cfg["spec"][k] for k in ("method", "M", "nbits")},
                                  "seed": cfg.get("seed", 0), "train_size": cfg.get("train_size")}
                run["quantize"][g] = meta.get("threads")
                run["gpu"][g] = bool(meta.get("gpu", False))
        m = results / "measures" / f"{name}.json"
        if m.is_file():
            prov = read_json(m).get("provenance") or {}
            mseed[name] = prov.get("config", {}).get("seed", 0)
            run["measures"] = prov.get("threads")
        g = results / "measures" / "geometry" / f"{name}.json"
        if g.is_file():  # geometry.enabled (issue 21): its settings and pools, like the others
            prov = read_json(g).get("provenance") or {}
            gset[name] = {k: (prov.get("config") or {}).get(k) for k in GEOMETRY_DEFAULTS}
            run["geometry"] = prov.get("threads")
    variant = "paper"
    t2 = results / "analysis" / "table2.csv"
    if t2.is_file():
        v = read_csv(t2).get("variant")
        if v is not None and len(v):
            variant = str(v.iloc[0])
    settings = {
        "table": str(table), "results": str(results), "sequences": str(sequences),
        "sequences_sha256": sha256_file(sequences),
        "embed": _one(embed, "embedding settings (layer, batch_size, max_length)", table),
        "quantizers": {g: _one(quant[g], f"quantizer {g!r} settings", table) for g in groups},
        "measures_seed": _one(mseed, "the measures' seed", table),
        "variant": variant, "runs": runs, "execution": common_execution(runs),
        # the other geometry's settings where the table has its columns and files (else None:
        # the card then has no value for them)
        "geometry": (_one(gset, "geometry settings", table)
                     if gset and any(c.startswith("geometry.") for c in df.columns) else None),
    }
    return df, settings


#: The authors' published data as a reference (docs/paper-run.md): their sample
#: file (its SHA-256: the file itself is corpus text, never copied here; a user passes the
#: path of ``sample_sequences.txt`` from their repository), every sequence embedded alone
#: (truncated to max positions - 3: ``max_length`` None), the last layer, ``ProductQuantizer(d, 4,
#: 8)`` and ``LocalSearchQuantizer(d, 4, 8)`` trained on the whole matrix with FAISS's default
#: seeds (k-means 1234, LSQ 0x12345), and their measure code (the ``authors`` definitions).
PUBLISHED: dict[str, Any] = {
    "sample_sha256": "fde499cc0b54e3f31c21962cf226e9331446e60c9ec9da32d90b798d7a1134e8",
    "embed": {"layer": -1, "batch_size": 1, "max_length": None},
    "quantizers": {"additive": {"spec": {"method": "lsq", "M": 4, "nbits": 8}, "seed": 0x12345,
                                "train_size": None},
                   "product": {"spec": {"method": "pq", "M": 4, "nbits": 8}, "seed": 1234,
                               "train_size": None}},
    "measures_seed": 0, "variant": "authors",
}


def read_published_reference(directory: str | Path,
                             sequences: str | Path | None) -> tuple[Any, dict[str, Any]]:
    """``(models table, settings)`` of the authors' published data as a reference: their
    per-model files (:func:`latentgeom.published.import_published`) and their settings
    (:data:`PUBLISHED`); ``sequences`` must be their sample file."""
    from .integrity import sha256_file
    from .published import import_published

    table = f"published:{directory}"
    if sequences is None:
        raise ReferenceError(f"reference {table}: pass the authors' sample (--sample PATH to "
                             "sample_sequences.txt from their repository): the "
                             "published measures were computed on it")
    if not Path(sequences).is_file():
        raise ReferenceError(f"sample {sequences} does not exist")
    digest = sha256_file(sequences)
    if digest != PUBLISHED["sample_sha256"]:
        raise ReferenceError(
            f"sample {sequences} (sha256 {digest[:12]}…) is not the authors' sample_sequences.txt "
            f"(sha256 {PUBLISHED['sample_sha256'][:12]}…): measures on other samples are not "
            "comparable with their published ones")
    try:
        df = import_published(directory)
    except FileNotFoundError as e:
        raise ReferenceError(f"reference {table}: {e}") from None
    settings = {"table": table, "results": None, "sequences": str(sequences),
                "sequences_sha256": digest, "runs": {},
                "execution": {"embed": None, "quantize": {}, "measures": None, "device": None,
                              "gpu": {}},
                **json.loads(json.dumps({k: PUBLISHED[k] for k in (
                    "embed", "quantizers", "measures_seed", "variant")}))}
    return df, settings


def check_request(settings: dict[str, Any], *, sequences: str | Path | None = None,
                  quantizers: dict[str, dict[str, Any]] | None = None,
                  variant: str | None = None, layer: int | None = None) -> None:
    """Refuse what the caller pinned when it differs from the reference's settings."""
    from .integrity import sha256_file

    ref = settings["table"]
    if sequences is not None and sha256_file(sequences) != settings["sequences_sha256"]:
        raise ReferenceError(
            f"sample {sequences} is not the one reference {ref} was measured on "
            f"({settings['sequences']}): measures on other samples are not comparable; leave "
            "the sample out to use the reference's")
    for name, spec in (quantizers or {}).items():
        have = settings["quantizers"].get(name)
        if have is None:
            raise ReferenceError(f"quantizer {name!r}: reference {ref} has none (it has "
                                 f"{sorted(settings['quantizers'])})")
        want = {k: spec[k] for k in ("method", "M", "nbits") if k in spec}
        got = {k: have["spec"][k] for k in want}
        extra = {k: spec[k] for k in ("seed", "train_size") if k in spec}
        if want != got or any(have[k] != v for k, v in extra.items()):
            raise ReferenceError(
                f"quantizer {name!r}: asked for {want | extra}, reference {ref} used "
                f"{have['spec'] | {'seed': have['seed'], 'train_size': have['train_size']}}; "
                "measures of other quantizers are not comparable")
    if variant is not None and variant != settings["variant"]:
        raise ReferenceError(f"measures.variant {variant!r}: reference {ref}'s analysis used "
                             f"{settings['variant']!r}")
    if layer is not None and layer != settings["embed"]["layer"]:
        raise ReferenceError(f"embed.layer {layer}: reference {ref} embedded layer "
                             f"{settings['embed']['layer']}")


def measure_model(model, tokenizer, settings: dict[str, Any], *,
                  execution: dict[str, Any] | None = None,
                  device: str = "auto") -> dict[str, float]:
    """Every measure of ``model`` under the reference's settings, flattened as the model table
    names them (``<group>.<name>`` and ``authors:<group>.<name>``).

    The pipeline's own path: the embed stage's :func:`~latentgeom.embed.embed_sequences`, its
    matrix written as ``.npy`` and read back memory-mapped, then
    :func:`~latentgeom.stages.quantize_stage` per quantizer and
    :func:`~latentgeom.stages.measures_stage` on those files, each under the thread pools the
    reference recorded for that stage (``execution``: one of ``settings["runs"]``;
    :mod:`latentgeom.threadpools`) and FAISS on the GPU where the reference's was (and one is
    here), so that a model of the reference gives its row bit for bit on the reference's
    device."""
    import contextlib
    import sys
    import tempfile

    import faiss  # noqa: F401  (loaded before the pools are pinned: threadpoolctl sets those)
    import torch  # noqa: F401

    from . import embed
    from .integrity import sha256_file
    from .io import write_json, write_npy
    from .quantize import gpu_available
    from .stages import flatten_measures, measures_stage, quantize_stage, read_sequences
    from .threadpools import pinned

    run = execution or {}
    seqs = read_sequences(settings["sequences"])
    e = settings["embed"]
    names = list(settings["quantizers"])
    with tempfile.TemporaryDirectory(prefix="latentgeom-predict-") as tmp, \
            contextlib.redirect_stdout(sys.stderr):  # the stages' progress lines: not the card
        with pinned(run.get("embed")):
            X, lengths = embed.embed_sequences(model, tokenizer, seqs, layer=e["layer"],
                                               batch_size=e["batch_size"],
                                               max_length=e["max_length"], device=device,
                                               progress=False)
        if not np.isfinite(X).all():
            raise FloatingPointError("predict: the model produced NaN/Inf vectors")
        emb = Path(tmp) / "embeddings.npy"
        write_npy(emb, X)
        del X
        write_json(emb.with_suffix(".json"), {"lengths": lengths.tolist(),
                                              "embeddings_sha256": sha256_file(emb)})
        paths = []
        for name in names:
            q = settings["quantizers"][name]
            paths.append(str(Path(tmp) / f"quantized_{name}.npz"))
            gpu = bool(run.get("gpu", {}).get(name)) and gpu_available()
            with pinned((run.get("quantize") or {}).get(name)):
                quantize_stage(embeddings_path=str(emb), out_path=paths[-1], spec=q["spec"],
                               seed=q["seed"], train_size=q["train_size"], use_gpu=gpu)
        mthreads = run.get("measures") or {}
        with pinned(mthreads):
            result = measures_stage(embeddings_path=str(emb), quantized_paths=paths,
                                    out_path=str(Path(tmp) / "measures.json"), quantizers=names,
                                    seed=settings["measures_seed"],
                                    workers=mthreads.get("blas"))
        values = flatten_measures(result)
        if settings.get("geometry") is not None:  # the reference has the other geometry
            from .stages import geometry_stage

            with pinned(run.get("geometry")):
                geo = geometry_stage(embeddings_path=str(emb),
                                     out_path=str(Path(tmp) / "geometry.json"),
                                     settings=settings["geometry"])
            values.update({f"geometry.{k}": v for k, v in geo.items()})
    return values


def check_fits(model, settings: dict[str, Any], name: str) -> None:
    """Before embedding: the reference's product quantizers must split the model's width."""
    d = int(model.config.hidden_size)
    for g, q in settings["quantizers"].items():
        M = int(q["spec"]["M"])
        if q["spec"]["method"] == "pq" and d % M:
            raise ReferenceError(f"model {name}: hidden size {d} is not divisible by the "
                                 f"reference's product quantizer {g!r} (M={M}); its measures "
                                 "cannot be computed under the reference's settings")


def resolve_model(spec: str, settings: dict[str, Any]) -> dict[str, Any]:
    """A manifest for ``spec``: a manifest JSON (or a folder holding one), a model of the
    reference's run by name (its ``models/<name>/manifest.json``), a local model folder or a hub
    id (``hub:ORG/NAME``), the last two as a pretrained model used as it is."""
    from .models import SourceError, make_manifest, resolve_source

    p = Path(spec)
    if p.is_file():
        return read_json(p)
    if (p / "manifest.json").is_file():
        return read_json(p / "manifest.json")
    run = Path(settings["results"] or "/nonexistent") / "models" / spec / "manifest.json"
    if settings["results"] and "/" not in spec and run.is_file():
        man = read_json(run)
        w = man.get("weights")
        if w and not Path(w).is_absolute() and not Path(w).exists():
            # written relative to the run's working directory, the results folder's parent
            man["weights"] = str(Path(settings["results"]).parent / w)
        return man
    try:
        source = resolve_source(spec)
    except SourceError as e:
        raise ReferenceError(f"model {spec!r}: neither a manifest, a model of the reference run "
                             f"nor a model source ({e})") from None
    name = spec.split(":", 1)[-1].rstrip("/").split("/")[-1] if ":" in spec.split("/")[0] \
        else spec.rstrip("/").split("/")[-1]
    return make_manifest(name=name, base=spec, alpha=None, seed=0, scope="",
                         architecture="", kind="pretrained",
                         weights=source if Path(source).is_dir() else None,
                         extra={"tokenizer": spec})


def execution_for(settings: dict[str, Any], name: str | None,
                  threads: int | None = None) -> dict[str, Any]:
    """How to compute: a model of the reference as its own row was computed, another as most of
    the reference's models were; ``threads`` (when given) sets every pool of every stage."""
    run = dict(settings["runs"].get(name) or settings["execution"]) if name else \
        dict(settings["execution"])
    if threads:
        pools = {"torch": int(threads), "openmp": int(threads), "blas": int(threads)}
        run.update(embed=pools, measures=pools,
                   quantize={g: pools for g in settings["quantizers"]})
        if settings.get("geometry") is not None:
            run["geometry"] = pools
    return run


def execution_notes(run: dict[str, Any], device: str, published: bool = False) -> list[str]:
    """What keeps a value from being the one a re-run of the reference would give (empty: the
    reference's path exactly)."""
    from .gpus import pick_device
    from .quantize import gpu_available

    if published:
        return ["the reference is the authors' published data: their sample, quantizer settings "
                "(FAISS's default seeds) and measure code are followed, but their random "
                "references were unseeded and their devices, thread counts and library versions "
                "are not published, so a model of theirs measured here matches their values in "
                "distribution, not bit for bit"]
    notes = []
    missing = [k for k in ("embed", "measures") if not run.get(k)]
    missing += ["geometry"] if "geometry" in run and not run["geometry"] else []
    missing += [f"quantize {g}" for g, t in (run.get("quantize") or {}).items() if not t]
    if missing or not run.get("quantize"):
        notes.append("the reference does not record the thread counts of "
                     + (", ".join(missing) or "quantize")
                     + " (a run made before they were recorded; --threads sets them): this "
                     "process's were used, so values can differ from the reference's in their "
                     "last bits, and LSQ's codebooks and the entropies beyond them")
    here = pick_device(device)
    ref_dev = run.get("device")
    if ref_dev and ref_dev.split(":")[0] != here.split(":")[0]:
        notes.append(f"embedded on {here}, the reference on {ref_dev}: token vectors agree to "
                     "rounding, not bit for bit")
    if any((run.get("gpu") or {}).values()) and not gpu_available():
        notes.append("the reference quantized on a GPU, this process on the CPU (FAISS's GPU "
                     "and CPU k-means differ in their rounding)")
    return notes


def predict(spec: str, reference: str | Path, *, architecture: str | None = None,
            sequences: str | Path | None = None,
            quantizers: dict[str, dict[str, Any]] | None = None, variant: str | None = None,
            device: str = "auto", level: float = 0.95,
            threads: int | None = None) -> dict[str, Any]:
    """Card of model ``spec`` against ``reference`` (see the module docstring)."""
    from .gpus import pick_device
    from .models import load_base, load_from_manifest, model_checksum

    if str(reference).startswith("published:"):  # the authors' data, their sample
        df, settings = read_published_reference(str(reference)[len("published:"):], sequences)
    else:
        df, settings = read_reference(reference)
    check_request(settings, sequences=sequences, quantizers=quantizers, variant=variant)
    man = resolve_model(spec, settings)
    if man.get("kind") == "pretrained":  # used as it is
        model, tok = load_base(man["base"])
    else:
        model, tok = load_from_manifest(man)
    arch = architecture or man.get("architecture") or None
    check_fits(model, settings, str(spec))
    of_reference = man.get("name") if man.get("kind") != "pretrained" and \
        man.get("name") in settings["runs"] else None
    run = execution_for(settings, of_reference, threads)
    values = measure_model(model, tok, settings, execution=run, device=device)
    card = make_card(df, settings, values, name=man.get("name") or str(spec),
                     architecture=arch, level=level)
    notes = execution_notes(run, device, published=settings["results"] is None)
    recorded = execution_for(settings, of_reference)
    stages = ("embed", "quantize", "measures")
    if threads and any(run.get(k) != recorded.get(k) for k in stages):  # the caller's counts
        notes.insert(0, f"--threads {threads} " + (
            "instead of the thread counts the reference recorded" if not
            execution_notes(recorded, device) else "(the reference recorded none, so that "
            "they were its run's is not checked)"))
    card.update(source=man.get("base"), kind=man.get("kind"), checksum=model_checksum(model),
                execution={"model_of_reference": of_reference, "device": pick_device(device),
                           "threads": {k: run.get(k) for k in ("embed", "quantize",
                                                               "measures")},
                           "as_reference": not notes, "notes": notes})
    return card


def predict_stage(*, source: str, reference: str | Path, out_md: str | Path,
                  out_json: str | Path, architecture: str | None = None,
                  device: str = "auto") -> dict[str, Any]:
    """:func:`predict` written as a Markdown and a JSON card (rule ``predict``)."""
    card = predict(source, reference, architecture=architecture, device=device)
    write_card(card, out_md, out_json)
    print(card_markdown(card))
    return card
