"""The documentation: every command a page shows is checked, every relative link resolves.

Pages: README.md and docs/*.md. A command is a line of a fenced ```bash / ```sh / ```shell block
(or a ``$ `` line of a ```console block), continuation lines joined, comments dropped, split at
``&&``, ``||``, ``;`` and ``|``. Each one is checked by what it runs:

- ``make <target>``: the targets CI runs must be the ones ``.ci/run`` calls; every ``make``
  command must be accepted by ``make -n`` with the page's arguments (the target exists).
- ``latentgeom <subcommand> ...``: parsed by the command line's own parser (the subcommand and
  every flag exist), and ``latentgeom <subcommand> --help`` runs; the cheap ones run for real.
- ``snakemake ...``: a dry run (``-n`` added) of the repository's Snakefile in an empty folder
  that sees the repository's config/, workflow/, rehearsal/ and tests/ (``slow``: Snakemake
  builds the DAG, seconds each, ~15 s for the paper's configuration).
- ``python -c ...``: run with this interpreter.
- anything else must be on :data:`ALLOWED`, with the reason it is not run.

A page that gains a command this file cannot check fails here.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
README_MAX_LINES = 250

#: The make targets CI runs (.ci/run); a page may show them only if .ci/run calls them.
CI_TARGETS = {"test", "test-envs", "lint", "rehearsal"}

#: Programs a page may show that this test does not run, and why. Keep it short.
ALLOWED = {
    "pip": "installs into an environment (network); `make setup`, which CI runs, installs the "
           "same package and extras",
    "snakedeploy": "deploys from a git URL (network); tests/test_deploy.py deploys the workflow "
                   "as a module from a local path and dry-runs it",
    "tmux": "a terminal multiplexer that keeps the controlling snakemake alive on a login node",
    "rm": "deletes a damaged artifact in a recovery recipe; the recipes are run by "
          "tests/test_recovery.py and tests/test_faults.py",
}

#: Snakemake flags a dry run here cannot honour, and why they are dropped before the dry run
#: (the rest of the command is still dry-run).
DROPPED_SNAKEMAKE_FLAGS = {
    "--report": "writes the HTML report of a finished run (needs one: minutes)",
}

#: latentgeom subcommands cheap enough to run for real (seconds, no download, no model).
RUN_FAST = {"check-config", "plan"}
#: ... and those run for real in the slow test, in page order in one folder per page.
RUN_SLOW = {"import-published", "analyze"}


@dataclass
class Command:
    page: str
    line: int
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)

    @property
    def program(self) -> str:
        return Path(self.argv[0]).name

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}:{self.program}"


_FENCE = re.compile(r"^[ \t]*```(\w*)[^\n]*\n(.*?)^[ \t]*```", re.M | re.S)
_SEPARATORS = {"&&", "||", ";", "|"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def commands_of(text: str, page: str = "<text>") -> list[Command]:
    """Every command of the shell blocks of a markdown text."""
    out = []
    for block in _FENCE.finditer(text):
        lang = block.group(1)
        if lang not in ("bash", "sh", "shell", "console"):
            continue
        first = text.count("\n", 0, block.start(2)) + 1
        lines = block.group(2).splitlines()
        i = 0
        while i < len(lines):
            start, line = i, lines[i].strip()
            while line.endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line[:-1] + " " + lines[i].strip()
            i += 1
            if lang == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            tokens = shlex.split(line, comments=True)
            part: list[str] = []
            for tok in [*tokens, ";"]:
                if tok not in _SEPARATORS:
                    part.append(tok)
                    continue
                env = {}
                while part and _ASSIGNMENT.match(part[0]):
                    k, v = part.pop(0).split("=", 1)
                    env[k] = v
                if part:
                    out.append(Command(page, first + start, part, env))
                part = []
    return out


def all_commands() -> list[Command]:
    return [c for p in PAGES for c in commands_of(p.read_text(), str(p.relative_to(REPO)))]


COMMANDS = all_commands()


def _of(program: str) -> list[Command]:
    return [c for c in COMMANDS if c.program == program]


#: The command line, as its entry point calls it (whatever module layout ``latentgeom.cli`` has).
LATENTGEOM = [sys.executable, "-c",
              "import sys; from latentgeom.cli import main; sys.exit(main(sys.argv[1:]))"]


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ, **(extra or {}))
    src = str(REPO / "src")
    env["PYTHONPATH"] = src + os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else src
    return env


def _ci_make_targets() -> set[str]:
    return set(re.findall(r"^\s*make\s+([\w-]+)\s*$", (REPO / ".ci/run").read_text(), re.M))


def check_command(cmd: Command) -> None:
    """Raise AssertionError when a command is not one this file knows how to check, or when it
    fails the cheap checks (make target, latentgeom's parser)."""
    prog = cmd.program
    if prog == "make":
        targets = [a for a in cmd.argv[1:] if not a.startswith("-") and "=" not in a]
        for t in targets:
            if t in CI_TARGETS:
                assert t in _ci_make_targets(), f"{cmd.id}: `make {t}` is not called by .ci/run"
        p = subprocess.run(["make", "-n", *cmd.argv[1:]], cwd=REPO, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, f"{cmd.id}: make -n {cmd.argv[1:]} failed: {p.stderr[-2000:]}"
    elif prog == "latentgeom":
        from latentgeom.cli import build_parser

        try:
            build_parser().parse_args(cmd.argv[1:])
        except SystemExit as e:
            raise AssertionError(f"{cmd.id}: latentgeom does not accept {cmd.argv[1:]}") from e
    elif prog in ("snakemake", "python", "python3"):
        pass  # run below
    else:
        assert prog in ALLOWED, (f"{cmd.id}: `{' '.join(cmd.argv)}` is neither checked by "
                                 "tests/test_docs.py nor on its ALLOWED list")


# ----------------------------------------------------------------------------- the pages
def test_the_pages_show_commands():
    progs = {c.program for c in COMMANDS}
    assert {"make", "latentgeom", "snakemake"} <= progs


def test_readme_is_short():
    n = len((REPO / "README.md").read_text().splitlines())
    assert n <= README_MAX_LINES, f"README.md has {n} lines; at most {README_MAX_LINES}"


def test_readme_test_command_is_what_ci_runs():
    readme = [c.argv for c in commands_of((REPO / "README.md").read_text())]
    assert ["make", "test"] in readme
    assert "test" in _ci_make_targets()


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    h = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return h.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text())
    return {_slug(m.group(1)) for m in re.finditer(r"^#+\s+(.*)$", text, re.M)}


LINKED = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")),
          REPO / "config/README.md", REPO / "benchmarks/README.md"]


