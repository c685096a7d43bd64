"""A job's tie to the process that started it: a worker never outlives its ``snakemake``.

Every long-running job (embed, quantize, measures, their layer/bootstrap/sensitivity variants,
fine-tuning) calls :func:`exit_with_parent` first thing, so that killing the controller (SIGKILL,
a closed terminal, a lost login node) stops its workers instead of leaving orphans that go on
writing outputs the re-run then has to sort out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def exit_with_parent(poll_seconds: float = 2.0) -> None:
    """End this process when the process that started it dies (Linux; no-op elsewhere).

    A Snakemake job runs as ``snakemake -> [bash -c] -> python``. When the controller is killed
    the worker would be re-parented and keep training. ``PR_SET_PDEATHSIG`` covers a direct
    parent; a daemon thread also watches the grandparent when the parent is a shell.
    """
    import signal
    import sys
    import threading

    if not sys.platform.startswith("linux"):
        return
    ppid = os.getppid()
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no libc/prctl
        pass
    if os.getppid() != ppid or ppid == 1:
        return

    def comm(pid: int) -> str:
        try:
            return Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            return ""

    def parent_of(pid: int) -> int | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            return int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return None

    watched = [(ppid, parent_of(ppid))]
    if comm(ppid) in ("bash", "sh", "dash", "zsh") and watched[0][1] not in (None, 0, 1):
        gp = watched[0][1]
        watched.append((gp, parent_of(gp)))

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            gone = os.getppid() != ppid or any(parent_of(p) != pp for p, pp in watched)
            if gone:
                print(f"note: the process that started this worker ({watched}) is gone; "
                      "stopping (the last checkpoint is kept)", flush=True)
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()

