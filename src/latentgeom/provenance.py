"""What a job records: the provenance block of every artifact (the config values that produced
it, library versions, devices) and its log (:func:`log_to`, :func:`say`).

Split from :mod:`latentgeom.io` (which re-exports these names), so that reading and writing
artifacts and recording where they came from each have one module.
"""

from __future__ import annotations

import contextlib
import os
import platform
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def say(msg: str) -> None:
    """One timestamped line of a stage's log, flushed at once."""
    print(f"[latentgeom {time.strftime('%H:%M:%S')}] {msg}", flush=True)


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
