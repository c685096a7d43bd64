"""A fine-tuning job's checkpoints and scratch folder, and its tie to the process that started it.

A run checkpoints model, optimizer, scheduler, RNG states and its position every
``checkpoint_every`` optimizer steps into a scratch folder (atomically); a killed run started
again resumes there and, on the CPU, ends with bit-identical weights and scores. The folder is
private to one job (:func:`scratch_dir`), held under an exclusive lock (:class:`ScratchLock`),
and removed when the job finishes (:func:`remove_scratch`).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..lifecycle import exit_with_parent  # noqa: F401  (re-exported: older imports use it here)


def rng_state() -> dict[str, Any]:
    import torch

    st = {"python": random.getstate(), "numpy": np.random.get_state(),
          "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        st["cuda"] = torch.cuda.get_rng_state_all()
    return st


def set_rng_state(st: dict[str, Any]) -> None:
    import torch

    random.setstate(st["python"])
    np.random.set_state(st["numpy"])
    torch.set_rng_state(st["torch"])
    if "cuda" in st and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(st["cuda"])


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write the job's one checkpoint, atomically (the previous one stays until the new one is
    complete) when the disk has room for both; else the previous one is removed first, so a
    fine-tune never needs room for more than one checkpoint (a kill during that write restarts
    the job from step 0). A write that fails for space raises :class:`~..io.DiskFullError`."""
    import torch

    from ..io import atomic_path, human_bytes

    path = Path(path)
    if path.is_file():
        old = path.stat().st_size
        free = shutil.disk_usage(path.parent).free
        if free < old * 1.1 + (64 << 20):
            print(f"note: {human_bytes(free)} free beside {path}, too little for a second "
                  f"{human_bytes(old)} checkpoint: replacing it in place", flush=True)
            path.unlink()
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def load_checkpoint(path: Path, fingerprint: str) -> dict[str, Any] | None:
    import torch

    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # a truncated file from a crash during an older, non-atomic write
        print(f"note: checkpoint {path} unreadable ({e}); starting from scratch")
        return None
    if state.get("fingerprint") != fingerprint:
        print(f"note: checkpoint {path} is from other settings; starting from scratch")
        return None
    return state


def scratch_dir(root: str | os.PathLike | None, *, name: str, task: str,
                out_metrics: str | os.PathLike, fingerprint: str) -> Path:
    """The checkpoint folder of one job, private to its output path and settings.

    ``root`` (``glue.scratch``; the pipeline passes ``<results>/.scratch/glue``) defaults to
    ``.scratch`` beside ``out_metrics`` — never ``$TMPDIR``, which Snakemake points at one
    machine-wide folder for every job, clone and user (and which SLURM wipes on a requeue). The
    last component is a digest of the *absolute* output path and the run's fingerprint, so two
    workflows (or two settings) never share a checkpoint, even under a shared ``root``.
    """
    out = Path(out_metrics).expanduser().resolve()
    if root is None or str(root) == "":
        root = os.environ.get("LATENTGEOM_SCRATCH") or out.parent / ".scratch"
    key = hashlib.sha256(json.dumps({"out": str(out), "fingerprint": fingerprint},
                                    sort_keys=True).encode()).hexdigest()[:20]
    return Path(root).expanduser().resolve() / name / task / key


class ScratchLock:
    """An exclusive ``fcntl.flock`` on a job's scratch folder for the job's lifetime.

    A second worker on the same folder (e.g. the orphan of a killed ``snakemake`` and the job of
    the re-run) waits, saying who holds it, instead of training into the same checkpoint. The
    lock is the kernel's: it goes with the holder's process, however that process ends.
    """

    def __init__(self, folder: Path, *, wait: bool = True, poll_seconds: float = 1.0):
        self.folder, self.wait, self.poll = Path(folder), wait, poll_seconds
        self.path = self.folder / ".lock"
        self.fh = None
        self.waited = False  # whether another worker held the folder first

    def __enter__(self) -> ScratchLock:
        import fcntl

        announced = False
        while True:
            self.folder.mkdir(parents=True, exist_ok=True)
            fh = open(self.path, "a+")
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                holder = fh.read().strip() or "another process"
                fh.close()
                if not self.wait:
                    raise RuntimeError(
                        f"scratch folder {self.folder} is locked by {holder}: another "
                        "fine-tuning worker (perhaps left over from a killed snakemake) is "
                        "training this job; wait for it or end it") from None
                if not announced:
                    print(f"note: scratch folder {self.folder} is locked by {holder} (a worker of "
                          "a killed run?); waiting for it to finish", flush=True)
                    announced = True
                self.waited = True
                time.sleep(self.poll)
                continue
            # The holder may have finished and removed the folder between our open and flock:
            # then we hold a lock on a deleted file; start again on the current one.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fh.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                fh.close()
                continue
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()} on {os.uname().nodename}\n")
            fh.flush()
            self.fh = fh
            return self

    def __exit__(self, *exc) -> None:
        if self.fh is not None:
            self.fh.close()  # releases the flock
            self.fh = None


def remove_scratch(folder: Path, root_levels: int = 2) -> None:
    """Delete a finished job's scratch folder and the empty ``<model>/<task>`` folders above it."""
    shutil.rmtree(folder, ignore_errors=True)
    p = folder.parent
    for _ in range(root_levels):
        try:
            p.rmdir()
        except OSError:
            return
        p = p.parent
