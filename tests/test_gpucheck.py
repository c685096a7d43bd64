"""latentgeom gpu-check: the no-GPU path, its comparisons, and its checks' plumbing run with the
CPU in place of the GPU (no GPU here; on a GPU node `make gpu-check` runs the real thing)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from latentgeom import gpucheck
from latentgeom.cli import main


def test_without_a_gpu_it_says_so_and_exits_0(capsys):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the real check runs instead")
    assert main(["gpu-check"]) == 0
    assert "no CUDA GPU visible to torch" in capsys.readouterr().out
    p = subprocess.run([sys.executable, "-m", "latentgeom.cli", "gpu-check"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "nothing to check" in p.stdout


def test_code_agreement_and_relative_differences():
    a = np.array([[1, 2], [3, 4], [5, 6], [7, 8]])
    b = a.copy()
    b[1, 0] = 0
    assert gpucheck.code_agreement(a, a) == 1.0
    assert gpucheck.code_agreement(a, b) == 0.75
    with pytest.raises(ValueError):
        gpucheck.code_agreement(a, a[:2])
    rel = gpucheck.relative_differences({"x": 2.0, "y": 1.0, "z": np.nan}, {"x": 1.0, "y": 1.0,
                                                                           "z": 1.0})
    assert rel == {"x": 0.5, "y": 0.0}


def test_a_failed_row_fails_the_table():
    rows = [gpucheck.Row("a", "1", "<= 2", True), gpucheck.Row("b", "3", "<= 2", False),
            gpucheck.Row("c", "n/a", "", None)]
    text = gpucheck.table(rows, "## t")
    assert "| b | 3 | <= 2 | FAIL |" in text and "| c | n/a |  | skip |" in text
    assert [r.verdict for r in rows] == ["ok", "FAIL", "skip"]


def test_faiss_check_plumbing_cpu_against_itself(tmp_path):
    rows = gpucheck.check_faiss(tmp_path, n=3000, gpu=False)
    agree = [r for r in rows if "same codes" in r.check]
    meas = [r for r in rows if "relative measure" in r.check]
    assert len(agree) == 2 and all(float(r.value) == 1.0 and r.ok for r in agree)
    assert len(meas) == 2 and all(r.ok and r.value.startswith("0.0000") for r in meas)
    assert all("(0 measures)" not in r.check for r in meas)


@pytest.mark.slow
def test_embedding_and_finetune_checks_plumbing_on_the_cpu(tmp_path):
    manifest = gpucheck._manifest(tmp_path)
    emb = gpucheck.check_embeddings(manifest, devices=("cpu", "cpu"), n=16)
    assert emb[0].ok and float(emb[0].value) == 0.0
    ft = gpucheck.check_finetune(manifest, tmp_path, runs=(("cpu", "fp32"), ("cpu", "fp32")),
                                 sizes=(64, 32))
    score = ft[0].value.split(" / ")
    assert score[0] == score[1]  # the same run twice: the same score
    assert "examples per second" in ft[1].check
