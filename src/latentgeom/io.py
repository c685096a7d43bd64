"""Atomic artifact writing, readers that name the file, and provenance records.

Every artifact is written to a temporary file in the destination folder and renamed into place,
so an interrupted job never leaves a partial output that Snakemake (or a user) could mistake for
a finished one. A write that fails for want of space raises :class:`DiskFullError`, naming the
path and the free space left.

Every artifact is read through :func:`read_json`, :func:`read_npy`, :func:`read_npz` or
:func:`read_csv`: a file that cannot be read (truncated, bit-flipped, not the format its name
says) raises :class:`ArtifactError`, which names the path, what is wrong and the command that
rebuilds it (:func:`rebuild_hint`), never a bare numpy, zipfile, json or pandas traceback.
:func:`load_matrix` and :func:`read_quantized` read the geometry half's two array artifacts
(token vectors, a quantizer's codes and codebooks) through them.

Provenance records and job logs (:func:`provenance`, :func:`versions`, :func:`log_to`) live in
:mod:`latentgeom.provenance` and are importable from here too.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

# provenance and logs have their own module; these names stay importable from here
from .provenance import device_info, log_to, provenance, versions  # noqa: F401

#: Stage folders of a results tree: a path with one of these above it was written by a rule.
STAGE_FOLDERS = ("models", "sample", "latent", "measures", "glue", "tables", "analysis",
                 "figures", "layers", "sensitivity")


def _results_root(path: Path) -> Path | None:
    """The results folder ``path`` lies in (the parent of its stage folder), or None."""
    parts = path.parts
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] in STAGE_FOLDERS:
            return Path(*parts[:i]) if i else Path(".")
    return None


def rule_output(path: str | os.PathLike) -> Path:
    """The output a rule declares that holds ``path``: the file itself, or the folder of a
    ``directory()`` output (a tokenised task cache, a non-standard model's weights)."""
    p = Path(path)
    parts = p.parts
    for i in range(len(parts) - 3):
        if parts[i:i + 2] == ("glue", "cache") and len(parts) > i + 4:
            return Path(*parts[:i + 4])
        if parts[i] == "models" and parts[i + 2] == "weights" and len(parts) > i + 3:
            return Path(*parts[:i + 3])
    return p


def rebuild_hint(path: str | os.PathLike) -> str:
    """The command that rebuilds ``path`` (and what was built from it).

    Under a results folder: ``rm`` it and ``snakemake --forcerun`` it (forcerun also re-runs
    everything built from it). A model manifest is rebuilt alone, bit for bit (a perturbed model
    is a pure function of the config), so what was built from it (embeddings, fine-tunes: hours
    on the paper's configuration) is kept: ``snakemake --touch`` once ``latentgeom verify`` has
    checked their fingerprints. Elsewhere: re-create it with the command that wrote it.
    """
    p = Path(path)
    root = _results_root(p)
    if root is None:
        return (f"re-create {p} with the `latentgeom` command that wrote it (a truncated or "
                "corrupted copy?)")
    if p.name == "manifest.json" and p.parent.parent.name == "models":
        return (f"rebuild it alone (bit for bit: the same checksum): `rm -f {p} && snakemake "
                f"--cores all {p}`; then `latentgeom verify {root}` and, when it lists nothing, "
                "`snakemake --touch` keeps what was built from it (embeddings, fine-tunes) "
                "instead of re-running it; add the run's --configfile/--directory to each "
                "snakemake command")
    out = rule_output(p)
    rm = f"rm -rf {out}" if out != p else f"rm -f {p}"
    return (f"rebuild it and what was built from it: `{rm} && snakemake --cores all "
            f"--forcerun {out}` (with the run's --configfile/--directory)")


class ArtifactError(ValueError):
    """An artifact that cannot be read: names the path, what is wrong and how to rebuild it."""

    def __init__(self, path: str | os.PathLike, problem: str, fix: str | None = None):
        self.path, self.problem = Path(path), problem
        self.fix = fix or rebuild_hint(path)
        super().__init__(f"{path}: {problem}; {self.fix}")

    def __reduce__(self):  # picklable (multiprocessing) with its three parts
        return (type(self), (str(self.path), self.problem, self.fix))


class DiskFullError(OSError):
    """A write that failed for want of space: names the path and the free space left."""


#: How a failed write looks when the disk is full but the writer hid ENOSPC (numpy's
#: ``np.save``/``savez`` and torch's zip writer report a short write instead).
_SHORT_WRITE = ("requested and", "unexpected pos", "file write failed", "No space left")


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


def _disk_full(exc: BaseException, path: Path, tmp: Path) -> DiskFullError | None:
    """A :class:`DiskFullError` for ``exc`` if it is a failed write for want of space."""
    if not isinstance(exc, (OSError, RuntimeError)):
        return None
    no_space = isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)
    if not (no_space or any(s in str(exc) for s in _SHORT_WRITE)):
        return None
    try:
        written = tmp.stat().st_size
    except OSError:
        written = 0
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        return None
    if not no_space and free > max(written, 1 << 20):  # a short write with room left: not space
        return None
    return DiskFullError(
        errno.ENOSPC,
        f"no space left to write {path}: {human_bytes(free)} free on its filesystem after "
        f"{human_bytes(written)} were written ({type(exc).__name__}: {exc}); free space there "
        "or point `results` (or glue.scratch) at a larger disk, then re-run", str(path))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    A failure for want of space (``ENOSPC``, or the short write numpy and torch report instead)
    raises :class:`DiskFullError` naming ``path`` and the free space.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp",
                               dir=path.parent)
    os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp makes 0600 whatever the umask
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException as e:
        full = _disk_full(e, path, tmp_path)
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if full is not None:
            raise full from e
        raise


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc``)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


