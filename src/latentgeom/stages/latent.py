"""Stages of the geometry half (rules of ``workflow/rules/latent.smk``): the sample, its token
vectors, the quantizers and the measures, with the bootstrap, layer-wise and quantizer-sensitivity
experiments beyond the paper. Each checks the fingerprints of what it reads."""

from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..integrity import check_built_from, check_embeddings, require_checksum, sha256_file
from ..io import (
    atomic_path,
    load_matrix,
    read_json,
    read_quantized,
    read_sequences,
    write_csv,
    write_json,
    write_npy,
    write_npz,
    write_text,
)
from ..latentnoise import apply_from_manifest
from ..provenance import provenance, say
from ..threadpools import thread_counts


def sample_stage(*, out_sequences: str, out_meta: str, out_stats: str | None, source: dict,
                 n: int = 5000, min_tokens: int = 3, max_tokens: int = 50, seed: int = 0,
                 n_stats: int = 10, rules: str = "project") -> list[str]:
    """Draw the latent-space sample and write Figure 2's representativeness table."""
    from .. import corpus

    source = dict(source)
    say(f"sample: source={source} rules={rules} n={n} tokens {min_tokens}..{max_tokens} "
        f"seed={seed}")
    sample, pool = corpus.sample_sequences(source, n, min_tokens=min_tokens,
                                           max_tokens=max_tokens, seed=seed, rules=rules)
    if any("\n" in s for s in sample):
        raise ValueError("sample: a sequence contains a newline")
    if not sample:
        raise ValueError(f"sample: no sequence with {min_tokens}..{max_tokens} tokens in "
                         f"{source.get('paths') or source.get('name') or source.get('kind')} "
                         "(an empty file?)")
    say(f"pool of {len(pool)} unique eligible sequences; drew {len(sample)}")
    if out_stats:
        table, summary = corpus.representativeness(pool, len(sample), n_stats, seed)
        write_csv(out_stats, table)
        js = summary.groupby("statistic")["js_divergence"].agg(["mean", "max"])
        say(f"representativeness (Jensen-Shannon vs corpus):\n{js}")
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


def embed_stage(*, manifest_path: str, sequences_path: str, out_embeddings: str, out_meta: str,
                layer: int = -1, batch_size: int = 64, max_length: int | None = None,
                device: str = "auto", threads: int | None = None) -> np.ndarray:
    """Embed the sample with the model of a manifest; write the float32 matrix and its meta."""
    import torch

    from .. import embed, models
    from ..gpus import pick_device

    if threads:
        torch.set_num_threads(int(threads))
    seqs = read_sequences(sequences_path)
    manifest = read_json(manifest_path)
    checksum = require_checksum(manifest, manifest_path)
    t0 = time.time()
    model, tok = models.load_from_manifest(manifest)
    apply_from_manifest(model, manifest)  # latent noise: a no-op without a latent_noise record
    say(f"model {manifest['name']} ready in {time.time() - t0:.1f}s; embedding {len(seqs)} "
        f"sequences")
    t0 = time.time()
    X, lengths = embed.embed_sequences(model, tok, seqs, layer=layer, batch_size=batch_size,
                                       max_length=max_length, device=device)
    dt = time.time() - t0
    say(f"{X.shape[0]} tokens x {X.shape[1]} dims in {dt:.1f}s ({X.shape[0] / dt:.0f} tokens/s)")
    if not np.isfinite(X).all():
        raise FloatingPointError(f"embed {manifest['name']}: the model produced NaN/Inf vectors")
    write_npy(out_embeddings, X)
    write_json(out_meta, {
        "model": manifest["name"], "shape": list(X.shape), "lengths": lengths.tolist(),
        "seconds": dt, "device": pick_device(device),
        "threads": thread_counts(),  # pool sizes change the last bits (latentgeom.threadpools)
        # fingerprints: what this matrix was built from, and the matrix's own bytes
        "manifest_checksum": checksum, "embeddings_sha256": sha256_file(out_embeddings),
        **provenance(layer=layer, batch_size=batch_size, max_length=max_length,
                     checksum=checksum)})
    return X


