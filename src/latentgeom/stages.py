"""File-level stages of the models, the geometry half and the analysis: files in, artifacts out
(atomically). The GLUE half's are in :mod:`latentgeom.glue.stages`.

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

from .io import (
    provenance,
    read_csv,
    read_json,
    read_sequences,
    write_csv,
    write_json,
    write_npy,
    write_text,
)
from .threadpools import thread_counts


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
        "threads": thread_counts(),  # pool sizes change the last bits (latentgeom.threadpools)
        # fingerprints: what this matrix was built from, and the matrix's own bytes
        "manifest_checksum": checksum, "embeddings_sha256": sha256_file(out_embeddings),
        **provenance(layer=layer, batch_size=batch_size, max_length=max_length,
                     checksum=checksum)})
    return X


# ----------------------------------------------------------------------------- quantize
def load_matrix(path: str) -> np.ndarray:
    """A float matrix from ``.npy`` (memory-mapped), ``.npz`` (first array) or text."""
    from .io import ArtifactError, read_npy, read_npz

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"matrix file {p} does not exist")
    if p.suffix == ".npy":
        X = read_npy(p, mmap=True)
    elif p.suffix == ".npz":
        arrays = read_npz(p)
        if not arrays:
            raise ArtifactError(p, "the archive holds no array")
        X = next(iter(arrays.values()))
    else:
        try:
            X = np.loadtxt(p, ndmin=2)
        except (ValueError, OSError, EOFError) as e:  # not a matrix
            raise ArtifactError(p, f"cannot be read as a numeric matrix ({e})") from None
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
    # no wall-clock time in here (the log and the rule's benchmark file have it): the file's
    # SHA-256 is a fingerprint (measures record it), so identical runs must give identical bytes
    meta.update(embeddings_sha256=digest, threads=thread_counts(),
                **provenance(spec=dict(spec), seed=seed, train_size=train_size))
    write_npz(out_path, codes=res["codes"], codebooks=res["codebooks"],
              meta=np.array(json.dumps(meta)))
    return res


def read_quantized(path: str) -> tuple[np.ndarray, np.ndarray, str, dict]:
    """``(codes, codebooks, kind, meta)`` of a ``quantize`` file; :class:`~.io.ArtifactError`
    (naming the file and how to rebuild it) when it cannot be read."""
    from .io import ArtifactError, read_npz

    z = read_npz(path, ["codes", "codebooks", "meta"])
    try:
        meta = json.loads(str(z["meta"]))
        return z["codes"], z["codebooks"], meta["kind"], meta
    except (ValueError, KeyError, TypeError) as e:
        raise ArtifactError(path, f"its meta record is unreadable ({type(e).__name__}: {e})") \
            from None


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
    out["provenance"].update(fingerprints, threads=thread_counts())
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


# ------------------------------------------------- beyond the paper: bootstrap, layers, sensitivity
def bootstrap_stage(*, embeddings_path: str, meta_path: str, quantized_paths: list[str],
                    out_json: str, out_npz: str, quantizers: list[str], n: int, seed: int = 0,
                    level: float = 0.95, heavy: int = 10, measure_seed: int = 0,
                    workers: int | None = None) -> dict:
    """Bootstrap one model's measures: ``out_json`` holds the intervals (``{"interval": {col:
    [lo, hi]}, "n_finite", "level", "n", …}``), ``out_npz`` the replicate matrix (``columns``,
    ``values`` (n, columns)) for the analysis' r under resampled measures."""
    from .bootstrap import bootstrap_measures, intervals
    from .integrity import check_built_from, check_embeddings, sha256_file
    from .io import write_npz

    digest = check_embeddings(embeddings_path)
    X = load_matrix(embeddings_path)
    meta = read_json(meta_path)
    if "lengths" not in meta:
        raise ValueError(f"{meta_path}: no 'lengths' (token counts per sequence); re-run embed")
    quantized, fp = {}, {}
    for name, path in zip(quantizers, quantized_paths):
        codes, codebooks, kind, qmeta = read_quantized(path)
        check_built_from(path, qmeta.get("embeddings_sha256"), embeddings_path, digest)
        quantized[name] = (codes, codebooks, kind)
        fp[name] = sha256_file(path)
    t0 = time.time()
    cols, values = bootstrap_measures(X, quantized, meta["lengths"], int(n), int(seed),
                                      int(heavy), int(measure_seed), workers=workers,
                                      progress=_say)
    dt = time.time() - t0
    _say(f"{n} replicates ({min(n, heavy)} with VRM/PD_EEE) of {len(meta['lengths'])} "
         f"sequences in {dt:.1f}s")
    out = {"level": level, "n": int(n), "seed": int(seed), "heavy": int(min(n, heavy)),
           "seconds": dt, **intervals(cols, values, level),
           "provenance": {**provenance(n=n, seed=seed, level=level, heavy=heavy,
                                       measure_seed=measure_seed, quantizers=list(quantizers)),
                          "embeddings_sha256": digest, "quantized_sha256": fp,
                          "manifest_checksum": meta.get("manifest_checksum")}}
    write_npz(out_npz, columns=np.array(cols), values=values)
    write_json(out_json, out)
    return out


