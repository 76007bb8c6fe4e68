"""The app's structure holds: one-way dependencies, no import inside a function, a domain and
data access free of Flask, and every data access form with the same signatures."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

import fretes
from fretes.access import cached, naive, optimized
from fretes.access.protocol import PageAccess

PACKAGE = Path(fretes.__file__).parent
# Layer -> the fretes layers it must never import (dependencies flow one way).
FORBIDDEN = {
    "domain": ("fretes.access", "fretes.views", "fretes.app", "fretes.auth", "fretes.security"),
    "access": ("fretes.views", "fretes.app", "fretes.auth", "fretes.security"),
    "views": ("fretes.app",),
}
FLASK_FREE = ["domain", "access/naive.py", "access/optimized.py", "access/writes.py"]


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported(path: Path, *, top_level_only: bool = False) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    names = []
    for node in nodes:
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append((node.lineno, node.module))
    return names


def test_no_import_inside_a_function() -> None:
    found = []
    for path in modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [
                    f"{path.relative_to(PACKAGE)}:{sub.lineno}"
                    for sub in ast.walk(node)
                    if isinstance(sub, ast.Import | ast.ImportFrom)
                ]
    assert found == []


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_dependencies_flow_one_way(layer: str) -> None:
    wrong = [
        f"{path.name}:{line} imports {name}"
        for path in sorted((PACKAGE / layer).glob("*.py"))
        for line, name in imported(path)
        if name.startswith(FORBIDDEN[layer])
    ]
    assert wrong == []


@pytest.mark.parametrize("part", FLASK_FREE)
def test_domain_and_data_access_import_no_flask(part: str) -> None:
    target = PACKAGE / part
    paths = sorted(target.glob("*.py")) if target.is_dir() else [target]
    wrong = [
        f"{path.name}:{line} imports {name}"
        for path in paths
        for line, name in imported(path)
        if name == "flask" or name.startswith(("flask.", "flask_", "werkzeug"))
    ]
    assert wrong == []


@pytest.mark.parametrize("form", [naive, optimized, cached], ids=lambda m: m.__name__)
def test_every_form_has_the_page_access_signatures(form: object) -> None:
    for name, method in inspect.getmembers(PageAccess, inspect.isfunction):
        if name.startswith("_"):
            continue
        function = inspect.unwrap(getattr(form, name))
        expected = [p for p in inspect.signature(method).parameters if p != "self"]
        assert list(inspect.signature(function).parameters) == expected, name
