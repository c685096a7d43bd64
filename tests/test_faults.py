"""Fault injection (issue 10): shared scratch, mismatched stages, killed controllers, settings that
do not change results, late errors and small traps. Unit-level where possible; three tiny
Snakemake runs (two concurrent clones, then a corrupted intermediate, then a killed controller).
"""
from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from latentgeom.cli import main

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable


# --------------------------------------------------------------------------- shared helpers


@pytest.fixture(scope="module")
def chain(tmp_path_factory, tiny_bert):
    """perturb -> sample -> embed of the tiny BERT through the command line (real artifacts)."""
    d = tmp_path_factory.mktemp("chain")
    corpus = d / "c.txt"
    corpus.write_text("\n".join(f"sentence number {i} has {'some ' * (i % 5)}words"
                                for i in range(300)))
    assert main(["perturb", "--base", tiny_bert, "--alpha", "0.1", "--seed", "1",
                 "--out", str(d / "m.json")]) == 0
    assert main(["sample", "--kind", "files", "--paths", str(corpus), "--n", "60",
                 "--n-stats", "2", "--out", str(d / "s.txt")]) == 0
    assert main(["embed", str(d / "m.json"), str(d / "s.txt"), "--batch-size", "16",
                 "--out", str(d / "embeddings.npy")]) == 0
    return d


def copy_chain(chain, dst: Path) -> Path:
    import shutil

    for name in ("m.json", "s.txt", "embeddings.npy", "embeddings.json"):
        shutil.copy(chain / name, dst / name)
    return dst


def quantize(d: Path, method="pq", name="product") -> Path:
    out = d / f"quantized_{name}.npz"
    assert main(["quantize", str(d / "embeddings.npy"), "--method", method, "--M", "2",
                 "--nbits", "4", "--out", str(out)]) == 0
    return out


def corrupt_same_size(path: Path, n: int = 4000) -> None:
    """Overwrite ``n`` bytes after the .npy header with zeros: same size, valid file."""
    size = path.stat().st_size
    with open(path, "r+b") as fh:
        fh.seek(size - n)
        fh.write(b"\0" * n)
    assert path.stat().st_size == size


# --------------------------------------------------------------------------- 1 + 4: scratch


A = "red green blue yellow orange purple brown black white pink".split()
B = "dog cat horse cow sheep goat mouse bird fish duck".split()


@pytest.fixture(scope="module")
def toy(tmp_path_factory, tiny_bert):
    from latentgeom.glue.data import build_cache
    from latentgeom.glue.tasks import get_task
    from latentgeom.models import make_manifest, perturbed_model

    root = tmp_path_factory.mktemp("toy")
    rng = np.random.default_rng(0)
    (root / "data").mkdir()
    for split, n in (("train", 64), ("validation", 24)):
        rows = [(" ".join(rng.choice(B if i % 2 else A, size=4)), i % 2) for i in range(n)]
        pd.DataFrame(rows, columns=["sentence", "label"]).to_csv(root / "data" / f"{split}.csv",
                                                                  index=False)
    base = f"path:{tiny_bert}"
    build_cache(task=get_task("sst2"), source=root / "data", tokenizer_source=base,
                out_dir=root / "cache", max_length=32)
    model, _, changed = perturbed_model(base, 0.0, 0)
    man = make_manifest(name="tiny_a0_s0", base=base, alpha=0.0, seed=0, scope="encoder_weights",
                        architecture="tiny", model=model, changed=changed)
    return root, man


HP = {"learning_rate": 1e-3, "batch_size": 8, "epochs": 2, "max_length": 32, "seed": 7,
      "checkpoint_every": 2}


def finetune_toy(toy, out: Path, **kw):
    from latentgeom.glue.stages import finetune_stage as finetune

    root, man = toy
    return finetune(manifest=man, task="sst2", cache_dir=root / "cache",
                    out_metrics=out / "metrics.json", out_log=out / "train_log.csv",
                    hyperparameters=HP, threads=1, **kw)