def embed_layers_stage(*, manifest_path: str, sequences_path: str, out_paths: list[str],
                       layers: list[int], batch_size: int = 64, max_length: int | None = None,
                       device: str = "auto", threads: int | None = None) -> None:
    """Token vectors of every layer in ``layers`` from one forward pass per batch, streamed
    into ``out_paths[i]`` (float32 ``.npy``) with an ``embeddings.json`` beside each."""
    import torch
    from numpy.lib.format import open_memmap

    from .. import embed, models
    from ..gpus import pick_device

    if threads:
        torch.set_num_threads(int(threads))
    if len(out_paths) != len(layers):
        raise ValueError("embed_layers: one output path per layer expected")
    seqs = read_sequences(sequences_path)
    manifest = read_json(manifest_path)
    checksum = require_checksum(manifest, manifest_path)
    model, tok = models.load_from_manifest(manifest)
    apply_from_manifest(model, manifest)  # latent noise: a no-op without a latent_noise record
    dev = pick_device(device)
    max_length = max_length or embed.default_max_length(model, tok)
    ids = embed.tokenize(tok, seqs, max_length)
    lengths = embed.token_lengths(ids)
    n_states = int(model.config.num_hidden_layers) + 1
    bad = [i for i in layers if not 0 <= i < n_states]
    if bad:
        raise ValueError(f"embed.layers: {bad} outside the model's hidden states 0..{n_states - 1}")
    shape = (int(lengths.sum()), int(model.config.hidden_size))
    t0 = time.time()
    with _atomic_all(out_paths, suffix=".npy") as tmps:
        outs = [open_memmap(t, mode="w+", dtype=np.float32, shape=shape) for t in tmps]
        embed.forward_batches(model, tok, ids, lengths, outs, layers, batch_size=batch_size,
                              device=dev)
        for out in outs:
            if not np.isfinite(out).all():
                raise FloatingPointError(f"embed_layers {manifest['name']}: NaN/Inf vectors")
            out.flush()
        del outs
    dt = time.time() - t0
    say(f"{len(layers)} layers x {shape[0]} tokens x {shape[1]} dims in {dt:.1f}s")
    for path, layer in zip(out_paths, layers):
        write_json(Path(path).with_suffix(".json"), {
            "model": manifest["name"], "layer": layer, "shape": list(shape),
            "lengths": lengths.tolist(), "seconds": dt, "device": dev,
            "manifest_checksum": checksum, "embeddings_sha256": sha256_file(path),
            **provenance(layer=layer, batch_size=batch_size, max_length=max_length,
                         checksum=checksum)})


@contextlib.contextmanager
def _atomic_all(paths: list[str], suffix: str):
    """Temporary paths for several outputs, all moved into place together on success."""
    with contextlib.ExitStack() as stack:
        yield [str(stack.enter_context(atomic_path(p, suffix=suffix))) for p in paths]


def _checked_quantized(path: str, embeddings_path: str, digest: str):
    """``((codes, codebooks, kind), meta, sha256)`` of a ``quantize`` file, refused unless it
    was built from ``embeddings_path`` (SHA-256 ``digest``): codes of another matrix (same shape
    or not) give meaningless RE/RS/RI."""
    codes, codebooks, kind, meta = read_quantized(path)
    check_built_from(path, meta.get("embeddings_sha256"), embeddings_path, digest)
    return (codes, codebooks, kind), meta, sha256_file(path)


def manifest_fingerprint(embeddings_path: str) -> dict[str, Any]:
    """``{"manifest_checksum": …}`` of the model an ``.npy`` matrix was embedded from (its
    ``embeddings.json``), or ``{}`` where there is none (a matrix from elsewhere)."""
    meta = Path(embeddings_path).with_suffix(".json")
    if Path(embeddings_path).suffix == ".npy" and meta.is_file():
        return {"manifest_checksum": read_json(meta).get("manifest_checksum")}
    return {}