@pytest.mark.parametrize("page", LINKED, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page):
    text = _FENCE.sub("", page.read_text())
    bad = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            bad.append(f"{target}: no heading with anchor #{anchor} in {dest.name}")
    assert not bad, f"{page.relative_to(REPO)}: " + "; ".join(bad)


def test_no_page_cites_files_outside_the_repository():
    """A user's clone has no ../shared/reference: the pages describe what they need themselves."""
    for page in LINKED:
        assert "shared/reference" not in page.read_text(), page


# ----------------------------------------------------------------------------- the commands
@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: c.id)
def test_every_command_is_checked(cmd):
    check_command(cmd)


def test_a_new_unknown_or_broken_command_fails():
    """The checker rejects what a page must not show."""
    page = "\n".join(["```bash", "frobnicate --all", "latentgeom no-such-subcommand",
                      "latentgeom plan --no-such-flag", "make no-such-target",
                      "FOO=1 .venv/bin/latentgeom plan --configfile config/paper.yaml", "```",
                      "```python", "frobnicate()", "```"])
    cmds = commands_of(page)
    assert [c.program for c in cmds] == ["frobnicate", "latentgeom", "latentgeom", "make",
                                         "latentgeom"]
    assert cmds[-1].env == {"FOO": "1"}
    for bad in cmds[:4]:
        with pytest.raises(AssertionError):
            check_command(bad)
    check_command(cmds[-1])


