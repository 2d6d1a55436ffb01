"""The package's import graph: layered, without cycles, with one package that joins attacks and detection."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from poisondetect import paths

PACKAGE = paths.ROOT / "src" / "poisondetect"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """The poisondetect modules ``path`` imports (any depth of the tree, so imports inside functions count too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("poisondetect")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.startswith("poisondetect"):
                found |= {f"{base}.{alias.name}" for alias in node.names} | {base}
    return found


def graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = defaultdict(set)
    for name, path in modules.items():
        for target in imports_of(path):
            while target not in modules and "." in target:  # "pkg.mod.function" -> "pkg.mod"
                target = target.rsplit(".", 1)[0]
            if target in modules and target != name:
                edges[name].add(target)
    return edges


def top_package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def first_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph ``edges`` (depth-first search), or None."""
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return trail[trail.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt, trail + [nxt])):
                return cycle
        state[node] = 2
        return None

    return next((cycle for node in sorted(edges) if node not in state and (cycle := visit(node, [node]))), None)


def test_no_module_imports_itself_through_a_cycle():
    own = {source: {t for t in targets if not (t.startswith(source + ".") or source.startswith(t + "."))}  # a package and its modules
           for source, targets in graph().items()}
    assert first_cycle(own) is None, f"import cycle: {' -> '.join(first_cycle(own))}"


def test_packages_only_import_downwards():
    """Between the package's parts the imports form a directed acyclic graph."""
    between = defaultdict(set)
    for source, targets in graph().items():
        between[top_package(source)] |= {top_package(t) for t in targets} - {top_package(source)}
    assert first_cycle(between) is None, f"packages import each other: {' -> '.join(first_cycle(between))}"


def test_only_the_experiment_layer_joins_attacks_and_detection():
    edges = graph()
    uses = defaultdict(set)
    for source, targets in edges.items():
        uses[top_package(source)] |= {top_package(t) for t in targets}
    assert "detection" not in uses["attacks"] and "attacks" not in uses["detection"]
    joining = {package for package, used in uses.items() if {"attacks", "detection"} <= used}
    assert joining <= {"experiments", "scan"}, joining  # the experiments and a user's scan are the application layers
    domain = ("data", "models", "training", "explain", "transport", "attacks", "detection", "adversarial", "theory")
    assert not [p for p in domain if "experiments" in uses[p]], "a domain package imports the experiment layer"
    assert not [p for p in domain if "artifacts" in uses[p] and p not in ("data",)], "only the experiment layer (and the data loaders) cache"