def test_scratch_is_private_to_the_job_not_tmpdir(toy, tmp_path, monkeypatch):
    """Item 1: the default scratch is not $TMPDIR; two outputs never share a checkpoint."""
    from latentgeom.glue.train import TrainingInterrupted

    shared_tmp = tmp_path / "machine_tmp"
    shared_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(shared_tmp))
    monkeypatch.delenv("LATENTGEOM_SCRATCH", raising=False)
    for clone in ("clone1", "clone2"):
        with pytest.raises(TrainingInterrupted):
            finetune_toy(toy, tmp_path / clone / "out", stop_after_steps=3)
    assert not any(shared_tmp.iterdir()), "checkpoints written under $TMPDIR"
    ckpts = sorted(tmp_path.glob("clone*/**/checkpoint.pt"))
    assert len(ckpts) == 2 and ckpts[0].parent != ckpts[1].parent
    assert all(".scratch" in c.parts for c in ckpts)
    # Same explicit root (glue.scratch) for both: still one folder per output path.
    for clone in ("clone3", "clone4"):
        with pytest.raises(TrainingInterrupted):
            finetune_toy(toy, tmp_path / clone / "out", scratch=shared_tmp / "s",
                         stop_after_steps=3)
    assert len(list((shared_tmp / "s").glob("*/*/*/checkpoint.pt"))) == 2
    # Resuming finds its own checkpoint and removes it when done.
    m = finetune_toy(toy, tmp_path / "clone1" / "out")
    assert m["train"]["resumed_from_step"] == 2
    assert Path(m["scratch"]).is_relative_to(tmp_path / "clone1")
    assert not Path(m["scratch"]).exists()