#: Key under which :func:`write_json` records the non-finite values it wrote as ``null``.
NONFINITE_KEY = "_nonfinite"


def _replace_nonfinite(obj: Any, pointer: str, found: dict[str, str]) -> Any:
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        if f != f:
            found[pointer] = "NaN"
            return None
        if f in (float("inf"), float("-inf")):
            found[pointer] = "Infinity" if f > 0 else "-Infinity"
            return None
        return f if isinstance(obj, np.floating) else obj
    if isinstance(obj, dict):
        return {k: _replace_nonfinite(v, f"{pointer}/{k}", found) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_replace_nonfinite(v, f"{pointer}/{i}", found) for i, v in enumerate(obj)]
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return _replace_nonfinite(obj.tolist(), pointer, found)
    return obj


def _restore_nonfinite(obj: Any, found: dict[str, str]) -> None:
    for pointer, what in found.items():
        parts = pointer.strip("/").split("/")
        node = obj
        try:
            for p in parts[:-1]:
                node = node[int(p)] if isinstance(node, list) else node[p]
            last = parts[-1]
            value = {"NaN": float("nan"), "Infinity": float("inf"),
                     "-Infinity": float("-inf")}[what]
            if isinstance(node, list):
                node[int(last)] = value
            else:
                node[last] = value
        except (KeyError, IndexError, ValueError, TypeError):
            continue


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented, strict JSON, atomically.

    NaN and ±Infinity are not JSON: they are written as ``null`` and, when ``obj`` is a mapping,
    listed under ``"_nonfinite"`` as ``{"/group/name": "NaN" | "Infinity" | "-Infinity"}`` (JSON
    pointers), so strict parsers read the file and :func:`read_json` restores the values.
    """
    found: dict[str, str] = {}
    clean = _replace_nonfinite(obj, "", found)
    if found and isinstance(clean, dict):
        clean = {**clean, NONFINITE_KEY: found}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(clean, indent=2, sort_keys=False, default=_json_default,
                                  allow_nan=False) + "\n")


def read_json(path: str | os.PathLike) -> Any:
    """A JSON file; values :func:`write_json` stored as ``null`` + ``"_nonfinite"`` restored.

    A missing file raises ``FileNotFoundError``; one that is not JSON, :class:`ArtifactError`.
    """
    try:
        obj = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ArtifactError(path, f"not valid JSON (line {e.lineno}, column {e.colno}: {e.msg}; "
                                  "a truncated or hand-edited file?)") from None
    except UnicodeDecodeError as e:
        raise ArtifactError(path, f"not UTF-8 text (byte {e.start}): not a JSON file") from None
    except IsADirectoryError:
        raise ArtifactError(path, "is a folder, not a JSON file") from None
    if isinstance(obj, dict) and isinstance(obj.get(NONFINITE_KEY), dict):
        _restore_nonfinite(obj, obj.pop(NONFINITE_KEY))
    return obj


def read_sequences(path: str) -> list[str]:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = Path(path).read_bytes()[:e.start].count(b"\n") + 1
        raise ArtifactError(f"{path}:{line}", f"not UTF-8 text (byte {e.object[e.start]:#x} at "
                            f"offset {e.start})", "re-encode the file as UTF-8 (or rebuild it "
                            "if the pipeline wrote it)") from None
    seqs = [s for s in lines if s.strip()]
    if not seqs:
        raise ArtifactError(path, "no sequences")
    return seqs


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array, allow_pickle=False)


#: The date stamped on every member of an ``.npz`` we write (``np.savez`` stamps the wall clock,
#: so two identical runs would give files with different hashes).
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def write_npz(path: str | os.PathLike, **arrays: Any) -> None:
    """An uncompressed ``.npz`` (as ``np.savez`` writes it, ``np.load`` reads it), atomically;
    byte-identical for identical arrays: members in the order given, a fixed date."""
    with atomic_path(path, suffix=".npz") as tmp, \
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, value in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)


def read_npy(path: str | os.PathLike, mmap: bool = False) -> np.ndarray:
    """A ``.npy`` array (memory-mapped when ``mmap``); :class:`ArtifactError` when the file is
    truncated or not an array file (its header and size disagree)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; {rebuild_hint(path)}")
    check_npy(path)
    try:
        return np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise ArtifactError(path, f"cannot be read as an array ({e})") from None


