"""Find the application frame that issued a query.

Walks up from the caller to the first frame whose file lies outside SQLAlchemy, Turbina and
Flask-SQLAlchemy. Costs a few microseconds, so it only runs for slow queries and N+1
candidates, never per query.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import sqlalchemy


def _package_dir(module_file: str | None) -> str | None:
    if module_file is None:
        return None
    return os.path.dirname(os.path.abspath(module_file)) + os.sep


def _library_dirs() -> tuple[str, ...]:
    # This file is turbina/queries/callsite.py: two levels up is the turbina package.
    turbina_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    dirs = [_package_dir(sqlalchemy.__file__), turbina_dir]
    # find_spec locates Flask-SQLAlchemy without importing it (and Flask with it).
    spec = importlib.util.find_spec("flask_sqlalchemy")
    if spec is not None and spec.origin:
        dirs.append(_package_dir(spec.origin))
    return tuple(d for d in dirs if d)


LIBRARY_DIRS = _library_dirs()
_MAX_DEPTH = 200


def callsite(skip_dirs: tuple[str, ...] = LIBRARY_DIRS) -> str | None:
    """``"path:line in function"`` of the first frame outside ``skip_dirs``, or ``None``."""
    frame = sys._getframe(1)
    depth = 0
    while frame is not None and depth < _MAX_DEPTH:
        filename = frame.f_code.co_filename
        # "<...>" names are generated code (SQLAlchemy's _go() wrappers, <frozen ...>).
        if not filename.startswith(skip_dirs) and not filename.startswith("<"):
            return f"{_short(filename)}:{frame.f_lineno} in {frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
        depth += 1
    return None


_SHORT: dict[str, str] = {}
_SHORT_CAP = 2000


def _short(filename: str) -> str:
    known = _SHORT.get(filename)
    if known is not None:
        return known
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        relative = filename
    short = filename if relative.startswith("..") else relative
    if len(_SHORT) < _SHORT_CAP:
        _SHORT[filename] = short
    return short
