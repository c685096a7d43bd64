"""Task data: loading (hub or local files), validation, and the tokenised cache.

Sources:

- ``hub``: ``datasets.load_dataset("nyu-mll/glue", task.hub_config)`` (needs network or a
  populated HF cache);
- a local folder holding ``{split}.csv``, ``{split}.jsonl``/``.json`` or ``{split}.parquet`` per
  split, in the GLUE schema (the task's text columns + ``label``), either directly or in a
  ``{task}/`` sub-folder. The offline mini-benchmark is written this way.

After loading, both sources take the same path: validation (columns, splits, non-empty, labels in
range) then tokenisation. The tokenised splits are written once per tokenizer x task (rule
``glue_cache``) as ``{split}.npz`` (concatenated ids + offsets, labels) and ``meta.json``, and
shared by every model using that tokenizer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from .tasks import Task

EXTENSIONS = (".csv", ".jsonl", ".json", ".parquet")
CACHE_VERSION = 1


class GlueDataError(ValueError):
    """Task data that cannot be used: missing split/column, bad labels, empty split."""


# --------------------------------------------------------------------------- loading


def _read_local(path: Path, task: Task):
    import pandas as pd

    text_dtypes = {c: str for c in task.text_columns}
    if path.suffix == ".csv":
        # keep_default_na=False: a sentence "NA" or "null" is text, not a missing value.
        return pd.read_csv(path, dtype=text_dtypes, keep_default_na=False)
    if path.suffix in (".jsonl", ".json"):
        try:
            return pd.read_json(path, lines=path.suffix == ".jsonl", dtype=text_dtypes)
        except ValueError:
            return pd.read_json(path, lines=path.suffix != ".jsonl", dtype=text_dtypes)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    raise GlueDataError(f"{path}: unsupported file type (use one of {EXTENSIONS})")


def task_folder(data: str | Path, task: Task) -> Path:
    """``data/{task}`` when it exists, else ``data`` itself."""
    data = Path(data).expanduser()
    sub = data / task.name
    return sub if sub.is_dir() else data


def find_split_file(folder: Path, split: str) -> Path | None:
    for ext in EXTENSIONS:
        p = folder / f"{split}{ext}"
        if p.is_file():
            return p
    return None


def load_split_frames(task: Task, source: str | Path) -> dict[str, Any]:
    """``{split: DataFrame}`` of every split the task needs (train + dev), validated.

    ``source`` is ``"hub"`` or a local folder. Every error is raised before any output exists.
    """
    if str(source) == "hub":
        frames = _load_hub(task)
        origin = f"hub nyu-mll/glue/{task.hub_config}"
    else:
        folder = task_folder(source, task)
        if not folder.is_dir():
            raise GlueDataError(f"task {task.name}: data folder {folder} does not exist")
        frames, missing = {}, []
        for split in task.splits:
            path = find_split_file(folder, split)
            if path is None:
                missing.append(split)
            else:
                try:
                    frames[split] = _read_local(path, task)
                except GlueDataError:
                    raise
                except (ValueError, UnicodeDecodeError, OSError) as e:  # pandas parser errors too
                    raise GlueDataError(f"task {task.name}: {path} cannot be read "
                                        f"({type(e).__name__}: {e})") from None
        if missing:
            raise GlueDataError(
                f"task {task.name}: split(s) {missing} missing in {folder} (expected "
                f"{{split}}{{{','.join(EXTENSIONS)}}} for splits {list(task.splits)})")
        origin = str(folder)
    for split, frame in frames.items():
        validate_frame(task, frame, split, origin)
    return {s: frames[s][list(task.columns)].reset_index(drop=True) for s in task.splits}


def _load_hub(task: Task) -> dict[str, Any]:
    if task.hub_config is None:
        raise GlueDataError(f"task {task.name} is not a GLUE task on the hub (it is built "
                            "locally: use a data folder)")
    import datasets

    ds = datasets.load_dataset("nyu-mll/glue", task.hub_config)
    missing = [s for s in task.splits if s not in ds]
    if missing:
        raise GlueDataError(f"task {task.name}: hub dataset has no split(s) {missing}")
    return {s: ds[s].to_pandas() for s in task.splits}


def validate_frame(task: Task, frame, split: str, origin: str = "") -> None:
    """Columns present, split non-empty, texts strings, labels in the task's range."""
    where = f"task {task.name}, split {split}" + (f" ({origin})" if origin else "")
    missing = [c for c in task.columns if c not in frame.columns]
    if missing:
        raise GlueDataError(f"{where}: missing column(s) {missing}; has {list(frame.columns)}")
    if len(frame) == 0:
        raise GlueDataError(f"{where}: the split is empty")
    for c in task.text_columns:
        bad = frame[c].map(lambda v: not isinstance(v, str))
        if bad.any():
            raise GlueDataError(f"{where}: column {c!r} has {int(bad.sum())} non-text value(s) "
                                "(missing/NaN), first at row "
                                f"{int(np.flatnonzero(bad.to_numpy())[0])}")
        empty = frame[c].map(lambda v: not v.strip())
        if empty.any():
            raise GlueDataError(f"{where}: column {c!r} has {int(empty.sum())} empty text(s), "
                                f"first at row {int(np.flatnonzero(empty.to_numpy())[0])}")
    try:
        y = frame[task.label_column].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise GlueDataError(f"{where}: labels are not numbers ({e})") from None
    if not np.isfinite(y).all():
        raise GlueDataError(f"{where}: {int((~np.isfinite(y)).sum())} missing/non-finite label(s)")
    if task.is_regression:
        if task.label_range is not None:
            lo, hi = task.label_range
            out = (y < lo) | (y > hi)
            if out.any():
                raise GlueDataError(f"{where}: {int(out.sum())} label(s) outside [{lo}, {hi}], "
                                    f"e.g. {y[out][0]}")
    else:
        out = (y != np.round(y)) | (y < 0) | (y >= task.num_labels)
        if out.any():
            raise GlueDataError(
                f"{where}: {int(out.sum())} label(s) outside the classes "
                f"0..{task.num_labels - 1}, e.g. {y[out][0]} (GLUE test splits are unlabelled "
                "(-1) and cannot be used)")
        if split == task.train_split and len(np.unique(y)) < 2:
            raise GlueDataError(f"{where}: every training example has label {y[0]:g}; a "
                                "classifier cannot learn from one class")


