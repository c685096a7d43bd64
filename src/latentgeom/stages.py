"""File-level stages of the models and the geometry half: files in, artifacts out (atomically).

The Snakemake scripts and the ``latentgeom`` command line both call these, so every stage runs
alone on files, with or without the pipeline. Inputs are checked before any expensive work, and
each artifact carries the config that produced it and the library versions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from .io import provenance, read_json, write_csv, write_json, write_npy, write_text


def _say(msg: str) -> None:
    print(f"[latentgeom {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# ----------------------------------------------------------------------------- models
def perturb_stage(*, name: str, manifest_path: str, base: str, alpha: float, seed: int,
                  scope: str = "encoder_weights", architecture: str = "",
                  kind: str = "perturbed", store_weights: bool = False,
                  weights_dir: str | None = None) -> dict[str, Any]:
    """Build a perturbed model (Eq. 1) and write its manifest (+ weights if ``store_weights``)."""
    from . import models

    alpha = models.check_alpha(alpha)
    models.resolve_source(base)  # fails fast on a missing path/package
    _say(f"perturb {name}: base={base} alpha={alpha} seed={seed} scope={scope}")
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
    _say(f"{len(changed)} tensors ({man['n_perturbed_parameters']:,} parameters) perturbed; "
         f"checksum {man['checksum'][:16]}")
    return man


def nonstandard_stage(*, name: str, manifest_path: str, weights_dir: str, recipe: str,
                      architecture: str, source: str, donor: str | None = None,
                      tokenizer: str | None = None, seed: int = 0,
                      checkpoint: str | None = None) -> dict[str, Any]:
    """Build a non-standard model (Section 3.4, :mod:`latentgeom.nonstandard`), save its weights
    and tokenizer, and write its manifest."""
    from . import models, nonstandard

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


# ----------------------------------------------------------------------------- sample
def sample_stage(*, out_sequences: str, out_meta: str, out_stats: str | None, source: dict,
                 n: int = 5000, min_tokens: int = 3, max_tokens: int = 50, seed: int = 0,
                 n_stats: int = 10, rules: str = "project") -> list[str]:
    """Draw the latent-space sample and write Figure 2's representativeness table."""
    from . import corpus

    source = dict(source)
    _say(f"sample: source={source} rules={rules} n={n} tokens {min_tokens}..{max_tokens} "
         f"seed={seed}")
    sample, pool = corpus.sample_sequences(source, n, min_tokens=min_tokens,
                                           max_tokens=max_tokens, seed=seed, rules=rules)
    if any("\n" in s for s in sample):
        raise ValueError("sample: a sequence contains a newline")
    if not sample:
        raise ValueError(f"sample: no sequence with {min_tokens}..{max_tokens} tokens in "
                         f"{source.get('paths') or source.get('name') or source.get('kind')} "
                         "(an empty file?)")
    _say(f"pool of {len(pool)} unique eligible sequences; drew {len(sample)}")
    if out_stats:
        table, summary = corpus.representativeness(pool, len(sample), n_stats, seed)
        write_csv(out_stats, table)
        js = summary.groupby("statistic")["js_divergence"].agg(["mean", "max"])
        _say(f"representativeness (Jensen-Shannon vs corpus):\n{js}")
    else:
        summary = None
    tokens = [corpus.n_tokens(s) for s in sample]
    meta = {
        "n_sequences": len(sample), "pool_size": len(pool),
        "tokens": {"total": int(sum(tokens)), "min": int(min(tokens)), "max": int(max(tokens))},
        "representativeness": None if summary is None else summary.to_dict(orient="records"),
        **provenance(source=source, rules=rules, n=n, min_tokens=min_tokens,
                     max_tokens=max_tokens, seed=seed, n_stats=n_stats),
    }
    write_text(out_sequences, "".join(s + "\n" for s in sample))
    write_json(out_meta, meta)
    return sample


def read_sequences(path: str) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = Path(path).read_bytes()[:e.start].count(b"\n") + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte {e.object[e.start]:#x} at offset "
                         f"{e.start}); re-encode the file as UTF-8") from None
    seqs = [s for s in lines if s.strip()]
    if not seqs:
        raise ValueError(f"{path}: no sequences")
    return seqs


