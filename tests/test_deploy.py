"""The workflow used as a Snakemake module from an empty folder, as snakedeploy sets it up.

`snakedeploy deploy-workflow <repo> <dest> --tag vX` writes `<dest>/workflow/Snakefile` holding a
`module` declaration and `use rule * from`, and copies `config/`. We write the same files with a
local path in place of `github(...)` (snakedeploy's local provider copies the whole folder,
.venv included), and dry-run them: nothing may depend on the checkout being the working
directory or on `src/` being on sys.path.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def _deploy(dest: Path) -> Path:
    (dest / "workflow").mkdir(parents=True)
    shutil.copytree(REPO / "config", dest / "config")
    (dest / "workflow" / "Snakefile").write_text(textwrap.dedent(f"""\
        from snakemake.utils import min_version

        min_version("9.0")


        configfile: "config/config.yaml"


        module latentgeom:
            snakefile:
                "{REPO / 'Snakefile'}"
            config:
                config


        use rule * from latentgeom as latentgeom_*
        """))
    return dest


def _run(cmd, cwd):
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_deployed_module_dry_runs_from_an_empty_folder(tmp_path):
    dest = _deploy(tmp_path / "deployed")
    out = _run([*SNAKEMAKE, "-n", "--cores", "1", "--quiet", "rules"], cwd=dest)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout + out.stderr
    for rule in ("perturb", "embed", "quantize", "measures", "glue_finetune", "analyze",
                 "figures"):
        assert f"latentgeom_{rule}" in text, rule
    assert not (dest / "results").exists(), "a dry run wrote results"
    assert not (REPO / "tests" / "results").exists()


def test_missing_package_is_a_clear_error(tmp_path):
    # This interpreter with latentgeom made unimportable (as in an env without the package).
    code = ("import sys; sys.modules['latentgeom'] = None; "
            "from snakemake.cli import main; sys.argv = ['snakemake'] + sys.argv[1:]; main()")
    out = _run([sys.executable, "-c", code, "-n", "--cores", "1", "-s", str(REPO / "Snakefile"),
                "--configfile", str(REPO / "config" / "config.yaml"), "--directory", str(tmp_path)],
               cwd=tmp_path)
    assert out.returncode != 0
    assert "latentgeom package is not importable" in out.stdout + out.stderr


def _schema_keys(node: dict, prefix: str = "") -> list[str]:
    """Every key path of the config schema; `*` for a user-chosen name (a base, a quantizer)."""
    keys = []
    for name, sub in (node.get("properties") or {}).items():
        path = f"{prefix}{name}"
        keys.append(path)
        keys += _schema_keys(sub, path + ".")
    extra = node.get("additionalProperties")
    if isinstance(extra, dict):
        keys += _schema_keys(extra, prefix + "*.")
    return keys


def test_config_readme_documents_every_schema_key():
    import re

    import yaml

    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    documented = set(re.findall(r"`([a-z_][\w.<>]*)`", (REPO / "config" / "README.md").read_text()))
    documented = {re.sub(r"<[^>]+>", "*", k) for k in documented}
    missing = []
    for key in _schema_keys(schema):
        parent = key.rsplit(".", 1)[0] + ".*" if "." in key else None
        children = any(d.startswith(key + ".") for d in documented)  # a section, by its keys
        if key not in documented and parent not in documented and not children:
            missing.append(key)
    assert not missing, f"config/README.md does not document: {missing}"


def test_catalog_file_names_the_workflow_files():
    import yaml

    spec = yaml.safe_load((REPO / ".snakemake-workflow-catalog.yml").read_text())
    usage = spec["usage"]
    assert usage["mandatory-flags"]["flags"] and usage["software-stack-deployment"]["conda"]
    assert (REPO / "config" / "README.md").is_file()


def test_rules_take_defaults_from_the_schema():
    """Defaults live in workflow/schemas/config.schema.yaml only (validate() fills them in):
    the rules read config["a"]["b"], never config.get(...) or .get(key, default)."""
    import re

    offenders = []
    for smk in [REPO / "Snakefile", *(REPO / "workflow" / "rules").glob("*.smk")]:
        for i, line in enumerate(smk.read_text().splitlines(), 1):
            if re.search(r'config(\[[^]]+\])*\.get\(|\.get\("\w+",', line):
                offenders.append(f"{smk.name}:{i}: {line.strip()}")
    assert not offenders, "defaults repeated outside the schema:\n" + "\n".join(offenders)