# --------------------------------------------------------------------------- tokenising


def tokenize_frame(task: Task, frame, tokenizer, max_length: int) -> dict[str, np.ndarray]:
    """Token ids (no padding, truncated to ``max_length``) as flat arrays + offsets."""
    texts = [frame[c].tolist() for c in task.text_columns]
    enc = tokenizer(*texts, truncation=True, max_length=max_length, padding=False,
                    return_attention_mask=False)
    ids = enc["input_ids"]
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    out = {"input_ids": np.fromiter((t for x in ids for t in x), dtype=np.int64,
                                    count=int(offsets[-1])),
           "offsets": offsets}
    if "token_type_ids" in enc and tokenizer.model_input_names and \
            "token_type_ids" in tokenizer.model_input_names:
        out["token_type_ids"] = np.fromiter((t for x in enc["token_type_ids"] for t in x),
                                            dtype=np.int8, count=int(offsets[-1]))
    dtype = np.float32 if task.is_regression else np.int64
    out["labels"] = frame[task.label_column].to_numpy().astype(dtype)
    return out


def _frames_digest(frames: dict[str, Any]) -> str:
    h = hashlib.sha256()
    for split in sorted(frames):
        h.update(split.encode())
        h.update(frames[split].to_csv(index=False).encode())
    return h.hexdigest()


