"""Latent space sample: every token's vector of one hidden layer (Section 3.2).

The authors ran each sequence alone through the model and kept every token's last-layer vector,
special tokens included, stacked into one float32 matrix. We batch sequences of similar length
(sorted by token count, so little padding is computed), mask the padding out, and return the rows
in the original order: the result equals the one-at-a-time run to float tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .gpus import pick_device


def default_max_length(model, tokenizer) -> int:
    """The authors' truncation: the model's maximum positions minus 3."""
    n = int(getattr(model.config, "max_position_embeddings", 512)) - 3
    tmax = getattr(tokenizer, "model_max_length", None)
    if isinstance(tmax, int) and 0 < tmax < 100_000:
        n = min(n, tmax)
    return n


def tokenize(tokenizer, sequences: Sequence[str], max_length: int) -> list[list[int]]:
    """Token ids of each sequence alone, special tokens added, truncated to ``max_length``."""
    enc = tokenizer(list(sequences), add_special_tokens=True, truncation=True,
                    max_length=max_length, padding=False)
    return enc["input_ids"]


def pad_batch(ids, lengths: np.ndarray, batch: np.ndarray, pad_id: int):
    """``(input_ids, attention_mask)`` of the sequences ``batch``, right-padded to the longest."""
    import torch

    width = int(lengths[batch].max())
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, i in enumerate(batch):
        input_ids[row, :lengths[i]] = torch.as_tensor(ids[i])
        mask[row, :lengths[i]] = 1
    return input_ids, mask


def token_lengths(ids: Sequence[Sequence[int]]) -> np.ndarray:
    """The token count of each tokenised sequence (int64)."""
    return np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))


def forward_batches(model, tokenizer, ids: Sequence[Sequence[int]], lengths: np.ndarray,
                    outs: Sequence[np.ndarray], layers: Sequence[int], *, batch_size: int,
                    device: str, progress: bool = False) -> None:
    """The one batching loop: run the tokenised sequences ``ids`` through ``model`` on
    ``device``, ``batch_size`` at a time, longest first (memory peaks early), padding masked, and
    write every token's vector of ``hidden_states[layers[j]]`` into ``outs[j]`` (an array or
    memory map of ``lengths.sum()`` rows: rows grouped by sequence in the input order, tokens in
    sequence order). One forward pass per batch serves every layer."""
    import torch
    from tqdm.auto import tqdm

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    model = model.to(device).eval()
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    order = np.argsort(-lengths, kind="stable")  # longest first: memory peaks early
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    with torch.inference_mode():
        for batch in tqdm(batches, desc="embed", unit="batch", disable=not progress,
                          mininterval=2.0):
            input_ids, mask = pad_batch(ids, lengths, batch, pad_id)
            res = model(input_ids=input_ids.to(device), attention_mask=mask.to(device),
                        output_hidden_states=True, return_dict=True)
            for out, layer in zip(outs, layers):
                h = res.hidden_states[layer].float().cpu().numpy()
                for row, i in enumerate(batch):
                    out[offsets[i]:offsets[i + 1]] = h[row, :lengths[i]]


def embed_sequences(model, tokenizer, sequences: Sequence[str], *, layer: int = -1,
                    batch_size: int = 64, max_length: int | None = None, device: str = "auto",
                    progress: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Token vectors of hidden layer ``layer`` for every token of every sequence.

    Returns ``(X, lengths)``: ``X`` (n_tokens, hidden) float32, rows grouped by sequence in the
    input order and tokens in sequence order; ``lengths[i]`` the token count of sequence ``i``.
    ``layer`` indexes ``hidden_states`` (0 = embeddings output, -1 = last layer).
    ``batch_size=1`` runs one sequence at a time (the authors' way).
    """
    if batch_size < 1:
        raise ValueError(f"embed.batch_size must be >= 1, got {batch_size}")
    if len(sequences) == 0:
        raise ValueError("embed: no sequences to embed")
    device = pick_device(device, field="embed.device")
    max_length = max_length or default_max_length(model, tokenizer)
    ids = tokenize(tokenizer, sequences, max_length)
    lengths = token_lengths(ids)
    n_layers = int(model.config.num_hidden_layers) + 1
    if not -n_layers <= layer < n_layers:
        raise ValueError(f"embed.layer: model has hidden states 0..{n_layers - 1}, got {layer}")
    out = np.empty((int(lengths.sum()), int(model.config.hidden_size)), dtype=np.float32)
    forward_batches(model, tokenizer, ids, lengths, [out], [layer], batch_size=batch_size,
                    device=device, progress=progress)
    return out, lengths