def checked_inputs(embeddings_path: str, quantized_paths: list[str],
                   quantizers: list[str] | None, stage: str):
    """``(names, {name: (codes, codebooks, kind)}, fingerprints)`` of a stage that reads one
    latent matrix and its quantizer files: the matrix checked against ``embeddings.json``'s
    SHA-256, each quantizer file against the matrix (:func:`_checked_quantized`); fingerprints
    ``embeddings_sha256``, ``quantized_sha256`` per name and the model's ``manifest_checksum``.
    ``quantizers``: the names (default: the files' ``quantized_<name>`` stems)."""
    names = quantizers or [Path(p).stem.removeprefix("quantized_") for p in quantized_paths]
    if len(names) != len(quantized_paths):
        raise ValueError(f"{stage}: one quantizer name per quantized file expected")
    digest = check_embeddings(embeddings_path)
    quantized, fingerprints = {}, {"embeddings_sha256": digest, "quantized_sha256": {}}
    fingerprints.update(manifest_fingerprint(embeddings_path))
    for name, path in zip(names, quantized_paths):
        quantized[name], _, fingerprints["quantized_sha256"][name] = \
            _checked_quantized(path, embeddings_path, digest)
    return names, quantized, fingerprints


def quantize_stage(*, embeddings_path: str, out_path: str, spec: dict, seed: int = 0,
                   train_size: int | None = None, use_gpu: bool | str = "auto",
                   threads: int | None = None) -> dict[str, Any]:
    """Train one quantizer (``spec``: method, M, nbits) and save codes + codebooks (.npz)."""
    import faiss

    from .. import quantize as qz

    if threads:
        faiss.omp_set_num_threads(int(threads))
    digest = check_embeddings(embeddings_path)  # refuses a matrix changed since embed wrote it
    X = qz.check_matrix(load_matrix(embeddings_path), embeddings_path,
                        min_rows=1 << int(spec.get("nbits", 8)))
    t0 = time.time()
    res = qz.quantize(X, spec["method"], int(spec.get("M", 4)), int(spec.get("nbits", 8)),
                      seed=seed, train_size=train_size, use_gpu=use_gpu)
    dt = time.time() - t0
    say(f"{spec['method']} M={res['M']} K={res['K']} on {res['train_rows']} training rows "
        f"({'GPU' if res['gpu'] else 'CPU'}): {dt:.1f}s, reconstruction MSE {res['mse']:.4g}")
    meta = {k: res[k] for k in ("method", "kind", "M", "nbits", "K", "train_rows", "gpu", "mse")}
    # no wall-clock time in here (the log and the rule's benchmark file have it): the file's
    # SHA-256 is a fingerprint (measures record it), so identical runs must give identical bytes
    meta.update(embeddings_sha256=digest, threads=thread_counts(),
                **provenance(spec=dict(spec), seed=seed, train_size=train_size))
    write_npz(out_path, codes=res["codes"], codebooks=res["codebooks"],
              meta=np.array(json.dumps(meta)))
    return res


def measures_stage(*, embeddings_path: str, quantized_paths: list[str], out_path: str,
                   quantizers: list[str] | None = None, seed: int = 0,
                   workers: int | None = None) -> dict[str, Any]:
    """All measures of one latent matrix under both definitions, as JSON:
    ``{"spread": …, <quantizer name>: …, "authors": {"spread": …, <quantizer name>: …}}``
    (top level: the paper's equations; ``authors``: the authors' code, docs/measures.md). Both are
    always computed (the analysis picks the primary one); ``seed`` seeds the authors' random
    references."""
    from .. import measures

    names, quantized, fingerprints = checked_inputs(embeddings_path, quantized_paths,
                                                    quantizers, "measures")
    X = load_matrix(embeddings_path)
    t0 = time.time()
    both = measures.measure_variants(X, quantized, measures.VARIANTS, seed=seed,
                                     workers=workers)
    result = {**both["paper"], "authors": both["authors"]}
    say(f"measures (both variants) in {time.time() - t0:.1f}s: {json.dumps(result)}")
    out = dict(result)
    out["provenance"] = provenance(variants=list(measures.VARIANTS), seed=seed,
                                   n_rows=int(X.shape[0]), quantizers=names)
    out["provenance"].update(fingerprints, threads=thread_counts())
    write_json(out_path, out)
    return result