def build_cache(*, task: Task, source: str | Path, tokenizer_source: str, out_dir: str | Path,
                max_length: int = 128) -> dict[str, Any]:
    """Load, validate and tokenise every split of ``task``; write ``out_dir`` atomically.

    ``out_dir`` gets ``{split}.npz`` and ``meta.json``; it is built in a temporary sibling
    folder and renamed into place, so a failed job leaves nothing behind.
    """
    import os
    import shutil
    import tempfile

    from ..io import versions
    from ..models import load_tokenizer

    frames = load_split_frames(task, source)
    tok = load_tokenizer(tokenizer_source)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    from ..io import current_umask

    os.chmod(tmp, 0o777 & ~current_umask())  # mkdtemp makes 0700 whatever the umask
    try:
        splits = {}
        for split, frame in frames.items():
            arrays = tokenize_frame(task, frame, tok, max_length)
            np.savez(tmp / f"{split}.npz", **arrays)
            lengths = np.diff(arrays["offsets"])
            splits[split] = {"n": int(len(lengths)), "tokens": int(lengths.sum()),
                             "max_length": int(lengths.max()),
                             "truncated": int((lengths >= max_length).sum())}
        meta = {"version": CACHE_VERSION, "task": task.name, "source": str(source),
                "tokenizer": tokenizer_source, "tokenizer_class": type(tok).__name__,
                "vocab_size": len(tok), "pad_token_id": tok.pad_token_id or 0,
                "max_length": int(max_length), "num_labels": task.num_labels,
                "splits": splits, "data_sha256": _frames_digest(frames),
                "versions": versions()}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


class TokenizedSplit:
    """One cached split: variable-length examples, padded per batch by :meth:`batch`."""

    def __init__(self, path: str | Path, pad_token_id: int):
        from ..io import read_npz

        z = read_npz(path)
        for k in ("input_ids", "offsets", "labels"):
            if k not in z:
                from ..io import ArtifactError

                raise ArtifactError(path, f"a tokenised split without {k!r}")
        self.ids = z["input_ids"]
        self.offsets = z["offsets"]
        self.token_type_ids = z.get("token_type_ids")
        self.labels = z["labels"]
        self.lengths = np.diff(self.offsets)
        self.pad_token_id = int(pad_token_id)

    def __len__(self) -> int:
        return len(self.lengths)

    def batch(self, index: np.ndarray) -> dict[str, Any]:
        """Tensors for examples ``index``, padded to the longest of them (dynamic padding)."""
        import torch

        index = np.asarray(index)
        lens = self.lengths[index]
        width = int(lens.max())
        ids = np.full((len(index), width), self.pad_token_id, dtype=np.int64)
        mask = np.zeros((len(index), width), dtype=np.int64)
        tt = np.zeros((len(index), width), dtype=np.int64) if self.token_type_ids is not None \
            else None
        for row, (i, n) in enumerate(zip(index, lens)):
            a = self.offsets[i]
            ids[row, :n] = self.ids[a:a + n]
            mask[row, :n] = 1
            if tt is not None:
                tt[row, :n] = self.token_type_ids[a:a + n]
        out = {"input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask),
               "labels": torch.from_numpy(self.labels[index])}
        if tt is not None:
            out["token_type_ids"] = torch.from_numpy(tt)
        return out


def load_cache(cache_dir: str | Path,
               task: Task) -> tuple[dict[str, Any], dict[str, TokenizedSplit]]:
    """``(meta, {split: TokenizedSplit})`` of a cache written by :func:`build_cache`."""
    cache_dir = Path(cache_dir)
    meta_path = cache_dir / "meta.json"
    if not meta_path.is_file():
        raise GlueDataError(f"{cache_dir}: not a tokenised task cache (no meta.json)")
    from ..io import read_json

    meta = read_json(meta_path)
    if meta.get("task") != task.name:
        raise GlueDataError(f"{cache_dir}: cache is for task {meta.get('task')!r}, "
                            f"not {task.name!r}")
    splits = {}
    for split in task.splits:
        p = cache_dir / f"{split}.npz"
        if not p.is_file():
            raise GlueDataError(f"{cache_dir}: split {split!r} missing from the cache")
        splits[split] = TokenizedSplit(p, meta["pad_token_id"])
    return meta, splits
