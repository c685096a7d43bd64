"""`latentgeom stage NAME --arg value`: every file-level stage from the command line, with the same
bytes as the function called directly, and a clear error before any work for a bad name or option.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import re
from pathlib import Path

import numpy as np
import pytest

from latentgeom import stages
from latentgeom.cli import main
from latentgeom.cli_stage import _stage_parser, stages_by_name
from latentgeom.glue import stages as glue_stages

REPO = Path(__file__).resolve().parents[1]


def _sha(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_every_stage_function_and_every_scripts_stage_is_reachable():
    found = stages_by_name()
    defined = {f"{n}" for n, f in vars(stages).items() if n.endswith("_stage")}
    defined |= {n for n, f in vars(glue_stages).items()
                if n.endswith("_stage") and f.__module__ == glue_stages.__name__}
    defined.add("predict_stage")
    assert len(found) == len(defined) == 29  # + geometry, ranking, perturb_latent, softpp
    assert {f.__name__ for f in found.values()} == defined
    # what the workflow's scripts call is what the command line runs
    called = set()
    for script in (REPO / "scripts").glob("*.py"):
        called |= set(re.findall(r"\b(\w+_stage)\b", script.read_text()))
    assert called <= defined, called - defined
    # every keyword argument of every stage is an option, required where it has no default
    for name, func in found.items():
        opts = {a.dest: a for a in _stage_parser(name, func)._actions if a.dest != "help"}
        params = inspect.signature(func).parameters
        assert set(opts) == set(params), name
        for p in params.values():
            optional = p.default is not inspect.Parameter.empty or "None" in str(p.annotation)
            assert opts[p.name].required is not optional, (name, p.name)


def test_listing(capsys):
    assert main(["stage"]) == 0
    names = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert names == sorted(stages_by_name()) and "glue_finetune" in names and "measures" in names


def test_stage_command_writes_the_same_bytes_as_the_function(tmp_path):
    rng = np.random.default_rng(0)
    emb = tmp_path / "emb.npy"
    np.save(emb, rng.standard_normal((300, 8)).astype(np.float32))
    spec = {"method": "pq", "M": 2, "nbits": 4}
    direct, cli = tmp_path / "direct", tmp_path / "cli"
    stages.quantize_stage(embeddings_path=str(emb), out_path=str(direct / "q.npz"), spec=spec,
                          seed=3, use_gpu=False)
    assert main(["stage", "quantize", "--embeddings-path", str(emb), "--out-path",
                 str(cli / "q.npz"), "--spec", json.dumps(spec), "--seed", "3",
                 "--use-gpu", "false"]) == 0
    assert _sha(direct / "q.npz") == _sha(cli / "q.npz")
    stages.measures_stage(embeddings_path=str(emb), quantized_paths=[str(direct / "q.npz")],
                          quantizers=["product"], out_path=str(direct / "m.json"), seed=1)
    assert main(["stage", "measures", "--embeddings-path", str(emb), "--quantized-paths",
                 str(direct / "q.npz"), "--quantizers", "product", "--seed", "1",
                 "--out-path", str(cli / "m.json")]) == 0
    assert _sha(direct / "m.json") == _sha(cli / "m.json")
    assert {"spread", "product", "authors"} <= set(json.loads((cli / "m.json").read_text()))
    # the example of `latentgeom --help`: a table stage, lists as several values
    man = tmp_path / "manifest.json"
    man.write_text(json.dumps({"name": "toy", "architecture": "toy", "kind": "perturbed",
                               "alpha": 0.1, "seed": 0}))
    stages.measures_table_stage(measure_paths=[str(direct / "m.json")] * 2,
                                manifest_paths=[str(man)] * 2, out_path=str(direct / "t.csv"))
    assert main(["stage", "measures_table", "--measure-paths", str(direct / "m.json"),
                 str(direct / "m.json"), "--manifest-paths", str(man), str(man),
                 "--out-path", str(cli / "t.csv")]) == 0
    assert _sha(direct / "t.csv") == _sha(cli / "t.csv")
    assert len((cli / "t.csv").read_text().splitlines()) == 3


def test_bad_stage_or_option_fails_before_work(tmp_path, capsys):
    out = tmp_path / "q.npz"
    assert main(["stage", "quantise", "--out-path", str(out)]) == 2
    err = capsys.readouterr().err
    assert "unknown stage 'quantise'; one of: analyze, bootstrap," in err
    base = ["stage", "quantize", "--embeddings-path", str(tmp_path / "e.npy"),
            "--out-path", str(out)]
    for extra, message in (([], "the following arguments are required: --spec"),
                           (["--spec", '{"method": "pq"}', "--bogus", "1"],
                            "unrecognized arguments: --bogus 1"),
                           (["--spec", "[1, 2]"], "expected a JSON object"),
                           (["--spec", "{method: pq}"], "not JSON"),
                           (["--spec", "{}", "--seed", "x"], "invalid int value: 'x'")):
        with pytest.raises(SystemExit) as e:
            main(base + extra)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert "latentgeom stage quantize" in err and message in err, (extra, err)
    assert not out.exists()


def test_measures_has_no_variant_option(tmp_path, capsys):
    # both definitions are always computed: the flag that was accepted and ignored is gone
    assert "variant" not in inspect.signature(stages.measures_stage).parameters
    with pytest.raises(SystemExit):
        main(["measures", str(tmp_path / "x.npy"), "--variant", "paper",
              "--out", str(tmp_path / "m.json")])
    assert "unrecognized arguments: --variant" in capsys.readouterr().err
