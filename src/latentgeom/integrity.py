"""Fingerprints between stages: every artifact records what it was built from; consumers check.

The chain of the geometry half:

- ``embeddings.json`` records the model manifest's weight checksum and the SHA-256 of the
  ``embeddings.npy`` bytes written beside it;
- ``quantized_<q>.npz`` records the SHA-256 of the embeddings it was trained and encoded on;
- ``measures/<model>.json`` records the SHA-256 of the embeddings and of every quantizer file.

A consumer compares the recorded digest with the file it is about to read and refuses, naming both
files, when they differ: an intermediate changed after it was written (a corrupted or hand-edited
file, a partial copy) or a downstream file was built from something else. :func:`verify_results`
walks a whole results folder and lists every broken link, every unreadable artifact and every
missing one that something downstream was built from (``latentgeom verify results``), with the
one command that rebuilds them (:func:`rebuild_command`). :func:`unreadable_artifacts` is the
cheap part of it that runs when the workflow is planned, so a damaged manifest stops the run
before Snakemake deletes anything built from it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
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
        from .io import read_json

        meta = read_json(meta_path)  # ArtifactError when unreadable
        recorded = meta.get("embeddings_sha256") if isinstance(meta, dict) else None
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


@dataclass(frozen=True)
class Problem:
    """One artifact :func:`audit_results` found wanting: ``kind`` is ``missing`` (something built
    from it exists), ``unreadable`` or ``mismatch`` (built from another file than the one beside
    it, or changed since it was written)."""

    path: Path
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:10s} {self.path}: {self.detail}"


#: Folders of a results tree that hold no artifact another stage reads.
_NOT_ARTIFACTS = {"logs", "benchmarks", ".scratch", ".locks", ".snakemake"}


def _artifacts(results: Path, pattern: str) -> list[Path]:
    return sorted(p for p in results.glob(pattern) if p.is_file()
                  and not p.name.startswith(".")
                  and not _NOT_ARTIFACTS & set(p.relative_to(results).parts))


def unreadable_artifacts(results: str | os.PathLike, skip_empty: bool = False) -> list[Problem]:
    """Every artifact under ``results`` that cannot be read, found cheaply enough to run when
    the workflow is planned: each JSON file parsed, each ``.npy`` header checked against the
    file's size, each ``.npz`` central directory read, the sample decoded (no matrix is read).

    ``skip_empty`` leaves empty files out (the workflow never writes one: its writes are atomic;
    an empty file is a placeholder someone made, e.g. to mark a job done; verify lists them)."""
    from .io import ArtifactError, check_npy, check_npz, read_json, read_sequences

    results = Path(results)
    found: list[Problem] = []
    checks = (("**/*.json", read_json), ("**/*.npy", check_npy), ("**/*.npz", check_npz),
              ("sample/sequences.txt", read_sequences))
    for pattern, check in checks:
        for path in _artifacts(results, pattern):
            if skip_empty and path.stat().st_size == 0:
                continue
            try:
                check(path)
            except ArtifactError as e:
                found.append(Problem(path, "unreadable", e.problem))
    return found


def _table_models(path: Path, problems: dict[Path, Problem]) -> set[str]:
    from .io import ArtifactError, read_csv

    if not path.is_file():
        return set()
    try:
        df = read_csv(path)
    except ArtifactError as e:
        problems.setdefault(path, Problem(path, "unreadable", e.problem))
        return set()
    return set(df["model"].astype(str)) if "model" in df.columns else set()


def audit_results(results: str | os.PathLike) -> list[Problem]:
    """Every missing, unreadable and mismatching artifact under a results folder.

    *Missing* means something built from it exists (Snakemake does not rebuild a missing
    intermediate while what was built from it looks up to date): a manifest below embeddings or
    fine-tunes, the sample below embeddings, embeddings below quantizers or measures, a quantizer
    a measures file names, a model's measures or scores below the table listing it, a task's
    metrics below the scores naming it. *Mismatch*: a recorded fingerprint differs (see the
    module's docstring; fine-tuning metrics record their manifest's checksum too).
    """
    from .io import ArtifactError, read_json, read_npz

    results = Path(results)
    problems: dict[Path, Problem] = {p.path: p for p in unreadable_artifacts(results)}

    def add(path: Path, kind: str, detail: str) -> None:
        problems.setdefault(path, Problem(path, kind, detail))

    def load(path: Path) -> Any:
        if not path.is_file() or path in problems:
            return None
        try:
            return read_json(path)
        except ArtifactError as e:
            add(path, "unreadable", e.problem)
            return None

    measured = _table_models(results / "tables" / "measures.csv", problems)
    scored = _table_models(results / "tables" / "glue.csv", problems)
    models = ({p.parent.name for p in results.glob("models/*/manifest.json")}
              | {p.name for p in results.glob("latent/*") if p.is_dir()}
              | {p.stem for p in results.glob("measures/*.json") if "." not in p.stem}
              | {p.name for p in results.glob("glue/*") if p.is_dir()
                 and p.name not in ("data", "cache")} | measured | scored)
    embedded = []
    for m in sorted(models):
        man, lat = results / "models" / m / "manifest.json", results / "latent" / m
        emb, meta = lat / "embeddings.npy", lat / "embeddings.json"
        mpath, scores = results / "measures" / f"{m}.json", results / "glue" / m / "scores.json"
        quantized = sorted(lat.glob("quantized_*.npz"))
        metrics = sorted((results / "glue" / m).glob("*/metrics.json"))
        man_obj, mobj, sobj = load(man), load(mpath), load(scores)
        checksum = man_obj.get("checksum") if isinstance(man_obj, dict) else None
        prov = (mobj or {}).get("provenance") or {} if isinstance(mobj, dict) else {}
        # missing: something built from it exists
        if not emb.is_file() and (quantized or mpath.is_file()):
            add(emb, "missing", f"{len(quantized)} quantizer file(s) and "
                                f"{'a' if mpath.is_file() else 'no'} measures file built from it")
        if emb.is_file() and not meta.is_file():
            add(meta, "missing", f"the record of {emb} (its fingerprint)")
        if not man.is_file() and (emb.is_file() or metrics):
            add(man, "missing", f"embeddings or {len(metrics)} fine-tune(s) built from it")
        for name in prov.get("quantized_sha256") or {}:
            q = lat / f"quantized_{name}.npz"
            if not q.is_file():
                add(q, "missing", f"{mpath} was computed from it")
        if m in measured and not mpath.is_file():
            add(mpath, "missing", f"{results / 'tables' / 'measures.csv'} lists {m}")
        if m in scored and not scores.is_file():
            add(scores, "missing", f"{results / 'tables' / 'glue.csv'} lists {m}")
        for task in (sobj or {}).get("tasks") or [] if isinstance(sobj, dict) else []:
            mt = results / "glue" / m / task / "metrics.json"
            if not mt.is_file():
                add(mt, "missing", f"{scores} was computed from it")
        # mismatch: fingerprints
        digest = None
        if emb.is_file() and emb not in problems:
            embedded.append(emb)
            try:
                digest = check_embeddings(emb)
            except ArtifactError as e:
                add(e.path, "unreadable", e.problem)
            except FingerprintError as e:
                add(emb, "mismatch", str(e).split(" delete ")[0].rstrip(". :"))
            rec = (load(meta) or {}).get("manifest_checksum") if meta.is_file() else None
            if checksum and rec and rec != checksum:
                add(emb, "mismatch", f"embedded with model checksum {_short(rec)}, but {man} "
                                     f"is {_short(checksum)}")
        for q in quantized:
            if q in problems or digest is None:
                continue
            try:
                rec = json.loads(str(read_npz(q, ["meta"])["meta"])).get("embeddings_sha256")
            except ArtifactError as e:
                add(q, "unreadable", e.problem)
                continue
            except ValueError as e:
                add(q, "unreadable", f"its meta record is not JSON ({e})")
                continue
            if rec != digest:
                add(q, "mismatch", f"built from embeddings sha256 {_short(rec)}, but {emb} is "
                                   f"{_short(digest)}")
        if isinstance(mobj, dict):
            if digest and prov.get("embeddings_sha256") != digest:
                add(mpath, "mismatch", f"computed from embeddings sha256 "
                                       f"{_short(prov.get('embeddings_sha256'))}, but {emb} is "
                                       f"{_short(digest)}")
            for name, rec in (prov.get("quantized_sha256") or {}).items():
                q = lat / f"quantized_{name}.npz"
                if q.is_file() and q not in problems and (got := sha256_file(q)) != rec:
                    add(mpath, "mismatch", f"computed from {q} sha256 {_short(rec)}, which is "
                                           f"now {_short(got)}")
        for mt in metrics:
            rec = ((load(mt) or {}).get("manifest") or {}).get("checksum")
            if checksum and rec and rec != checksum:
                add(mt, "mismatch", f"fine-tuned from model checksum {_short(rec)}, but {man} is "
                                    f"{_short(checksum)}")
    seq = results / "sample" / "sequences.txt"
    if embedded and not seq.is_file():
        add(seq, "missing", f"{len(embedded)} embedding matrix(es) built from it")
    return sorted(problems.values(), key=lambda p: (str(p.path), p.kind))


def rebuild_command(problems: list[Problem], results: str | os.PathLike = "results") -> str:
    """The one command that rebuilds exactly these artifacts and what was built from them.

    Unreadable files are deleted first (the workflow refuses to plan around them); a model
    manifest is rebuilt alone when it is the only kind of problem (bit for bit, so the
    embeddings and fine-tunes built from it are kept by ``snakemake --touch`` after
    ``latentgeom verify`` finds nothing); everything else by ``--forcerun``, which re-runs
    what depends on each file too.
    """
    import shlex

    if not problems:
        return ""
    from .io import rule_output

    paths = list(dict.fromkeys(str(rule_output(p.path)) for p in problems))
    rm = list(dict.fromkeys(str(rule_output(p.path)) for p in problems
                            if p.kind == "unreadable"))
    q = " ".join(shlex.quote(x) for x in paths)
    dirs = any(rule_output(p.path) != p.path for p in problems if p.kind == "unreadable")
    prefix = (f"rm -{'rf' if dirs else 'f'} {' '.join(shlex.quote(x) for x in rm)} && "
              if rm else "")
    if all(p.path.name == "manifest.json" and p.kind != "mismatch" for p in problems):
        verify = f"latentgeom verify {shlex.quote(str(results))}"
        return f"{prefix}snakemake --cores all {q} && {verify} && snakemake --touch --cores 1"
    return f"{prefix}snakemake --cores all --forcerun {q}"


def verify_results(results: str | os.PathLike) -> list[str]:
    """Every problem :func:`audit_results` finds, as one line each (empty list: all
    consistent)."""
    return [str(p) for p in audit_results(results)]


def require_checksum(manifest: dict[str, Any], path: str | os.PathLike) -> str:
    """The manifest's weight checksum; a manifest without one (or ``null``) is an error."""
    c = manifest.get("checksum")
    if not c:
        raise FingerprintError(f"{path}: the manifest has no weight checksum, so the model "
                               "cannot be verified; rebuild it (delete it and re-run the "
                               "perturb/nonstandard rule)")
    return str(c)