def test_every_latentgeom_subcommand_shown_has_help():
    subs = sorted({c.argv[1] for c in _of("latentgeom")})
    for sub in subs:
        p = subprocess.run([*LATENTGEOM, sub, "--help"],
                           capture_output=True, text=True, env=_env(), timeout=60)
        assert p.returncode == 0 and "usage: latentgeom" in p.stdout, (sub, p.stderr[-2000:])


@pytest.mark.parametrize("cmd", [c for c in _of("latentgeom") if c.argv[1] in RUN_FAST],
                         ids=lambda c: c.id)
def test_cheap_latentgeom_commands_run(cmd):
    p = subprocess.run([*LATENTGEOM, *cmd.argv[1:]], cwd=REPO,
                       capture_output=True, text=True, env=_env(cmd.env), timeout=120)
    assert p.returncode == 0, f"{cmd.id}: {p.stdout[-2000:]}\n{p.stderr[-2000:]}"


@pytest.mark.parametrize("cmd", _of("python") + _of("python3"), ids=lambda c: c.id)
def test_python_commands_run(cmd):
    p = subprocess.run([sys.executable, *cmd.argv[1:]], cwd=REPO, capture_output=True,
                       text=True, env=_env(cmd.env), timeout=300)
    assert p.returncode == 0, f"{cmd.id}: {p.stderr[-2000:]}"


def _sandbox(tmp_path: Path) -> Path:
    """An empty working folder that sees the repository's inputs, so commands that write
    (results/, .snakemake/, published.csv) write there."""
    for name in ("config", "workflow", "rehearsal", "tests", "scripts"):
        (tmp_path / name).symlink_to(REPO / name, target_is_directory=True)
    return tmp_path


@pytest.mark.slow
@pytest.mark.parametrize("cmd", _of("snakemake"), ids=lambda c: c.id)
def test_snakemake_commands_dry_run(cmd, tmp_path):
    args = list(cmd.argv[1:])
    for flag in DROPPED_SNAKEMAKE_FLAGS:
        if flag in args:
            i = args.index(flag)
            del args[i:i + 2]
    if "--sdm" in args and args[args.index("--sdm") + 1] == "conda" and not shutil.which("conda"):
        i = args.index("--sdm")  # conda is not installed here; envs: tests/test_envs.py
        del args[i:i + 2]
    if "-n" not in args and "--dry-run" not in args:
        args.append("-n")
    run = _sandbox(tmp_path)
    p = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), *args],
                       cwd=run, capture_output=True, text=True, env=_env(cmd.env), timeout=600)
    assert p.returncode == 0, f"{cmd.id}: snakemake {args}:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}"


def _slow_sequences() -> list[list[Command]]:
    """Per page, its RUN_SLOW commands in order; a sequence shown on two pages is run once."""
    seqs: dict[tuple, list[Command]] = {}
    for page in dict.fromkeys(c.page for c in COMMANDS):
        seq = [c for c in _of("latentgeom") if c.page == page and c.argv[1] in RUN_SLOW]
        if seq:
            seqs.setdefault(tuple((tuple(c.argv[1:]), tuple(c.env.items())) for c in seq), seq)
    return list(seqs.values())


@pytest.mark.slow
@pytest.mark.parametrize("seq", _slow_sequences(), ids=lambda s: s[0].id)
def test_latentgeom_commands_run(seq, tmp_path):
    """import-published, then analyze of its table (the paper's Tables 1-2 from the published
    data), as a page shows them, in one folder."""
    run = _sandbox(tmp_path)
    for cmd in seq:
        p = subprocess.run([*LATENTGEOM, *cmd.argv[1:]], cwd=run,
                           capture_output=True, text=True, env=_env(cmd.env), timeout=600)
        assert p.returncode == 0, f"{cmd.id}: {p.stdout[-2000:]}\n{p.stderr[-2000:]}"
    if (run / "published_analysis").is_dir():
        assert (run / "published_analysis/table2.csv").is_file()