# ----------------------------------------------------------------------------- embed
def embed_stage(*, manifest_path: str, sequences_path: str, out_embeddings: str, out_meta: str,
                layer: int = -1, batch_size: int = 64, max_length: int | None = None,
                device: str = "auto", threads: int | None = None) -> np.ndarray:
    """Embed the sample with the model of a manifest; write the float32 matrix and its meta."""
    import torch

    from . import embed, models
    from .gpus import pick_device

    if threads:
        torch.set_num_threads(int(threads))
    from .integrity import require_checksum, sha256_file

    seqs = read_sequences(sequences_path)
    manifest = read_json(manifest_path)
    checksum = require_checksum(manifest, manifest_path)
    t0 = time.time()
    model, tok = models.load_from_manifest(manifest)
    _say(f"model {manifest['name']} ready in {time.time() - t0:.1f}s; embedding {len(seqs)} "
         f"sequences")
    t0 = time.time()
    X, lengths = embed.embed_sequences(model, tok, seqs, layer=layer, batch_size=batch_size,
                                       max_length=max_length, device=device)
    dt = time.time() - t0
    _say(f"{X.shape[0]} tokens x {X.shape[1]} dims in {dt:.1f}s ({X.shape[0] / dt:.0f} tokens/s)")
    if not np.isfinite(X).all():
        raise FloatingPointError(f"embed {manifest['name']}: the model produced NaN/Inf vectors")
    write_npy(out_embeddings, X)
    write_json(out_meta, {
        "model": manifest["name"], "shape": list(X.shape), "lengths": lengths.tolist(),
        "seconds": dt, "device": pick_device(device),
        # fingerprints: what this matrix was built from, and the matrix's own bytes
        "manifest_checksum": checksum, "embeddings_sha256": sha256_file(out_embeddings),
        **provenance(layer=layer, batch_size=batch_size, max_length=max_length,
                     checksum=checksum)})
    return X


# ----------------------------------------------------------------------------- quantize
def load_matrix(path: str) -> np.ndarray:
    """A float matrix from ``.npy`` (memory-mapped), ``.npz`` (first array) or text."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"matrix file {p} does not exist")
    try:
        if p.suffix == ".npy":
            X = np.load(p, mmap_mode="r", allow_pickle=False)
        elif p.suffix == ".npz":
            with np.load(p, allow_pickle=False) as z:
                if not z.files:
                    raise ValueError("the archive holds no array")
                X = z[z.files[0]]
        else:
            X = np.loadtxt(p, ndmin=2)
    except (ValueError, OSError, EOFError) as e:  # truncated, object dtype, not a matrix
        raise ValueError(f"matrix file {p}: cannot be read as a numeric matrix ({e}); a "
                         "truncated or corrupted file? Delete it and re-run the step that "
                         "wrote it") from None
    if X.dtype not in (np.float32, np.float64):
        raise ValueError(f"matrix file {p}: dtype {X.dtype}, expected float32 or float64 (a "
                         f"{X.dtype} matrix is not token vectors; convert it explicitly, e.g. "
                         "np.save(path, X.astype(np.float32)))")
    return X


def quantize_stage(*, embeddings_path: str, out_path: str, spec: dict, seed: int = 0,
                   train_size: int | None = None, use_gpu: bool | str = "auto",
                   threads: int | None = None) -> dict[str, Any]:
    """Train one quantizer (``spec``: method, M, nbits) and save codes + codebooks (.npz)."""
    import faiss

    from . import quantize as qz
    from .integrity import check_embeddings
    from .io import write_npz

    if threads:
        faiss.omp_set_num_threads(int(threads))
    digest = check_embeddings(embeddings_path)  # refuses a matrix changed since embed wrote it
    X = qz.check_matrix(load_matrix(embeddings_path), embeddings_path,
                        min_rows=1 << int(spec.get("nbits", 8)))
    t0 = time.time()
    res = qz.quantize(X, spec["method"], int(spec.get("M", 4)), int(spec.get("nbits", 8)),
                      seed=seed, train_size=train_size, use_gpu=use_gpu)
    dt = time.time() - t0
    _say(f"{spec['method']} M={res['M']} K={res['K']} on {res['train_rows']} training rows "
         f"({'GPU' if res['gpu'] else 'CPU'}): {dt:.1f}s, reconstruction MSE {res['mse']:.4g}")
    meta = {k: res[k] for k in ("method", "kind", "M", "nbits", "K", "train_rows", "gpu", "mse")}
    meta.update(seconds=dt, embeddings_sha256=digest,
                **provenance(spec=dict(spec), seed=seed, train_size=train_size))
    write_npz(out_path, codes=res["codes"], codebooks=res["codebooks"],
              meta=np.array(json.dumps(meta)))
    return res


def read_quantized(path: str) -> tuple[np.ndarray, np.ndarray, str, dict]:
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            return z["codes"], z["codebooks"], meta["kind"], meta
    except (ValueError, OSError, EOFError, KeyError) as e:
        raise ValueError(f"quantizer file {path}: unreadable ({type(e).__name__}: {e}); "
                         "delete it and re-run the quantize step") from None


# ----------------------------------------------------------------------------- measures
def measures_stage(*, embeddings_path: str, quantized_paths: list[str], out_path: str,
                   quantizers: list[str] | None = None, variant: str | None = None,
                   seed: int = 0, workers: int | None = None) -> dict[str, Any]:
    """All measures of one latent matrix under both definitions, as JSON:
    ``{"spread": …, <quantizer name>: …, "authors": {"spread": …, <quantizer name>: …}}``
    (top level: the paper's equations; ``authors``: the authors' code, NOTES.md). Both are
    always computed (``variant`` is accepted for compatibility and ignored: the analysis picks
    the primary one); ``seed`` seeds the authors' random references."""
    from . import measures
    from .integrity import check_built_from, check_embeddings, sha256_file

    digest = check_embeddings(embeddings_path)
    X = load_matrix(embeddings_path)
    names = quantizers or [Path(p).stem.removeprefix("quantized_") for p in quantized_paths]
    if len(names) != len(quantized_paths):
        raise ValueError("measures: one quantizer name per quantized file expected")
    quantized, fingerprints = {}, {"embeddings_sha256": digest, "quantized_sha256": {}}
    emb_meta = Path(embeddings_path).with_suffix(".json")
    if Path(embeddings_path).suffix == ".npy" and emb_meta.is_file():
        fingerprints["manifest_checksum"] = read_json(emb_meta).get("manifest_checksum")
    for name, path in zip(names, quantized_paths):
        codes, codebooks, kind, qmeta = read_quantized(path)
        # codes of another matrix (same shape or not) give meaningless RE/RS/RI: refuse
        check_built_from(path, qmeta.get("embeddings_sha256"), embeddings_path, digest)
        fingerprints["quantized_sha256"][name] = sha256_file(path)
        quantized[name] = (codes, codebooks, kind)
    t0 = time.time()
    both = measures.measure_variants(X, quantized, measures.VARIANTS, seed=seed,
                                     workers=workers)
    result = {**both["paper"], "authors": both["authors"]}
    _say(f"measures (both variants) in {time.time() - t0:.1f}s: {json.dumps(result)}")
    out = dict(result)
    out["provenance"] = provenance(variants=list(measures.VARIANTS), seed=seed,
                                   n_rows=int(X.shape[0]), quantizers=names)
    out["provenance"].update(fingerprints)
    write_json(out_path, out)
    return result


