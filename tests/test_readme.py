"""The README's code is the API: every Python block runs, and every name it uses is exported.

The blocks run in order in one namespace (a later block builds on an earlier one), in a fresh
working directory, against SQLite and, for the block that imports redis, the test Redis under
a key prefix of this run (the README's ``"myapp"`` prefix is rewritten and cleaned up).
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
import re
from pathlib import Path
from types import ModuleType

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
DOTTED = re.compile(r"`(turbina(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def python_blocks() -> list[str]:
    return BLOCK.findall(README.read_text(encoding="utf-8"))


def test_the_readme_has_python_blocks() -> None:
    assert len(python_blocks()) >= 5


def test_every_python_block_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str, redis_prefix: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REDIS_URL", redis_url)
    namespace: dict[str, object] = {"__name__": "readme_example"}
    out = io.StringIO()
    for number, block in enumerate(python_blocks(), start=1):
        source = block.replace('"myapp"', repr(redis_prefix))
        code = compile(source, f"README.md block {number}", "exec", dont_inherit=True)
        with contextlib.redirect_stdout(out):
            exec(code, namespace)  # the README's own code, nothing else
    printed = out.getvalue()
    import redis

    client = redis.Redis.from_url(redis_url)
    try:  # the Redis block wrote under this run's prefix, not under the README's "myapp"
        assert any(client.scan_iter(match=f"{redis_prefix}*", count=1000))
    finally:
        client.close()
    # What the comments in the blocks promise.
    assert 'desc="11 queries"' in printed
    assert "fix: .options(joinedload(Post.author))" in printed
    assert "[nplusone]" in printed and "N+1: Post.author lazy-loaded 10.0 times" in printed
    assert "seed criteria met" in printed
    assert "CREATE INDEX IF NOT EXISTS idx_sales_region ON sales (region)" in printed


def _imported_names(tree: ast.AST) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("turbina"):
            found += [(node.module or "", alias.name) for alias in node.names]
    return found


def _attribute_uses(tree: ast.AST) -> list[tuple[str, str]]:
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "turbina"
        ):
            found.append(("turbina", node.attr))
    return found


def _resolve(dotted: str) -> tuple[ModuleType, str] | None:
    """(module, name) for ``turbina.a.b``: the longest importable prefix and the next name."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            module = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        return (module, parts[cut]) if cut < len(parts) else None
    raise AssertionError(f"{dotted}: no importable prefix")


def test_every_name_the_readme_uses_is_exported() -> None:
    missing = []
    for block in python_blocks():
        tree = ast.parse(block)
        for module_name, name in _imported_names(tree) + _attribute_uses(tree):
            module = importlib.import_module(module_name)
            if name not in getattr(module, "__all__", ()) or not hasattr(module, name):
                missing.append(f"{module_name}.{name}")
    prose = README.read_text(encoding="utf-8")
    for dotted in sorted(set(DOTTED.findall(prose))):
        resolved = _resolve(dotted.rstrip("."))
        if resolved is None:
            continue  # a module, e.g. `turbina.queries`
        module, name = resolved
        if name not in getattr(module, "__all__", ()) or not hasattr(module, name):
            missing.append(dotted)
    assert not missing, f"README uses names that are not exported: {missing}"


def test_the_checker_sees_a_missing_name() -> None:
    tree = ast.parse("import turbina\nturbina.no_such_thing()\nfrom turbina import Turbina\n")
    uses = _attribute_uses(tree) + _imported_names(tree)
    assert ("turbina", "no_such_thing") in uses and ("turbina", "Turbina") in uses
    assert "no_such_thing" not in importlib.import_module("turbina").__all__