def embed_layers_stage(*, manifest_path: str, sequences_path: str, out_paths: list[str],
                       layers: list[int], batch_size: int = 64, max_length: int | None = None,
                       device: str = "auto", threads: int | None = None) -> None:
    """Token vectors of every layer in ``layers`` from one forward pass per batch, streamed
    into ``out_paths[i]`` (float32 ``.npy``) with an ``embeddings.json`` beside each."""
    import torch
    from numpy.lib.format import open_memmap

    from . import embed, models
    from .gpus import pick_device
    from .integrity import require_checksum, sha256_file
    from .io import atomic_path

    if threads:
        torch.set_num_threads(int(threads))
    if len(out_paths) != len(layers):
        raise ValueError("embed_layers: one output path per layer expected")
    seqs = read_sequences(sequences_path)
    manifest = read_json(manifest_path)
    checksum = require_checksum(manifest, manifest_path)
    model, tok = models.load_from_manifest(manifest)
    dev = pick_device(device)
    max_length = max_length or embed.default_max_length(model, tok)
    ids = embed.tokenize(tok, seqs, max_length)
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    n_states = int(model.config.num_hidden_layers) + 1
    bad = [i for i in layers if not 0 <= i < n_states]
    if bad:
        raise ValueError(f"embed.layers: {bad} outside the model's hidden states 0..{n_states - 1}")
    hidden = int(model.config.hidden_size)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    model = model.to(dev).eval()
    t0 = time.time()
    with _atomic_all(out_paths, atomic_path) as tmps:
        outs = [open_memmap(t, mode="w+", dtype=np.float32, shape=(int(offsets[-1]), hidden))
                for t in tmps]
        order = np.argsort(-lengths, kind="stable")
        with torch.inference_mode():
            for a in range(0, len(order), batch_size):
                batch = order[a:a + batch_size]
                input_ids, mask = embed.pad_batch(ids, lengths, batch, pad_id)
                res = model(input_ids=input_ids.to(dev), attention_mask=mask.to(dev),
                            output_hidden_states=True, return_dict=True)
                for out, layer in zip(outs, layers):
                    h = res.hidden_states[layer].float().cpu().numpy()
                    for row, i in enumerate(batch):
                        out[offsets[i]:offsets[i + 1]] = h[row, :lengths[i]]
        for out in outs:
            if not np.isfinite(out).all():
                raise FloatingPointError(f"embed_layers {manifest['name']}: NaN/Inf vectors")
            out.flush()
        del outs
    dt = time.time() - t0
    _say(f"{len(layers)} layers x {int(offsets[-1])} tokens x {hidden} dims in {dt:.1f}s")
    for path, layer in zip(out_paths, layers):
        write_json(Path(path).with_suffix(".json"), {
            "model": manifest["name"], "layer": layer, "shape": [int(offsets[-1]), hidden],
            "lengths": lengths.tolist(), "seconds": dt, "device": dev,
            "manifest_checksum": checksum, "embeddings_sha256": sha256_file(path),
            **provenance(layer=layer, batch_size=batch_size, max_length=max_length,
                         checksum=checksum)})


