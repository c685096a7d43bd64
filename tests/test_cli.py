"""The command line: each stage alone on files; bad input fails before work, leaving nothing."""
from __future__ import annotations

import json

import numpy as np
import pytest

from latentgeom.cli import main


def test_stage_chain(tmp_path, tiny_bert):
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(f"sentence number {i} has some words" for i in range(300)))
    m = tmp_path / "m.json"
    assert main(["perturb", "--base", tiny_bert, "--alpha", "0.1", "--seed", "1",
                 "--out", str(m)]) == 0
    man = json.loads(m.read_text())
    assert man["alpha"] == 0.1 and man["seed"] == 1 and man["kind"] == "perturbed"
    seqs = tmp_path / "s.txt"
    assert main(["sample", "--kind", "files", "--paths", str(corpus), "--n", "40",
                 "--n-stats", "2", "--stats", str(tmp_path / "fig2.csv"),
                 "--out", str(seqs)]) == 0
    assert len(seqs.read_text().splitlines()) == 40
    emb = tmp_path / "e.npy"
    assert main(["embed", str(m), str(seqs), "--batch-size", "8", "--out", str(emb)]) == 0
    X = np.load(emb)
    assert X.dtype == np.float32 and X.shape[1] == 32
    meta = json.loads((tmp_path / "e.json").read_text())
    assert sum(meta["lengths"]) == X.shape[0]
    q = tmp_path / "pq.npz"
    assert main(["quantize", str(emb), "--method", "pq", "--nbits", "4", "--out", str(q)]) == 0
    with np.load(q) as z:
        assert z["codes"].shape == (X.shape[0], 4)


def test_bad_inputs_leave_no_output(tmp_path, capsys):
    out = tmp_path / "o.json"
    assert main(["perturb", "--base", str(tmp_path / "missing"), "--alpha", "0.1",
                 "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err and not out.exists()
    assert main(["perturb", "--base", "x", "--alpha", "2", "--out", str(out)]) == 2
    assert "alpha" in capsys.readouterr().err and not out.exists()
    few = tmp_path / "few.txt"
    few.write_text("one two three\nfour five six\n")
    seqs = tmp_path / "s.txt"
    assert main(["sample", "--kind", "files", "--paths", str(few), "--n", "5",
                 "--out", str(seqs)]) == 2
    assert "only 2 unique eligible" in capsys.readouterr().err and not seqs.exists()
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full((300, 8), np.nan, dtype=np.float32))
    q = tmp_path / "q.npz"
    assert main(["quantize", str(bad), "--method", "pq", "--out", str(q)]) == 2
    assert "NaN" in capsys.readouterr().err and not q.exists()
    np.save(bad, np.zeros((10, 8), dtype=np.float32))
    assert main(["quantize", str(bad), "--method", "pq", "--out", str(q)]) == 2
    assert "at least 256" in capsys.readouterr().err and not q.exists()
    np.save(bad, np.zeros((10, 8, 2), dtype=np.float32))
    assert main(["quantize", str(bad), "--out", str(q)]) == 2
    assert "2-D" in capsys.readouterr().err and not q.exists()
    assert list(tmp_path.glob(".*")) == []  # no temporary files left behind


def test_help_lists_stages(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for cmd in ("perturb", "sample", "embed", "quantize", "measures"):
        assert cmd in text


def test_every_command_is_in_the_one_command_line(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "finetune" in text and "glue-data" in text
    assert "analyze" in text and "verify" in text and "check-config" in text
