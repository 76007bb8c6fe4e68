"""Find the application code that issued a query: its line, the template line, the loop.

``capture(root)`` walks up from the caller past library frames (SQLAlchemy, Turbina,
Flask-SQLAlchemy, Jinja, Flask, Werkzeug, the standard library and site-packages) to the
application's own code. A Jinja frame is mapped back to its template file and line (Jinja
marks the globals of template code with ``__jinja_template__`` — recognised without importing
Jinja), with the include chain (``_post.html:4 (included from index.html:10)``). It also
names the innermost frame that is running a loop (``for``/``while``/comprehension, found in
the frame's bytecode), when that is not the line already named: the place to batch the work.

A walk costs microseconds, so it runs only for slow queries and N+1 candidates, never per
query. Paths are printed relative to ``root`` (the Flask glue passes the app's project
directory), else to the current directory.
"""

from __future__ import annotations

import dis
import importlib.util
import os
import sys
import sysconfig
from dataclasses import dataclass
from types import CodeType, FrameType

import sqlalchemy

# Packages whose frames are never the application's: found without importing them.
_LIBRARIES = ("flask_sqlalchemy", "jinja2", "flask", "werkzeug", "markupsafe", "blinker", "click")
_MAX_DEPTH = 200
_MAX_TEMPLATES = 3  # template segments shown in an include chain


@dataclass(frozen=True)
class CallSite:
    """Where a statement came from: ``where`` (the application line, or the template line
    with its include chain) and ``loop`` (the loop around it, when that is another line)."""

    where: str
    loop: str | None = None

    def __str__(self) -> str:
        return self.where if self.loop is None else f"{self.where} (loop at {self.loop})"


def _package_dir(module_file: str | None) -> str | None:
    if module_file is None:
        return None
    return os.path.dirname(os.path.abspath(module_file)) + os.sep


def _library_dirs() -> tuple[str, ...]:
    # This file is turbina/queries/callsite.py: two levels up is the turbina package.
    turbina_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    dirs = [_package_dir(sqlalchemy.__file__), turbina_dir]
    for name in _LIBRARIES:
        # find_spec locates a package without importing it (and Flask with it).
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is not None and spec.origin:
            dirs.append(_package_dir(spec.origin))
    return tuple(d for d in dirs if d)


def _environment_dirs() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    found = {
        os.path.abspath(paths[key]) + os.sep
        for key in ("stdlib", "platstdlib", "purelib", "platlib")
        if paths.get(key)
    }
    return tuple(sorted(found))


LIBRARY_DIRS = _library_dirs()
ENVIRONMENT_DIRS = _environment_dirs()

_SKIP: dict[str | None, tuple[str, ...]] = {}


def _skip_dirs(root: str | None) -> tuple[str, ...]:
    """Library dirs, plus the interpreter's and site-packages — unless the app itself lives
    there (an app installed as a wheel keeps its frames)."""
    known = _SKIP.get(root)
    if known is None:
        env = tuple(d for d in ENVIRONMENT_DIRS if root is None or not root.startswith(d))
        known = LIBRARY_DIRS + env
        if len(_SKIP) < 64:
            _SKIP[root] = known
    return known


_ROOTS: dict[str, str] = {}


def _normal_root(root: str | None) -> str | None:
    if root is None:
        return None
    known = _ROOTS.get(root)
    if known is None:
        known = os.path.abspath(root).rstrip(os.sep) + os.sep
        if len(_ROOTS) < 64:
            _ROOTS[root] = known
    return known