def bootstrap_stage(*, embeddings_path: str, meta_path: str, quantized_paths: list[str],
                    out_json: str, out_npz: str, quantizers: list[str], n: int, seed: int = 0,
                    level: float = 0.95, heavy: int = 10, measure_seed: int = 0,
                    workers: int | None = None) -> dict:
    """Bootstrap one model's measures: ``out_json`` holds the intervals (``{"interval": {col:
    [lo, hi]}, "n_finite", "level", "n", …}``), ``out_npz`` the replicate matrix (``columns``,
    ``values`` (n, columns)) for the analysis' r under resampled measures."""
    from ..bootstrap import bootstrap_measures, intervals

    names, quantized, fingerprints = checked_inputs(embeddings_path, quantized_paths,
                                                    quantizers, "bootstrap")
    meta = read_json(meta_path)
    if "lengths" not in meta:
        raise ValueError(f"{meta_path}: no 'lengths' (token counts per sequence); re-run embed")
    fingerprints.setdefault("manifest_checksum", meta.get("manifest_checksum"))
    X = load_matrix(embeddings_path)
    t0 = time.time()
    cols, values = bootstrap_measures(X, quantized, meta["lengths"], int(n), int(seed),
                                      int(heavy), int(measure_seed), workers=workers,
                                      progress=say)
    dt = time.time() - t0
    say(f"{n} replicates ({min(n, heavy)} with VRM/PD_EEE) of {len(meta['lengths'])} "
        f"sequences in {dt:.1f}s")
    out = {"level": level, "n": int(n), "seed": int(seed), "heavy": int(min(n, heavy)),
           "seconds": dt, **intervals(cols, values, level),
           "provenance": {**provenance(n=n, seed=seed, level=level, heavy=heavy,
                                       measure_seed=measure_seed, quantizers=names),
                          **fingerprints}}
    write_npz(out_npz, columns=np.array(cols), values=values)
    write_json(out_json, out)
    return out


def sensitivity_measures_stage(*, embeddings_path: str, quantized_path: str, out_path: str,
                               setting: str, seed: int = 0,
                               workers: int | None = None) -> dict[str, Any]:
    """The eight quantized measures of one quantizer setting under both definitions:
    ``{"paper": {PP, …}, "authors": {…}, "setting": …, "provenance": …}``."""
    from .. import measures as ms
    from ..sensitivity import parse_setting

    digest = check_embeddings(embeddings_path)
    X = ms.check_points(load_matrix(embeddings_path))
    (codes, codebooks, kind), qmeta, sha = _checked_quantized(quantized_path, embeddings_path,
                                                              digest)
    t0 = time.time()
    X, codes, codebooks = ms.check_quantization(X, codes, codebooks, kind)
    res = ms.quantized_variants(X, codes, codebooks, kind, ms.VARIANTS, seed, workers=workers)
    say(f"{setting}: measures (both variants) in {time.time() - t0:.1f}s")
    out = {**res, "setting": {**parse_setting(setting), "name": setting, "kind": kind,
                              "mse": qmeta.get("mse")},
           "provenance": {**provenance(seed=seed, setting=setting),
                          "embeddings_sha256": digest,
                          "quantized_sha256": sha}}
    write_json(out_path, out)
    return out
