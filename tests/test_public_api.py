"""The library's shape: cores free of Flask, lazy package exports, one-way imports, no cycles.

Each import check runs in a fresh interpreter, so what another test imported cannot hide a
dependency. The import graph is read from the source with ``ast`` (module-level imports,
``TYPE_CHECKING`` blocks excluded), so a cycle held apart by run-time order still shows.
"""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
import types
from pathlib import Path

import pytest

import turbina

PACKAGE = Path(turbina.__file__).resolve().parent
FRAMEWORK = ("flask", "werkzeug", "jinja2", "click", "flask_sqlalchemy", "flask_login")

# Every framework-free module of the library: everything outside turbina/flask except the
# pytest plugin (testing.py imports pytest only when used as a plugin).
CORES = sorted(
    ".".join(("turbina", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(
        ".__init__"
    )
    for path in PACKAGE.rglob("*.py")
    if "flask" not in path.relative_to(PACKAGE).parts
)


def loaded_after_import(module: str) -> set[str]:
    code = (
        "import importlib, json, sys\n"
        f"importlib.import_module({module!r})\n"
        "print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    return set(json.loads(out))


def test_the_cores_are_found() -> None:
    assert {"turbina.queries.fingerprint", "turbina.cache.region", "turbina.config"} <= set(CORES)
    assert not any(name.startswith("turbina.flask") for name in CORES)


@pytest.mark.parametrize("module", CORES)
def test_a_core_imports_no_framework(module: str) -> None:
    loaded = loaded_after_import(module)
    assert not loaded & set(FRAMEWORK), f"{module} loads {sorted(loaded & set(FRAMEWORK))}"


def test_import_turbina_is_cheap() -> None:
    loaded = loaded_after_import("turbina")
    assert not loaded & {*FRAMEWORK, "sqlglot", "sqlalchemy", "redis"}


def _exporting_packages() -> list[types.ModuleType]:
    names = ["turbina", "turbina.queries", "turbina.cache", "turbina.indexes", "turbina.flask"]
    return [importlib.import_module(name) for name in names]


@pytest.mark.parametrize("package", _exporting_packages(), ids=lambda m: m.__name__)
def test_every_exported_name_resolves_to_an_object(package: types.ModuleType) -> None:
    for name in package.__all__:
        value = getattr(package, name)
        assert not isinstance(value, types.ModuleType), f"{package.__name__}.{name} is a module"
    with pytest.raises(AttributeError):
        package.no_such_name  # noqa: B018


def _module_name(path: Path) -> str:
    parts = ("turbina", *path.relative_to(PACKAGE).with_suffix("").parts)
    return ".".join(parts).removesuffix(".__init__")


def _runtime_imports(path: Path) -> set[str]:
    """Modules ``path`` imports at run time (module level or inside functions), excluding
    ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(child) for child in ast.walk(node))
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("turbina")}


def import_graph() -> dict[str, set[str]]:
    modules = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {
        name: {dep for dep in _runtime_imports(path) if dep in modules and dep != name}
        for name, path in modules.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (as a path), ignoring edges from a package to its own children
    and from a module to its parent packages (those are how Python imports, not cycles)."""

    def edges(node: str) -> set[str]:
        return {
            dep
            for dep in graph[node]
            if not dep.startswith(node + ".") and not node.startswith(dep + ".")
        }

    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(edges(node)):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle() -> None:
    assert find_cycle(import_graph()) is None


def test_the_cycle_finder_finds_one() -> None:
    graph = {"turbina.a": {"turbina.b"}, "turbina.b": {"turbina.c"}, "turbina.c": {"turbina.a"}}
    assert find_cycle(graph) == ["turbina.a", "turbina.b", "turbina.c", "turbina.a"]


def test_imports_flow_one_way() -> None:
    graph = import_graph()
    for module, deps in graph.items():
        if not module.startswith("turbina.flask"):
            flask_deps = {d for d in deps if d.startswith("turbina.flask")}
            assert not flask_deps, f"core {module} imports the Flask glue {flask_deps}"
        if module != "turbina.flask.extension":
            assert "turbina.flask.extension" not in deps, f"{module} imports the assembler"
