"""Measures: ours (both variants) against the authors' code (``authors_baseline.py``), side by
side on the same matrix and codes; the measures job's peak memory; time and memory vs size.

    python benchmarks/measures.py --sequences PATH [--repeat 2] [--scaling]

Input (``measures_input.py``, cached under ``benchmarks/cache``): the packaged MiniLM's
token vectors of ``--sequences`` (the authors' published 5,000: 116,667 x 384 float32),
LSQ++ and PQ codes, M = 4, K = 256, trained on every row.

Each repeat runs, in one process, one after the other: the baseline (the authors' code re-built
from a reading of their script, timed per part, BLAS and FAISS at their default threads), then
ours with the paper's definitions, the authors', and both at once (what the pipeline's
``measures`` job computes; ``--workers`` threads for the cells, default: the CPUs, the spread
measures on one more thread beside them, BLAS one thread per thread). Wall and CPU seconds and
the load average are printed for each; the tables take each implementation's fastest repeat.
Memory: the ``measures`` job itself (``stages.measures_stage`` on the cached artifacts) in a
child process, its peak resident set (``VmHWM``). ``--scaling``: the same job in a child
process on synthetic matrices (40 clusters in a rank-48 subspace plus noise; PQ trained on
5,000 rows, every row encoded, also used as the additive quantizer: see
:func:`synthetic_input`) at 25K, 50K, 100K, 200K rows (d = 384) and 100K x 768.
``--lapack-check``: only whether LAPACK eigenvalue calls from two threads run side by side
(:func:`lapack_check`). ``--margin-check``: only the float32 screen's per-cell error
(:func:`margin_check`).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import authors_baseline as baseline  # noqa: E402
import measures_input  # noqa: E402

SCALING = ((25_000, 384), (50_000, 384), (100_000, 384), (200_000, 384), (100_000, 768))


def structured(n: int, d: int, rank: int = 48, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, rank)) * 3
    lab = rng.choice(40, n, p=rng.dirichlet(np.ones(40)))
    Z = centres[lab] + rng.standard_normal((n, rank)) * rng.uniform(0.3, 1.5, 40)[lab, None]
    W = rng.standard_normal((rank, d)) * np.geomspace(1, 0.05, rank)[:, None]
    return (Z @ W + 0.3 * rng.standard_normal((n, d)) + rng.standard_normal(d)).astype(np.float32)


def synthetic_input(n: int, d: int, cache: Path, threads: int = 2) -> Path:
    """A cached synthetic input folder (``embeddings.npy``, ``quantized_*.npz``).

    ``product``: FAISS PQ (M = 4, K = 256) trained on 5,000 rows, every row encoded
    (``quantize_stage``). ``additive``: the same codes with each sub-codebook placed in its
    own columns of a full-width codebook (zeros elsewhere): a product quantizer IS an additive
    one, and LSQ++ at these sizes would take longer to train than everything measured here."""
    from latentgeom import stages
    from latentgeom.io import write_npy, write_npz

    out = cache / f"synthetic_{n}x{d}"
    out.mkdir(parents=True, exist_ok=True)
    emb = out / "embeddings.npy"
    if not emb.is_file():
        write_npy(emb, structured(n, d))
    pq = out / "quantized_product.npz"
    if not pq.is_file():
        t = time.perf_counter()
        stages.quantize_stage(embeddings_path=str(emb), out_path=str(pq),
                              spec={"method": "pq", "M": 4, "nbits": 8}, seed=0,
                              train_size=5_000, use_gpu=False, threads=threads)
        print(f"# {out.name}: pq in {time.perf_counter() - t:.0f}s", flush=True)
    add = out / "quantized_additive.npz"
    if not add.is_file():
        codes, cb, _, meta = stages.read_quantized(str(pq))
        M_, K, dsub = cb.shape
        full = np.zeros((M_, K, M_ * dsub), dtype=np.float32)
        for m in range(M_):
            full[m, :, m * dsub:(m + 1) * dsub] = cb[m]
        meta = dict(meta, kind="additive", method="pq-as-additive")
        write_npz(add, codes=codes, codebooks=full, meta=np.array(json.dumps(meta)))
    return out


def child_job(folder: str, workers: int | None) -> None:
    """The pipeline's ``measures`` job on a cached folder; prints its compute time as JSON."""
    import tempfile

    from latentgeom import stages

    folder = Path(folder)
    names = [name for name, _ in measures_input.QUANTIZERS]
    with tempfile.TemporaryDirectory() as tmp:
        w, c = time.perf_counter(), time.process_time()
        stages.measures_stage(embeddings_path=str(folder / "embeddings.npy"),
                              quantized_paths=[str(folder / f"quantized_{k}.npz") for k in names],
                              out_path=str(Path(tmp) / "measures.json"), quantizers=names,
                              workers=workers)
        wall, cpu = time.perf_counter() - w, time.process_time() - c
    print(json.dumps({"wall": wall, "cpu": cpu, "peak_mb": peak_rss_mb()}))


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else ``platform.processor()``: the tables'
    seconds depend on it (the same code and input took 54 s on one 2-core machine and 66 s on
    another)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover (not Linux)
        pass
    import platform

    return platform.processor() or "unknown CPU"


