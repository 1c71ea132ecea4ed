"""House rule 6: small modules in acyclic layers, nothing imports upward
(``model -> data -> index -> analysis/spatial/forecast/oversight -> report -> api/cli/web``).

Every ``import humsec.X`` in the package is read from the source; a module may import
only its own package or packages of its layer or below, and the package graph has no
cycle (so, e.g., the dashboard may use the API but the API never the dashboard)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "humsec"
LAYER = {
    "__init__": 0, "errors": 0, "yamlio": 0, "settings": 0,
    "model": 1, "data": 2, "index": 3,
    "analysis": 4, "spatial": 4, "forecast": 4, "oversight": 4,
    "report": 5, "api": 6, "cli": 6, "web": 6, "lib": 6,
}


def _imports() -> dict[str, set[tuple[str, str]]]:
    """package -> {(imported package, importing file)}"""
    out: dict[str, set[tuple[str, str]]] = {}
    for f in SRC.rglob("*.py"):
        pkg = f.relative_to(SRC).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                mods = [node.module]
            for m in mods:
                if m.startswith("humsec."):
                    tgt = m.split(".")[1]
                    if tgt != pkg:
                        out.setdefault(pkg, set()).add((tgt, str(f.relative_to(SRC))))
    return out


def test_every_package_has_a_layer():
    pkgs = {p.name.removesuffix(".py") for p in SRC.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert pkgs <= set(LAYER), f"new package(s) without a layer: {sorted(pkgs - set(LAYER))}"


def test_nothing_imports_upward():
    upward = sorted(f"{src} imports humsec.{tgt}" for pkg, edges in _imports().items() for tgt, src in edges
                    if LAYER.get(tgt, 0) > LAYER.get(pkg, 0))
    assert not upward, "\n".join(upward)


def test_package_graph_is_acyclic():
    graph = {pkg: {t for t, _ in edges} for pkg, edges in _imports().items()}
    seen: dict[str, int] = {}

    def visit(n: str, path: list[str]) -> None:
        state = seen.get(n)
        if state == 1:
            pytest.fail("import cycle: " + " -> ".join([*path[path.index(n):], n]))
        if state == 2:
            return
        seen[n] = 1
        for m in sorted(graph.get(n, ())):
            visit(m, [*path, n])
        seen[n] = 2

    for n in sorted(graph):
        visit(n, [])
