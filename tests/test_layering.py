"""The house rules of engine/, read from its source: arrows point one way, functions stay short.

Imports are read with ``ast`` (lazy imports inside functions included), so the check needs no
optional dependency and sees imports that never run in the test process.
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[1] / "engine"
MAX_FUNCTION_LINES = 40


def module_name(path: Path) -> str:
    """The import name of an engine file; a subpackage's modules count as the subpackage."""
    parts = path.relative_to(ENGINE).with_suffix("").parts
    return ".".join(("tersify", *parts[:1])) if parts != ("__init__",) else "tersify"


def imported(tree: ast.Module) -> set[str]:
    """Every tersify module a file imports; ``from tersify import x`` names module x if it is one."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module != "tersify":
                names.add(node.module)
                continue
            for alias in node.names:  # a module of the package, or a name of its __init__
                is_module = (ENGINE / f"{alias.name}.py").exists() or (ENGINE / alias.name).is_dir()
                names.add(f"tersify.{alias.name}" if is_module else "tersify")
    return {n for n in names if n == "tersify" or n.startswith("tersify.")}


def engine_graph() -> dict[str, set[str]]:
    """Engine module -> engine modules it imports (subpackages collapsed, self-imports dropped)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(ENGINE.rglob("*.py")):
        source = module_name(path)
        targets = {".".join(n.split(".")[:2]) for n in imported(ast.parse(path.read_text()))}
        graph.setdefault(source, set()).update(targets - {source})
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_engine_imports_nothing_from_integrations() -> None:
    offenders = {module_name(p) for p in ENGINE.rglob("*.py")
                 if any(n.startswith("tersify.integrations")
                        for n in imported(ast.parse(p.read_text())))}
    assert not offenders, f"engine modules that import integrations: {sorted(offenders)}"


def test_engine_imports_point_one_way() -> None:
    graph = engine_graph()
    assert "tersify.select" in graph and "tersify.scorers" in graph  # the reader sees the files
    assert find_cycle(graph) is None, f"upward import: {' -> '.join(find_cycle(graph) or [])}"


def test_find_cycle_finds_one() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_engine_functions_stay_short() -> None:
    long = [f"{path.relative_to(ENGINE)}:{node.lineno} {node.name} "
            f"({node.end_lineno - node.lineno + 1} lines)"
            for path in sorted(ENGINE.rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno is not None
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines: {long}"
