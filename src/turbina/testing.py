"""Test guards: lock a fix in with ``max_queries(n)`` and ``no_n_plus_one()``.

Both are context managers, and pytest fixtures of the same names when this module is loaded
as a plugin (``pytest_plugins = ["turbina.testing"]`` in the root conftest) or when
``max_queries_fixture`` / ``no_n_plus_one_fixture`` are imported into a conftest. They need a
``QueryRecorder`` on the engine: Turbina's Flask extension attaches one, or pass the engine
and one is attached. Failure messages list the offending statements (redacted) and the fix.

A guard with nothing behind it fails instead of passing silently: when no recorder is
attached at all (Turbina disabled in the test config, never initialised) or when a statement
inside the block ran on an engine without one (a cursor listener on every ``Engine``,
installed in test processes only, notices it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from turbina.queries.context import QueryCollector, collect, current_collector
from turbina.queries.nplusone import Finding, findings
from turbina.queries.recorder import (
    TURBINA_SQL_TAG,
    QueryRecorder,
    attached_recorders,
    is_recorded,
)

__all__ = ["max_queries", "max_queries_fixture", "no_n_plus_one", "no_n_plus_one_fixture"]

_LISTED = 15


_unrecorded_lock = threading.Lock()
_unrecorded_watch = False


def _note_unrecorded(
    conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
) -> None:
    collector = current_collector()
    if collector is None or not collector.guarded:
        return
    engine = conn.engine
    if not is_recorded(engine) and not statement.startswith(TURBINA_SQL_TAG):
        collector.note_unrecorded(engine.url.render_as_string(hide_password=True))


def _watch_unrecorded_engines() -> None:
    global _unrecorded_watch
    with _unrecorded_lock:
        if not _unrecorded_watch:
            # Every engine of the test process, recorded or not: a guard must know when a
            # statement escapes it. Apps are never hooked this way.
            event.listen(Engine, "before_cursor_execute", _note_unrecorded)
            _unrecorded_watch = True


def _nothing_behind(guard: str, with_engine: str, collector: QueryCollector) -> None:
    """Fail when the guard could not see the block's statements; ``with_engine`` is the
    guard's call with the engine passed (the fix)."""
    if collector.unrecorded:
        engines = ", ".join(f"{url} ({n})" for url, n in sorted(collector.unrecorded.items()))
        raise AssertionError(
            f"{guard} cannot count the statements of engines without a QueryRecorder: "
            f"{engines}; pass the engine ({with_engine}) or initialise Turbina on the app "
            "that uses it"
        )
    if not attached_recorders():
        raise AssertionError(
            f"{guard} has no QueryRecorder behind it, so it would pass whatever ran: Turbina "
            "is disabled (TURBINA_ENABLED=false) or not initialised, and no engine was given; "
            f"enable Turbina in the test config or pass the engine ({with_engine})"
        )


def _ensure_recorded(engines: tuple[Engine, ...]) -> None:
    _watch_unrecorded_engines()
    for engine in engines:
        QueryRecorder.for_engine(engine, explainer=None)


def _statements(collector: QueryCollector) -> list[str]:
    rows = sorted(collector.fingerprints.items(), key=lambda item: item[1], reverse=True)[:_LISTED]
    lines = []
    for shape, seen in rows:
        site = collector.callsites.get(shape)
        lines.append(f"  {seen:>4} x {shape}" + (f"    [{site}]" if site is not None else ""))
    if len(collector.fingerprints) > _LISTED:
        lines.append(f"  ... and {len(collector.fingerprints) - _LISTED} more distinct statements")
    return lines


def _fixes(found: list[Finding]) -> list[str]:
    return [f"  - {finding.describe()}" for finding in found]


@contextmanager
def max_queries(n: int, *engines: Engine, threshold: int = 5) -> Iterator[QueryCollector]:
    """Fail (``AssertionError``) when the block runs more than ``n`` queries. ``engines`` get
    a recorder if they have none; the lazy loads among the statements become loader fixes in
    the failure message. Fails too when no recorder could see the block's statements."""
    _ensure_recorded(engines)
    with collect(
        "max_queries", threshold=threshold, capture_callsites=True, guarded=True
    ) as collector:
        yield collector
    _nothing_behind(f"max_queries({n})", f"max_queries({n}, engine)", collector)
    if collector.count > n:
        lines = [f"expected at most {n} queries, ran {collector.count}:", *_statements(collector)]
        found = findings(collector, threshold)
        if found:
            lines += ["suggested fixes:", *_fixes(found)]
        raise AssertionError("\n".join(lines))


@contextmanager
def no_n_plus_one(*engines: Engine, threshold: int = 5) -> Iterator[QueryCollector]:
    """Fail (``AssertionError``) when the block shows an N+1 pattern (``threshold`` or more
    lazy loads of one relationship, or runs of one identical SELECT). ``engines`` as for
    ``max_queries``. Fails too when no recorder could see the block's statements."""
    _ensure_recorded(engines)
    with collect(
        "no_n_plus_one", threshold=threshold, capture_callsites=True, guarded=True
    ) as collector:
        yield collector
    _nothing_behind("no_n_plus_one()", "no_n_plus_one(engine)", collector)
    found = findings(collector, threshold)
    if found:
        lines = [
            f"N+1 detected ({len(found)} pattern{'s' if len(found) > 1 else ''}):",
            *_fixes(found),
            "statements:",
            *_statements(collector),
        ]
        raise AssertionError("\n".join(lines))


try:
    import pytest
except ImportError:  # pytest is only needed for the fixtures
    pass
else:

    @pytest.fixture(name="max_queries")
    def max_queries_fixture() -> Callable[..., Any]:
        """``with max_queries(5): ...`` inside a test."""
        return max_queries

    @pytest.fixture(name="no_n_plus_one")
    def no_n_plus_one_fixture() -> Callable[..., Any]:
        """``with no_n_plus_one(): ...`` inside a test."""
        return no_n_plus_one
