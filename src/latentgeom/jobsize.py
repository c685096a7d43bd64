"""Runtime and memory requests sized from a job's work, for the rules' ``resources:``.

Each estimate is (setup + work / measured throughput) x headroom, multiplied by the Snakemake
``attempt`` (1 on the first try) so a retry after a time-out or out-of-memory kill asks for more.
The throughput figures are the config's ``resources.throughput`` (defaults from the measurements
in ``benchmarks/README.md``; set them for your machines). Minutes and MB are rounded up.
"""

from __future__ import annotations

import math
from typing import Any

from .defaults import default, node, setting
from .glue.plan import minibench_sizes
from .glue.tasks import get_task

# Defaults: the config schema's (resources.*; workflow/schemas/config.schema.yaml).
THROUGHPUT = {k: default(f"resources.throughput.{k}")
              for k in node("resources.throughput")["properties"]}
HEADROOM = default("resources.headroom")
SETUP_MINUTES = default("resources.setup_minutes")  # process start, imports, model rebuild
HIDDEN_SIZE = 1024         # the widest token vector the estimates allow for (BERT-large)
SUBWORDS_PER_WORD = 1.4    # WordPiece/BPE tokens per whitespace token, + [CLS]/[SEP]


def _res(config: dict[str, Any]) -> dict[str, Any]:
    return config.get("resources") or {}


def _throughput(config: dict[str, Any], key: str) -> float:
    return float((_res(config).get("throughput") or {}).get(key, THROUGHPUT[key]))


def _scale(config: dict[str, Any], attempt: int) -> float:
    return float(setting(config, "resources.headroom")) * max(1, int(attempt))


def minutes(config: dict[str, Any], work_seconds: float, attempt: int = 1) -> int:
    """Setup + work, with headroom, times the attempt."""
    setup = float(setting(config, "resources.setup_minutes"))
    return max(1, math.ceil((setup + work_seconds / 60.0) * _scale(config, attempt)))


def embedding_rows(config: dict[str, Any]) -> int:
    """Token vectors in one model's latent matrix: sample n x tokens per sequence (upper-ish)."""
    n = int(setting(config, "sample.n"))
    words = (int(setting(config, "sample.min_tokens"))
             + int(setting(config, "sample.max_tokens"))) / 2
    per_seq = SUBWORDS_PER_WORD * words + 2
    max_length = (config.get("embed") or {}).get("max_length") or 509
    return int(n * min(per_seq, float(max_length)))


# --- fine-tuning ----------------------------------------------------------------------------

def train_examples(glue: dict[str, Any], task: str) -> int:
    if str(setting({"glue": glue}, "glue.source")) == "minibench":
        return int(minibench_sizes(glue)[task][0])
    return int(get_task(task).train_size or 10000)


def finetune_seconds(config: dict[str, Any], task: str, n: int | None = None) -> float:
    """Expected work: train examples (``n``, default :func:`train_examples`) x epochs /
    ``glue.examples_per_second`` (+ dev passes)."""
    n = train_examples(config.get("glue") or {}, task) if n is None else int(n)
    work = n * int(setting(config, "glue.epochs")) * 1.1  # + evaluation passes, ~10 %
    return work / float(setting(config, "glue.examples_per_second"))


def finetune_runtime(config: dict[str, Any], task: str, attempt: int = 1) -> int:
    """Minutes: train examples x epochs / ``glue.examples_per_second`` (+ one dev pass)."""
    return minutes(config, finetune_seconds(config, task), attempt)


def finetune_group(config: dict[str, Any], task: str, shared: bool = False) -> str | None:
    """The Snakemake group of a fine-tuning job: ``finetune_small`` when its expected work is
    under ``resources.group_finetunes_minutes`` (0, the default: never), else none;
    ``finetune_small_shared`` for a model with a GPU share (so that no group job asks for a
    whole GPU and a shard at once)."""
    limit = float(setting(config, "resources.group_finetunes_minutes") or 0)
    if finetune_seconds(config, task) >= 60 * limit:
        return None
    return "finetune_small_shared" if shared else "finetune_small"


def finetune_mem(config: dict[str, Any], attempt: int = 1) -> int:
    return int(int(setting(config, "glue.mem_mb")) * (1 + 0.5 * (max(1, int(attempt)) - 1)))


# --- latent half ----------------------------------------------------------------------------

def embed_seconds(config: dict[str, Any]) -> float:
    """Expected work: every token vector at ``embed_tokens_per_second``."""
    return embedding_rows(config) / _throughput(config, "embed_tokens_per_second")


def embed_runtime(config: dict[str, Any], attempt: int = 1) -> int:
    return minutes(config, embed_seconds(config), attempt)


def embed_mem(config: dict[str, Any], attempt: int = 1) -> int:
    """Model and activations (~3 GB) + the latent matrix held as float32, twice."""
    mb = 3000 + 2 * embedding_rows(config) * HIDDEN_SIZE * 4 / 2**20
    return math.ceil(mb * _scale(config, attempt))


