"""Devices: GPU requests, per-job GPU claims, and the device a job computes on.

Three concerns, all about where a job's work runs:

- :func:`gpu_request` turns the config's one GPU decision (``resources.gpu``: ``none`` | ``auto``
  | N) and a rule's own device setting into the rule's ``gpu`` resource, so a scheduler (the SLURM
  plugin, or Snakemake's local ``--resources gpu=K``) sees the same answer for every GPU rule.
- :func:`claim_gpu` gives a job a GPU of its own on a multi-GPU workstation. Snakemake limits how
  many GPU jobs run at once but hands them no device ids, so they would all land on GPU 0. Each
  job takes an exclusive ``fcntl.flock`` on ``<lock_dir>/gpu<i>`` for the first free ``i`` and
  exports ``CUDA_VISIBLE_DEVICES=i`` before torch or FAISS initialise CUDA. The lock is held by an
  open file descriptor for the life of the process; the kernel drops it when the process exits,
  also on a crash or ``kill -9``, so a dead job never keeps a GPU. A ``CUDA_VISIBLE_DEVICES`` that
  is already set (SLURM sets it for a job granted ``--gpus``) is respected and nothing is locked.
- :func:`pick_device` resolves a device setting (``embed.device``, ``glue.device``) for both
  halves of the pipeline.

The device count comes from ``LATENTGEOM_GPU_COUNT`` when set (tests simulate devices with it),
else from ``nvidia-smi --list-gpus`` (which does not initialise CUDA in this process), else 0.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

ENV_COUNT = "LATENTGEOM_GPU_COUNT"
_HELD: list[Any] = []  # open lock files: the claim lives as long as the process


def gpu_request(setting: Any, device: Any = "auto") -> int:
    """The ``gpu`` resource of one job.

    ``setting`` is ``resources.gpu`` from the config: ``none`` (or 0) asks for no GPU anywhere,
    ``auto`` for one GPU per GPU-capable job, an integer N for N per job. ``device`` is the rule's
    own device setting (``embed.device``, ``glue.device``, ``quantize.use_gpu``): a job pinned to
    the CPU (``cpu`` or ``False``) never asks for a GPU.
    """
    if setting is None or setting is False or str(setting).lower() in ("none", "0"):
        return 0
    if device is False or str(device).lower() in ("cpu", "false"):
        return 0
    if str(setting).lower() == "auto":
        return 1
    n = int(setting)
    if n < 0:
        raise ValueError(f"resources.gpu must be none, auto or an integer >= 0, got {setting!r}")
    return n


def device_count(env: dict[str, str] | None = None) -> int:
    """Number of GPUs on this machine, without initialising CUDA in this process."""
    env = os.environ if env is None else env
    if env.get(ENV_COUNT, "") != "":
        return int(env[ENV_COUNT])
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        out = subprocess.run([smi, "--list-gpus"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return 0
    if out.returncode != 0:
        return 0
    return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))


def _try_lock(path: Path):
    fh = open(path, "a+")
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        return None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


def claim_gpus(lock_dir: str | os.PathLike, n: int = 1, *, count: int | None = None,
               timeout: float | None = None, poll: float = 1.0,
               env: dict[str, str] | None = None) -> list[int] | None:
    """Take ``n`` free GPUs of this machine for this process and export them.

    Returns the claimed indices, or ``None`` when nothing was claimed: ``n`` is 0, no GPU is
    present, or ``CUDA_VISIBLE_DEVICES`` is already set (a scheduler chose the device). Waits
    (polling every ``poll`` s, up to ``timeout`` s, forever when ``None``) while all are taken.
    """
    env = os.environ if env is None else env
    if n <= 0 or env.get("CUDA_VISIBLE_DEVICES") is not None:
        return None
    total = device_count(env) if count is None else count
    if total <= 0:
        return None
    if n > total:
        raise ValueError(f"asked for {n} GPUs, this machine has {total}")
    folder = Path(lock_dir)
    folder.mkdir(parents=True, exist_ok=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        got: list[tuple[int, Any]] = []
        for i in range(total):
            fh = _try_lock(folder / f"gpu{i}")
            if fh is not None:
                got.append((i, fh))
                if len(got) == n:
                    break
        if len(got) == n:
            _HELD.extend(fh for _, fh in got)
            ids = [i for i, _ in got]
            env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, ids))
            env["LATENTGEOM_GPU_CLAIMED"] = env["CUDA_VISIBLE_DEVICES"]
            return ids
        for _, fh in got:  # not enough free: give back the partial claim and wait
            fh.close()
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"no {n} free GPU(s) of {total} in {lock_dir} after {timeout} s")
        time.sleep(poll)


def claim_gpu_share(lock_dir: str | os.PathLike, slots: int, slots_per_gpu: int, *,
                    count: int | None = None, timeout: float | None = None, poll: float = 1.0,
                    env: dict[str, str] | None = None) -> int | None:
    """Take ``slots`` of the ``slots_per_gpu`` slots of one GPU (a share of it) and export it.

    Several shared jobs run on one GPU while its slots last; a whole-GPU claim
    (:func:`claim_gpus`) and shared claims of the same GPU exclude each other: a shared claim
    holds a *shared* ``flock`` on ``gpu<i>`` (which the whole-GPU claim locks exclusively) and an
    exclusive one on each of its slot files ``gpu<i>.slot<j>``. Returns the GPU index, or
    ``None`` when nothing was claimed (as :func:`claim_gpus`).
    """
    env = os.environ if env is None else env
    if slots <= 0 or env.get("CUDA_VISIBLE_DEVICES") is not None:
        return None
    if slots > slots_per_gpu:
        raise ValueError(f"asked for {slots} slots of a GPU that has {slots_per_gpu}")
    total = device_count(env) if count is None else count
    if total <= 0:
        return None
    folder = Path(lock_dir)
    folder.mkdir(parents=True, exist_ok=True)
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        for i in range(total):
            gpu = open(folder / f"gpu{i}", "a+")
            try:
                fcntl.flock(gpu.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:  # the whole GPU is taken
                gpu.close()
                continue
            got = []
            for j in range(slots_per_gpu):
                fh = _try_lock(folder / f"gpu{i}.slot{j}")
                if fh is not None:
                    got.append(fh)
                    if len(got) == slots:
                        break
            if len(got) == slots:
                _HELD.extend([gpu, *got])
                env["CUDA_VISIBLE_DEVICES"] = str(i)
                env["LATENTGEOM_GPU_CLAIMED"] = f"{i} ({slots}/{slots_per_gpu})"
                return i
            for fh in got:
                fh.close()
            gpu.close()
        if deadline is not None and time.monotonic() >= deadline:
            raise TimeoutError(f"no GPU of {total} with {slots} free slots in {lock_dir} "
                               f"after {timeout} s")
        time.sleep(poll)


def gpu_share(config: dict[str, Any], record: dict[str, Any]) -> float:
    """``gpu_share`` of a model's entry in the config (its base for a perturbed model)."""
    if record.get("kind") == "perturbed":
        spec = ((config.get("models") or {}).get("bases") or {}).get(record["base_name"], {})
    else:
        spec = (config.get("nonstandard") or {}).get(record["name"], {})
    return float(spec.get("gpu_share", 1) or 1)


