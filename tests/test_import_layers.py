"""The import graph of bot/ and channels/ runs downward only, with no cycle between packages.

Every import counts, at module level and inside functions (a late import is still a
dependency). The layers are `bot.LAYERS`; a package missing from that table fails too, so a
new package gets a place on purpose.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

from bot import LAYERS
from bot.settings import PROJECT_ROOT

LAYER_OF: Dict[str, int] = {unit: index for index, units in enumerate(LAYERS) for unit in units}
# (unit that imports, unit imported, "file:line")
Edge = Tuple[str, str, str]


def unit_of_file(path: Path) -> str:
    parts = path.relative_to(PROJECT_ROOT).with_suffix("").parts
    if parts[0] == "channels":
        return "channels"
    return parts[1]  # bot/<unit>.py or bot/<unit>/...


def units_imported(node: ast.AST) -> Iterator[str]:
    """The project units one import statement reaches (`from bot import a, b` reaches a and b)."""
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        if node.module == "bot":
            modules = [f"bot.{alias.name}" for alias in node.names]
        else:
            modules = [node.module]
    else:
        return
    for module in modules:
        parts = module.split(".")
        if parts[0] == "channels":
            yield "channels"
        elif parts[0] == "bot" and len(parts) > 1 and parts[1] not in ("__version__", "LAYERS"):
            yield parts[1]


def project_files() -> List[Path]:
    files = sorted((PROJECT_ROOT / "bot").rglob("*.py")) + sorted((PROJECT_ROOT / "channels").rglob("*.py"))
    return [path for path in files if path != PROJECT_ROOT / "bot" / "__init__.py"]


def import_edges() -> List[Edge]:
    edges = []
    for path in project_files():
        source = unit_of_file(path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            for target in units_imported(node):
                if target != source:
                    where = f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}"
                    edges.append((source, target, where))
    return edges


def test_every_unit_has_a_layer():
    units = {unit_of_file(path) for path in project_files()} | {target for _, target, _ in import_edges()}
    missing = sorted(units - set(LAYER_OF))
    assert not missing, f"add these to bot.LAYERS (bot/__init__.py): {missing}"


def test_no_import_points_upward():
    upward = [f"{where}: {source} (layer {LAYER_OF[source] + 1}) imports {target} (layer {LAYER_OF[target] + 1})"
              for source, target, where in import_edges()
              if source in LAYER_OF and target in LAYER_OF and LAYER_OF[target] > LAYER_OF[source]]
    assert not upward, "upward imports:\n" + "\n".join(upward)


def cycles(edges: List[Edge]) -> List[List[str]]:
    """Strongly connected groups of more than one unit (Tarjan)."""
    graph: Dict[str, Set[str]] = {}
    for source, target, _ in edges:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    stack: List[str] = []
    found: List[List[str]] = []

    def visit(unit: str) -> None:
        index[unit] = low[unit] = len(index)
        stack.append(unit)
        for neighbour in sorted(graph[unit]):
            if neighbour not in index:
                visit(neighbour)
                low[unit] = min(low[unit], low[neighbour])
            elif neighbour in stack:
                low[unit] = min(low[unit], index[neighbour])
        if low[unit] == index[unit]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == unit:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for unit in sorted(graph):
        if unit not in index:
            visit(unit)
    return found


def test_no_cycle_between_packages():
    edges = import_edges()
    problems = []
    for group in cycles(edges):
        lines = [f"  {where}: {source} imports {target}" for source, target, where in edges
                 if source in group and target in group]
        problems.append(f"cycle between {', '.join(group)}:\n" + "\n".join(lines))
    assert not problems, "\n".join(problems)


def test_the_checker_sees_late_imports(tmp_path):
    """A function-level import is an edge too (the walk is not limited to the module's top)."""
    tree = ast.parse("def f():\n    from bot.server import build_app\n")
    assert [unit for node in ast.walk(tree) for unit in units_imported(node)] == ["server"]
