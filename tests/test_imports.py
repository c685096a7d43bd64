"""The package's import graph has no cycle, counting imports inside functions too.

A cycle hidden in a function body (as ``analysis`` -> ``plots`` -> ``analysis`` once was, through
the command-line code) works until someone moves an import to the top of a file. Command-line code
lives in ``cli.py``, which nothing in the package imports.
"""
from __future__ import annotations

import ast
from pathlib import Path

import latentgeom

ROOT = Path(latentgeom.__file__).parent


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = f.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports anywhere in its source (static, via ast)."""
    mods = _modules()
    graph = {}
    for name, f in mods.items():
        package = name if f.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    mod = node.module or ""
                candidates = [mod] + [f"{mod}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                candidates = [a.name for a in node.names]
            else:
                continue
            deps |= {c for c in candidates if c in mods and c != name}
        graph[name] = deps
    return graph


def _cycle_through(graph, start):
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in graph[node]:
            if nxt == start:
                return path + [start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, path + [nxt]))
    return None


def test_the_graph_sees_function_level_imports():
    g = import_graph()
    assert "latentgeom.plots" in g["latentgeom.cli_analysis"]  # imported inside _analyze only
    assert "latentgeom.analysis" in g["latentgeom.plots"]


def test_no_import_cycle():
    g = import_graph()
    cycles = [c for m in sorted(g) if (c := _cycle_through(g, m))]
    assert cycles == [], " ; ".join(" -> ".join(c) for c in cycles)


def test_nothing_imports_the_command_line():
    g = import_graph()
    assert [m for m, deps in g.items() if "latentgeom.cli" in deps] == []