def check_npy(path: str | os.PathLike) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` from a ``.npy`` header, checked against the file's size (cheap: the
    header only); :class:`ArtifactError` for a truncated file or a bad header."""
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read = {(1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read is None:
                raise ValueError(f"unknown .npy format version {version}")
            shape, _fortran, dtype = read(fh)
            offset = fh.tell()
    except (ValueError, OSError, EOFError) as e:
        raise ArtifactError(path, f"not a numpy array file (bad header: {e})") from None
    if dtype.hasobject:
        raise ArtifactError(path, "holds Python objects, not numbers")
    want = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = path.stat().st_size
    if size != want:
        raise ArtifactError(path, f"{size} bytes, but its header ({dtype} {shape}) needs {want}: "
                                  "truncated or appended to")
    return tuple(shape), dtype


def read_npz(path: str | os.PathLike, keys: list[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` (``keys``: these, each required); :class:`ArtifactError` when
    it is not a readable archive or lacks one of them."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; {rebuild_hint(path)}")
    try:
        with np.load(path, allow_pickle=False) as z:
            missing = [k for k in keys or [] if k not in z.files]
            if missing:
                raise ArtifactError(path, f"holds {sorted(z.files)}, not {missing}: written by "
                                          "another program or version")
            return {k: z[k] for k in (keys or z.files)}
    except ArtifactError:
        raise
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as e:
        raise ArtifactError(path, f"not a readable .npz archive ({type(e).__name__}: {e}; "
                                  "truncated or corrupted?)") from None


def check_npz(path: str | os.PathLike) -> list[str]:
    """The member names of an ``.npz`` from its central directory (cheap: no array is read);
    :class:`ArtifactError` for a truncated or corrupted archive."""
    try:
        with zipfile.ZipFile(path) as zf:
            return [n.removesuffix(".npy") for n in zf.namelist()]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
        raise ArtifactError(path, f"not a readable .npz archive ({type(e).__name__}: {e}; "
                                  "truncated or corrupted?)") from None


def load_matrix(path: str | os.PathLike) -> np.ndarray:
    """A float matrix from ``.npy`` (memory-mapped), ``.npz`` (first array) or text."""
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


def read_quantized(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, str, dict]:
    """``(codes, codebooks, kind, meta)`` of a ``quantize`` file; :class:`ArtifactError`
    (naming the file and how to rebuild it) when it cannot be read."""
    z = read_npz(path, ["codes", "codebooks", "meta"])
    try:
        meta = json.loads(str(z["meta"]))
        return z["codes"], z["codebooks"], meta["kind"], meta
    except (ValueError, KeyError, TypeError) as e:
        raise ArtifactError(path, f"its meta record is unreadable ({type(e).__name__}: {e})") \
            from None


def read_csv(path: str | os.PathLike, **kwargs: Any):
    """A CSV table as a pandas DataFrame; :class:`ArtifactError` when it cannot be parsed."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file; {rebuild_hint(path)}")
    try:
        return pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise ArtifactError(path, f"not a readable CSV table ({type(e).__name__}: {e})") \
            from None


def write_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV (no index), atomically."""
    with atomic_path(path, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)


def sha256_arrays(named_arrays: Iterator[tuple[str, np.ndarray]]) -> str:
    """SHA-256 over (name, dtype, shape, bytes) of each array, in the order given."""
    h = hashlib.sha256()
    for name, arr in named_arrays:
        arr = np.ascontiguousarray(arr)
        h.update(name.encode())
        h.update(str(arr.dtype).encode())
        h.update(str(arr.shape).encode())
        h.update(arr.tobytes())
    return h.hexdigest()
