"""The built wheel is the library and only the library, and declares what it needs.

The wheel is built once per session, the way tests/compat/run.py builds it (from a clean copy
of the sources); under run.py the tests check the very wheel it installed. Installing it into
fresh venvs is run.py's job (``make compat``): too slow for this suite.
"""

from __future__ import annotations

import configparser
import email.parser
import importlib
import importlib.util
import os
import re
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
CORE = {"flask", "sqlalchemy", "sqlglot", "click"}
EXTRAS = {
    "redis": {"redis", "hiredis"},
    "prometheus": {"prometheus-client"},
    "assets": {
        *("whitenoise", "flask-compress", "brotli"),
        *("tdewolff-minify", "tinycss2", "zstandard"),
    },
}
UPPER_BOUNDS = {"<", "<=", "~=", "==", "==="}  # every operator that caps a version
EXTRA_MARKER = re.compile(r"""\bextra\s*==\s*["']([^"']+)["']""")

pytestmark = pytest.mark.slow


def load_compat_run() -> ModuleType:
    """tests/compat/run.py as a module (it is a script, not part of a package)."""
    name = "turbina_compat_run"
    spec = importlib.util.spec_from_file_location(name, ROOT / "tests" / "compat" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    given = os.environ.get("TURBINA_COMPAT_WHEEL")  # set by tests/compat/run.py
    if given and Path(given).is_file():
        yield Path(given)
        return
    built: Path = load_compat_run().build_wheel(tmp_path_factory.mktemp("wheel"))
    yield built


@pytest.fixture(scope="session")
def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as zf:
        return zf.namelist()


def dist_info_file(wheel: Path, names: list[str], filename: str) -> str:
    [path] = [n for n in names if n.count("/") == 1 and n.endswith(f".dist-info/{filename}")]
    with zipfile.ZipFile(wheel) as zf:
        return zf.read(path).decode()


@pytest.fixture(scope="session")
def metadata(wheel: Path, names: list[str]) -> Message:
    return email.parser.Parser().parsestr(dist_info_file(wheel, names, "METADATA"))


@pytest.fixture(scope="session")
def requirements(metadata: Message) -> list[Requirement]:
    return [Requirement(r) for r in metadata.get_all("Requires-Dist", [])]


def extra_of(req: Requirement) -> str | None:
    """The extra a requirement belongs to: its ``extra == "..."`` marker (``None``: core)."""
    found = EXTRA_MARKER.search(str(req.marker or ""))
    return canonicalize_name(found.group(1)) if found else None


def test_wheel_holds_only_the_turbina_package(wheel: Path, names: list[str]) -> None:
    version = PYPROJECT["project"]["version"]
    assert wheel.name == f"turbina-{version}-py3-none-any.whl"
    dist_info = f"turbina-{version}.dist-info/"
    outside = [n for n in names if not n.startswith(("turbina/", dist_info))]
    assert outside == [], "files outside turbina/ and its dist-info"
    assert not [n for n in names if "fretes" in n or "bench" in n or "/tests/" in n]
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert "turbina/py.typed" in names
    assert "turbina/assets/turbina-lazy.js" in names  # package data: the lazy loader
    dashboard = Path(ROOT / "src" / "turbina" / "flask" / "dashboard")
    shipped = {  # package data: the dashboard's templates, script and styles
        p.relative_to(ROOT / "src").as_posix()
        for p in [*dashboard.glob("templates/**/*.html"), *dashboard.glob("static/*")]
    }
    assert shipped and shipped <= set(names)
    sources = {
        p.relative_to(ROOT / "src").as_posix()
        for p in (ROOT / "src" / "turbina").rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert sources == {n for n in names if n.endswith(".py")}, "every module, and only those"


def test_metadata_names_the_distribution(metadata: Message) -> None:
    assert metadata["Name"] == "turbina"
    assert metadata["Version"] == PYPROJECT["project"]["version"]
    assert metadata["Requires-Python"] == PYPROJECT["project"]["requires-python"]


def test_core_requirements_are_exactly_the_core_list(requirements: list[Requirement]) -> None:
    core = {canonicalize_name(r.name) for r in requirements if extra_of(r) is None}
    assert core == CORE
    declared = {
        canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]
    }
    assert declared == CORE


def test_every_extra_lists_its_requirements(
    metadata: Message, requirements: list[Requirement]
) -> None:
    declared = PYPROJECT["project"]["optional-dependencies"]
    assert set(declared) == set(EXTRAS)
    assert set(metadata.get_all("Provides-Extra", [])) == set(EXTRAS)
    for extra, expected in EXTRAS.items():
        listed = {canonicalize_name(r.name) for r in requirements if extra_of(r) == extra}
        assert listed == expected, extra
        assert {canonicalize_name(Requirement(r).name) for r in declared[extra]} == expected


def test_no_requirement_has_an_upper_bound(requirements: list[Requirement]) -> None:
    capped = [str(r) for r in requirements if {s.operator for s in r.specifier} & UPPER_BOUNDS]
    assert capped == []
    unbounded = [str(r) for r in requirements if not any(s.operator == ">=" for s in r.specifier)]
    assert unbounded == [], "every requirement states its lower bound"


def test_oldest_pins_are_the_declared_lower_bounds(requirements: list[Requirement]) -> None:
    """tests/compat/oldest.txt tests each lower bound it pins, and pins every core one."""
    pins = load_compat_run().pins(ROOT / "tests" / "compat" / "oldest.txt")
    for req in requirements:
        name = canonicalize_name(req.name)
        if name not in pins:
            assert extra_of(req) is not None, f"{name}: a core requirement not in oldest.txt"
            continue
        [lower] = [Version(s.version) for s in req.specifier if s.operator == ">="]
        assert Version(pins[name]) == lower, f"{name}: pinned {pins[name]}, declared >={lower}"


def test_entry_points(wheel: Path, names: list[str]) -> None:
    parser = configparser.ConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(dist_info_file(wheel, names, "entry_points.txt"))
    found = {section: dict(parser[section]) for section in parser.sections()}
    assert found == {
        "console_scripts": {"turbina": "turbina.flask.cli:main"},
        "flask.commands": {"turbina": "turbina.flask.cli:turbina_group"},
    }
    for targets in found.values():
        for target in targets.values():
            module, _, attr = target.partition(":")
            assert callable(getattr(importlib.import_module(module), attr)), target
