"""Nothing private of httpx or httpcore is read or written (kuhu_driver/api/_wire.py is
our transport, on their public interfaces): every attribute name that httpx or httpcore
keeps private (``_pool``, ``_network_backend`` …) is looked for in our package, on any
object but ``self``/``cls``, and in ``getattr``/``setattr``/``hasattr`` calls. So a
future reach into their internals fails here, whatever object it goes through."""

from __future__ import annotations

import ast
from pathlib import Path

import httpcore
import httpx

import kuhu_driver

OURS = Path(kuhu_driver.__file__).parent


def _private_names(package_file: str) -> set[str]:
    names: set[str] = set()
    for path in Path(package_file).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and _private(node.attr):
                names.add(node.attr)
            elif isinstance(node, ast.ClassDef):
                names.update(
                    item.name
                    for item in node.body
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and _private(item.name)
                )
    return names


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _reaches(tree: ast.AST, theirs: set[str]) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in theirs:
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("getattr", "setattr", "hasattr", "delattr")
            and len(node.args) >= 2
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in theirs
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_touches_a_private_attribute_of_httpx_or_httpcore() -> None:
    theirs = _private_names(httpx.__file__) | _private_names(httpcore.__file__)
    assert {"_pool", "_network_backend", "_transport"} <= theirs  # the scan sees them
    found = {}
    for path in sorted(OURS.rglob("*.py")):
        hits = _reaches(ast.parse(path.read_text(encoding="utf-8")), theirs)
        if hits:
            found[str(path.relative_to(OURS))] = hits
    assert found == {}


def test_the_scan_catches_the_reach_we_used_to_make() -> None:
    """The check itself can fail: the old line of _netguard, and its getattr form."""
    theirs = _private_names(httpx.__file__) | _private_names(httpcore.__file__)
    old = "pool = getattr(transport, '_pool', None)\npool._network_backend = backend\n"
    assert len(_reaches(ast.parse(old), theirs)) == 2
