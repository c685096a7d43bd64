"""Fingerprints between stages: every artifact records what it was built from; consumers check.

The chain of the geometry half:

- ``embeddings.json`` records the model manifest's weight checksum and the SHA-256 of the
  ``embeddings.npy`` bytes written beside it;
- ``quantized_<q>.npz`` records the SHA-256 of the embeddings it was trained and encoded on;
- ``measures/<model>.json`` records the SHA-256 of the embeddings and of every quantizer file.

A consumer compares the recorded digest with the file it is about to read and refuses, naming both
files, when they differ: an intermediate changed after it was written (a corrupted or hand-edited
file, a partial copy) or a downstream file was built from something else. :func:`verify_results`
walks a whole results folder and lists every broken link (``latentgeom verify results``).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CHUNK = 1 << 22


class FingerprintError(RuntimeError):
    """An artifact was built from other inputs than the ones beside it."""


def sha256_file(path: str | os.PathLike, chunk: int = CHUNK) -> str:
    """SHA-256 of a file's bytes, read in ``chunk``-sized blocks (no whole-file copy in memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def embeddings_meta_path(embeddings_path: str | os.PathLike) -> Path:
    """``…/embeddings.npy`` -> ``…/embeddings.json`` (the ``embed`` stage writes both)."""
    return Path(embeddings_path).with_suffix(".json")


def _short(d: str | None) -> str:
    return f"{d[:12]}…" if d else "(none)"


def _redo(path: str | os.PathLike) -> str:
    return (f"delete {path} (and what was built from it) and re-run, e.g. "
            f"`snakemake --forcerun {path}`")


def check_embeddings(embeddings_path: str | os.PathLike, digest: str | None = None) -> str:
    """The embeddings' SHA-256, checked against the one ``embeddings.json`` recorded.

    Without a meta file beside the matrix (a matrix from elsewhere, used on the command line)
    there is nothing to check against and the digest is returned as is.
    """
    digest = digest or sha256_file(embeddings_path)
    meta_path = embeddings_meta_path(embeddings_path)
    if Path(embeddings_path).suffix == ".npy" and meta_path.is_file():
        try:
            recorded = json.loads(meta_path.read_text(encoding="utf-8")).get("embeddings_sha256")
        except (ValueError, UnicodeDecodeError) as e:
            raise FingerprintError(f"{meta_path}: unreadable ({e}); {_redo(embeddings_path)}") \
                from None
        if recorded and recorded != digest:
            raise FingerprintError(
                f"{embeddings_path} has sha256 {_short(digest)}, but {meta_path} recorded "
                f"{_short(recorded)} when it was written: the matrix changed afterwards "
                f"(corrupted or replaced). {_redo(embeddings_path)}")
    return digest


def check_built_from(artifact: str | os.PathLike, recorded: str | None, source: str | os.PathLike,
                     actual: str, what: str = "embeddings") -> None:
    """``artifact`` recorded that it was built from ``what`` with digest ``recorded``; the
    ``source`` file beside it has digest ``actual``: refuse when they differ or none was kept."""
    if not recorded:
        raise FingerprintError(
            f"{artifact} records no {what} digest (written by an older version?), so it cannot "
            f"be checked against {source}: {_redo(artifact)}")
    if recorded != actual:
        raise FingerprintError(
            f"{artifact} was built from {what} sha256 {_short(recorded)}, but {source} is "
            f"{_short(actual)}: {_redo(artifact)}")


def verify_results(results: str | os.PathLike) -> list[str]:
    """Every broken fingerprint link under a results folder (empty list: all consistent)."""
    import numpy as np

    results = Path(results)
    problems: list[str] = []
    digests: dict[str, str] = {}
    for emb in sorted(results.glob("latent/*/embeddings.npy")):
        model = emb.parent.name
        try:
            digests[model] = check_embeddings(emb)
        except FingerprintError as e:
            problems.append(str(e))
            continue
        man = results / "models" / model / "manifest.json"
        meta = embeddings_meta_path(emb)
        if man.is_file() and meta.is_file():
            rec = json.loads(meta.read_text()).get("manifest_checksum")
            got = json.loads(man.read_text()).get("checksum")
            if rec != got:
                problems.append(f"{emb} was embedded with model checksum {_short(rec)}, but {man} "
                                f"is {_short(got)}: {_redo(emb)}")
        for q in sorted(emb.parent.glob("quantized_*.npz")):
            with np.load(q) as z:
                rec = json.loads(str(z["meta"])).get("embeddings_sha256")
            try:
                check_built_from(q, rec, emb, digests[model])
            except FingerprintError as e:
                problems.append(str(e))
    for mpath in sorted(results.glob("measures/*.json")):
        model = mpath.stem
        emb = results / "latent" / model / "embeddings.npy"
        prov = (json.loads(mpath.read_text()).get("provenance") or {})
        if model in digests:
            try:
                check_built_from(mpath, prov.get("embeddings_sha256"), emb, digests[model])
            except FingerprintError as e:
                problems.append(str(e))
        for name, rec in (prov.get("quantized_sha256") or {}).items():
            q = emb.parent / f"quantized_{name}.npz"
            if q.is_file() and sha256_file(q) != rec:
                problems.append(f"{mpath} was computed from {q} sha256 {_short(rec)}, which is "
                                f"now {_short(sha256_file(q))}: {_redo(mpath)}")
    return problems


def require_checksum(manifest: dict[str, Any], path: str | os.PathLike) -> str:
    """The manifest's weight checksum; a manifest without one (or ``null``) is an error."""
    c = manifest.get("checksum")
    if not c:
        raise FingerprintError(f"{path}: the manifest has no weight checksum, so the model "
                               "cannot be verified; rebuild it (delete it and re-run the "
                               "perturb/nonstandard rule)")
    return str(c)
