"""GPU requests from the config and per-GPU claims on a workstation (simulated devices, no GPU)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from latentgeom import jobsize
from latentgeom.gpus import claim_gpus, gpu_request, release_gpus

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("setting, device, want", [
    ("none", "auto", 0), ("none", "cuda", 0), (0, "auto", 0), (None, "auto", 0),
    ("auto", "auto", 1), ("auto", "cuda:1", 1), ("auto", "cpu", 0), ("auto", False, 0),
    ("auto", True, 1), (2, "auto", 2), (2, "cpu", 0),
])
def test_gpu_request(setting, device, want):
    assert gpu_request(setting, device) == want


def test_gpu_request_rejects_negative():
    with pytest.raises(ValueError):
        gpu_request(-1)


# A child process that claims one GPU out of COUNT simulated ones, reports it, then waits.
CHILD = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {src!r})
    from latentgeom.gpus import claim_gpus
    ids = claim_gpus(sys.argv[1], 1, timeout=float(sys.argv[2]), poll=0.05)
    print(os.environ.get("CUDA_VISIBLE_DEVICES"), flush=True)
    time.sleep(float(sys.argv[3]))
""").format(src=str(REPO / "src"))


def _child(lock_dir, timeout=10.0, hold=30.0, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env.update({"LATENTGEOM_GPU_COUNT": "2", **(env_extra or {})})
    return subprocess.Popen([sys.executable, "-c", CHILD, str(lock_dir), str(timeout), str(hold)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def test_competing_jobs_get_distinct_gpus_and_a_crash_releases(tmp_path):
    a, b = _child(tmp_path), _child(tmp_path)
    try:
        id_a, id_b = a.stdout.readline().strip(), b.stdout.readline().strip()
        assert {id_a, id_b} == {"0", "1"}
        # Both GPUs taken: a third job waits, then times out.
        c = _child(tmp_path, timeout=0.5, hold=0)
        assert c.wait(30) != 0 and "TimeoutError" in c.stderr.read()
        # The holder of GPU 0 or 1 crashes (SIGKILL: no cleanup code runs); its GPU is free again.
        a.send_signal(signal.SIGKILL)
        a.wait(30)
        d = _child(tmp_path, hold=0)
        got = d.stdout.readline().strip()
        assert d.wait(30) == 0
        assert got == id_a  # the crashed job's GPU, while b still holds the other
    finally:
        for p in (a, b):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_four_jobs_two_gpus_never_share(tmp_path):
    """Four jobs queue for two simulated GPUs: at most two hold one at a time, never the same."""
    log = tmp_path / "log.txt"
    code = textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(REPO / 'src')!r})
        from latentgeom.gpus import claim_gpus
        claim_gpus({str(tmp_path / 'locks')!r}, 1, poll=0.02)
        g = os.environ["CUDA_VISIBLE_DEVICES"]
        with open({str(log)!r}, "a") as fh:
            fh.write(f"start {{g}} {{time.monotonic()}}\\n")
        time.sleep(0.4)
        with open({str(log)!r}, "a") as fh:
            fh.write(f"end {{g}} {{time.monotonic()}}\\n")
    """)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["LATENTGEOM_GPU_COUNT"] = "2"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=env) for _ in range(4)]
    assert all(p.wait(60) == 0 for p in procs)
    events = sorted((float(t), kind, g) for kind, g, t in
                    (line.split() for line in log.read_text().splitlines()))
    holding: set[str] = set()
    for _, kind, g in events:
        if kind == "start":
            assert g not in holding, "two jobs on one GPU"
            holding.add(g)
        else:
            holding.discard(g)
    assert {g for _, _, g in events} == {"0", "1"}


def test_existing_cuda_visible_devices_is_respected(tmp_path):
    env = {"CUDA_VISIBLE_DEVICES": "3", "LATENTGEOM_GPU_COUNT": "4"}
    assert claim_gpus(tmp_path, 1, env=env) is None
    assert env["CUDA_VISIBLE_DEVICES"] == "3"
    assert not list(tmp_path.iterdir())


def test_no_gpu_or_no_request_claims_nothing(tmp_path):
    assert claim_gpus(tmp_path, 1, env={"LATENTGEOM_GPU_COUNT": "0"}) is None
    assert claim_gpus(tmp_path, 0, env={"LATENTGEOM_GPU_COUNT": "2"}) is None


def test_in_process_claim_and_release(tmp_path):
    env = {"LATENTGEOM_GPU_COUNT": "2"}
    try:
        assert claim_gpus(tmp_path, 2, env=env) == [0, 1]
        assert env["CUDA_VISIBLE_DEVICES"] == "0,1"
        with pytest.raises(TimeoutError):
            claim_gpus(tmp_path, 1, env={"LATENTGEOM_GPU_COUNT": "2"}, timeout=0.1, poll=0.02)
    finally:
        release_gpus()
    assert claim_gpus(tmp_path, 1, env={"LATENTGEOM_GPU_COUNT": "2"}) == [0]
    release_gpus()


# --- size-based runtime and memory requests --------------------------------------------------

def _cfg(**glue):
    return {"sample": {"n": 1000, "min_tokens": 3, "max_tokens": 50},
            "embed": {}, "quantize": {"train_size": 5000, "quantizers": {
                "additive": {"method": "lsq"}, "product": {"method": "pq"}}},
            "glue": {"source": "hub", "epochs": 3, "examples_per_second": 100, **glue}}


def test_finetune_runtime_follows_examples_epochs_throughput_and_attempt():
    cfg = _cfg()
    # CoLA: 8,551 train x 3 epochs x 1.1 / 100 ex/s = 282 s = 4.7 min; (5 + 4.7) x 1.5 = 14.6
    assert jobsize.finetune_runtime(cfg, "cola") == 15
    assert jobsize.finetune_runtime(cfg, "cola", attempt=2) == 30
    assert jobsize.finetune_runtime(cfg, "mnli") > 10 * jobsize.finetune_runtime(cfg, "rte")
    slow = _cfg(examples_per_second=10)
    assert jobsize.finetune_runtime(slow, "cola") > jobsize.finetune_runtime(cfg, "cola")
    assert jobsize.finetune_mem(cfg, 1) == 8000 and jobsize.finetune_mem(cfg, 2) == 12000


def test_quantize_requests_follow_rows():
    small, big = _cfg(), _cfg()
    big["sample"]["n"] = 10000
    big["quantize"]["train_size"] = None
    assert jobsize.embedding_rows(big) == pytest.approx(10 * jobsize.embedding_rows(small), 1e-3)
    assert jobsize.quantize_runtime(big, "additive") > jobsize.quantize_runtime(small, "additive")
    assert jobsize.quantize_runtime(small, "additive") >= jobsize.quantize_runtime(small, "product")
    assert jobsize.quantize_mem(big) > jobsize.quantize_mem(small)
    assert jobsize.quantize_runtime(small, "additive", 2) >= 2 * jobsize.quantize_runtime(
        small, "additive", 1) - 1


def test_claim_for_job_reads_the_jobs_gpu_resource_and_results_folder(tmp_path):
    code = textwrap.dedent(f"""
        import os, sys
        from types import SimpleNamespace
        sys.path.insert(0, {str(REPO / 'src')!r})
        from latentgeom.gpus import claim_for_job
        none = SimpleNamespace(resources={{"gpu": 0}}, config={{"results": "res"}})
        assert claim_for_job(none) is None and "CUDA_VISIBLE_DEVICES" not in os.environ
        job = SimpleNamespace(resources={{"gpu": 1}}, config={{"results": "res"}})
        assert claim_for_job(job) == [0]
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
        assert os.path.exists("res/.locks/gpu0")
    """)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["LATENTGEOM_GPU_COUNT"] = "2"
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


# --- a share of a GPU (gpu_share < 1): slots locally, shards on SLURM --------------------------

def test_share_request():
    from latentgeom.gpus import share_request

    assert share_request(0, 0.25, 4) == {"gpu": 0, "gpu_shard": 0, "gres": ""}  # no GPU asked
    assert share_request(1, 1.0, 4) == {"gpu": 1, "gpu_shard": 4, "gres": ""}
    assert share_request(2, 1.0, 4) == {"gpu": 2, "gpu_shard": 8, "gres": ""}
    assert share_request(1, 0.25, 4) == {"gpu": 0, "gpu_shard": 1, "gres": "shard:1"}
    assert share_request(1, 0.3, 4) == {"gpu": 0, "gpu_shard": 2, "gres": "shard:2"}  # rounds up
    assert share_request(1, 0.5, 8) == {"gpu": 0, "gpu_shard": 4, "gres": "shard:4"}
    assert share_request(1, 0.01, 4)["gpu_shard"] == 1
    assert share_request(1, 0.25, 100, "mps") == {"gpu": 0, "gpu_shard": 25, "gres": "mps:25"}


def test_gpu_share_of_a_model():
    from latentgeom.gpus import gpu_share

    cfg = {"models": {"bases": {"small": {"gpu_share": 0.25}, "big": {}}},
           "nonstandard": {"odd": {"gpu_share": 0.5}}}
    assert gpu_share(cfg, {"kind": "perturbed", "base_name": "small", "name": "x"}) == 0.25
    assert gpu_share(cfg, {"kind": "perturbed", "base_name": "big", "name": "y"}) == 1
    assert gpu_share(cfg, {"kind": "nonstandard", "name": "odd"}) == 0.5


def test_shared_claims_fill_a_gpu_and_exclude_whole_gpu_claims(tmp_path):
    from latentgeom.gpus import claim_gpu_share

    one = {"LATENTGEOM_GPU_COUNT": "1"}
    try:
        envs = [dict(one) for _ in range(4)]
        assert [claim_gpu_share(tmp_path, 1, 4, env=e) for e in envs] == [0, 0, 0, 0]
        assert {e["CUDA_VISIBLE_DEVICES"] for e in envs} == {"0"}
        with pytest.raises(TimeoutError):  # four quarters: full
            claim_gpu_share(tmp_path, 1, 4, env=dict(one), timeout=0.1, poll=0.02)
        with pytest.raises(TimeoutError):  # a whole-GPU job waits for the shared ones
            claim_gpus(tmp_path, 1, env=dict(one), timeout=0.1, poll=0.02)
    finally:
        release_gpus()
    try:
        assert claim_gpus(tmp_path, 1, env=dict(one)) == [0]
        with pytest.raises(TimeoutError):  # and a shared job waits for a whole-GPU one
            claim_gpu_share(tmp_path, 1, 4, env=dict(one), timeout=0.1, poll=0.02)
    finally:
        release_gpus()
    two = {"LATENTGEOM_GPU_COUNT": "2"}
    try:  # half + half fill GPU 0; the next half goes to GPU 1
        assert [claim_gpu_share(tmp_path, 2, 4, env=dict(two)) for _ in range(3)] == [0, 0, 1]
        with pytest.raises(ValueError):
            claim_gpu_share(tmp_path, 5, 4, env=dict(two))
    finally:
        release_gpus()
    assert claim_gpu_share(tmp_path, 1, 4, env={"CUDA_VISIBLE_DEVICES": "2",
                                                 "LATENTGEOM_GPU_COUNT": "4"}) is None


def test_claim_for_job_takes_slots_for_a_shard_request(tmp_path):
    code = textwrap.dedent(f"""
        import os, sys
        from types import SimpleNamespace
        sys.path.insert(0, {str(REPO / 'src')!r})
        from latentgeom.gpus import claim_for_job
        job = SimpleNamespace(resources={{"gpu": 0, "gpu_shard": 2, "gres": "shard:2"}},
                              config={{"results": "res", "resources": {{"gpu_shards": 4}}}})
        assert claim_for_job(job) == [0]
        assert os.environ["CUDA_VISIBLE_DEVICES"] == "0"
        locks = "res/.locks/gpu0"
        assert os.path.exists(locks + ".slot1") and not os.path.exists(locks + ".slot2")
    """)
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    env["LATENTGEOM_GPU_COUNT"] = "1"
    p = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