def capture(root: str | None = None, *, loop: bool = True, skip: int = 1) -> CallSite | None:
    """The application call site of the code calling this (``skip`` frames up), or ``None``.

    ``loop=False`` stops at the first application frame (cheaper: no loop search).
    """
    root = _normal_root(root)
    skip_dirs = _skip_dirs(root)
    frame: FrameType | None = sys._getframe(skip)
    templates: list[list[str]] = []  # [path, line, entry kind] per template, innermost first
    where: str | None = None
    found_loop: str | None = None
    fallback: str | None = None
    depth = 0
    while frame is not None and depth < _MAX_DEPTH:
        depth += 1
        template = frame.f_globals.get("__jinja_template__")
        if template is not None:
            if where is None:
                filename = getattr(template, "filename", None) or getattr(template, "name", None)
                filename = filename or "<template>"
                if not filename.startswith(skip_dirs):
                    line = template.get_corresponding_lineno(frame.f_lineno)
                    kind = frame.f_code.co_name
                    if templates and templates[-1][0] == filename:
                        templates[-1][2] = kind  # the same template, entered further out
                    else:
                        templates.append([filename, str(line), kind])
                    if loop and found_loop is None and _in_loop(frame):
                        found_loop = f"{_short(filename, root)}:{line}"
            frame = frame.f_back
            continue
        filename = frame.f_code.co_filename
        library = filename.startswith(skip_dirs) or filename.startswith("<")
        if not library and (root is None or filename.startswith(root)):
            here = _describe(frame, filename, root)
            if where is None:
                where = _template_chain(templates, root) if templates else here
            if loop and found_loop is None and _in_loop(frame):
                found_loop = here
            if not loop or found_loop is not None:
                break
        elif fallback is None and not filename.startswith(LIBRARY_DIRS) and filename[:1] != "<":
            fallback = _describe(frame, filename, root)
        frame = frame.f_back
    if where is None:
        if templates:
            where = _template_chain(templates, root)
        elif fallback is not None:
            where = fallback
        else:
            return None
    if found_loop is not None and found_loop in where:
        found_loop = None
    return CallSite(where, found_loop)


def callsite(root: str | None = None) -> str | None:
    """``"path:line in function"`` (or the template line) of the application code calling
    this, or ``None``."""
    site = capture(root, loop=False, skip=2)
    return site.where if site is not None else None


def _describe(frame: FrameType, filename: str, root: str | None) -> str:
    name = frame.f_code.co_name
    outer = frame.f_back
    if name.startswith("<") and outer is not None and outer.f_code.co_filename == filename:
        name = outer.f_code.co_name  # a comprehension: name the function that runs it
    return f"{_short(filename, root)}:{frame.f_lineno} in {name}"


def _template_chain(templates: list[list[str]], root: str | None) -> str:
    """``a.html:4 (included from b.html:10)``; a layout a block extends is not shown."""
    path, line, _ = templates[0]
    text = f"{_short(path, root)}:{line}"
    links = []
    for (outer_path, outer_line, _), (_, _, inner_kind) in zip(
        templates[1:_MAX_TEMPLATES], templates, strict=False
    ):
        if inner_kind.startswith("block_"):
            break  # the inner template fills a block of this one: a layout, not the caller
        verb = "called from" if inner_kind == "macro" else "included from"
        links.append(f"{verb} {_short(outer_path, root)}:{outer_line}")
    return f"{text} ({', '.join(links)})" if links else text


# --- loops: backward jumps in the frame's bytecode ----------------------------------------

_LOOP_OPS = frozenset({"JUMP_BACKWARD", "JUMP_ABSOLUTE"})
_LOOPS: dict[int, tuple[CodeType, tuple[tuple[int, int], ...]]] = {}
_LOOPS_CAP = 4000


def _loop_ranges(code: CodeType) -> tuple[tuple[int, int], ...]:
    # Keyed by id with the code object kept alive in the entry, so the id cannot be reused;
    # hashing a code object would hash its whole bytecode on every lookup.
    known = _LOOPS.get(id(code))
    if known is not None and known[0] is code:
        return known[1]
    ranges = tuple(
        (int(ins.argval), ins.offset)
        for ins in dis.get_instructions(code)
        if ins.opname in _LOOP_OPS and isinstance(ins.argval, int) and ins.argval < ins.offset
    )
    if len(_LOOPS) >= _LOOPS_CAP:
        _LOOPS.clear()
    _LOOPS[id(code)] = (code, ranges)
    return ranges


def _in_loop(frame: FrameType) -> bool:
    """True when the frame is stopped inside a loop body of its code."""
    lasti = frame.f_lasti
    return any(start <= lasti <= end for start, end in _loop_ranges(frame.f_code))


# --- paths ---------------------------------------------------------------------------------

_SHORT: dict[tuple[str, str | None], str] = {}
_SHORT_CAP = 2000


def _short(filename: str, root: str | None = None) -> str:
    """``filename`` relative to ``root`` (or the current directory) when inside it."""
    key = (filename, root)
    known = _SHORT.get(key)
    if known is not None:
        return known
    try:
        relative = os.path.relpath(filename, root) if root else os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        relative = filename
    short = filename if relative.startswith("..") else relative
    if len(_SHORT) < _SHORT_CAP:
        _SHORT[key] = short
    return short
