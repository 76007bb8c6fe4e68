"""Find the application frame that issued a query.

Walks up from the caller to the first frame whose file lies outside SQLAlchemy, Turbina and
Flask-SQLAlchemy. Costs a few microseconds, so it only runs for slow queries and N+1
candidates, never per query.
"""

from __future__ import annotations

import os
import sys

import sqlalchemy

import turbina


def _package_dir(module_file: str | None) -> str | None:
    if module_file is None:
        return None
    return os.path.dirname(os.path.abspath(module_file)) + os.sep


def _library_dirs() -> tuple[str, ...]:
    dirs = [_package_dir(sqlalchemy.__file__), _package_dir(turbina.__file__)]
    try:
        import flask_sqlalchemy

        dirs.append(_package_dir(flask_sqlalchemy.__file__))
    except ImportError:  # optional: plain SQLAlchemy users
        pass
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