def share_request(gpus: int, share: float, shards_per_gpu: int,
                  gres: str = "shard") -> dict[str, Any]:
    """A GPU job's resources for a model's ``gpu_share``: ``{"gpu", "gpu_shard", "gres"}``.

    A whole-GPU job (share 1) asks for ``gpu`` = N as before and, for local scheduling,
    ``gpu_shard`` = N x ``shards_per_gpu``; a shared job (share < 1) asks for no whole GPU but
    ``ceil(share x shards_per_gpu)`` shards: ``gres`` ``shard:K`` (SLURM GPU sharding; or
    ``mps:K`` where the cluster offers CUDA MPS, with ``shards_per_gpu`` its count per GPU,
    usually 100) and ``gpu_shard`` = K. A job that asks for no GPU asks for nothing. ``gres`` is
    ``""`` unless sharded, which the SLURM plugin leaves out of the sbatch call.
    """
    import math

    if gpus <= 0:
        return {"gpu": 0, "gpu_shard": 0, "gres": ""}
    if share >= 1:
        return {"gpu": gpus, "gpu_shard": gpus * shards_per_gpu, "gres": ""}
    k = max(1, math.ceil(share * shards_per_gpu - 1e-9))
    return {"gpu": 0, "gpu_shard": k, "gres": f"{gres}:{k}"}


def release_gpus() -> None:
    """Drop this process's claims (process exit does the same)."""
    while _HELD:
        _HELD.pop().close()


def claim_for_job(smk: Any) -> list[int] | None:
    """The one call at the top of a GPU rule's script: claim the GPUs the job asked for.

    Reads the job's ``gpu`` resource and the workflow's results folder from the ``snakemake``
    object; locks live in ``<results>/.locks`` (per workflow, never machine-wide).
    """
    resources = getattr(smk, "resources", {})
    n = int(resources.get("gpu", 0) or 0)
    config = getattr(smk, "config", {}) or {}
    results = config.get("results", "results")
    shard = int(resources.get("gpu_shard", 0) or 0)
    if n == 0 and shard > 0:  # a share of one GPU: slots of it, as many as its shards
        per_gpu = int((config.get("resources") or {}).get("gpu_shards", 4))
        i = claim_gpu_share(Path(results) / ".locks", shard, per_gpu)
        if i is not None:
            print(f"claimed {shard}/{per_gpu} of GPU {i} (CUDA_VISIBLE_DEVICES={i})")
        return None if i is None else [i]
    ids = claim_gpus(Path(results) / ".locks", n)
    if ids is not None:
        print(f"claimed GPU(s) {ids} (CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']})")
    return ids


def pick_device(device: str = "auto", field: str = "device") -> str:
    """``auto`` -> ``cuda`` when torch sees a GPU, else ``cpu``; a CUDA device asked for on a
    machine without one is an error naming the config ``field``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"{field}: {device!r} asked for, but torch sees no CUDA device")
    return device