def flatten_measures(m: dict[str, Any]) -> dict[str, float]:
    """``{"spread": {"EEE": …}, "authors": {"spread": {"EEE": …}}}`` ->
    ``{"spread.EEE": …, "authors:spread.EEE": …}``: the paper's definitions as
    ``<group>.<name>``, the authors' as ``authors:<group>.<name>`` (provenance dropped)."""
    out = {}
    for group, vals in m.items():
        if group == "provenance":
            continue
        if group == "authors":
            out.update({f"authors:{k}": v for k, v in flatten_measures(vals).items()})
        else:
            out.update({f"{group}.{k}": v for k, v in vals.items()})
    return out


def measures_table_stage(*, measure_paths: list[str], manifest_paths: list[str],
                         out_path: str, bootstrap_paths: list[str] | None = None):
    """One row per model: model, architecture, kind, alpha, seed, then every measure under
    both definitions (``<group>.<name>``: the paper's; ``authors:<group>.<name>``: theirs);
    with ``bootstrap_paths`` (one per model) also ``ci_lo:<column>``/``ci_hi:<column>``."""
    import pandas as pd

    rows = []
    boots = bootstrap_paths or [None] * len(measure_paths)
    for mpath, manpath, bpath in zip(measure_paths, manifest_paths, boots):
        man = read_json(manpath)
        built = (read_json(mpath).get("provenance") or {}).get("manifest_checksum")
        if built and built != man.get("checksum"):
            raise RuntimeError(f"{mpath} was computed for model checksum {built[:12]}…, but "
                               f"{manpath} is {str(man.get('checksum'))[:12]}…: delete it and "
                               "re-run (snakemake --forcerun embed)")
        row = {"model": man["name"], "architecture": man.get("architecture"),
               "kind": man.get("kind", "perturbed"),
               "alpha": man.get("alpha") if man.get("kind", "perturbed") == "perturbed" else None,
               "seed": man.get("seed") if man.get("kind", "perturbed") == "perturbed" else None}
        row.update(flatten_measures(read_json(mpath)))
        if bpath:  # the bootstrap's intervals (latentgeom.bootstrap)
            for col, (lo, hi) in read_json(bpath)["interval"].items():
                row[f"ci_lo:{col}"], row[f"ci_hi:{col}"] = lo, hi
        rows.append(row)
    df = pd.DataFrame(rows)
    write_csv(out_path, df)
    return df
