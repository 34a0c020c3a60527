"""The house rules of ../shared/STYLE.md that a machine can check: no module over 450
lines, no function over 70, no import cycle between our modules (lazy and type-only
imports counted), and each layer importing only downwards."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "kuhu_driver"
#: Each layer, and what it may import (besides itself and the leaves).
LAYERS = {
    "audio": set(),
    "api": {"audio"},
    "local": {"audio"},
    "pipeline": {"api", "audio", "local"},
    "driver": {"pipeline", "api", "audio", "local"},
    "cli": {"pipeline", "api", "audio", "local", "testing", "speechd"},
    "speechd": {"pipeline", "api", "audio", "local"},
    "testing": {"audio"},
}


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports_of(name: str, path: Path) -> set[str]:
    """Our modules that ``name`` imports, anywhere in it (functions and TYPE_CHECKING too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("kuhu_driver")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.startswith("kuhu_driver"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}
    known = modules()
    return {m for m in found if m in known and m != name}


def test_no_module_over_450_lines_and_no_function_over_70() -> None:
    assert len(modules()) > 50  # the package was found
    for name, path in modules().items():
        lines = path.read_text(encoding="utf-8").count("\n")
        assert lines <= 450, (name, lines)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                assert length <= 70, (name, node.name, length)


def test_no_import_cycle() -> None:
    graph = {name: imports_of(name, path) for name, path in modules().items()}
    # A package's __init__ re-exporting its own modules is not a cycle.
    for name, deps in graph.items():
        graph[name] = {d for d in deps if not name.startswith(d + ".") or d == "kuhu_driver"}
    graph["kuhu_driver"] = set()  # the public face: lazy, names only
    state: dict[str, int] = {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in graph.get(node, ()):
            if dep.startswith(node + "."):
                continue  # a package's __init__ importing its own modules
            if state.get(dep) == 1:
                raise AssertionError(" -> ".join([*stack, node, dep]))
            if state.get(dep) is None:
                visit(dep, [*stack, node])
        state[node] = 2

    for name in graph:
        if name not in state:
            visit(name, [])


def test_layers_import_only_downwards() -> None:
    for name, path in modules().items():
        parts = name.split(".")
        if len(parts) < 2 or parts[1] not in LAYERS:
            continue
        layer = parts[1]
        for dep in imports_of(name, path):
            dep_parts = dep.split(".")
            if len(dep_parts) < 2 or dep_parts[1] not in LAYERS or dep_parts[1] == layer:
                continue  # a leaf, or its own layer
            assert dep_parts[1] in LAYERS[layer], f"{name} imports {dep}"


def test_the_library_never_prints() -> None:
    """Messages go through logging (kuhu-say's through ``cli._output.tell``), results
    through the one writer each command has: no ``print`` anywhere in the package."""
    calls = [
        f"{path.relative_to(PACKAGE)}:{node.lineno}"
        for path in sorted(PACKAGE.rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "print"
    ]
    assert calls == []
