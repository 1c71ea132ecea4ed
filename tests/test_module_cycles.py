"""No import cycle between modules (#23): the module-level imports of the package (those
run when a module is imported; ``if TYPE_CHECKING:`` blocks and function-local imports
excluded) form an acyclic graph, so every module can be imported first and read
bottom-up. The package-level layers are checked in ``test_architecture``."""

from __future__ import annotations

import ast
from pathlib import Path

import humsec

ROOT = Path(humsec.__file__).resolve().parent


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _top_level_imports(tree: ast.Module, here: str, is_pkg: bool, known: set[str]) -> set[str]:
    out: set[str] = set()
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If):
            if not _is_type_checking(node):
                stack += node.body + node.orelse
            else:
                stack += node.orelse
        elif isinstance(node, ast.Try):
            stack += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".") if is_pkg else here.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}  # "from pkg import module"
    # an import of a.b.c also runs a and a.b
    full: set[str] = set()
    for m in out:
        parts = m.split(".")
        full |= {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    return {m for m in full if m in known and m != here}


def module_graph() -> dict[str, set[str]]:
    files = {_module(p): p for p in ROOT.rglob("*.py")}
    known = set(files)
    return {m: _top_level_imports(ast.parse(p.read_text("utf-8")), m, p.name == "__init__.py", known)
            for m, p in files.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` (as a path that returns to its start), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        path.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a"}}) is None


def test_module_level_imports_are_acyclic():
    # a package's __init__ re-exporting its own modules is not a cycle to fix: drop the
    # edges from a package to its own submodules
    graph = {m: {d for d in deps if not d.startswith(m + ".")} for m, deps in module_graph().items()}
    assert find_cycle(graph) is None, "import cycle: " + " -> ".join(find_cycle(graph) or [])


def test_spec_does_not_import_the_builder():
    """The old circle: index.spec -> uncertainty -> pipeline -> spec."""
    graph = module_graph()
    seen, todo = set(), ["humsec.index.spec"]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo += graph.get(m, ())
    assert "humsec.index.pipeline" not in seen and "humsec.index.uncertainty" not in seen