def test_second_worker_on_one_scratch_waits_or_refuses(tmp_path):
    """Item 4: an exclusive lock on the job's scratch folder for the worker's lifetime."""
    from latentgeom.glue.checkpoint import ScratchLock

    folder = tmp_path / "m" / "t" / "key"
    holder = subprocess.Popen([PY, "-c", textwrap.dedent(f"""
        import time
        from latentgeom.glue.checkpoint import ScratchLock
        with ScratchLock({str(folder)!r}):
            print("locked", flush=True)
            time.sleep(3)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RuntimeError, match=rf"locked by pid {holder.pid}"):
            ScratchLock(folder, wait=False).__enter__()
        t0 = time.monotonic()
        with ScratchLock(folder, poll_seconds=0.1):
            waited = time.monotonic() - t0
        assert waited > 1.0  # it waited for the holder to finish
    finally:
        holder.kill()
        holder.wait()


def assert_exits(pid: int, seconds: float, message: str) -> None:
    """Wait up to ``seconds`` for process ``pid`` to end; else kill it and fail with ``message``."""
    for _ in range(int(seconds * 10)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(message)


def test_worker_exits_when_its_controller_is_killed(tmp_path):
    """Item 4: controller -> bash -> worker; SIGKILL the controller, the worker ends too."""
    pidfile = tmp_path / "worker.pid"
    worker = tmp_path / "worker.py"
    worker.write_text(f"from latentgeom.glue.checkpoint import exit_with_parent\n"
                      f"import os, time\nexit_with_parent(poll_seconds=0.2)\n"
                      f"open({str(pidfile)!r}, 'w').write(str(os.getpid()))\ntime.sleep(120)\n")
    # as Snakemake runs a script: its shell, then the interpreter
    controller = subprocess.Popen([PY, "-c", textwrap.dedent(f"""
        import subprocess, time
        subprocess.Popen(["bash", "-c", "set -euo pipefail; {PY} {worker}"])
        time.sleep(120)
        """)])
    try:
        for _ in range(200):
            if pidfile.is_file() and pidfile.read_text():
                break
            time.sleep(0.1)
        wpid = int(pidfile.read_text())
        os.kill(controller.pid, signal.SIGKILL)
        controller.wait()
        assert_exits(wpid, 10, "the worker outlived its killed controller")
    finally:
        if controller.poll() is None:
            controller.kill()


# --------------------------------------------------------------------------- 2: fingerprints


def test_embeddings_record_manifest_and_own_digest(chain):
    from latentgeom.integrity import sha256_file

    meta = json.loads((chain / "embeddings.json").read_text())
    man = json.loads((chain / "m.json").read_text())
    assert meta["manifest_checksum"] == man["checksum"]
    assert meta["embeddings_sha256"] == sha256_file(chain / "embeddings.npy")


def test_corrupted_embeddings_are_refused_before_anything_is_written(chain, tmp_path, capsys):
    d = copy_chain(chain, tmp_path)
    q = quantize(d)
    corrupt_same_size(d / "embeddings.npy")
    out = tmp_path / "pq2.npz"
    assert main(["quantize", str(d / "embeddings.npy"), "--method", "pq", "--M", "2",
                 "--nbits", "4", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "embeddings.npy" in err and "embeddings.json" in err and "delete" in err
    assert not out.exists()
    assert main(["measures", str(d / "embeddings.npy"), "--quantized", f"product={q}",
                 "--out", str(tmp_path / "measures.json")]) == 2
    assert not (tmp_path / "measures.json").exists()


def test_measures_refuse_codes_of_another_matrix(chain, tmp_path, capsys):
    """`latentgeom measures perm.npy --quantized product=q_good.npz` used to give RE 1.41."""
    d = copy_chain(chain, tmp_path)
    q = quantize(d)
    X = np.load(d / "embeddings.npy")
    perm = tmp_path / "perm.npy"
    np.save(perm, X[np.random.default_rng(0).permutation(len(X))])
    assert main(["measures", str(perm), "--quantized", f"product={q}",
                 "--out", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert str(q) in err and "perm.npy" in err
    assert not (tmp_path / "bad.json").exists()
    # The matching pair works, and the result records both fingerprints.
    a = quantize(d, "lsq", "additive")
    assert main(["measures", str(d / "embeddings.npy"), "--quantized", f"product={q}",
                 f"additive={a}", "--out", str(tmp_path / "ok.json")]) == 0
    prov = json.loads((tmp_path / "ok.json").read_text())["provenance"]
    from latentgeom.integrity import sha256_file

    assert prov["embeddings_sha256"] == sha256_file(d / "embeddings.npy")
    assert prov["quantized_sha256"] == {"product": sha256_file(q), "additive": sha256_file(a)}
    assert prov["manifest_checksum"] == json.loads((d / "m.json").read_text())["checksum"]


def test_manifest_without_checksum_is_an_error(chain, tmp_path):
    from latentgeom.stages import embed_stage

    for bad in ({"checksum": None}, {}):
        man = json.loads((chain / "m.json").read_text())
        man.pop("checksum")
        man.update(bad)
        (tmp_path / "m.json").write_text(json.dumps(man))
        with pytest.raises(Exception, match="checksum"):
            embed_stage(manifest_path=str(tmp_path / "m.json"),
                        sequences_path=str(chain / "s.txt"),
                        out_embeddings=str(tmp_path / "e.npy"), out_meta=str(tmp_path / "e.json"))
        assert not (tmp_path / "e.npy").exists()


def test_verify_lists_downstream_built_from_something_else(chain, tmp_path, capsys):
    """Item 4's last case: after a rebuild, results built from the old file are detectable."""
    r = tmp_path / "results"
    d = r / "latent" / "m"
    d.mkdir(parents=True)
    copy_chain(chain, d)
    for src, dst in (("m.json", "models/m/manifest.json"), ("s.txt", "sample/sequences.txt")):
        (r / dst).parent.mkdir(parents=True)
        (r / dst).write_bytes((chain / src).read_bytes())
    q = quantize(d)
    (r / "measures").mkdir()
    assert main(["measures", str(d / "embeddings.npy"), "--quantized", f"product={q}",
                 "--out", str(r / "measures" / "m.json")]) == 0
    assert main(["verify", str(r)]) == 0
    # The matrix is replaced by a different, self-consistent one (rebuilt with other settings):
    X = np.load(d / "embeddings.npy")
    np.save(d / "embeddings.npy", X[::-1].copy())
    meta = json.loads((d / "embeddings.json").read_text())
    from latentgeom.integrity import sha256_file

    meta["embeddings_sha256"] = sha256_file(d / "embeddings.npy")
    (d / "embeddings.json").write_text(json.dumps(meta))
    capsys.readouterr()
    assert main(["verify", str(r)]) == 2
    out = capsys.readouterr().out
    assert "quantized_product.npz: built from embeddings sha256" in out
    assert "measures/m.json: computed from embeddings sha256" in out


# --------------------------------------------------------------------------- 6: early errors


def test_preflight_cross_field_checks(tmp_path, tiny_bert):
    from latentgeom.pipeline import model_table
    from latentgeom.preflight import ConfigError, check_config

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["models"]["bases"] = {"tiny": {"source": f"path:{tiny_bert}", "architecture": "tiny",
                                       "alphas": [0.0]}}
    cfg["nonstandard"] = None
    check_config(cfg, model_table(cfg))
    bad = {**cfg, "sample": {**cfg["sample"], "min_tokens": 10, "max_tokens": 5}}
    with pytest.raises(ConfigError, match="min_tokens"):
        check_config(bad, model_table(bad))
    bad = {**cfg, "glue": {**cfg["glue"], "source": str(tmp_path / "nope")}}
    with pytest.raises(ConfigError, match="glue.source"):
        check_config(bad, model_table(bad))
    bad = yaml.safe_load(yaml.safe_dump(cfg))
    bad["quantize"]["quantizers"]["product"]["M"] = 5  # tiny BERT: hidden size 32
    with pytest.raises(ConfigError, match=r"quantizers.product.M = 5 does not divide .* 32"):
        check_config(bad, model_table(bad))


def test_unknown_source_scheme_lists_the_known_ones():
    from latentgeom.models import SourceError, resolve_source

    with pytest.raises(SourceError, match="unknown scheme 'ftp:'.*packaged:.*hub:.*path:"):
        resolve_source("ftp:foo/bar")
    assert resolve_source("bert-base-uncased") == "bert-base-uncased"


def test_yaml_duplicate_keys_and_syntax_errors_give_file_and_line(tmp_path):
    from latentgeom.preflight import ConfigError, load_yaml_strict

    dup = tmp_path / "dup.yaml"
    dup.write_text("sample:\n  n: 10\n  seed: 0\n  n: 20\n")
    with pytest.raises(ConfigError, match=r"dup.yaml:4:3: duplicated key 'n' \(first at line 2"):
        load_yaml_strict(dup)
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\nb: [1, 2\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:3:1"):
        load_yaml_strict(bad)


def test_file_errors_name_the_file(chain, tmp_path, capsys):
    from latentgeom.stages import load_matrix, read_sequences

    trunc = tmp_path / "trunc.npy"
    trunc.write_bytes((chain / "embeddings.npy").read_bytes()[:5000])
    with pytest.raises(ValueError, match="trunc.npy"):
        load_matrix(str(trunc))
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([[1, "a"]], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="obj.npy"):
        load_matrix(str(obj))
    for dtype in (np.int64, np.float16):
        p = tmp_path / f"{np.dtype(dtype).name}.npy"
        np.save(p, np.ones((300, 8), dtype=dtype))
        with pytest.raises(ValueError, match=rf"{p.name}: dtype {np.dtype(dtype).name}"):
            load_matrix(str(p))
    latin = tmp_path / "latin.txt"
    latin.write_bytes("first line\ncaf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"latin.txt:2: not UTF-8"):
        read_sequences(str(latin))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert main(["sample", "--kind", "list", "--paths", str(empty), "--n", "5",
                 "--out", str(tmp_path / "s.txt")]) == 2
    err = capsys.readouterr().err
    assert "empty.txt" in err and "min() arg" not in err


# --------------------------------------------------------------------------- 7: small traps


def test_artifacts_respect_the_umask(tmp_path):
    from latentgeom.io import write_json, write_npy

    old = os.umask(0o022)
    try:
        write_json(tmp_path / "a.json", {"x": 1})
        write_npy(tmp_path / "a.npy", np.zeros((2, 2), np.float32))
    finally:
        os.umask(old)
    for f in ("a.json", "a.npy"):
        assert stat.S_IMODE((tmp_path / f).stat().st_mode) == 0o644, f


def test_json_has_no_bare_nan_or_infinity_and_reads_back(tmp_path):
    from latentgeom.io import read_json, write_json

    obj = {"spread": {"EEE": float("nan"), "VRM": 0.5},
           "additive": {"PC_var": np.float64("inf")}}
    write_json(tmp_path / "m.json", obj)
    text = (tmp_path / "m.json").read_text()

    def refuse(c):
        raise ValueError(f"bare {c}")

    strict = json.loads(text, parse_constant=refuse)
    assert strict["spread"]["EEE"] is None and strict["additive"]["PC_var"] is None
    assert strict["_nonfinite"] == {"/spread/EEE": "NaN", "/additive/PC_var": "Infinity"}
    back = read_json(tmp_path / "m.json")
    assert np.isnan(back["spread"]["EEE"]) and back["additive"]["PC_var"] == np.inf
    assert "_nonfinite" not in back
    from latentgeom.stages import flatten_measures

    assert set(flatten_measures(back)) == {"spread.EEE", "spread.VRM", "additive.PC_var"}


def test_figure_pdfs_are_byte_identical_between_runs(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from latentgeom.plots import _save

    digests = []
    for i in range(2):
        fig, ax = plt.subplots()
        ax.plot([0, 1, 2], [1, 3, 2])
        _save(fig, tmp_path / str(i) / "f.png")
        digests.append((tmp_path / str(i) / "f.pdf").read_bytes())
        time.sleep(1.1)  # a different second for an embedded date
    assert digests[0] == digests[1]


def test_glue_empty_or_nan_texts_and_single_class_training_are_refused():
    from latentgeom.glue.data import GlueDataError, validate_frame
    from latentgeom.glue.tasks import get_task

    t = get_task("sst2")
    ok = pd.DataFrame({"sentence": ["a b", "c d"], "label": [0, 1]})
    validate_frame(t, ok, "train")
    with pytest.raises(GlueDataError, match="empty text"):
        validate_frame(t, pd.DataFrame({"sentence": ["a b", "  "], "label": [0, 1]}), "train")
    with pytest.raises(GlueDataError, match="non-text"):
        validate_frame(t, pd.DataFrame({"sentence": ["a b", np.nan], "label": [0, 1]}), "train")
    with pytest.raises(GlueDataError, match="one class"):
        validate_frame(t, pd.DataFrame({"sentence": ["a b", "c d"], "label": [1, 1]}), "train")
    validate_frame(t, pd.DataFrame({"sentence": ["a b", "c d"], "label": [1, 1]}), "validation")


def test_unreadable_glue_file_is_named(tmp_path):
    from latentgeom.glue.data import GlueDataError, load_split_frames
    from latentgeom.glue.tasks import get_task

    (tmp_path / "train.csv").write_bytes(b"sentence,label\ncaf\xe9,1\nok,0\n")
    (tmp_path / "validation.csv").write_text("sentence,label\na,1\nb,0\n")
    with pytest.raises(GlueDataError, match="train.csv"):
        load_split_frames(get_task("sst2"), tmp_path)


# --------------------------------------------------------------------------- tiny DAG runs


def smk_cmd(workdir: Path, cfg: Path, *args) -> list[str]:
    return ["nice", "-n", "10", PY, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores",
            "2", *args, "--directory", str(workdir), "--configfile", str(cfg)]


def dag_config(tmp_path: Path, tiny_bert: str, **glue) -> Path:
    from test_workflow import tiny_config

    cfg_path = tiny_config(tmp_path, tiny_bert)
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["glue"]["scratch"] = None  # the default: <results>/.scratch/glue
    cfg["glue"].update(glue)
    cfg_path.write_text(yaml.safe_dump(cfg))
    return cfg_path


def planned(workdir: Path, cfg: Path) -> dict[str, int]:
    import re

    p = subprocess.run(smk_cmd(workdir, cfg, "-n", "--quiet", "rules"), capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return {m.group(1): int(m.group(2)) for m in
            re.finditer(r"^(\w+)\s+(\d+)\s*$", p.stdout + p.stderr, flags=re.M)
            if m.group(1) != "total"}


@pytest.mark.slow
def test_two_clones_at_once_then_a_corrupted_intermediate(tmp_path, tiny_bert):
    """Items 1, 2, 5 on the tiny DAG: two runs side by side (one machine-wide TMPDIR) finish with
    their own scores; settings that change no result re-run nothing; a same-size corrupted
    embeddings.npy stops the run before any downstream result is rewritten."""
    machine_tmp = tmp_path / "machine_tmp"
    machine_tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(machine_tmp)}
    runs = {}
    for name, lr in (("a", 5e-4), ("b", 5e-3)):
        (tmp_path / name).mkdir()
        cfg = dag_config(tmp_path / name, tiny_bert, learning_rate=lr, checkpoint_every=1,
                         tasks=["polarity"])
        targets = ["results/tables/glue.csv"] + (["results/tables/measures.csv"]
                                                 if name == "a" else [])
        runs[name] = (cfg, subprocess.Popen(smk_cmd(tmp_path / name, cfg, *targets), env=env,
                                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                            text=True))
    for name, (_cfg, p) in runs.items():
        out, _ = p.communicate(timeout=900)
        assert p.returncode == 0, f"run {name}:\n{out[-6000:]}"
    assert not list(machine_tmp.rglob("checkpoint*")), "checkpoints under the shared TMPDIR"
    scores = {}
    for name in runs:
        for m in (tmp_path / name / "results/glue").glob("*/*/metrics.json"):
            rec = json.loads(m.read_text())
            assert Path(rec["scratch"]).is_relative_to(tmp_path / name / "results/.scratch")
            assert rec["train"]["resumed_from_step"] is None  # nobody else's checkpoint
            assert rec["hyperparameters"]["learning_rate"] == {"a": 5e-4, "b": 5e-3}[name]
        assert not list((tmp_path / name / "results/.scratch").rglob("checkpoint.pt"))
        scores[name] = pd.read_csv(tmp_path / name / "results/tables/glue.csv")
    assert len(scores["a"]) == len(scores["b"]) == 3

    # Item 5: where the jobs run is not a result; the corpus file is an input.
    a, cfg = tmp_path / "a", runs["a"][0]
    c = yaml.safe_load(cfg.read_text())
    c["embed"]["device"] = "cpu"
    c["glue"].update(device="cpu", scratch=str(tmp_path / "elsewhere"), keep_weights=True)
    cfg.write_text(yaml.safe_dump(c))
    assert not set(planned(a, cfg)) & {"sample", "embed", "quantize", "glue_finetune"}
    corpus = Path(c["sample"]["source"]["paths"][0])
    corpus.write_text(corpus.read_text() + "one more line of words for the sample\n")
    assert "sample" in planned(a, cfg)

    # Item 2: a same-size corruption of one model's embeddings (issue: PC_var 19.71 -> 29.57).
    emb = a / "results/latent/tiny_a0.5_s0/embeddings.npy"
    downstream = [a / "results/measures/tiny_a0.5_s0.json", a / "results/tables/measures.csv"]
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in downstream}
    corrupt_same_size(emb, 2000)
    p = subprocess.run(smk_cmd(a, cfg, "results/tables/measures.csv", "--allowed-rules",
                               "quantize", "measures", "measures_table"),
                       capture_output=True, text=True, timeout=600)
    assert p.returncode != 0
    logs = "".join(f.read_text() for f in (a / "results/logs/quantize").glob("tiny_a0.5_s0_*"))
    assert f"{emb} has sha256" in logs or "embeddings.npy has sha256" in logs, logs[-3000:]
    assert "delete" in logs
    for path, (data, mtime) in before.items():
        assert path.read_bytes() == data and path.stat().st_mtime_ns == mtime, path


@pytest.mark.slow
def test_killed_controller_then_rerun_recovers_as_the_readme_says(tmp_path, tiny_bert):
    """Item 4: SIGKILL the snakemake controller mid fine-tuning. Its worker stops (no second
    copy trains into the checkpoint); the README's recovery (`--unlock`, then the same command)
    finishes the job from the last checkpoint."""
    cfg = dag_config(tmp_path, tiny_bert, epochs=30, batch_size=4, checkpoint_every=2)
    target = "results/glue/tiny_a0_s0/polarity/metrics.json"
    ctl = subprocess.Popen(smk_cmd(tmp_path, cfg, target), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    scratch = tmp_path / "results/.scratch/glue/tiny_a0_s0/polarity"
    deadline = time.monotonic() + 600
    while not list(scratch.glob("*/checkpoint.pt")):
        assert ctl.poll() is None, "snakemake ended before a checkpoint was written"
        assert time.monotonic() < deadline, "no checkpoint under results/.scratch"
        time.sleep(0.5)
    lock = next(scratch.glob("*/.lock"))
    worker = int(lock.read_text().split()[1])
    os.kill(ctl.pid, signal.SIGKILL)  # the controller only, not its process group
    ctl.wait()
    assert_exits(worker, 15, "the fine-tuning worker outlived its killed snakemake")
    # README, "When things go wrong": re-run; if snakemake reports a lock, --unlock and re-run.
    p = subprocess.run(smk_cmd(tmp_path, cfg, target), capture_output=True, text=True,
                       timeout=600)
    if p.returncode != 0:
        assert "--unlock" in p.stdout + p.stderr, p.stderr[-3000:]
        subprocess.run(smk_cmd(tmp_path, cfg, "--unlock"), check=True, capture_output=True,
                       timeout=600)
        p = subprocess.run(smk_cmd(tmp_path, cfg, target), capture_output=True, text=True,
                           timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    m = json.loads((tmp_path / target).read_text())
    assert m["train"]["resumed_from_step"] and m["train"]["resumed_from_step"] >= 2
    assert not list(scratch.rglob("checkpoint.pt"))