def peak_rss_mb() -> float:
    """This process's peak resident set (``VmHWM``, MB). Not ``ru_maxrss``: a child started
    by fork/vfork + exec reports the parent's peak there when it was larger."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:  # pragma: no cover (not Linux)
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_child(folder: Path, workers: int | None) -> dict:
    """Run :func:`child_job` in a fresh process; its times and peak RSS (MB)."""
    cmd = [sys.executable, __file__, "--child-job", str(folder)]
    if workers:
        cmd += ["--workers", str(workers)]
    t = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if proc.returncode:
        raise RuntimeError(f"measures job on {folder} failed ({proc.returncode})")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_wall"] = time.perf_counter() - t
    return res


def lapack_check(repeat: int = 60) -> None:
    """Do LAPACK eigenvalue calls from two threads run side by side? One 384 x 384 symmetric
    matrix (a cell's scatter), ``repeat`` calls on one thread, then ``repeat`` on each of two
    threads, BLAS pinned to one thread: NumPy's and SciPy's calls, the GIL-free drivers the
    cells use (:mod:`latentgeom.measures.lapack`), a matrix product for comparison."""
    import threading

    import scipy.linalg
    from scipy.linalg import lapack
    from threadpoolctl import threadpool_limits

    from latentgeom.measures import lapack as ours

    g = np.random.default_rng(0)
    G = np.cov(g.standard_normal((456, 384)).T)
    G32, C = G.astype(np.float32), g.standard_normal((456, 384)).astype(np.float32)
    calls = {"numpy eigvalsh (float64, dsyevd)": lambda: np.linalg.eigvalsh(G),
             "scipy ssyevr (float32)": lambda: lapack.ssyevr(G32, compute_v=0),
             "scipy eigvalsh (float32, driver evd)":
                 lambda: scipy.linalg.eigvalsh(G32, driver="evd"),
             "latentgeom eigvalsh64 (ctypes dsyevd)": lambda: ours.eigvalsh64(G),
             "latentgeom eigvalsh32 (ctypes ssyevd)": lambda: ours.eigvalsh32(G32),
             "float32 C^T C (syrk)": lambda: C.T @ C}
    print(f"\n# load average {load():.1f}\n")
    print("| call | 2n calls, 1 thread (s) | n calls on each of 2 threads, wall (s) | CPU (s) "
          "| speed-up |")
    print("|---|---:|---:|---:|---:|")
    with threadpool_limits(limits=1, user_api="blas"):
        for name, f in calls.items():
            f()  # warm-up
            t = time.perf_counter()
            for _ in range(2 * repeat):
                f()
            one = time.perf_counter() - t
            threads = [threading.Thread(target=lambda f=f: [f() for _ in range(repeat)])
                       for _ in range(2)]
            t, c = time.perf_counter(), time.process_time()
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            two, cpu = time.perf_counter() - t, time.process_time() - c
            print(f"| {name} | {one:.3f} | {two:.3f} | {cpu:.3f} | {one / two:.2f} |")


def margin_check(folder: Path) -> None:
    """How far the authors' per-cell EEE from the float32 screen (``ssyevd``) lies from the
    float64 path's, over every cell of the cached input (the basis of
    ``AUTHORS_FLOAT32_MARGIN``), and how many cells the margin sends to float64."""
    from latentgeom import measures as M
    from latentgeom.measures import centroids, spread

    X, quantized = measures_input.load(folder)
    diffs, near = [], 0
    for codes, _, _ in quantized.values():
        for m in range(codes.shape[1]):
            for j in np.unique(codes[:, m]):
                P = np.unique(X[codes[:, m] == j], axis=0)
                if len(P) < 2:
                    continue
                v32 = centroids._authors_cell_eee_float32(P)  # the path the measures take
                v64 = spread._eee_authors_unrounded(
                    centroids._cell_spectrum(P.astype(np.float64)))
                diffs.append(abs(v32 - float(v64)))
                near += not centroids._rounds_like_float64(v32, M.AUTHORS_FLOAT32_MARGIN)
    d = np.array(diffs)
    print("\n| cells | largest float32 - float64 | median | 99th percentile | margin "
          "| margin / largest | cells recomputed in float64 |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {len(d):,} | {d.max():.2g} | {np.median(d):.2g} | {np.quantile(d, 0.99):.2g} | "
          f"{M.AUTHORS_FLOAT32_MARGIN:g} | {M.AUTHORS_FLOAT32_MARGIN / d.max():.0f} | "
          f"{near} ({near / len(d):.1%}) |")


def timed(f, *a, **k):
    w, c = time.perf_counter(), time.process_time()
    r = f(*a, **k)
    return (time.perf_counter() - w, time.process_time() - c), r


def load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sequences", help="the sample, one sequence a line (the authors' "
                    "sample_sequences: ../shared/reference/published/sample_sequences.txt "
                    "beside this repository)")
    ap.add_argument("--cache", default=str(measures_input.DEFAULT_CACHE))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--scaling", action="store_true", help="also the size table")
    ap.add_argument("--only-scaling", action="store_true", help="only the size table")
    ap.add_argument("--lapack-check", action="store_true",
                    help="only: do LAPACK eigenvalue calls from two threads overlap?")
    ap.add_argument("--margin-check", action="store_true",
                    help="only: the float32 screen's per-cell error against float64 (needs "
                    "--sequences or a built cache)")
    ap.add_argument("--child-job", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child_job:
        return child_job(a.child_job, a.workers)
    if a.lapack_check:
        return lapack_check()
    if a.only_scaling:
        return scaling(a)
    if not a.sequences:
        ap.error("--sequences is required")
    from latentgeom import measures as M

    folder = measures_input.build(a.sequences, a.cache)
    if a.margin_check:
        return margin_check(folder)
    X, quantized = measures_input.load(folder)
    print(f"# {X.shape[0]} x {X.shape[1]} {X.dtype}; LSQ++ and PQ, M = 4, K = 256; "
          f"{len(os.sched_getaffinity(0))} CPUs ({cpu_model()}); "
          f"our workers {M._workers(a.workers)}; "
          f"load average {load():.1f}", flush=True)

    # warm-up, untimed: imports (sklearn, scipy, FAISS, the isoscore package's torch) and
    # first calls, on the first 3,000 rows
    small = {k: (c[:3000], cb, kind) for k, (c, cb, kind) in quantized.items()}
    baseline.all_measures(X[:3000], small, a.seed)
    M.measure_variants(X[:3000], small, M.VARIANTS, a.seed, a.workers)

    labels = {("paper",): "ours, paper variant", ("authors",): "ours, authors variant",
              M.VARIANTS: "ours, both variants (the `measures` job's computation)"}
    runs = {k: [] for k in ["baseline", *labels]}
    clocks, base, ours = [], None, {}
    for r in range(a.repeat):
        clock = baseline.Clock()
        l0 = load()
        t, base = timed(baseline.all_measures, X, quantized, a.seed, clock)
        clocks.append(clock)
        runs["baseline"].append((*t, (l0 + load()) / 2))
        print(f"# repeat {r + 1}: baseline {t[0]:.1f}s wall, {t[1]:.1f}s CPU (load "
              f"{runs['baseline'][-1][2]:.1f})", flush=True)
        for variants in labels:
            l0 = load()
            t, ours[variants] = timed(M.measure_variants, X, quantized, variants, a.seed,
                                      a.workers)
            runs[variants].append((*t, (l0 + load()) / 2))
            print(f"# repeat {r + 1}: {labels[variants]} {t[0]:.1f}s wall, {t[1]:.1f}s CPU "
                  f"(load {runs[variants][-1][2]:.1f})", flush=True)

    best = {k: min(v) for k, v in runs.items()}  # fastest repeat (wall, cpu, load)
    tb, ta = best["baseline"][0], baseline.AUTHORS_TOTAL
    print("\n| implementation | wall s (best of "
          f"{a.repeat}) | CPU s | load | vs baseline (wall) | vs the authors' {ta:.1f} s |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| the authors' code (issue 20: 2 cores, idle) | {ta:.1f} | | | | 1.0x |")
    print(f"| baseline: their code re-built | {tb:.1f} | {best['baseline'][1]:.1f} | "
          f"{best['baseline'][2]:.1f} | 1.0x | {ta / tb:.2f}x |")
    for variants, label in labels.items():
        w, c, ld = best[variants]
        print(f"| {label} | {w:.2f} | {c:.1f} | {ld:.1f} | {tb / w:.1f}x | {ta / w:.1f}x |")

    print("\n| part of the authors' code | issue 20 (s) | baseline wall (s) | baseline CPU (s) "
          "| wall / issue |")
    print("|---|---:|---:|---:|---:|")
    for p, ref in baseline.AUTHORS_SECONDS.items():
        w = min(c.wall[p] for c in clocks)
        cpu = min(c.cpu[p] for c in clocks)
        print(f"| {p} | {ref:.1f} | {w:.1f} | {cpu:.1f} | {w / ref:.2f} |")
    wsum = min(sum(c.wall.values()) for c in clocks)
    print(f"| all parts | {sum(baseline.AUTHORS_SECONDS.values()):.1f} | {wsum:.1f} | "
          f"{min(sum(c.cpu.values()) for c in clocks):.1f} | "
          f"{wsum / sum(baseline.AUTHORS_SECONDS.values()):.2f} |")

    both = ours[M.VARIANTS]
    print("\n| measure | baseline | ours (authors) | abs diff | ours (paper) |")
    print("|---|---:|---:|---:|---:|")
    for g in base:
        for k, v in base[g].items():
            o = both["authors"][g][k]
            print(f"| {g}.{k} | {v:.6g} | {o:.6g} | {abs(o - v):.1e} | "
                  f"{both['paper'][g][k]:.6g} |")

    res = run_child(folder, a.workers)
    print(f"\nThe `measures` job (both variants, a fresh process) on this input: peak RSS "
          f"{res['peak_mb']:.0f} MB (matrix {X.nbytes / 2 ** 20:.0f} MB); compute "
          f"{res['wall']:.1f}s wall, {res['cpu']:.1f}s CPU; process {res['process_wall']:.1f}s; "
          f"load {load():.1f}")

    if a.scaling:
        scaling(a)


def scaling(a) -> None:
    """The ``measures`` job's time and peak memory on synthetic inputs of :data:`SCALING`."""
    rows = []
    for n, d in SCALING:
        f = synthetic_input(n, d, Path(a.cache))
        rows.append((n, d, run_child(f, a.workers), load()))
        print(f"# {n} x {d}: {rows[-1][2]}", flush=True)
    print("\n| rows | d | matrix MB | compute wall s | compute CPU s | peak RSS MB | load |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for n, d, r, ld in rows:
        print(f"| {n:,} | {d} | {n * d * 4 / 2 ** 20:.0f} | {r['wall']:.1f} | "
              f"{r['cpu']:.1f} | {r['peak_mb']:.0f} | {ld:.1f} |")

if __name__ == "__main__":
    main()
