"""envs/*.yaml stay consistent with pyproject.toml's pins."""
from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]


def _pyproject_pins() -> dict[str, str]:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = list(meta["dependencies"])
    for extra in meta.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    out = {}
    for r in map(Requirement, reqs):
        out.setdefault(r.name.lower(), str(r.specifier))
    return out


ENV_FILES = sorted((REPO / "envs").glob("*.yaml"))


@pytest.mark.parametrize("env", ENV_FILES, ids=lambda p: p.name)
def test_env_pins_match_pyproject(env):
    pins = _pyproject_pins()
    spec = yaml.safe_load(env.read_text())
    pip = next(d["pip"] for d in spec["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e .." in pip, f"{env.name} must install the latentgeom package itself"
    for line in pip:
        if line.startswith("-"):
            continue
        r = Requirement(line)
        assert r.name.lower() in pyproject_names(pins), f"{env.name}: {r.name} not in pyproject"
        assert str(r.specifier) == pins[r.name.lower()], (
            f"{env.name}: {r.name}{r.specifier} but pyproject pins {pins[r.name.lower()]}")


def pyproject_names(pins):
    return set(pins)


def test_every_rule_file_uses_an_env():
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        n_rules = sum(1 for line in text.splitlines() if line.startswith("rule ")
                      and not line.startswith("rule all"))
        n_conda = text.count("conda:")
        assert n_conda >= n_rules, f"{smk.name}: {n_rules} rules but {n_conda} conda: directives"
        for line in text.splitlines():
            if line.strip().startswith('"../../envs/'):
                assert (REPO / "envs" / line.strip().strip('",').split("/")[-1]).is_file()