class _atomic_all:
    """Temporary paths for several outputs, all moved into place together on success."""

    def __init__(self, paths, atomic_path):
        from contextlib import ExitStack

        self.paths, self.atomic_path, self.stack = paths, atomic_path, ExitStack()

    def __enter__(self):
        return [str(self.stack.enter_context(self.atomic_path(p, suffix=".npy")))
                for p in self.paths]

    def __exit__(self, *exc):
        return self.stack.__exit__(*exc)



def layers_table_stage(*, measure_paths: list[str], models: list[str], layers: list[int],
                       main_table: str, main_layer: int | None, out_path: str):
    """Long table, one row per (model, layer): ``model, layer``, then every measure column of
    ``tables/measures.csv`` (both definitions); the main layer's rows come from that table."""
    import pandas as pd


    main = read_csv(main_table)
    meta = ["model", "architecture", "kind", "alpha", "seed"]
    rows = []
    for path, model, layer in zip(measure_paths, models, layers):
        rows.append({"model": model, "layer": int(layer),
                     **flatten_measures(read_json(path))})
    extra = pd.DataFrame(rows)
    if len(extra):
        extra = extra.merge(main[meta], on="model", how="left", validate="many_to_one")
    # the main layer by its index; -1 (from the end) where the models' depth is unknown (hub)
    main = main.assign(layer=int(main_layer) if main_layer is not None else -1)
    cols = meta + ["layer"] + [c for c in main.columns if c not in meta + ["layer"]
                               and not c.startswith(("ci_lo:", "ci_hi:"))]
    df = pd.concat([main, extra], ignore_index=True)[cols].sort_values(["model", "layer"])
    write_csv(out_path, df)
    return df



def sensitivity_measures_stage(*, embeddings_path: str, quantized_path: str, out_path: str,
                               setting: str, seed: int = 0,
                               workers: int | None = None) -> dict[str, Any]:
    """The eight quantized measures of one quantizer setting under both definitions:
    ``{"paper": {PP, …}, "authors": {…}, "setting": …, "provenance": …}``."""
    from . import measures as ms
    from .integrity import check_built_from, check_embeddings, sha256_file
    from .sensitivity import parse_setting

    digest = check_embeddings(embeddings_path)
    X = ms.check_points(load_matrix(embeddings_path))
    codes, codebooks, kind, qmeta = read_quantized(quantized_path)
    check_built_from(quantized_path, qmeta.get("embeddings_sha256"), embeddings_path, digest)
    t0 = time.time()
    X, codes, codebooks = ms.check_quantization(X, codes, codebooks, kind)
    res = ms._quantized_variants(X, codes, codebooks, kind, ms.VARIANTS, seed,
                                 workers=workers)
    _say(f"{setting}: measures (both variants) in {time.time() - t0:.1f}s")
    out = {**res, "setting": {**parse_setting(setting), "name": setting, "kind": kind,
                              "mse": qmeta.get("mse")},
           "provenance": {**provenance(seed=seed, setting=setting),
                          "embeddings_sha256": digest,
                          "quantized_sha256": sha256_file(quantized_path)}}
    write_json(out_path, out)
    return out



def sensitivity_table_stage(*, measure_paths: list[str], models: list[str], out_path: str):
    """Long table, one row per (model, setting): model, setting, method, M, K, then
    ``<name>`` (paper's definitions) and ``authors:<name>`` for the eight measures."""
    import pandas as pd

    from .analysis import AUTHORS, QUANTIZED

    if len(measure_paths) != len(models):
        raise ValueError("sensitivity table: one model name per measures file expected")
    rows = []
    for path, model in zip(measure_paths, models):
        m = read_json(path)
        s = m["setting"]
        row = {"model": model, "setting": s["name"], "method": s["method"], "M": s["M"],
               "K": s["K"]}
        row.update({k: m["paper"][k] for k in QUANTIZED})
        row.update({AUTHORS + k: m["authors"][k] for k in QUANTIZED})
        rows.append(row)
    df = pd.DataFrame(rows)
    write_csv(out_path, df)
    return df


