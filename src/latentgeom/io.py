"""Atomic artifact writing and provenance records.

Every artifact is written to a temporary file in the destination folder and renamed into place,
so an interrupted job never leaves a partial output that Snakemake (or a user) could mistake for
a finished one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds."""
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
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
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
    """A JSON file; values :func:`write_json` stored as ``null`` + ``"_nonfinite"`` restored."""
    obj = json.loads(Path(path).read_text(encoding="utf-8"))
    if isinstance(obj, dict) and isinstance(obj.get(NONFINITE_KEY), dict):
        _restore_nonfinite(obj, obj.pop(NONFINITE_KEY))
    return obj


def write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, array, allow_pickle=False)


def write_npz(path: str | os.PathLike, **arrays: Any) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)


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


def versions() -> dict[str, str]:
    """Versions of the libraries that can change a result, for the provenance record."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for mod in ("latentgeom", "numpy", "scipy", "torch", "transformers", "faiss", "pandas",
                "statsmodels", "datasets"):
        m = sys.modules.get(mod)
        if m is None:
            continue
        out[mod] = str(getattr(m, "__version__", "unknown"))
    out.update(device_info())
    return out


def device_info() -> dict[str, str]:
    """Which FAISS build (GPU symbols, GPUs it sees) and which devices this job could use.

    Only modules already imported are asked, so a record never initialises CUDA by itself.
    """
    out = {"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES", "unset")}
    if os.environ.get("LATENTGEOM_GPU_CLAIMED"):
        out["gpu_claimed"] = os.environ["LATENTGEOM_GPU_CLAIMED"]
    faiss = sys.modules.get("faiss")
    if faiss is not None:
        gpu_build = hasattr(faiss, "StandardGpuResources")
        out["faiss_build"] = "gpu" if gpu_build else "cpu"
        out["faiss_gpus"] = str(faiss.get_num_gpus() if gpu_build else 0)
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch_cuda"] = str(torch.version.cuda)
        if torch.cuda.is_initialized():
            out["torch_device"] = torch.cuda.get_device_name()
    return out


def provenance(**config: Any) -> dict[str, Any]:
    """A provenance block: the config values that produced an artifact and library versions."""
    return {"config": config, "versions": versions()}


@contextlib.contextmanager
def log_to(path: str | os.PathLike | None) -> Iterator[None]:
    """Send stdout and stderr (Python and C level, e.g. FAISS) to a log file inside the block.

    Used by the Snakemake scripts so every rule's output lands in its ``log:`` file.
    """
    if not path:
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    with open(path, "w", buffering=1) as fh:
        saved = os.dup(1), os.dup(2)
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
        old = sys.stdout, sys.stderr
        sys.stdout = sys.stderr = fh
        try:
            yield
        except BaseException:
            import traceback

            traceback.print_exc()
            raise
        finally:
            sys.stdout.flush()
            sys.stdout, sys.stderr = old
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