def quantize_seconds(config: dict[str, Any], quantizer: str,
                     hidden: int = HIDDEN_SIZE) -> float:
    """Expected work: training rows x train cost + every row x encode cost, x hidden/384."""
    q = config.get("quantize") or {}
    spec = q["quantizers"][quantizer]
    rows = embedding_rows(config)
    train = min(rows, int(q.get("train_size") or rows))
    key = "lsq_train_ms_per_row" if spec.get("method") == "lsq" else "pq_train_ms_per_row"
    ms = train * _throughput(config, key) + rows * _throughput(config, "encode_ms_per_row")
    return ms / 1000.0 * hidden / 384


def quantize_runtime(config: dict[str, Any], quantizer: str, attempt: int = 1) -> int:
    """Minutes: training rows x train cost + every row x encode cost, scaled to the widest d."""
    return minutes(config, quantize_seconds(config, quantizer), attempt)


def quantize_mem(config: dict[str, Any], attempt: int = 1) -> int:
    """The latent matrix as float32, ~4 copies (input, training subsample, FAISS buffers,
    decoded blocks) + 1.5 GB for the process."""
    mb = 1500 + 4 * embedding_rows(config) * HIDDEN_SIZE * 4 / 2**20
    return math.ceil(mb * _scale(config, attempt))


def measures_mem(config: dict[str, Any], attempt: int = 1) -> int:
    """Both definitions' measures of one matrix (``measures``, ``measures_layer``,
    ``measures_sensitivity``, ``measures_bootstrap``): the latent matrix as float32, 2 copies
    (the matrix, projection chunks and per-cell buffers: benchmarks/README.md measured the
    matrix + 220-370 MB) + 1.5 GB for the process, the matrix taken 1,024 wide."""
    mb = 1500 + 2 * embedding_rows(config) * HIDDEN_SIZE * 4 / 2**20
    return math.ceil(mb * _scale(config, attempt))


# --- beyond the paper (issue 21): other geometry, soft PP, the ranking ------------------------

def geometry_mem(config: dict[str, Any], attempt: int = 1) -> int:
    """Rule ``geometry`` (:mod:`latentgeom.geometry`): 1.5 GB for the process and its imports
    (numba, scikit-learn, scikit-dimension, ripser) + the latent matrix's pages as float32 (the
    spectrum and anisotropy read every row) + the intrinsic-dimension subsample as float64,
    3 copies (the rows, their unique rows, neighbour arrays) + the persistence subsample's
    distances (ripser: ~6 n^2 float64), the matrix taken 1,024 wide. benchmarks/README.md
    ("Other geometry") measured 873-933 MB peak on a 116,667 x 384 matrix at the defaults."""
    rows = embedding_rows(config)
    sub = min(rows, int(setting(config, "geometry.subsample")))
    topo = min(rows, int(setting(config, "geometry.topology_subsample")))
    mb = (1500 + rows * HIDDEN_SIZE * 4 / 2**20 + 3 * sub * HIDDEN_SIZE * 8 / 2**20
          + 6 * topo**2 * 8 / 2**20)
    return math.ceil(mb * _scale(config, attempt))


def softpp_mem(config: dict[str, Any], attempt: int = 1) -> int:
    """Rule ``softpp`` (:func:`latentgeom.softpp.soft_pp_summary`): 1.5 GB for the process and
    torch + the latent matrix as float64 (the soft assignments are computed in float64) + the
    codes and their tau -> 0 limit (int64, M per row each) + a row block's distances and
    residuals (8,192 rows x K, and x d, float64, a few of each), the matrix taken 1,024 wide."""
    rows = embedding_rows(config)
    qs = (config.get("quantize") or {}).get("quantizers") or {}
    M = max([int(q.get("M", 4)) for q in qs.values()] or [4])
    K = max([2 ** int(q.get("nbits", 8)) for q in qs.values()] or [256])
    mb = (1500 + rows * HIDDEN_SIZE * 8 / 2**20 + 2 * rows * M * 8 / 2**20
          + 4 * 8192 * (K + HIDDEN_SIZE) * 8 / 2**20)
    return math.ceil(mb * _scale(config, attempt))


def ranking_mem(config: dict[str, Any], n_models: int, n_measures: int, n_scopes: int = 1,
                attempt: int = 1) -> int:
    """Rule ``ranking`` (:func:`latentgeom.ranking.rank_table`) on a table of ``n_models`` rows
    and ``n_measures`` measure columns per definition, ranked in ``n_scopes`` scopes (each
    architecture, and pooled): 1 GB for the process (pandas, scipy, matplotlib) + the bootstrap
    counts (``ranking.bootstrap`` x models, float64, 4 arrays) + per candidate (every measure,
    and every pair with ``ranking.pairs``) its residuals and weights (models x 4 float64) and
    its result row per scope (~2 KB), for both cv kinds and both definitions."""
    n, c = max(1, int(n_models)), max(1, int(n_measures))
    boot = int(setting(config, "ranking.bootstrap"))
    cands = 1 + c + (c * (c - 1) // 2 if setting(config, "ranking.pairs") else 0)
    mb = 1000 + (4 * boot * n * 8
                 + 2 * 2 * cands * (4 * n * 8 + 2048 * max(1, int(n_scopes)))) / 2**20
    return math.ceil(mb * _scale(config, attempt))