# ----------------------------------------------------------------------------- analysis
def models_table_stage(*, measures_path: str, glue_path: str, out_path: str):
    """``tables/models.csv``: the measures table joined to the GLUE table (one row a model)."""

    from .analysis import join_tables

    df = join_tables(read_csv(measures_path), read_csv(glue_path))
    write_csv(out_path, df)
    _say(f"{len(df)} models, {df.shape[1]} columns")
    return df


def analyze_stage(*, table_path: str, out_dir: str, outliers: list[str] | None = None,
                  variant: str | None = None) -> dict:
    """Tables 1-2, the OLS fits and the non-standard predictions under both definitions of the
    measures (``table1``/``table2``: ``variant``'s), written under ``out_dir``."""
    import logging

    from .analysis import analyze_all, to_markdown, write_results

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", force=True)
    res = analyze_all(read_csv(table_path), outliers=outliers or [], primary=variant)
    write_results(res, out_dir)
    for v, r in res["variants"].items():
        print(f"Table 2, {v} definitions{' (primary)' if v == res['primary'] else ''}:")
        print(to_markdown(r["table2"]))
    return res


def figures_stage(*, table_path: str, representativeness_path: str | None, out_dir: str,
                  variant: str) -> list[Path]:
    """Figures 1-11 from the model table (``variant``'s measures) and the Fig. 2 table."""

    from .analysis import select_variant
    from .plots import make_figures

    df = select_variant(read_csv(table_path), variant)
    rep = (read_csv(representativeness_path, keep_default_na=False)
           if representativeness_path else None)
    paths = make_figures(df, rep, Path(out_dir))
    for p in paths:
        print(p)
    return paths


def uncertainty_stage(*, table_path: str, replicate_paths: list[str], out_table: str,
                      out_md: str, level: float = 0.95, variant: str = "paper"):
    """Table 2's r recomputed on every bootstrap replicate of the measures
    (:func:`latentgeom.analysis.pearson_under_bootstrap`); whether each r survives."""

    from .analysis import pearson_under_bootstrap, to_markdown
    from .bootstrap import read_replicates

    reps = {Path(p).name.removesuffix(".bootstrap.npz"): read_replicates(p)
            for p in replicate_paths}
    out = pearson_under_bootstrap(read_csv(table_path), reps, level=level)
    write_csv(out_table, out)
    write_text(out_md, to_markdown(out))
    print(to_markdown(out[out.variant == variant]))
    return out


def sensitivity_analysis_stage(*, models_path: str, table_path: str, out_table: str,
                               out_figure: str, variant: str = "paper"):
    """r(measure, GLUE average) per quantizer setting, and the figure of r against M and K
    (``out_figure`` without its suffix: PNG and PDF)."""

    from .plots import figure_sensitivity
    from .sensitivity import sensitivity_pearson

    pear = sensitivity_pearson(read_csv(models_path), read_csv(table_path))
    write_csv(out_table, pear)
    for p in figure_sensitivity(pear, Path(out_figure).with_suffix(""), variant):
        print(p)
    return pear


def layers_analysis_stage(*, table_path: str, models_path: str, out_table: str,
                          out_figure: str, variant: str = "paper"):
    """r(measure, GLUE average) per hidden layer with Fisher intervals, and the figure of r
    against depth (``out_figure`` without its suffix: PNG and PDF)."""

    from .layers import layer_pearson
    from .plots import figure_layers

    pear = layer_pearson(read_csv(table_path), read_csv(models_path))
    write_csv(out_table, pear)
    for p in figure_layers(pear, Path(out_figure).with_suffix(""), variant):
        print(p)
    return pear
